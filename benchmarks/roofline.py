"""How much of a step is matrix products, and how fast those run against this machine's GEMM peak.

For one step of ``ours`` the matrix products are, per layer l with input ``h_l`` ``(S, B, k_l)``:
forward ``h_l @ W_l``, reverse ``h_l^T @ d_a_l`` (every layer) and ``d_a_l @ W_l^T`` (every layer but
the first) -- the shapes, dtypes, memory layouts and BLAS (NumPy's) of ``refimpl.network``. Timed alone,
interleaved with the full step, they give

* the GEMM fraction ``t_gemm / t_step`` (what the step would cost with free element-wise work is
  ``t_gemm``; the rest is element-wise work, reductions and Python);
* achieved GFLOP/s of the step and of its products, against the peak: the median GFLOP/s of a large
  square product (``n x n @ n x n``) in the same dtype and thread count;
* with PyTorch installed, the same products by ``torch.matmul`` (PyTorch's BLAS, MKL on x86) and
  PyTorch's whole step, interleaved with ours: ``outside_gemm_ms`` = step minus its products, for each
  implementation, separates what our code costs from what the BLAS costs (the two libraries' GEMMs
  differ by 10-25% on some CPUs, docs/performance.md).
"""
from __future__ import annotations

import numpy as np

from .step import N_DATA, contenders, gemm_flops, have_torch, make_problem
from .timing import interleaved, ratio, summary


def step_gemms(widths, batch: int, dtype: str, seed: int = 0, library: str = "numpy"):
    """A zero-argument function running the step's matrix products on arrays of the step's shapes, by
    ``numpy.matmul`` or (``library="torch"``) ``torch.matmul`` on tensors sharing the same memory."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, widths[0])).astype(dtype)
    Ws = [rng.standard_normal((1, k_in, k_out)).astype(dtype) for k_in, k_out in zip(widths[:-1], widths[1:])]
    hs = [x] + [rng.standard_normal((1, batch, k)).astype(dtype) for k in widths[1:-1]]
    d_as = [rng.standard_normal((1, batch, k)).astype(dtype) for k in widths[1:]]
    if library == "numpy":
        matmul, swap = np.matmul, lambda a: np.swapaxes(a, -1, -2)
    elif library == "torch":
        import torch
        Ws, hs, d_as = ([torch.from_numpy(a) for a in arrays] for arrays in (Ws, hs, d_as))
        matmul, swap = torch.matmul, lambda a: a.transpose(-1, -2)
    else:
        raise ValueError(f"library: expected 'numpy' or 'torch', got {library!r}")

    def run():
        for h, W in zip(hs, Ws):
            matmul(h, W)                                             # forward
        for l in range(len(Ws)):
            matmul(swap(hs[l]), d_as[l])                             # dW
            if l > 0:
                matmul(d_as[l], swap(Ws[l]))                         # d_h
    return run


def gemm_peak(dtype: str, n: int, repeats: int, clock: str = "cpu") -> dict:
    """Median GFLOP/s of ``A @ B`` with ``A, B`` ``(n, n)`` (2 n^3 flops)."""
    rng = np.random.default_rng(1)
    A, B = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    t = summary(interleaved({"gemm": lambda: A @ B}, repeats, warmup=2)[clock]["gemm"])["median_s"]
    return {"n": n, "gflops": 2 * n**3 / t / 1e9, "median_ms": 1e3 * t}


def run(widths, batch, dtypes, prior="ss-ig", repeats=15, peak_n=2048, clock="cpu", log=print):
    rows = []
    for dtype in dtypes:
        peak = gemm_peak(dtype, peak_n, max(5, repeats // 2), clock)
        model, params, noise, x, y = make_problem(widths, batch, dtype, prior)
        fns = {"step": lambda: model.loss_and_grad_fused(params, x, y, noise, N_DATA),
               "step_reference": lambda: model.loss_and_grad(params, x, y, noise, N_DATA),
               "gemm": step_gemms(widths, batch, dtype)}
        if have_torch():
            fns["torch_step"] = contenders(model, params, noise, x, y, names=("torch",))["torch"]
            fns["torch_gemm"] = step_gemms(widths, batch, dtype, library="torch")
        times = interleaved(fns, repeats)[clock]
        med = {k: summary(v)["median_s"] for k, v in times.items()}
        flops = gemm_flops(widths, batch)
        row = {"widths": list(widths), "batch": batch, "dtype": dtype, "prior": prior, "clock": clock,
               "gemm_gflop": flops / 1e9, "median_ms": {k: 1e3 * v for k, v in med.items()},
               "gemm_fraction": 1.0 / ratio(times, "step", "gemm"),
               "gemm_fraction_reference": 1.0 / ratio(times, "step_reference", "gemm"),
               "gflops": {"gemm_alone": flops / med["gemm"] / 1e9, "step": flops / med["step"] / 1e9,
                          "step_reference": flops / med["step_reference"] / 1e9},
               "peak": peak}
        row["fraction_of_peak"] = {k: v / peak["gflops"] for k, v in row["gflops"].items()}
        if "torch_gemm" in med:
            row["outside_gemm_ms"] = {"ours": 1e3 * (med["step"] - med["gemm"]),
                                      "torch": 1e3 * (med["torch_step"] - med["torch_gemm"])}
            row["gemm_ratio_numpy_over_torch"] = ratio(times, "gemm", "torch_gemm")
            log(f"roofline {'-'.join(map(str, widths))} B={batch} {dtype}: outside the products ours "
                f"{row['outside_gemm_ms']['ours']:.1f} ms, PyTorch {row['outside_gemm_ms']['torch']:.1f} ms; "
                f"NumPy GEMMs / PyTorch GEMMs {row['gemm_ratio_numpy_over_torch']:.2f}")
        log(f"roofline {'-'.join(map(str, widths))} B={batch} {dtype} ({clock}): GEMM {row['gemm_fraction']:.0%} of the "
            f"step (reference path {row['gemm_fraction_reference']:.0%}); step {row['gflops']['step']:.1f} GFLOP/s, "
            f"GEMMs alone {row['gflops']['gemm_alone']:.1f}, peak {peak['gflops']:.1f}")
        rows.append(row)
    return rows
