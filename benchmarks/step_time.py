"""Median wall time of one ``loss_and_grad`` call (forward, backward, KL) for a given architecture.

    python benchmarks/step_time.py [--widths 784 400 400 10] [--batch 1024] [--repeats 10] [--quick]

Priors ss-ig, ss-gl (non-centred) and ss-ghs (centred, quadrature) in float64 and float32, measured
interleaved (one call of each contender per round) so that machine noise hits all alike.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from refimpl import NodeSparseBNN

CONTENDERS = [("ss-ig", {}), ("ss-gl", {}), ("ss-ghs", {})]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[784, 400, 400, 10])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats (CI smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.widths, args.batch, args.repeats = [20, 16, 16, 3], 64, 2
    rng = np.random.default_rng(0)
    runs = {}
    for dtype in ("float64", "float32"):
        x = rng.standard_normal((args.batch, args.widths[0])).astype(dtype)
        y = rng.integers(0, args.widths[-1], args.batch)
        for prior, hyper in CONTENDERS:
            model = NodeSparseBNN(args.widths, prior=prior, likelihood="categorical", dtype=dtype, **hyper)
            params, noise = model.init_params(rng), model.sample_noise(rng)
            runs[(prior, dtype)] = lambda m=model, p=params, z=noise, x=x: m.loss_and_grad(p, x, y, z, 60000)
    for fn in runs.values():   # warm-up
        fn()
    times = {k: [] for k in runs}
    for _ in range(args.repeats):
        for key, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    result = {"widths": args.widths, "batch": args.batch, "repeats": args.repeats,
              "threads": os.environ.get("OMP_NUM_THREADS", "default"),
              "median_ms": {f"{p}/{d}": 1e3 * statistics.median(v) for (p, d), v in times.items()}}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
