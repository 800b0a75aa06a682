"""``python -m benchmarks``: every benchmark of this directory, one JSON file and one markdown report.

    python -m benchmarks [--quick] [--out out/benchmarks.json] [--doc docs/performance.md] [--threads 1]

Sections (``--sections``, default all): ``step`` (one loss+gradient step: ours, ours_reference, autograd,
PyTorch), ``train`` (the whole training step -- noise, loss and gradients, optimiser update -- and the epoch,
each as its implementation's user runs it: ``benchmarks/train_step.py``), ``roofline`` (matrix products alone against the step and the GEMM peak), ``scaling`` (batch
and width sweeps, peak memory), ``inference`` (compressed against dense latency). ``--quick`` runs tiny
sizes with few repeats, for CI (seconds), and writes its report next to ``--out`` unless ``--doc`` is
given, so that a smoke run never overwrites the measured tables in ``docs/performance.md``.

Every contender runs with the same thread count (``--threads``, set before NumPy is imported; see
``timing.set_threads``). Times are medians over interleaved rounds; ratios are paired per round. The
clock of the tables is CPU time with one thread (robust on a shared machine) and wall time otherwise;
both are in the JSON. ``--also-threads N`` repeats the batch-1024 step rows of 784-400-400-10 with N
threads on the wall clock (``--also-threads 0``: not). ``--render`` re-renders a saved JSON; a list of
strings under its key ``"amendments"`` (e.g. a section re-measured by ``--sections`` and merged in by
hand) is printed under the report's header.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from refimpl.run.scripts import script_parser

from . import inference, report, roofline, scaling, step, train_step
from .timing import machine, set_threads

SECTIONS = ("step", "train", "roofline", "scaling", "inference")
ROOT = Path(__file__).resolve().parents[1]

FULL = dict(
    step=dict(archs=[[784, 400, 400, 10], [784, 1000, 1000, 10]], batches=[128, 1024], dtypes=["float32", "float64"]),
    # Fashion-MNIST's shape: 60000 rows less the trainer's 10% validation split; 53 steps of 1024 per epoch
    train=dict(widths=[784, 400, 400, 10], batch=1024, dtypes=["float32", "float64"],
               epoch=dict(n_train=54000, n_val=6000, repeats=3, warmup=1, priors=["ss-ig", "ss-gl", "ss-ghs"])),
    roofline=dict(archs=[[784, 400, 400, 10], [784, 1000, 1000, 10]], batch=1024, dtypes=["float32", "float64"], peak_n=2048),
    scaling=dict(widths=[784, 400, 400, 10], batches=[32, 64, 128, 256, 512, 1024, 2048, 4096],
                 width_values=[50, 100, 200, 400, 800, 1600], width_batch=256, dtype="float64", prior="ss-ig"),
    inference=dict(widths=[784, 400, 400, 10], densities=list(inference.DENSITIES),
                   batches=[1, 4, 16, 64, 256, 1024, 4096], dtypes=["float64", "float32"]),
    repeats=15, warmup=2,
)
QUICK = dict(
    step=dict(archs=[[20, 16, 16, 3]], batches=[32], dtypes=["float64"]),
    train=dict(widths=[20, 16, 16, 3], batch=32, dtypes=["float32", "float64"],
               epoch=dict(n_train=128, n_val=64, repeats=2, warmup=1)),
    roofline=dict(archs=[[20, 16, 16, 3]], batch=32, dtypes=["float64"], peak_n=128),
    scaling=dict(widths=[20, 16, 16, 3], batches=[8, 16, 32], width_values=[8, 16, 32], width_batch=16,
                 dtype="float64", prior="ss-ig"),
    inference=dict(widths=[20, 16, 16, 3], densities=[1.0, 0.5], batches=[1, 8], dtypes=["float64"]),
    repeats=3, warmup=1,
)


def parse(argv=None):
    ap = script_parser("python -m benchmarks", __doc__)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, 3 repeats (CI smoke run, seconds)")
    ap.add_argument("--out", default=None, help="JSON results (default out/benchmarks[-quick].json)")
    ap.add_argument("--doc", default=None, help="markdown report (default docs/performance.md; with --quick, next to --out)")
    ap.add_argument("--threads", type=int, default=1, help="threads of every BLAS/OpenMP pool and of PyTorch (default 1)")
    ap.add_argument("--also-threads", type=int, default=None,
                    help="also time the batch-1024 step rows with this many threads, wall clock (default 2; none with --quick)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds per measurement (default 15; 3 with --quick)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--render", metavar="JSON", default=None,
                    help="measure nothing: rewrite the report (--doc) from a JSON file written by an earlier run")
    args = ap.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad:
        ap.error(f"--sections: unknown {bad}; choose from {list(SECTIONS)}")
    if args.threads < 1:
        ap.error(f"--threads: expected a positive integer, got {args.threads}")
    if args.out is None:
        args.out = str(ROOT / "out" / ("benchmarks-quick.json" if args.quick else "benchmarks.json"))
    if args.doc is None:
        args.doc = str(Path(args.out).with_suffix(".md")) if args.quick else str(ROOT / "docs" / "performance.md")
    if args.also_threads is None and not args.quick:
        args.also_threads = 2
    return args


def main(argv=None) -> dict:
    args = parse(argv)
    if args.render:
        with open(args.render) as f:
            results = json.load(f)
        results["targets"] = report.targets(results)
        report.write(results, args.doc)
        print(f"benchmarks: report {args.doc} from {args.render}")
        return results
    cfg = QUICK if args.quick else FULL
    repeats = args.repeats or cfg["repeats"]
    warmup = cfg["warmup"]
    threads = set_threads(args.threads)
    clock = "cpu" if args.threads == 1 else "wall"
    t_start = time.perf_counter()
    results = {"quick": args.quick, "threads": threads, "clock": clock, "repeats": repeats, "machine": machine(),
               "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    print(f"benchmarks: threads {args.threads}, clock {clock}, repeats {repeats}, sections {args.sections}", flush=True)

    def log(msg):
        print(msg, flush=True)

    if "step" in args.sections:
        c = cfg["step"]
        results["step"] = step.run(c["archs"], c["batches"], c["dtypes"], repeats=repeats, warmup=warmup,
                                   clock=clock, log=log)
        if args.also_threads:
            set_threads(args.also_threads)
            results["step_threads"] = {"threads": args.also_threads, "rows": step.run(
                [[784, 400, 400, 10]], [1024], c["dtypes"], repeats=repeats, warmup=warmup, clock="wall", log=log)}
            set_threads(args.threads)
    if "train" in args.sections:
        c = cfg["train"]
        results["train"] = train_step.run(c["widths"], c["batch"], c["dtypes"], repeats=repeats, warmup=warmup,
                                          epoch=c["epoch"], clock=clock, log=log)
    if "roofline" in args.sections:
        c = cfg["roofline"]
        results["roofline"] = [row for widths in c["archs"] for row in roofline.run(
            widths, c["batch"], c["dtypes"], repeats=repeats, peak_n=c["peak_n"], clock=clock, log=log)]
    if "scaling" in args.sections:
        c = cfg["scaling"]
        w = c["widths"]
        results["scaling"] = {
            "batch": scaling.batch_sweep(w, c["batches"], c["dtype"], c["prior"], repeats, clock=clock, log=log),
            "width": scaling.width_sweep(w[0], w[-1], c["width_values"], c["width_batch"], c["dtype"], c["prior"],
                                         repeats, clock=clock, log=log),
            "memory": scaling.peak_memory(w[0], w[-1], c["width_values"], c["width_batch"], c["dtype"], c["prior"], log=log)}
    if "inference" in args.sections:
        c = cfg["inference"]
        results["inference"] = [inference.run(c["widths"], c["densities"], c["batches"], dtype, repeats=repeats,
                                              clock=clock, log=log) for dtype in c["dtypes"]]
    results["seconds"] = time.perf_counter() - t_start
    results["targets"] = report.targets(results)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    report.write(results, args.doc)
    print(f"benchmarks: {results['seconds']:.0f} s; JSON {args.out}; report {args.doc}")
    for t in results["targets"]:
        print(f"  target {t['name']}: {'met' if t['met'] else 'MISSED'} ({t['detail']})")
    return results
