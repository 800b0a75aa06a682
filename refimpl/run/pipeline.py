"""From a data set to a trained, evaluated, pruned and timed network: the steps behind the command
line, usable from Python too. Every step reads and writes plain files in one output directory:

    run.json          model, training and data configuration, standardisation statistics
    history.jsonl     one JSON record per epoch            checkpoint.npz   resumable state
    metrics.json      test metrics of the selected model   compressed.npz   pruned network (NumPy only)
    prune.json        kept nodes, parameters, FLOPs, export check, dense vs compressed latency
    evaluate.json     test metrics recomputed by ``evaluate``
    front.json        the accuracy-FLOPs front over epochs (validation data)
    finetune/         the run fine-tuned with its mask frozen (``finetune``): the same files
    *.png             plots, when matplotlib is installed
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import data as datasets
from . import rundir
from .checkpoint import atomic_write_bytes, load_checkpoint
from .evaluate import evaluate, network_metrics
from .finetune import FrozenMask, finetune_config
from .latency import latency_table
from .metrics import NonFiniteError, flops_kept, params_kept
from ..model import NodeSparseBNN
from .prune import compress, dense_mean_network, inclusion_probabilities, node_masks
from .selection import complete_train_config, describe, front, selected_epoch, selection_key, within_budget
from .train import CHECKPOINT, DivergedError, TrainConfig, fit, nodes_kept

RUN, METRICS, PRUNE, COMPRESSED = "run.json", "metrics.json", "prune.json", "compressed.npz"
FRONT, FINETUNE = "front.json", rundir.FINETUNE_DIR
RUN_KEYS = ("model", "train", "data", "val_fraction", "stats")   # what restore() reads from run.json


@dataclass
class Prepared:
    """Standardised splits: fit (training minus validation), validation, test."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str
    n_out: int
    stats: dict          # x_mean, x_std, y_mean, y_std (lists; y_* None for classification)
    info: dict


def load_data(spec: dict) -> "datasets.Dataset":
    """``spec = {"name": ..., **loader keyword arguments}`` -> a Dataset."""
    kw = {k: v for k, v in spec.items() if k != "name"}
    return datasets.load(spec["name"], **kw)


IMAGE_DATA = ("fashion-mnist", "mnist5k")   # loaders that return pixels / 255 in [0, 1]
#: Input scalings: ``zscore`` (per column, training statistics), and for image data ``unit`` (pixels / 255, as the
#: loaders return them) and ``authors`` (pixels / 126, the authors' ``ToTensor()`` then ``* 255 / 126``).
INPUT_SCALINGS = ("zscore", "unit", "authors")


def input_stats(ds, input_scaling: str = "zscore") -> dict:
    """``{"x_mean", "x_std"}`` (lists) that map raw inputs to model inputs by ``(x - x_mean) / x_std``."""
    if input_scaling not in INPUT_SCALINGS:
        raise ValueError(f"input_scaling: unknown {input_scaling!r}; choose one of {list(INPUT_SCALINGS)}")
    if input_scaling == "zscore":
        sx = datasets.Standardiser.fit(ds.x_train)
        return {"x_mean": sx.mean.tolist(), "x_std": sx.std.tolist()}
    if ds.name not in IMAGE_DATA:
        raise ValueError(f"input_scaling: {input_scaling!r} applies to image data ({', '.join(IMAGE_DATA)}), not "
                         f"{ds.name!r}; use zscore")
    std = 1.0 if input_scaling == "unit" else 126.0 / 255.0    # pixels / 255 / (126 / 255) = pixels / 126
    return {"x_mean": [0.0] * ds.n_features, "x_std": [std] * ds.n_features}


