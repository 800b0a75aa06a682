"""The classification table shared by ``fashion_mnist.py`` and ``mnist5k.py``: an MLP 784-400-400-10 with
each prior (``gaussian`` = dense BNN, ``ss-ig``, ``ss-gl``, ``ss-ghs``) and several seeds; for every fit the
test accuracy, NLL and ECE of the predictive (10 posterior samples, probabilities averaged), the nodes kept
per hidden layer (median-probability rule, gamma > 1/2), the parameters and FLOPs kept (M-7, M-8), and the
latency of the dense variational-mean network against the compressed one. Mean +- standard error over seeds.

Layout: ``OUT/<prior>/seed<k>/`` (refimpl run directory + ``compressed.npz``, ``prune.json``),
``OUT/results.json`` (every fit and the per-prior summary), ``OUT/table.md``.

Where the fits run: ``--executor serial`` (default), ``process --workers N`` or ``dask --scheduler ADDRESS``
(``refimpl.run.executors``, as ``experiments.uci``); every (prior, seed) fit owns its directory and seed, and loads
the data in its worker, so the results do not depend on the executor.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict

from refimpl.run.executors import add_executor_arguments, executor_from_args, sweep
from refimpl.run.train import TrainConfig

from . import common

HIDDEN = [400, 400]
LATENCY_BATCHES = (1, 64, 1024)
QUICK = dict(epochs=1, eval_samples=2, n_train=1000, n_test=500, seeds=[0], repeats=3, batch_sizes=(1, 64))


def run_table(argv, *, title: str, load, data_spec: dict, defaults: dict, anchors: dict | None = None) -> dict:
    """Parse ``argv``, run every (prior, seed) fit resumably through the chosen executor, write ``results.json`` /
    ``table.md``. ``load`` is a module-level loader (workers call it by reference)."""
    ap = common.parser(title)
    add_executor_arguments(ap.add_argument_group("where the fits run (every fit is independent)"), default="serial")
    args = ap.parse_args(argv)
    where = executor_from_args(ap, args)           # a bad --executor combination ends here, before any data is read
    log = common.log_stream(args)
    priors = args.priors or list(common.PRIORS)
    seeds = args.seeds or (QUICK["seeds"] if args.quick else defaults["seeds"])
    dtype = args.dtype or defaults["dtype"]
    cfg_defaults = defaults
    if args.quick:
        cfg_defaults = {**defaults, "epochs": QUICK["epochs"], "eval_samples": QUICK["eval_samples"]}
    batch_sizes, repeats = (QUICK["batch_sizes"], QUICK["repeats"]) if args.quick else (LATENCY_BATCHES, 20)

    t0 = time.perf_counter()
    if args.quick:
        data_spec = {**data_spec, "quick_subset": dataset(load, True).info["subset"]}   # not a loader spec
    tasks = [{"load": load, "quick": args.quick, "prior": prior, "seed": seed, "spec": data_spec, "dtype": dtype,
              "dir": os.path.join(args.out, prior, f"seed{seed}"),
              "config": asdict(common.train_config(args, cfg_defaults, seed)), "batch_sizes": batch_sizes,
              "repeats": repeats, "log": log if args.executor == "serial" else None}
             for prior in priors for seed in seeds]

    def report(task, fit):
        print(f"{title}: {fit['prior']} seed {fit['seed']}: acc {fit['metrics']['test']['accuracy']:.4f} nodes "
              f"{fit['metrics']['nodes_kept']} ({fit['wall_s']:.0f} s)", flush=True)

    with where as executor:
        fits = sweep(fit_task, tasks, executor, report)
    for fit in fits:
        del fit["wall_s"]
    summary = {prior: summarise([f for f in fits if f["prior"] == prior], batch_sizes) for prior in priors}
    results = {"title": title, "data": data_spec, "hidden": HIDDEN, "dtype": dtype, "quick": args.quick,
               "seeds": seeds, "priors": priors, "fits": fits, "summary": summary, "anchors": anchors or {},
               "latency_batch_sizes": list(batch_sizes), "wall_s": time.perf_counter() - t0}
    common.write_outputs(args.out, results, format_table(results))
    return results


@functools.lru_cache(maxsize=2)
def dataset(load, quick: bool):
    """The table's data in this process (loaded once per process; ``quick``: the CI subset)."""
    ds = load()
    return common.subset(ds, QUICK["n_train"], QUICK["n_test"]) if quick else ds


