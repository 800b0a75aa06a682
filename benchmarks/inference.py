"""Inference latency of the compressed (node-pruned) network against the dense one, beside the FLOP ratio.

A ``784-400-400-10`` SS-IG model with the authors' initialisation has its indicator logits set so that a
stated fraction of the nodes of *both* hidden layers is kept (``theta = +5`` for kept nodes, ``-5`` for
the others, chosen at random). ``refimpl.run.prune.compress`` exports the pruned network (and verifies it
against the masked full network); ``refimpl.run.prune.dense_mean_network`` is the unpruned baseline. Both
run their ``predict`` on the same inputs, all densities interleaved by ``refimpl.run.latency.latency_table``
for each batch size. The FLOP ratio is ``total / kept`` of ``refimpl.run.metrics.flops_kept`` (multiply-adds
of one forward pass, bias included); ``efficiency = speedup / FLOP ratio`` (1: the speedup the FLOPs
promise).
"""
from __future__ import annotations

import numpy as np

from refimpl import NodeSparseBNN
from refimpl.run.latency import latency_table
from refimpl.run.metrics import flops_kept
from refimpl.run.prune import compress, dense_mean_network

from .timing import CLOCKS

DENSITIES = (1.0, 0.5, 0.25, 0.1, 0.05)


def pruned_networks(widths, densities, dtype: str, seed: int = 0):
    """``(dense, {density: compressed})`` with the stated fraction of nodes kept in every hidden layer."""
    rng = np.random.default_rng(seed)
    model = NodeSparseBNN(widths, prior="ss-ig", likelihood="categorical", dtype=dtype)
    params = model.init_params(rng)
    check_x = rng.standard_normal((64, widths[0])).astype(dtype)
    nets = {}
    for d in densities:
        p = dict(params)
        for l, k in enumerate(widths[1:-1]):
            theta = np.full(k, -5.0, dtype=dtype)
            theta[rng.choice(k, max(1, round(d * k)), replace=False)] = 5.0
            p[f"{l}.theta"] = model.backend.asarray(theta)
        nets[d] = compress(model, p, check_x=check_x)
    return dense_mean_network(model, params), nets


def run(widths, densities, batches, dtype, repeats=15, warmup=3, clock="cpu", log=print) -> dict:
    dense, nets = pruned_networks(widths, densities, dtype)
    rng = np.random.default_rng(1)
    fns = {"dense": dense.predict, **{f"{d:.0%}": net.predict for d, net in nets.items()}}
    table = latency_table(fns, lambda b: rng.standard_normal((b, widths[0])).astype(dtype), batches, repeats, warmup,
                          reference="dense", timer=CLOCKS[clock])
    rows = []
    for d, net in nets.items():
        kept = net.meta["kept_widths"][1:-1]
        flops = flops_kept(widths, kept)
        for r in table:
            if r["name"] == f"{d:.0%}":
                rows.append({"density": d, "kept_widths": net.meta["kept_widths"], "batch": r["batch_size"],
                             "median_ms": 1e3 * r["median_s"], "speedup": r["speedup"],
                             "flop_ratio": flops["total"] / flops["kept"],
                             "efficiency": r["speedup"] / (flops["total"] / flops["kept"]),
                             "max_abs_diff": net.meta["max_abs_diff"]})
        log(f"inference {d:.0%} kept {net.meta['kept_widths']}: FLOP ratio {rows[-1]['flop_ratio']:.1f}, speedup "
            + ", ".join(f"B={r['batch']} {r['speedup']:.1f}" for r in rows if r["density"] == d))
    dense_ms = {str(r["batch_size"]): 1e3 * r["median_s"] for r in table if r["name"] == "dense"}   # JSON keys
    return {"widths": list(widths), "dtype": dtype, "repeats": repeats, "clock": clock, "dense_median_ms": dense_ms,
            "rows": rows}