def prepare(ds, val_fraction: float, seed: int, stats: dict | None = None, input_scaling: str = "zscore") -> Prepared:
    """Scale inputs (``input_scaling``, statistics of the training data only) or apply given ``stats``, standardise
    regression targets, and hold out ``val_fraction`` of the training data for validation (0: none, every row
    trains; the test set never informs model selection)."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected the validation share as a number in [0, 1) (0: train on every "
                         f"row, no validation), got {val_fraction!r}")
    if stats is None:
        stats = {**input_stats(ds, input_scaling), "input_scaling": input_scaling, "y_mean": None, "y_std": None}
        if ds.task == "regression":
            sy = datasets.Standardiser.fit(ds.y_train)
            stats.update(y_mean=float(sy.mean), y_std=float(sy.std))
    x_mean, x_std = np.asarray(stats["x_mean"]), np.asarray(stats["x_std"])
    if x_mean.shape != (ds.n_features,):
        raise ValueError(f"data: the model was trained on {x_mean.shape[0]} features but this data set has "
                         f"{ds.n_features}; evaluate with the data set the run was trained on")
    fx = lambda x: (np.asarray(x, dtype=np.float64) - x_mean) / x_std  # noqa: E731
    fy = (lambda y: (y - stats["y_mean"]) / stats["y_std"]) if ds.task == "regression" else (lambda y: y)
    x_train, y_train = fx(ds.x_train), fy(ds.y_train)
    if val_fraction == 0:
        x_fit, y_fit, x_val, y_val = x_train, y_train, x_train[:0], y_train[:0]
    else:
        x_fit, y_fit, x_val, y_val = datasets.train_validation_split(x_train, y_train, val_fraction, seed)
    n_out = 1 if ds.task == "regression" else int(ds.n_classes)
    return Prepared(x_fit, y_fit, x_val, y_val, fx(ds.x_test), fy(ds.y_test), ds.task, n_out, stats, dict(ds.info))


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    return str(o)


def write_json(path: str, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=1, default=_json_default) + "\n").encode())


def read_run(out_dir: str) -> dict:
    out_dir = rundir.check_out(out_dir, write=False)
    path = os.path.join(out_dir, RUN)
    if not os.path.exists(path):
        raise FileNotFoundError(f"out: {path} not found; train first with `python -m refimpl train --out {out_dir} ...`")
    rundir.check_files(out_dir, [RUN])
    try:
        with open(path) as f:
            run = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"out: {path} is damaged, not valid JSON ({exc}); restore it, or train the run again with "
                         "--overwrite") from None
    missing = [k for k in RUN_KEYS if k not in run] if isinstance(run, dict) else list(RUN_KEYS)
    if missing:
        raise ValueError(f"out: {path} is not the run.json of a refimpl run (missing {missing}); point --out at a run "
                         "directory written by `python -m refimpl train`")
    return run


def train_run(data_spec: dict, model_kw: dict, hidden, config: TrainConfig, out_dir: str, *,
              val_fraction: float = 0.1, input_scaling: str = "zscore", preset: dict | None = None,
              resume: bool = False, overwrite: bool = False, log=sys.stderr) -> dict:
    """Load, scale, split, train, evaluate on the test set; write run.json, metrics.json.

    ``preset``: the record of :func:`refimpl.run.presets.resolve` (kept in run.json; the options it set are already
    in ``model_kw``, ``config``, ``val_fraction`` and ``input_scaling``). ``resume`` continues the run in
    ``out_dir``; without it, a directory that holds a trained run is refused unless ``overwrite``, which first
    removes the old run's files (:mod:`refimpl.run.rundir`). The directory is locked against other processes."""
    rundir.check_out(out_dir)               # a bad --out fails before the data is loaded
    ds = load_data(data_spec)
    data_spec = {**data_spec, **ds.info.get("spec", {})}   # own data (data/tabular.py): task, target, classes resolved
    if log is not None and "summary" in ds.info:
        print(ds.info["summary"], file=log, flush=True)
    prep = prepare(ds, val_fraction, config.seed, input_scaling=input_scaling)
    likelihood = "gaussian" if prep.task == "regression" else "categorical"
    model = NodeSparseBNN([ds.n_features, *hidden, prep.n_out], likelihood=likelihood, **model_kw)
    run = {"model": model.config, "train": asdict(config), "data": data_spec, "val_fraction": val_fraction,
           "input_scaling": input_scaling, "stats": prep.stats}
    if preset:
        run["preset"] = preset
    with rundir.locked(rundir.make_dir(out_dir), "train"):
        return train_prepared(model, prep, run, config, out_dir, resume, overwrite, log)