def fit_task(task: dict) -> dict:
    """One (prior, seed) fit of the table, a picklable unit of work for any executor: train or skip or resume
    (:func:`common.fit_once`), then prune and time it (:func:`common.prune_once`)."""
    t0 = time.perf_counter()
    ds = dataset(task["load"], task["quick"])
    metrics = common.fit_once(task["dir"], ds, task["spec"], HIDDEN, {"prior": task["prior"], "dtype": task["dtype"]},
                              TrainConfig(**task["config"]), log=task["log"])
    report = common.prune_once(task["dir"], ds, task["batch_sizes"], task["repeats"])
    return {"prior": task["prior"], "seed": task["seed"], "dir": task["dir"], "metrics": metrics, "prune": report,
            "config": task["config"], "wall_s": time.perf_counter() - t0}


def summarise(fits: list[dict], batch_sizes) -> dict:
    """Mean +- s.e. over seeds of every reported quantity of one prior."""
    ms = common.mean_se
    m = [f["metrics"] for f in fits]
    out = {k: ms([x["test"][k] for x in m]) for k in ("accuracy", "nll", "ece", "brier")}
    n_layers = len(m[0]["nodes_kept"])
    out["nodes_kept"] = [ms([x["nodes_kept"][l] for x in m]) for l in range(n_layers)]
    out["compressed_accuracy"] = ms([f["prune"]["compressed_test"]["accuracy"] for f in fits])
    out["params_kept"] = ms([x["params_kept"]["fraction_kept"] for x in m])
    out["flops_kept"] = ms([x["flops_kept"]["fraction_kept"] for x in m])
    out["final"] = {"accuracy": ms([x["final"]["test"]["accuracy"] for x in m]),
                    "nll": ms([x["final"]["test"]["nll"] for x in m]),
                    "nodes_kept": [ms([x["final"]["nodes_kept"][l] for x in m]) for l in range(n_layers)],
                    "flops_kept": ms([x["final"]["flops_kept"]["fraction_kept"] for x in m])}
    out["best_epoch"] = ms([x.get("best_epoch") for x in m])
    out["epochs_run"] = ms([x["epochs_run"] for x in m])
    out["train_wall_s"] = ms([x["train_wall_s"] for x in m])
    out["latency"] = {str(b): {name: ms([common.latency_at(f["prune"]["latency"], name, b) for f in fits])
                               for name in ("dense", "compressed")} for b in batch_sizes}
    return out


def format_table(results: dict) -> str:
    """One markdown row per prior; latency in milliseconds at the smallest and largest batch size."""
    small, big = results["latency_batch_sizes"][0], results["latency_batch_sizes"][-1]
    head = ["prior", "accuracy %", "NLL", "ECE", "nodes kept (layer 1, 2)", "compressed net accuracy %",
            "params kept %", "FLOPs kept %",
            f"dense / compressed ms (batch {small})", f"dense / compressed ms (batch {big})", "best epoch", "n"]
    rows = []
    for prior, s in results["summary"].items():
        lat = lambda b: " / ".join(common.fmt(s["latency"][str(b)][k], ".3f", 1e3)  # noqa: E731
                                   for k in ("dense", "compressed"))
        rows.append([prior, common.fmt(s["accuracy"], ".2f", 100), common.fmt(s["nll"], ".3f"),
                     common.fmt(s["ece"], ".3f"), ", ".join(common.fmt(n, ".1f") for n in s["nodes_kept"]),
                     common.fmt(s["compressed_accuracy"], ".2f", 100),
                     common.fmt(s["params_kept"], ".1f", 100), common.fmt(s["flops_kept"], ".1f", 100),
                     lat(small), lat(big), common.fmt(s["best_epoch"], ".0f"), s["accuracy"]["n"]])
    fhead = ["prior", "accuracy %", "NLL", "nodes kept (layer 1, 2)", "FLOPs kept %", "epochs", "n"]
    frows = [[prior, common.fmt(s["final"]["accuracy"], ".2f", 100), common.fmt(s["final"]["nll"], ".3f"),
              ", ".join(common.fmt(n, ".1f") for n in s["final"]["nodes_kept"]),
              common.fmt(s["final"]["flops_kept"], ".1f", 100),
              common.fmt(s["epochs_run"], ".0f"), s["accuracy"]["n"]] for prior, s in results["summary"].items()]
    return (f"### {results['title']}: selected model (lowest validation NLL)\n\n" + common.markdown_table(head, rows)
            + f"\n\n### {results['title']}: final epoch's model\n\n" + common.markdown_table(fhead, frows))
