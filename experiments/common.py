"""Shared pieces of the experiment scripts: argument parsing, one resumable fit per output directory,
pruning and latency of a finished fit, mean +- standard error over seeds or splits, markdown tables.

Resumability. Every fit owns one directory with refimpl's own files (``run.json``, ``history.jsonl``,
``checkpoint.npz``, ``metrics.json``; docs/training.md), so ``python -m refimpl evaluate --out DIR`` and
``prune --out DIR`` work on it too (full data sets only: a ``--quick`` subset is not a loader spec).
:func:`fit_once` skips a fit whose ``metrics.json`` says it finished, continues one that has a
checkpoint (``fit(..., resume=True)``, bit-identical to an uninterrupted run, and refused when the
options differ), and starts the rest. Ctrl-C (SIGINT) or SIGTERM stops at the current step with a
checkpoint; rerunning the same command picks up there.

What this is not: a scheduler. Fits run one after another in one process.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
from dataclasses import asdict

import numpy as np

from refimpl.run.checkpoint import load_checkpoint
from refimpl.run.compressed import CompressedMLP
from refimpl.data import Dataset
from refimpl.model import NodeSparseBNN
from refimpl.run import rundir
from refimpl.run.pipeline import (COMPRESSED, METRICS, PRUNE, RUN, point_metrics, prepare, prune_prepared, train_prepared,
                              write_json)
from refimpl.run.scripts import script_parser
from refimpl.run.selection import complete_train_config
from refimpl.run.train import CHECKPOINT, TrainConfig

PRIORS = ("gaussian", "ss-ig", "ss-gl", "ss-ghs")
KNOBS = ("epochs", "batch_size", "lr", "lr_mult_theta", "lr_mult_scales", "lr_mult_weights", "theta_init",
         "kl_anneal_epochs", "eval_samples", "checkpoint_every")


class Interrupted(Exception):
    """A fit was stopped by SIGINT/SIGTERM after writing its checkpoint."""


# ---- command line ----------------------------------------------------------------------------------
# The options that several scripts define alike (same flags, type, default and meaning), defined once here;
# a script adds each where it belongs in its own option list. Options that differ by script (--seeds, --epochs,
# --data, --priors, --dtype: their defaults) stay in each script.
SHARED = {
    "--out": dict(required=True, help="output directory (one sub-directory per fit; rerun to resume)"),
    "--quiet": dict(action="store_true", help="no per-epoch progress lines"),
    "--hidden": dict(nargs="+", type=int, default=[400, 400], help="hidden layer widths"),
}


def add_shared(ap, *flags: str) -> None:
    """Add the :data:`SHARED` options ``flags`` to the parser (or argument group) ``ap`` (each with its own copy of
    a list default)."""
    for flag in flags:
        ap.add_argument(flag, **copy.deepcopy(SHARED[flag]))


def parser(description: str, seeds=True, prog: str | None = None) -> argparse.ArgumentParser:
    """Options shared by the table scripts; ``None`` means "the script's default" (see its ``DEFAULTS``).
    ``prog`` defaults to the ``python -m experiments.<script>`` that started the process."""
    ap = script_parser(prog, description, defaults_in_help=True)
    add_shared(ap, "--out")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run for CI: data subset, 1-2 epochs, 1 seed")
    ap.add_argument("--priors", nargs="+", choices=PRIORS, help="priors to run (default: all four)")
    if seeds:
        ap.add_argument("--seeds", nargs="+", type=int, help="training seeds (initialisation, validation split, noise)")
    ap.add_argument("--dtype", choices=("float32", "float64"), help="model dtype")
    add_shared(ap, "--quiet")
    g = ap.add_argument_group("training budget and docs/spec.md §7 knobs (override the script's DEFAULTS)")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--lr-mult-theta", type=float)
    g.add_argument("--lr-mult-scales", type=float)
    g.add_argument("--lr-mult-weights", type=float)
    g.add_argument("--theta-init", type=float)
    g.add_argument("--kl-anneal-epochs", type=int)
    g.add_argument("--eval-samples", type=int)
    g.add_argument("--checkpoint-every", type=int)
    return ap


def train_config(args, defaults: dict, seed: int) -> TrainConfig:
    """``TrainConfig`` from the script's defaults, overridden by any knob given on the command line."""
    kw = {k: defaults[k] for k in KNOBS if k in defaults}
    kw.update({k: getattr(args, k) for k in KNOBS if getattr(args, k, None) is not None})
    return TrainConfig(seed=seed, **kw)