def train_prepared(model, prep: Prepared, run: dict, config: TrainConfig, out_dir: str, resume: bool,
                   overwrite: bool, log, init_params=None, *, with_final: bool = False, plots: bool = True) -> dict:
    """Train ``model`` on prepared data in ``out_dir`` (held by :func:`refimpl.run.rundir.locked`), evaluate the selected
    parameters on the test set, write run.json, metrics.json, front.json (and the plots unless ``plots=False``):
    the one fit of :func:`train_run`, :func:`finetune_run` and the experiment scripts. ``with_final`` adds
    ``final`` (the same test metrics for the last epoch's parameters) and ``final_nodes``; ``resumed`` says whether
    a checkpoint was continued."""
    if not resume:
        rundir.start_afresh(out_dir, overwrite)
    elif os.path.exists(os.path.join(out_dir, RUN)):
        saved = read_run(out_dir)
        saved["train"] = complete_train_config(saved["train"], TrainConfig)    # runs saved before select existed
        if json.loads(json.dumps(saved, default=_json_default)) != json.loads(json.dumps(run, default=_json_default)):
            raise ValueError(f"resume: {out_dir} holds a run with other options; use the same options or a new --out")
    write_json(os.path.join(out_dir, RUN), run)
    if run["val_fraction"] == 0 and log is not None:
        print("no validation hold-out (val_fraction 0): every training row trains, and the final epoch's "
              "parameters are the selected model", file=log, flush=True)
    t0 = time.perf_counter()
    y_scale = prep.stats["y_std"] or 1.0
    result = fit(model, prep.x_fit, prep.y_fit, prep.x_val, prep.y_val, config, out_dir=out_dir, resume=resume,
                 y_scale=y_scale, init_params=init_params, log=log)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            metrics = test_set_metrics(model, result.best_params, prep, config)
    except NonFiniteError as exc:
        raise DivergedError(f"training diverged: the selected parameters give NaN or infinite test predictions ({exc}); "
                            "lower the learning rate (--lr) or clip gradients with --clip-norm") from None
    if with_final:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            metrics["final"] = test_set_metrics(model, result.params, prep, config)
    selected = selection_record(result.history, config)
    metrics.update(selection=describe(config.select, config.flops_budget, len(prep.x_val) > 0,
                                      selected.get("within_budget", True), config.select_tolerance),
                   selected=selected, train_wall_s=time.perf_counter() - t0, epochs_run=len(result.history),
                   interrupted=result.interrupted, resumed=resume)
    if with_final:
        metrics.update(best_epoch=selected["epoch"],
                       final_nodes=result.history[-1]["nodes_kept"] if result.history else None)
    write_json(os.path.join(out_dir, METRICS), metrics)
    write_json(os.path.join(out_dir, FRONT), {"front": front(result.history), "selected_epoch": selected["epoch"]})
    if plots:
        from . import plots as plotting   # optional matplotlib
        plotting.plot_run(out_dir, result.history, model, result.best_params, prep)
        if log is not None and not plotting.available():
            print(plotting.MISSING, file=log, flush=True)
    return metrics


def selection_record(history: list, config: TrainConfig) -> dict:
    """``metrics.json``'s ``selected``: the rule, the selected epoch (:func:`refimpl.run.selection.selected_epoch`, from
    the history's validation fields; the final epoch without validation data) and that epoch's validation record."""
    epoch = selected_epoch(history, config.select, config.flops_budget, config.select_tolerance)
    out = {"rule": config.select, "flops_budget": config.flops_budget, "tolerance": config.select_tolerance}
    if epoch is None:
        return {**out, "epoch": history[-1]["epoch"] if history else None}
    record = history[epoch - 1]
    fields = {k: v for k, v in record.items() if k.startswith("val_") or k in ("flops_kept", "nodes_kept")}
    within = config.select != "compressed" or within_budget(selection_key(record, config.select, config.flops_budget))
    return {**out, "epoch": epoch, "within_budget": within, **fields}


def test_set_metrics(model, params, prep: Prepared, config: TrainConfig) -> dict:
    """Test-set metrics of ``params`` (the Monte Carlo predictive), of its compressed network (``compressed_test``,
    :func:`point_metrics`) and the structure of its median-probability model."""
    rng = np.random.default_rng([config.seed, 10**6])
    metrics = evaluate(model, params, prep.x_test, prep.y_test, config.eval_samples, rng,
                       batch_size=config.eval_batch_size, y_scale=prep.stats["y_std"] or 1.0,
                       average=config.predictive_average)
    return {"test": metrics, "compressed_test": point_metrics(compress(model, params), prep), **structure(model, params)}


