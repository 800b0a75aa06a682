"""Step time against batch size and against width, with fitted log-log exponents, and the step's peak
working memory against width.

* batch sweep: ``784-400-400-10``, B = 32 ... 4096; the step is ``O(B)`` in its matrix products and
  activations and ``O(1)`` in the per-weight work (sampling, KL), so the exponent rises towards 1 as B grows.
* width sweep: ``784-w-w-10``, w = 50 ... 1600 at a fixed batch; the products cost ``B (784 w + w^2)``
  and the per-weight work ``784 w + w^2``, so the exponent rises from about 1 towards 2.
* memory: ``tracemalloc`` peak of one step (NumPy reports its array allocations to it) above what is
  allocated before the step (parameters, noise, data): the step's working memory.

Exponents are least-squares slopes of ``log t`` on ``log x``, over the whole sweep and over its upper half.
"""
from __future__ import annotations

import tracemalloc

from .step import N_DATA, contenders, make_problem
from .timing import fit_exponent, interleaved, summary

SCALING_CONTENDERS = ("ours", "torch")


def _fits(xs, ts) -> dict:
    half = len(xs) // 2
    return {"all": fit_exponent(xs, ts), "upper_half": fit_exponent(xs[half:], ts[half:])}


def _sweep(problems, repeats, names, log, label, clock):
    """``problems``: list of ``(x_value, make_problem args)``; returns medians per contender and fits."""
    xs, med = [], {}
    for value, args in problems:
        fns = contenders(*make_problem(*args), names=names)
        times = interleaved(fns, repeats)[clock]
        xs.append(value)
        for k, v in times.items():
            med.setdefault(k, []).append(1e3 * summary(v)["median_s"])
        log(f"scaling {label}={value}: " + ", ".join(f"{k} {v[-1]:.1f} ms" for k, v in med.items()))
    return {"x": xs, "clock": clock, "median_ms": med, "exponent": {k: _fits(xs, v) for k, v in med.items()}}


def batch_sweep(widths, batches, dtype, prior, repeats, names=SCALING_CONTENDERS, clock="cpu", log=print):
    return {"widths": list(widths), "dtype": dtype, "prior": prior,
            **_sweep([(b, (widths, b, dtype, prior)) for b in batches], repeats, names, log, "batch", clock)}


def width_sweep(k_in, k_out, widths, batch, dtype, prior, repeats, names=SCALING_CONTENDERS, clock="cpu", log=print):
    return {"architecture": f"{k_in}-w-w-{k_out}", "batch": batch, "dtype": dtype, "prior": prior,
            **_sweep([(w, ([k_in, w, w, k_out], batch, dtype, prior)) for w in widths], repeats, names, log, "width", clock)}


def peak_memory(k_in, k_out, widths, batch, dtype, prior, log=print) -> dict:
    """tracemalloc peak (MiB) of one step above the memory held before it, per width; with the size of
    the parameters for scale (the gradients alone are one parameter set)."""
    rows = []
    for w in widths:
        model, params, noise, x, y = make_problem([k_in, w, w, k_out], batch, dtype, prior)
        row = {"width": w, "params_mib": sum(v.nbytes for v in params.values()) / 2**20}
        for name, fn in (("ours", model.loss_and_grad_fused), ("ours_reference", model.loss_and_grad)):
            fn(params, x, y, noise, N_DATA)          # warm-up outside the trace
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            out = fn(params, x, y, noise, N_DATA)
            row[f"{name}_peak_mib"] = (tracemalloc.get_traced_memory()[1] - base) / 2**20
            tracemalloc.stop()
            del out
        log(f"memory width={w}: params {row['params_mib']:.1f} MiB, step peak {row['ours_peak_mib']:.1f} MiB "
            f"(reference path {row['ours_reference_peak_mib']:.1f})")
        rows.append(row)
    ws = [r["width"] for r in rows]
    return {"architecture": f"{k_in}-w-w-{k_out}", "batch": batch, "dtype": dtype, "prior": prior, "rows": rows,
            "exponent": {k: _fits(ws, [r[f"{k}_peak_mib"] for r in rows]) for k in ("ours", "ours_reference")}}
