"""One training step -- loss and every gradient -- by three implementations of the same maths.

* ``ours``: ``refimpl.NodeSparseBNN.loss_and_grad_fused`` (hand-written reverse mode on NumPy, the
  fast schedule of ``refimpl/elbo.py``); ``ours_reference``: ``loss_and_grad``, the reference path
  (same numbers to round-off);
* ``autograd``: ``oracles/autograd_model.py`` (the tests' oracle: naive formulas, HIPS autograd);
* ``torch``: ``oracles/torch_model.py`` (PyTorch CPU, eager, ``torch.autograd.grad``).

All three get the same parameters, noise and minibatch (PyTorch's tensors share NumPy's memory), and the
setting of the authors' MNIST runs: categorical likelihood, SiLU, straight-through indicators, one Monte
Carlo sample, the authors' initialisation (I-1) and inclusion schedule (``lam="paper"``), N = 60000.
Priors: ``ss-ig``, ``ss-gl`` (non-centred, the default) and ``ss-ghs`` (centred, 64-node Gauss-Hermite, the
default). ``tests/test_cross_implementation.py`` checks that they compute the same numbers.
"""
from __future__ import annotations

import numpy as np

from oracles.autograd_model import model_config, oracle_loss_and_grad
from refimpl import NodeSparseBNN

from .timing import interleaved, ratio, summary

N_DATA = 60000
PRIORS = ("ss-ig", "ss-gl", "ss-ghs")


def make_problem(widths, batch: int, dtype: str, prior: str, seed: int = 0):
    """``(model, params, noise, x, y)`` on the host, every float array of ``dtype``."""
    rng = np.random.default_rng(seed)
    model = NodeSparseBNN(widths, prior=prior, likelihood="categorical", dtype=dtype)
    params = model.init_params(rng)
    noise = model.sample_noise(rng)
    x = rng.standard_normal((batch, widths[0])).astype(dtype)
    y = rng.integers(0, widths[-1], batch)
    return model, params, noise, x, y


def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


CONTENDERS = ("ours", "ours_reference", "autograd", "torch")


def contenders(model, params, noise, x, y, names=CONTENDERS) -> dict:
    """Zero-argument callables, one per contender, each computing loss and all gradients once."""
    fns = {}
    if "ours" in names:
        fns["ours"] = lambda: model.loss_and_grad_fused(params, x, y, noise, N_DATA)
    if "ours_reference" in names:
        fns["ours_reference"] = lambda: model.loss_and_grad(params, x, y, noise, N_DATA)
    cfg = model_config(model, N_DATA)
    if "autograd" in names:
        fns["autograd"] = lambda: oracle_loss_and_grad(cfg, params, x, y, noise, N_DATA)
    if "torch" in names and have_torch():
        import torch

        from oracles import torch_model
        t_params, t_noise = torch_model.as_tensors(params, requires_grad=True), torch_model.as_tensors(noise)
        t_x, t_y = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch"] = lambda: torch_model.loss_and_grad(cfg, t_params, t_x, t_y, t_noise, N_DATA)
    return fns


def gemm_flops(widths, batch: int) -> int:
    """Floating-point operations (2 per multiply-add) of the step's matrix products: forward ``h @ W``
    for every layer, ``dW = h^T d_a`` for every layer, ``d_h = d_a W^T`` for every layer but the first."""
    mults = sum(k_in * k_out for k_in, k_out in zip(widths[:-1], widths[1:]))
    no_first = mults - widths[0] * widths[1]
    return 2 * batch * (2 * mults + no_first)


def per_clock(times: dict, reference: str | None = None) -> dict:
    """Medians, IQRs (ms) and paired ratios ``t / t_reference`` of :func:`timing.interleaved` output, per clock."""
    out = {"median_ms": {}, "iqr_ms": {}, "ratio": {}}
    for clock, t in times.items():
        out["median_ms"][clock] = {k: 1e3 * summary(v)["median_s"] for k, v in t.items()}
        out["iqr_ms"][clock] = {k: 1e3 * summary(v)["iqr_s"] for k, v in t.items()}
        if reference in t:
            out["ratio"][clock] = {k: ratio(t, k, reference) for k in t if k != reference}
    return out


def bench_config(widths, batch, dtype, prior, repeats, warmup, names, clock="cpu") -> dict:
    """One row: medians of every contender and the paired ratios ``t_other / t_ours``, on both clocks."""
    fns = contenders(*make_problem(widths, batch, dtype, prior), names=names)
    stats = per_clock(interleaved(fns, repeats, warmup), reference="ours")
    return {"widths": list(widths), "batch": batch, "dtype": dtype, "prior": prior,
            "gemm_gflop": gemm_flops(widths, batch) / 1e9, "repeats": repeats, "clock": clock,
            "median_ms": stats["median_ms"], "iqr_ms": stats["iqr_ms"], "ratio_vs_ours": stats["ratio"]}


def run(archs, batches, dtypes, priors=PRIORS, repeats=15, warmup=2, names=CONTENDERS, clock="cpu", log=print):
    rows = []
    for widths in archs:
        for batch in batches:
            for dtype in dtypes:
                for prior in priors:
                    row = bench_config(widths, batch, dtype, prior, repeats, warmup, names, clock)
                    log(f"step {'-'.join(map(str, widths))} B={batch} {dtype} {prior} ({clock}): "
                        + ", ".join(f"{k} {v:.1f} ms" for k, v in row["median_ms"][clock].items())
                        + "".join(f"; {k}/ours {v:.2f}" for k, v in row["ratio_vs_ours"].get(clock, {}).items()))
                    rows.append(row)
    return rows