def structure(model, params, threshold: float = 0.5) -> dict:
    """Nodes kept per hidden layer, node density, parameters and FLOPs kept (median-probability rule)."""
    kept = nodes_kept(model, params, threshold)
    return {"nodes_kept": kept, "node_density": [k / w for k, w in zip(kept, model.widths[1:-1])],
            "params_kept": params_kept(model.widths, kept), "flops_kept": flops_kept(model.widths, kept)}


def restore(out_dir: str, data_spec: dict | None = None):
    """The model, its selected (best) parameters and the prepared data of a finished run."""
    run = read_run(out_dir)
    model = NodeSparseBNN(**run["model"])
    ckpt_path = os.path.join(out_dir, CHECKPOINT)
    ckpt = load_checkpoint(ckpt_path)
    saved, wanted = (json.loads(json.dumps(c, default=_json_default)) for c in (ckpt.meta.get("model_config"), run["model"]))
    if saved != wanted:
        keys = sorted(k for k in set(saved or {}) | set(wanted) if (saved or {}).get(k) != wanted.get(k))
        raise ValueError(f"checkpoint: {ckpt_path} belongs to another model than {os.path.join(out_dir, RUN)} describes "
                         f"(they differ in {keys}); the directory mixes two runs: train it again with --overwrite, or "
                         "put the run's own checkpoint.npz back")
    params = {k: model.backend.asarray(v) for k, v in ckpt.best_params.items()}
    if FINETUNE in run:             # a fine-tuned run: its indicators are fixed at the recorded mask
        masks = [np.asarray(m, dtype=bool) for m in run[FINETUNE]["masks"]]
        if [m.tolist() for m in masks] != [m.tolist() for m in node_masks(model, params)]:
            raise ValueError(f"out: {os.path.join(out_dir, RUN)} records another mask than its checkpoint's theta "
                             "gives; the directory mixes two runs: fine-tune again with --overwrite")
        model = FrozenMask(model, masks)
    saved = complete_train_config(run["train"])     # a run saved before an option existed: its earlier behaviour
    config = TrainConfig(**{k: (tuple(v) if k == "lr_decay_epochs" else v) for k, v in saved.items()})
    ds = load_data(datasets.tabular.inherit(data_spec, run["data"]) if data_spec else run["data"])
    task = "regression" if model.likelihood == "gaussian" else "classification"
    if ds.task != task or (task == "classification" and ds.n_classes != model.widths[-1]):
        trained = task + (f" with {model.widths[-1]} classes" if task == "classification" else "")
        given = f"a {ds.task} data set" + (f" with {ds.n_classes} classes" if ds.task == "classification" else "")
        raise ValueError(f"data: the run in {out_dir} was trained for {trained} on {run['data'].get('name')!r}, but "
                         f"{ds.name!r} is {given}; evaluate with data of the same kind, or omit --data to use the "
                         "run's own")
    prep = prepare(ds, run["val_fraction"], config.seed, stats=run["stats"])
    return model, params, prep, config


def finetune_run(out_dir: str, epochs: int, *, lr: float | None = None, resume: bool = False,
                 overwrite: bool = False, log=sys.stderr) -> dict:
    """Fine-tune the selected parameters of the finished run in ``out_dir`` with their mask frozen
    (:mod:`refimpl.run.finetune`) for ``epochs`` epochs (``lr``: default the run's), on the run's own data and split.
    Writes run.json (with ``finetune``: the parent, its selected epoch, the masks), history.jsonl, checkpoint.npz,
    metrics.json and front.json into ``out_dir/finetune``, which ``evaluate`` and ``prune`` then take as a run.
    ``resume`` and ``overwrite`` act on that directory as ``train``'s do on its own."""
    parent = read_run(rundir.check_out(out_dir))
    if FINETUNE in parent:
        raise ValueError(f"out: {out_dir} holds a fine-tuned run already; fine-tune the run it came from, "
                         f"{parent[FINETUNE]['parent']}")
    ft_dir = os.path.join(out_dir, FINETUNE)
    with rundir.locked(out_dir, "finetune"):
        ckpt = load_checkpoint(os.path.join(out_dir, CHECKPOINT))
        model, params, prep, config = restore(out_dir)
        if not (ckpt.meta.get("done") or (ckpt.meta.get("epoch") == config.epochs and ckpt.meta.get("step") == 0)):
            raise ValueError(f"out: the run in {out_dir} is not finished (epoch {ckpt.meta.get('epoch')} of "
                             f"{config.epochs}); finish it with `refimpl train ... --out {out_dir} --resume` first")
        masks = node_masks(model, params)
        ft_config = finetune_config(config, epochs, lr)
        run = {"model": model.config, "train": asdict(ft_config), "data": parent["data"],
               "val_fraction": parent["val_fraction"], "input_scaling": parent.get("input_scaling"),
               "stats": parent["stats"],
               FINETUNE: {"parent": os.path.abspath(out_dir),
                          "parent_epoch": selection_record(ckpt.meta.get("history", []), config)["epoch"],
                          "masks": [m.tolist() for m in masks],
                          "kl": "kept nodes' slab KL and the scale KLs; indicators fixed at the mask (kl_z constant)"}}
        frozen = FrozenMask(model, masks)
        with rundir.locked(rundir.make_dir(ft_dir), "finetune"):
            return train_prepared(frozen, prep, run, ft_config, ft_dir, resume, overwrite, log, init_params=params)