def log_stream(args):
    return None if args.quiet else sys.stderr


# ---- data ------------------------------------------------------------------------------------------
def subset(ds: Dataset, n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """A random subset of a data set (``--quick`` runs): ``n_train`` training and ``n_test`` test rows."""
    rng = np.random.default_rng(seed)
    tr = np.sort(rng.permutation(len(ds.y_train))[:n_train])
    te = np.sort(rng.permutation(len(ds.y_test))[:n_test])
    info = {**ds.info, "subset": {"n_train": len(tr), "n_test": len(te), "seed": seed}}
    return Dataset(ds.name, ds.task, ds.x_train[tr], ds.y_train[tr], ds.x_test[te], ds.y_test[te], ds.n_classes, info)


# ---- one resumable fit -----------------------------------------------------------------------------
def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _canonical(obj):
    return json.loads(json.dumps(obj, default=str))


def fit_once(out_dir: str, ds: Dataset, data_spec: dict, hidden, model_kw: dict, config: TrainConfig, *,
             val_fraction: float = 0.1, log=sys.stderr) -> dict:
    """Train (or skip, or resume) one model; returns ``metrics.json`` (test metrics and structure of the selected
    parameters) plus ``final`` (the same for the last epoch's parameters), ``best_epoch`` and ``final_nodes``.

    As ``refimpl.run.pipeline.train_run`` (the same :func:`refimpl.run.pipeline.train_prepared`, in a locked directory) but
    on an already loaded ``ds`` (loaded once per script, possibly a ``--quick`` subset): standardise with training
    statistics, hold out ``val_fraction`` of the training rows for model selection (``config.select``), train,
    evaluate the selected and the final parameters on the test set. Finished fits are skipped (an archived fit has
    no checkpoint), interrupted ones continued."""
    metrics_path, ckpt_path = os.path.join(out_dir, METRICS), os.path.join(out_dir, CHECKPOINT)
    prep = prepare(ds, val_fraction, config.seed)
    likelihood = "gaussian" if prep.task == "regression" else "categorical"
    model = NodeSparseBNN([ds.n_features, *hidden, prep.n_out], likelihood=likelihood, **model_kw)
    run = {"model": model.config, "train": asdict(config), "data": data_spec, "val_fraction": val_fraction,
           "stats": prep.stats}
    run_path = os.path.join(out_dir, RUN)
    resume = os.path.exists(ckpt_path)
    if resume or os.path.exists(metrics_path):
        saved = _read_json(run_path)
        if isinstance(saved, dict):      # fits saved before TrainConfig.select existed had its defaults
            saved["train"] = complete_train_config(saved.get("train"), TrainConfig)
        if _canonical(saved) != _canonical(run):
            raise ValueError(f"{out_dir} holds a fit with other options (model, training budget, knobs or data); "
                             "rerun with the options it was trained with, or choose another --out")
    if os.path.exists(metrics_path):
        metrics = _read_json(metrics_path)
        if not metrics.get("interrupted"):
            return metrics                       # finished: skip (its checkpoint may be absent: an archived fit)
    with rundir.locked(rundir.make_dir(out_dir), "train"):
        # The selected parameters can be an early, unpruned epoch; the final ones are what the authors report
        # after a fixed budget: record both (with_final). best_epoch is the selection rule's epoch.
        metrics = train_prepared(model, prep, run, config, out_dir, resume, False, log, with_final=True, plots=False)
    if metrics["interrupted"]:
        raise Interrupted(out_dir)
    return metrics


PARAMS = ("selected", "final")


def restore_fit(out_dir: str, ds: Dataset, which: str = "selected"):
    """Model, parameters and prepared data of a finished fit in ``out_dir``: the ``selected`` (best-validation)
    parameters or the ``final`` epoch's."""
    if which not in PARAMS:
        raise ValueError(f"which: expected one of {PARAMS}, got {which!r}")
    run = _read_json(os.path.join(out_dir, RUN))
    model = NodeSparseBNN(**run["model"])
    ckpt = load_checkpoint(os.path.join(out_dir, CHECKPOINT))
    params = {k: model.backend.asarray(v) for k, v in (ckpt.best_params if which == "selected" else ckpt.params).items()}
    prep = prepare(ds, run["val_fraction"], run["train"]["seed"], stats=run["stats"])
    return model, params, prep


def prune_once(out_dir: str, ds: Dataset, batch_sizes=(1, 64, 1024), repeats: int = 20) -> dict:
    """``compressed.npz`` and ``prune.json`` for a finished fit (skipped when ``prune.json`` exists): the
    median-probability model exported, checked against the masked full network, and timed against the dense
    variational-mean network (``refimpl.run.pipeline.prune_run`` on an already loaded data set)."""
    path = os.path.join(out_dir, PRUNE)
    if os.path.exists(path):
        report = _read_json(path)
        if "compressed_test" not in report:          # written before this field existed: add it
            _, _, prep = restore_fit(out_dir, ds)
            report["compressed_test"] = point_metrics(CompressedMLP.load(os.path.join(out_dir, COMPRESSED)), prep)
            write_json(path, report)
        return report
    model, params, prep = restore_fit(out_dir, ds)
    return prune_prepared(out_dir, model, params, prep, 0.5, batch_sizes, repeats)


# ---- aggregation and tables ------------------------------------------------------------------------
def mean_se(values) -> dict:
    """``{"mean", "se", "n"}`` with the standard error ``sd / sqrt(n)`` (``sd`` with ``n - 1``; ``se`` is
    ``None`` for a single value)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"mean": None, "se": None, "n": 0}
    se = float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else None
    return {"mean": float(np.mean(v)), "se": se, "n": int(v.size)}


def fmt(stat: dict, spec: str = ".3f", scale: float = 1.0) -> str:
    """``"m ± se"`` (or ``"m"`` for one value) of a :func:`mean_se` record, values multiplied by ``scale``."""
    if stat["mean"] is None:
        return "–"
    m = format(stat["mean"] * scale, spec)
    return m if stat["se"] is None else f"{m} ± {format(stat['se'] * scale, spec)}"


def markdown_table(headers, rows) -> str:
    """A GitHub markdown table (every cell converted with ``str``)."""
    lines = ["| " + " | ".join(map(str, headers)) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def latency_at(report_latency, name: str, batch: int) -> float | None:
    """Median seconds of contender ``name`` at ``batch`` in a latency table, or ``None``."""
    for r in report_latency:
        if r["name"] == name and r["batch_size"] == batch:
            return r["median_s"]
    return None


def write_outputs(out_dir: str, results: dict, table: str, log=sys.stdout):
    """``results.json`` and ``table.md`` in ``out_dir``; the table is printed too."""
    write_json(os.path.join(out_dir, "results.json"), results)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(table + "\n")
    if log is not None:
        print(table, file=log, flush=True)


def run_main(body):
    """Call ``body()``; an interrupted fit ends the script with status 130 and a hint to rerun."""
    try:
        return body()
    except Interrupted as exc:
        print(f"interrupted in {exc}; rerun the same command to resume", file=sys.stderr)
        raise SystemExit(130)
