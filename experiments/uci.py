"""UCI regression benchmark (Hernandez-Lobato & Adams 2015 splits: 20 per data set, 5 for protein), one hidden
layer of 50 units, priors gaussian (dense BNN), ss-ig, ss-gl, ss-ghs: test RMSE and test log-likelihood in
original units (mean +- standard error over splits) and hidden nodes kept, against the MC dropout anchors of
docs/spec.md §10 (Gal & Ghahramani, grid-search version; 20 splits).

    python -m experiments.uci --out out/uci                                   # every data set, every split
    python -m experiments.uci --out out/uci --n-splits 3                      # first 3 splits of each
    python -m experiments.uci --out out/uci --datasets yacht boston --splits 0 5 --priors ss-gl --epochs 100
    python -m experiments.uci --out /tmp/q --quick                            # CI: yacht, split 0, 2 epochs
    python -m experiments.uci --out out/uci-4x --datasets energy yacht --epoch-scale 4   # 4x each set's epochs

Budget (``BUDGET``): Adam lr 3e-3, about 5,000 steps per fit, whatever the data set size: batch 32 for the five small
sets and 128 for the four large ones, epochs chosen per data set (steps per epoch = ceil(0.9 n_train /
batch)). 10% of each split's training rows are held out for model selection (the trainer's default rule,
``select="sparse"``: the fewest FLOPs within 1% of the best compressed validation RMSE).
Inputs and targets are standardised with the training statistics; the noise std is learned.
Layout: ``OUT/<dataset>/<prior>/split<k>/`` (refimpl run directories), ``OUT/results.json``, ``OUT/table.md``.
Where the fits run (``refimpl.run.executors``, the interface of every sweep): ``--executor serial`` (default, this
process), ``--executor process --workers N`` (local processes), or ``--executor dask --scheduler ADDRESS`` (a
``dask.distributed`` cluster; every worker must see ``--data-root`` and ``--out`` at the same paths, e.g. a shared
file system). Every fit owns its directory and seed, so the results do not depend on the executor; a rerun skips
finished fits and resumes interrupted ones::

    python -m experiments.uci --out out/uci --executor process --workers 2
    dask scheduler &  dask worker tcp://HOST:8786 --nworkers 2 --nthreads 1 &     # on each machine
    OPENBLAS_NUM_THREADS=1 python -m experiments.uci --out /shared/out/uci --data-root /shared/uci \
        --executor dask --scheduler tcp://HOST:8786
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from refimpl.data import load_uci, n_splits
from refimpl.run.executors import add_executor_arguments, executor_from_args, sweep
from refimpl.run.train import TrainConfig

from . import common

ROOT = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "uci")   # ../shared/data/uci (docs/spec.md §9)
HIDDEN = [50]
# data set -> (batch size, epochs): about 5,000 steps each (docs/lab-record.md, "UCI regression")
BUDGET = {"bostonHousing": (32, 400), "concrete": (32, 200), "energy": (32, 250), "kin8nm": (128, 100),
          "naval-propulsion-plant": (128, 70), "power-plant": (128, 80), "protein-tertiary-structure": (128, 20),
          "wine-quality-red": (32, 120), "yacht": (32, 600)}
DEFAULTS = dict(lr=3e-3, eval_samples=10, checkpoint_every=50, dtype="float64")
# MC dropout, grid-search version (Gal & Ghahramani), docs/spec.md §10: (RMSE, test log-likelihood)
MC_DROPOUT = {"bostonHousing": (2.90, -2.40), "concrete": (4.82, -2.93), "energy": (0.54, -1.21),
              "kin8nm": (0.08, 1.14), "naval-propulsion-plant": (0.00, 4.45), "power-plant": (4.01, -2.80),
              "protein-tertiary-structure": (4.27, -2.87), "wine-quality-red": (0.62, -0.93), "yacht": (0.67, -1.25)}
QUICK = dict(datasets=["yacht"], splits=[0], epochs=2, eval_samples=2)


def build_parser():
    ap = common.parser(__doc__.splitlines()[0], seeds=False)
    ap.add_argument("--data-root", default=ROOT, help="directory holding the UCI benchmark folders")
    ap.add_argument("--datasets", nargs="+", choices=sorted(BUDGET), help="data sets (default: all nine)")
    sp = ap.add_mutually_exclusive_group()
    sp.add_argument("--splits", nargs="+", type=int, help="split indices (0-based)")
    sp.add_argument("--n-splits", type=int, help="the first N standard splits of each data set")
    ap.add_argument("--seed", type=int, default=0, help="training seed (the same for every split)")
    ap.add_argument("--epoch-scale", type=int, default=1,
                    help="multiply each data set's BUDGET epochs by this (e.g. 4: 1000 epochs of energy)")
    add_executor_arguments(ap.add_argument_group("where the fits run (every fit is independent)"), default="serial")
    return ap


def fit_task(task: dict) -> dict:
    """One fit of the table (a picklable unit of work for any executor): load the split, train or skip or resume
    (:func:`common.fit_once`), return its record."""
    ds = load_uci(task["dataset"], task["split"], root=task["spec"]["root"])
    m = common.fit_once(task["dir"], ds, task["spec"], HIDDEN, {"prior": task["prior"], "dtype": task["dtype"]},
                        TrainConfig(**task["config"]), log=task["log"])
    return {"dataset": task["dataset"], "prior": task["prior"], "split": task["split"], "dir": task["dir"],
            "metrics": m, "config": task["config"]}


def _report(task: dict, fit: dict):
    m = fit["metrics"]
    print(f"uci {fit['dataset']} split {fit['split']} {fit['prior']}: RMSE {m['test']['rmse']:.3f} "
          f"LL {m['test']['test_ll']:.3f} nodes {m['nodes_kept']} ({m['train_wall_s']:.0f} s)", flush=True)


def main(argv=None):
    return common.run_main(lambda: _main(argv))


def _main(argv):
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.epoch_scale < 1 or (args.epoch_scale != 1 and args.epochs is not None):
        ap.error(f"--epoch-scale {args.epoch_scale}: give a whole number >= 1, and not together with --epochs "
                 "(which sets every data set's epochs)")
    where = executor_from_args(ap, args)           # a bad --executor combination ends here, before any data is read
    log = common.log_stream(args)
    if not os.path.isdir(args.data_root):
        raise SystemExit(f"uci: data root {args.data_root!r} not found; pass --data-root <directory holding the "
                         "UCI benchmark folders> (docs/spec.md §9)")
    datasets = args.datasets or (QUICK["datasets"] if args.quick else sorted(BUDGET))
    priors = args.priors or list(common.PRIORS)
    dtype = args.dtype or DEFAULTS["dtype"]
    t0 = time.perf_counter()
    tasks = []
    for name in datasets:
        count = n_splits(name, args.data_root)
        splits = (args.splits if args.splits is not None else QUICK["splits"] if args.quick
                  else range(min(args.n_splits or count, count)))
        batch, epochs = BUDGET[name]
        defaults = {**DEFAULTS, "batch_size": batch, "epochs": epochs}
        if args.quick:
            defaults.update(epochs=QUICK["epochs"], eval_samples=QUICK["eval_samples"])
        defaults["epochs"] *= args.epoch_scale
        for split in splits:
            spec = {"name": f"uci:{name}", "split": int(split), "root": args.data_root}
            for prior in priors:
                config = common.train_config(args, defaults, args.seed)
                tasks.append({"dataset": name, "prior": prior, "split": int(split), "spec": spec, "dtype": dtype,
                              "dir": os.path.join(args.out, name, prior, f"split{split}"), "config": asdict(config),
                              "log": log if args.executor == "serial" else None})    # workers: no epoch lines
    with where as executor:
        fits = sweep(fit_task, tasks, executor, _report)
    summary = summarise(fits, datasets, priors)
    results = {"title": "UCI regression, one hidden layer of 50 units", "hidden": HIDDEN, "dtype": dtype,
               "quick": args.quick, "datasets": datasets, "priors": priors, "budget": BUDGET,
               "epoch_scale": args.epoch_scale, "fits": fits,
               "summary": summary, "anchors": {"mc_dropout": MC_DROPOUT}, "wall_s": time.perf_counter() - t0}
    common.write_outputs(args.out, results, format_tables(results))
    return results


# summary key -> what it averages, from one fit's metrics.json
STATS = {"rmse": lambda m: m["test"]["rmse"], "test_ll": lambda m: m["test"]["test_ll"],
         "nodes_kept": lambda m: m["nodes_kept"][0], "best_epoch": lambda m: m["best_epoch"],
         "epochs_run": lambda m: m["epochs_run"], "final_rmse": lambda m: m["final"]["test"]["rmse"],
         "final_test_ll": lambda m: m["final"]["test"]["test_ll"], "final_nodes": lambda m: m["final_nodes"][0],
         "train_wall_s": lambda m: m["train_wall_s"],
         # the compressed network (nodes with gamma > 1/2 at the variational mean; the dense BNN's mean network)
         "compressed_rmse": lambda m: m.get("compressed_test", {}).get("rmse")}
# also reported as differences from the gaussian fit of the same split
PAIRED = ("rmse", "test_ll", "final_rmse", "compressed_rmse")
# issue 12's UCI target: the compressed network's RMSE at most 2 paired s.e. above the dense BNN's mean network's,
# with at most half of the 50 hidden nodes kept
TARGET_SE, TARGET_NODES = 2.0, 25


def summarise(fits: list[dict], datasets, priors) -> dict:
    """``summary[dataset][prior][key]``: mean ± s.e. over splits of each ``STATS`` key, and for the spike-and-slab
    priors ``<key>_vs_gaussian``: the paired difference from the dense Gaussian BNN on the same splits (when it
    ran), whose standard error leaves out the split-to-split variation the two fits share."""
    by = {(f["dataset"], f["prior"], f["split"]): f["metrics"] for f in fits}
    summary = {}
    for name in datasets:
        for prior in priors:
            splits = sorted(k[2] for k in by if k[:2] == (name, prior))
            rows = [by[name, prior, k] for k in splits]
            entry = {key: common.mean_se([get(r) for r in rows]) for key, get in STATS.items()}
            paired = [k for k in splits if (name, "gaussian", k) in by]
            if prior != "gaussian" and paired:
                for key in PAIRED:
                    pairs = [(STATS[key](by[name, prior, k]), STATS[key](by[name, "gaussian", k])) for k in paired]
                    entry[f"{key}_vs_gaussian"] = common.mean_se(
                        [a - b for a, b in pairs if a is not None and b is not None])
            summary.setdefault(name, {})[prior] = entry
    return summary


TABLES = (("rmse", "test RMSE", ".3f", 0),
          ("compressed_rmse", "test RMSE of the compressed network (the dense BNN: its mean network)", ".3f", 0),
          ("test_ll", "test log-likelihood", ".3f", 1),
          ("nodes_kept", "hidden nodes kept (of 50)", ".1f", None), ("best_epoch", "selected epoch", ".0f", None),
          ("final_rmse", "test RMSE of the final epoch's model", ".3f", 0),
          ("final_test_ll", "test log-likelihood of the final epoch's model", ".3f", 1),
          ("final_nodes", "hidden nodes kept by the final epoch's model", ".1f", None))


def _signed(stat: dict) -> str:
    text = common.fmt(stat, ".3f")
    return text if text.startswith(("-", "–")) else "+" + text


def target_met(entry: dict) -> bool | None:
    """Issue 12's UCI target for one prior on one data set: the compressed network's mean paired RMSE difference from
    the dense BNN's mean network is at most ``TARGET_SE`` paired standard errors, and at most ``TARGET_NODES`` of the
    50 hidden nodes are kept on average. ``None`` without a paired difference with a standard error."""
    diff = entry.get("compressed_rmse_vs_gaussian")
    if diff is None or diff["se"] is None:
        return None
    return diff["mean"] <= TARGET_SE * diff["se"] and entry["nodes_kept"]["mean"] <= TARGET_NODES


def format_tables(results: dict) -> str:
    """Markdown tables, one row per data set: test RMSE (the predictive and the compressed network), test
    log-likelihood, nodes kept (of 50) and the epoch of the selected model (the run's selection rule), then RMSE,
    log-likelihood and nodes of the final epoch's; the paired differences from the dense BNN; the UCI target."""
    priors, out = results["priors"], []
    for key, title, spec, anchor in TABLES:
        extra = ["MC dropout (20 splits)"] if anchor is not None else ["epochs run"] if key == "best_epoch" else []
        rows = []
        for name, per in results["summary"].items():
            row = [name, per[priors[0]][key]["n"]] + [common.fmt(per[p][key], spec) for p in priors]
            if anchor is not None:
                row.append(f"{MC_DROPOUT[name][anchor]:.2f}")
            elif key == "best_epoch":
                row.append(common.fmt(per[priors[0]]["epochs_run"], ".0f"))
            rows.append(row)
        head = ["data set", "splits"] + priors + extra
        out.append(f"### UCI, {title} (mean ± s.e. over splits)\n\n" + common.markdown_table(head, rows))
    sparse, titles = [p for p in priors if p != "gaussian"], {key: title for key, title, *_ in TABLES}
    for key in PAIRED:
        diff = f"{key}_vs_gaussian"
        rows = [[name, per[sparse[0]][diff]["n"]] + [_signed(per[p][diff]) for p in sparse]
                for name, per in results["summary"].items() if sparse and diff in per[sparse[0]]]
        if rows:
            out.append(f"### UCI, {titles[key]}: prior minus the gaussian BNN on the same split (paired mean ± s.e.)\n\n"
                       + common.markdown_table(["data set", "splits"] + sparse, rows))
    verdicts = {name: {p: target_met(per[p]) for p in sparse} for name, per in results["summary"].items()}
    if sparse and any(v is not None for per in verdicts.values() for v in per.values()):
        rows = [[name] + [{True: "met", False: "missed", None: "–"}[per[p]] for p in sparse]
                for name, per in verdicts.items()]
        rows.append(["sets met"] + [f"{sum(per[p] is True for per in verdicts.values())} of {len(verdicts)}"
                                    for p in sparse])
        out.append(f"### UCI target: compressed RMSE at most {TARGET_SE:g} paired s.e. above the dense BNN's mean "
                   f"network, with at most {TARGET_NODES} of 50 nodes\n\n"
                   + common.markdown_table(["data set"] + sparse, rows))
    return "\n\n".join(out)


if __name__ == "__main__":
    main(sys.argv[1:])
