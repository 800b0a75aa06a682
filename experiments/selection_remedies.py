"""Node-selection remedies, one factor at a time: what makes pruning gradual instead of a whole layer at once.

    python -m experiments.selection_remedies --out out/remedies --data mnist5k                   # every factor
    python -m experiments.selection_remedies --out out/remedies --data fashion-mnist --epochs 100 \\
        --variants reference natural natural+spread1
    python -m experiments.selection_remedies --out /tmp/q --data mnist5k --hidden 20 --epochs 2 --variants reference

Every fit is ``refimpl.run.pipeline.train_run`` (what ``refimpl train`` runs) with ``--select compressed
--flops-budget B`` in ``OUT/<data>/<prior>/<variant>/seed<k>/``, then, if ``--finetune E``, the fine-tuning phase
(``refimpl finetune``) of the selected network. Rerunning skips finished fits and resumes interrupted ones
bit-identically. Each variant changes the options of :data:`VARIANTS` against ``refimpl train``'s defaults (the
``reference`` variant) or against another variant (``natural+...``), so every row differs from its parent in one
factor. The table reports, per fit: the epoch at which the first hidden layer fell below half its nodes and the
number of epochs it took from 90% to 10% of them (a lockstep collapse takes 1-2), the largest spread of layer 1's
logits (max - min) before that, the final nodes, whether a layer ended empty, and the selected compressed network
(best validation accuracy within the budget): its epoch, nodes, FLOPs kept, test accuracy, and after fine-tuning.
Writes ``OUT/<data>/<priors>/results.json`` and ``table.md``; docs/training.md ("Robust node selection") reads them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from refimpl.run.pipeline import METRICS, finetune_run, train_run
from refimpl.run.scripts import script_parser
from refimpl.run.selection import selected_epoch
from refimpl.run.train import CHECKPOINT, HISTORY, TrainConfig

from . import common

NATURAL = {"theta_optimizer": "natural", "theta_lr": 0.03}
#: variant -> (parent variant or None for refimpl's defaults, the options it changes)
VARIANTS = {
    "defaults": (None, {}),                                   # refimpl train's defaults (after this study)
    "reference": (None, {"theta_optimizer": "adam", "theta_init_sd": 0.0}),   # the defaults before it
    "adam-theta-x10": ("reference", {"lr_mult_theta": 10.0}),
    "natural": ("reference", NATURAL),
    "natural-lr0.01": ("natural", {"theta_lr": 0.01}),
    "natural-lr0.1": ("natural", {"theta_lr": 0.1}),
    "natural+spread0.5": ("natural", {"theta_init_sd": 0.5}),
    "natural+spread1": ("natural", {"theta_init_sd": 1.0}),
    "natural+spread2": ("natural", {"theta_init_sd": 2.0}),
    "natural+rho-4": ("natural", {"rho_init": -4.0}),
    "natural+rho-3": ("natural", {"rho_init": -3.0}),
    "natural+warmup20": ("natural", {"kl_anneal_epochs": 20}),
    "natural+temp0.1": ("natural", {"temperature": 0.1}),
    "natural+temp1": ("natural", {"temperature": 1.0}),
    "natural+samples4": ("natural", {"train_samples": 4}),
    "natural+concrete": ("natural", {"relaxation": "concrete"}),
    "natural+authors-scaling": ("natural", {"input_scaling": "authors", "init": "authors"}),
    "adam+spread1": ("reference", {"theta_init_sd": 1.0}),
    "non-centred": ("defaults", {"parameterisation": "non-centred"}),   # SS-GL / SS-GHS: scales in the forward pass
    "shrink": ("defaults", {"prune_below": 1e-3}),                       # nodes removed as they fall (SH-1)
    "non-centred+shrink": ("non-centred", {"prune_below": 1e-3}),
    "non-centred+shrink1e-2": ("non-centred", {"prune_below": 1e-2}),
}
MODEL_KEYS = ("temperature", "relaxation", "init", "parameterisation")
#: the issue's targets: the FLOPs budget of the selected compressed network, per data set and prior
BUDGETS = {"mnist5k": {"gaussian": 1.0, "ss-ig": 0.25, "ss-gl": 0.25, "ss-ghs": 0.25},
           "fashion-mnist": {"gaussian": 1.0, "ss-ig": 0.10, "ss-gl": 0.15, "ss-ghs": 0.03}}


def options(variant: str) -> dict:
    """The variant's options: its parent's, updated by its own."""
    parent, own = VARIANTS[variant]
    return {**(options(parent) if parent else {}), **own}


def lockstep_stats(history: list, width: int) -> dict:
    """When layer 1 fell below half its nodes, how many epochs it took from 90% to 10% of them, and the largest
    layer-1 logit spread (max - min) seen before it fell below half (None where it never did)."""
    first = lambda frac: next((h["epoch"] for h in history if h["nodes_kept"][0] < frac * width), None)  # noqa: E731
    half, p90, p10 = first(0.5), first(0.9), first(0.1)
    before = [h for h in history if half is None or h["epoch"] <= half]
    spread = max((h["theta_spread"][0][-1] - h["theta_spread"][0][0] for h in before if h.get("theta_spread")),
                 default=None)
    return {"half_epoch": half, "fall_epochs": (p10 - p90) if p90 and p10 else None, "spread_before": spread}


def sparse_rule(history: list, tolerance: float = 0.01) -> dict:
    """What ``select="sparse"`` (refimpl's default) picks from this history: its epoch, FLOPs kept and compressed
    validation accuracy (validation fields only)."""
    epoch = selected_epoch(history, "sparse", tolerance=tolerance)
    r = history[epoch - 1]
    return {"epoch": epoch, "flops_kept": r["flops_kept"], "val_compressed_accuracy": r.get("val_compressed_accuracy"),
            "nodes_kept": r["nodes_kept"]}


def at_epoch(history: list, epoch: int) -> dict | None:
    r = next((h for h in history if h["epoch"] == epoch), None)
    return None if r is None else {"flops_kept": r["flops_kept"], "nodes_kept": r["nodes_kept"],
                                   "val_compressed_accuracy": r.get("val_compressed_accuracy")}


def fit_variant(out_dir: str, data: str, hidden, prior: str, variant: str, seed: int, epochs: int,
                finetune: int, budget: float, log, dtype: str = "float64") -> dict:
    opts = options(variant)
    model_kw = {"prior": prior, **({"dtype": dtype} if dtype != "float64" else {}),
                **{k: opts[k] for k in MODEL_KEYS if k in opts}}
    scaling = opts.get("input_scaling", "zscore")
    train_kw = {k: v for k, v in opts.items() if k not in MODEL_KEYS and k != "input_scaling"}
    config = TrainConfig(epochs=epochs, seed=seed, checkpoint_every=5, select="compressed", flops_budget=budget,
                         **train_kw)
    metrics_path = os.path.join(out_dir, METRICS)
    if not (os.path.exists(metrics_path) and not common._read_json(metrics_path).get("interrupted")):
        m = train_run({"name": data}, model_kw, hidden, config, out_dir, input_scaling=scaling, log=log,
                      resume=os.path.exists(os.path.join(out_dir, CHECKPOINT)))
        if m.get("interrupted"):
            raise common.Interrupted(out_dir)
    metrics = common._read_json(metrics_path)
    with open(os.path.join(out_dir, HISTORY)) as f:
        history = [json.loads(line) for line in f]
    record = {"variant": variant, "options": opts, "seed": seed, "dir": out_dir, "final_nodes": history[-1]["nodes_kept"],
              "emptied": any(n == 0 for n in history[-1]["nodes_kept"]), **lockstep_stats(history, hidden[0]),
              "selected": metrics["selected"], "compressed_test": metrics["compressed_test"],
              "predictive_test": metrics["test"], "nodes_kept": metrics["nodes_kept"],
              "flops_kept": metrics["flops_kept"]["fraction_kept"], "train_wall_s": metrics.get("train_wall_s"),
              "sparse_rule": sparse_rule(history), "epoch60": at_epoch(history, 60)}
    if finetune:
        ft_dir = os.path.join(out_dir, "finetune")
        ft_metrics = os.path.join(ft_dir, METRICS)
        if not (os.path.exists(ft_metrics) and not common._read_json(ft_metrics).get("interrupted")):
            finetune_run(out_dir, finetune, resume=os.path.exists(os.path.join(ft_dir, CHECKPOINT)), log=log)
        record["finetuned_test"] = common._read_json(ft_metrics)["compressed_test"]
    return record


def format_table(fits: list[dict]) -> str:
    head = ["prior", "variant", "seed", "layer 1 < 1/2 at epoch", "90%->10% in epochs", "theta spread before", "final nodes",
            "selected epoch", "nodes", "FLOPs kept", "compressed test acc.", "after fine-tuning", "predictive acc.",
            "NLL", "ECE", "sparse rule: epoch, FLOPs, val. acc.", "epoch 60: FLOPs, val. acc.", "train s"]
    rows = []
    for f in fits:
        sel = f["selected"]
        rows.append([f.get("prior", ""), f["variant"], f["seed"], f["half_epoch"] or "never", f["fall_epochs"] if f["fall_epochs"] is not None else "–",
                     f"{f['spread_before']:.2f}" if f["spread_before"] is not None else "–",
                     "/".join(map(str, f["final_nodes"])) + (" (emptied)" if f["emptied"] else ""),
                     sel.get("epoch"), "/".join(map(str, f["nodes_kept"])), f"{f['flops_kept']:.3f}"
                     + ("" if sel.get("within_budget", True) else " (over budget)"),
                     f"{f['compressed_test']['accuracy']:.4f}",
                     f"{f['finetuned_test']['accuracy']:.4f}" if "finetuned_test" in f else "–",
                     f"{f['predictive_test']['accuracy']:.4f}", f"{f['predictive_test']['nll']:.3f}",
                     f"{f['predictive_test']['ece']:.3f}",
                     (f"{f['sparse_rule']['epoch']}, {f['sparse_rule']['flops_kept']:.3f}, "
                      f"{f['sparse_rule']['val_compressed_accuracy']:.4f}") if f.get("sparse_rule") else "–",
                     (f"{f['epoch60']['flops_kept']:.3f}, {f['epoch60']['val_compressed_accuracy']:.4f}")
                     if f.get("epoch60") else "–", f"{f['train_wall_s']:.0f}" if f.get("train_wall_s") else "–"])
    return common.markdown_table(head, rows)


def summarise(fits: list[dict]) -> str:
    """Mean +- s.e. over seeds per (prior, variant): the selected compressed network, after fine-tuning, the
    predictive, what the sparse rule picks, and epoch 60."""
    groups = {}
    for f in fits:
        groups.setdefault((f.get("prior", ""), f["variant"]), []).append(f)
    rows = []
    for (prior, variant), g in groups.items():
        ms = lambda vals, spec=".4f", scale=1.0: common.fmt(common.mean_se(vals), spec, scale)  # noqa: E731
        rows.append([prior, variant, len(g), ms([f["compressed_test"]["accuracy"] for f in g], ".2f", 100),
                     ms([f["flops_kept"] for f in g], ".1f", 100),
                     ms([f.get("finetuned_test", {}).get("accuracy") for f in g], ".2f", 100),
                     ms([f["predictive_test"]["accuracy"] for f in g], ".2f", 100),
                     ms([f["predictive_test"]["nll"] for f in g], ".3f"), ms([f["predictive_test"]["ece"] for f in g], ".3f"),
                     ms([f["sparse_rule"]["flops_kept"] for f in g], ".1f", 100),
                     ms([f["sparse_rule"]["val_compressed_accuracy"] for f in g], ".2f", 100),
                     ms([(f.get("epoch60") or {}).get("flops_kept") for f in g], ".1f", 100),
                     ms([(f.get("epoch60") or {}).get("val_compressed_accuracy") for f in g], ".2f", 100),
                     sum(1 for f in g if f["emptied"]), ms([f.get("train_wall_s") for f in g], ".0f")])
    return common.markdown_table(["prior", "variant", "seeds", "compressed test acc. %", "FLOPs kept %",
                                  "after fine-tuning %", "predictive acc. %", "NLL", "ECE", "sparse rule: FLOPs %",
                                  "sparse rule: val. acc. %", "epoch 60: FLOPs %", "epoch 60: val. acc. %",
                                  "runs ending with an empty layer", "train s"], rows)


def build_parser() -> argparse.ArgumentParser:
    ap = script_parser("python -m experiments.selection_remedies", __doc__, defaults_in_help=True)
    common.add_shared(ap, "--out")
    ap.add_argument("--data", default="mnist5k", help="mnist5k | fashion-mnist")
    ap.add_argument("--priors", nargs="+", default=["ss-gl"], choices=("gaussian", "ss-ig", "ss-gl", "ss-ghs"))
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--finetune", type=int, default=20, help="epochs of fine-tuning the selected network (0: none)")
    ap.add_argument("--flops-budget", type=float, help="selection budget (default: BUDGETS, the issue's targets)")
    common.add_shared(ap, "--hidden")
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    ap.add_argument("--table-only", action="store_true",
                    help="train nothing: the table of the finished fits (and fine-tunings) among those named")
    common.add_shared(ap, "--quiet")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    log = None if args.quiet else sys.stderr
    t0 = time.perf_counter()
    fits = []
    for prior in args.priors:
        budget = args.flops_budget or BUDGETS.get(args.data, {}).get(prior, 0.25)
        for variant in args.variants:
            for seed in args.seeds:
                sub = os.path.join(args.out, args.data, prior, variant, f"seed{seed}")
                if args.table_only and not (os.path.exists(os.path.join(sub, METRICS)) and (
                        not args.finetune or os.path.exists(os.path.join(sub, "finetune", METRICS)))):
                    continue
                f = fit_variant(sub, args.data, args.hidden, prior, variant, seed, args.epochs, args.finetune, budget, log,
                                args.dtype)
                fits.append({**f, "prior": prior, "flops_budget": budget})
                print(f"{prior} {variant} seed {seed}: layer 1 half at {f['half_epoch']}, fall {f['fall_epochs']}, final "
                      f"{f['final_nodes']}, selected {f['nodes_kept']} {f['flops_kept']:.3f} acc "
                      f"{f['compressed_test']['accuracy']:.4f} ft {f.get('finetuned_test', {}).get('accuracy')}", flush=True)
    results = {"data": args.data, "priors": args.priors, "hidden": args.hidden, "epochs": args.epochs,
               "finetune": args.finetune, "fits": fits, "wall_s": time.perf_counter() - t0}
    common.write_outputs(os.path.join(args.out, args.data, "-".join(args.priors)), results,
                         format_table(fits) + "\n\nMean +- s.e. over seeds:\n\n" + summarise(fits))
    return results


if __name__ == "__main__":
    common.run_main(lambda: main(sys.argv[1:]))