def evaluate_run(out_dir: str, data_spec: dict | None = None) -> dict:
    read_run(rundir.check_out(out_dir))
    with rundir.locked(out_dir, "evaluate"):
        rundir.check_files(out_dir, ["evaluate.json"])
        model, params, prep, config = restore(out_dir, data_spec)
        metrics = test_set_metrics(model, params, prep, config)
        write_json(os.path.join(out_dir, "evaluate.json"), metrics)
    return metrics


def prune_run(out_dir: str, threshold: float = 0.5, batch_sizes=(1, 64, 256, 1024), repeats: int = 20,
              data_spec: dict | None = None) -> dict:
    """Compress the selected model, verify the export, time dense vs compressed inference."""
    read_run(rundir.check_out(out_dir))
    with rundir.locked(out_dir, "prune"):
        rundir.check_files(out_dir, [COMPRESSED, PRUNE])
        return _prune_locked(out_dir, threshold, batch_sizes, repeats, data_spec)


def _prune_locked(out_dir, threshold, batch_sizes, repeats, data_spec):
    model, params, prep, _ = restore(out_dir, data_spec)
    return prune_prepared(out_dir, model, params, prep, threshold, batch_sizes, repeats)


def prune_prepared(out_dir, model, params, prep: Prepared, threshold: float = 0.5, batch_sizes=(1, 64, 256, 1024),
                   repeats: int = 20) -> dict:
    """Export the median-probability network of ``params`` to ``out_dir/compressed.npz``, checked against the
    masked full network on the first 1024 test rows, and write ``prune.json``: kept nodes, parameters, FLOPs, the
    export's largest difference, the compressed network's test metrics, dense against compressed latency. The
    pruning of :func:`prune_run` and the experiment scripts."""
    meta = {"stats": prep.stats, "run": out_dir, "classes": prep.info.get("classes")}   # classes: own data's labels
    net = compress(model, params, threshold, check_x=prep.x_test[:1024], meta=meta)
    net.save(os.path.join(out_dir, COMPRESSED))
    report = {"threshold": threshold, "max_abs_diff": net.meta["max_abs_diff"],
              "inclusion_probabilities": [g.tolist() for g in inclusion_probabilities(model, params)],
              **structure(model, params, threshold), "compressed_test": point_metrics(net, prep),
              "latency": latency(model, params, net, prep.x_test, batch_sizes, repeats)}
    write_json(os.path.join(out_dir, PRUNE), report)
    return report


def point_metrics(net, prep: Prepared) -> dict:
    """Test metrics of one deterministic network (e.g. the compressed median-probability model at the
    variational mean): accuracy, NLL, ECE of its softmax (classification) or RMSE (regression, original units);
    :func:`refimpl.run.evaluate.network_metrics` on the test split."""
    likelihood = "categorical" if prep.task == "classification" else "gaussian"
    return network_metrics(net, prep.x_test, prep.y_test, likelihood, prep.stats["y_std"] or 1.0)


def latency(model, params, net, x_pool, batch_sizes, repeats: int) -> list[dict]:
    """Median latency of the dense network at the variational mean and of the compressed one."""
    dense = dense_mean_network(model, params)
    rng = np.random.default_rng(0)
    make = lambda b: x_pool[rng.integers(0, len(x_pool), size=b)]  # noqa: E731
    return latency_table({"dense": dense.predict, "compressed": net.predict}, make, list(batch_sizes),
                         repeats=repeats, reference="dense")
