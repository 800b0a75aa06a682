"""The Fashion-MNIST table with ``--preset authors``: what the authors' MLP scripts do, run by this project.

    python -m experiments.authors_preset --out out/authors                       # 5 variants x 3 seeds x 300 epochs
    python -m experiments.authors_preset --out out/authors --variants ss-gl --seeds 0 --epochs 80
    python -m experiments.authors_preset --out /tmp/q --data mnist5k --hidden 20 --epochs 2 --seeds 0   # smoke
    python -m experiments.authors_preset --out out/authors-shrink --prune-below 1e-3   # nodes removed as they fall

Every fit is ``refimpl.run.pipeline.train_run`` (the same function as ``python -m refimpl train --preset authors``)
in ``OUT/<variant>/seed<k>/``, then ``prune_run``; rerunning the command skips finished fits and resumes
interrupted ones bit-identically. Variants: the dense BNN, SS-IG, SS-GL, and SS-GHS centred (the authors' MLP
script) and non-centred (the docs/spec.md §10 re-run of their layers). The table reports the compressed network's test
accuracy (nodes with gamma > 1/2 at the variational mean, the authors' rule), the predictive's accuracy, NLL and
ECE (10 samples, logits averaged, as the authors), nodes and FLOPs kept, and the nodes kept per hidden layer at
epochs 55, 60, 65, 70, 80 beside the reference trajectory of the authors' own layers
(``shared/data/authors-trajectory``). Writes ``OUT/results.json`` and ``OUT/table.md``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time

from refimpl.run.pipeline import METRICS, PRUNE, prune_run, train_run
from refimpl.run.presets import resolve
from refimpl.run.scripts import script_parser
from refimpl.run.train import CHECKPOINT, HISTORY, TrainConfig

from . import common

VARIANTS = {
    "gaussian": {"prior": "gaussian"},
    "ss-ig": {"prior": "ss-ig"},
    "ss-gl": {"prior": "ss-gl"},
    "ss-ghs-centred": {"prior": "ss-ghs", "parameterisation": "centred"},
    "ss-ghs-non-centred": {"prior": "ss-ghs", "parameterisation": "non-centred"},
}
EPOCHS_SHOWN = (55, 60, 65, 70, 80)
ANCHORS = {"ss-gl": {"accuracy": 0.8576, "nodes_kept": [97, 35], "flops_kept": 0.167},
           "ss-ghs-non-centred": {"accuracy": 0.8489, "nodes_kept": [16, 9], "flops_kept": 0.027}}
TRAJECTORY = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "authors-trajectory",
                          "ss-gl-fashion-mnist-seed0.csv")


def build_parser() -> argparse.ArgumentParser:
    ap = script_parser("python -m experiments.authors_preset", __doc__, defaults_in_help=True)
    common.add_shared(ap, "--out")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--data", default="fashion-mnist", help="fashion-mnist | mnist5k")
    common.add_shared(ap, "--hidden")
    ap.add_argument("--checkpoint-every", type=int, default=5)
    ap.add_argument("--prune-below", type=float, default=None,
                    help="remove nodes with gamma below this during training (TrainConfig.prune_below; SH-1)")
    common.add_shared(ap, "--quiet")
    ap.add_argument("--compare-runs", nargs="+", metavar="DIR",
                    help="only print nodes and theta spread by epoch of these run directories beside the reference")
    return ap


def fit_variant(out_dir: str, data: str, hidden, variant: str, seed: int, epochs: int, checkpoint_every: int, log,
                prune_below: float | None = None):
    """Train (or skip, or resume) one fit with the preset and prune it; returns its record."""
    model_kw = dict(VARIANTS[variant])
    prior = model_kw.pop("prior")
    train_kw = {"epochs": epochs, "seed": seed, "checkpoint_every": checkpoint_every}
    if prune_below is not None:
        train_kw["prune_below"] = prune_below
    explicit = {"prior", *model_kw, *train_kw}
    model, train, data_opts, record = resolve("authors", prior, {"prior": prior, **model_kw}, train_kw, {}, explicit)
    metrics_path = os.path.join(out_dir, METRICS)
    done = os.path.exists(metrics_path) and not common._read_json(metrics_path).get("interrupted")
    if not done:
        metrics = train_run({"name": data}, model, hidden, TrainConfig(**train), out_dir, preset=record,
                            resume=os.path.exists(os.path.join(out_dir, CHECKPOINT)), log=log, **data_opts)
        if metrics.get("interrupted"):
            raise common.Interrupted(out_dir)
    metrics = common._read_json(metrics_path)
    report = common._read_json(os.path.join(out_dir, PRUNE)) if os.path.exists(os.path.join(out_dir, PRUNE)) else \
        prune_run(out_dir, repeats=5, batch_sizes=(1, 1024))
    with open(os.path.join(out_dir, HISTORY)) as f:
        history = [json.loads(line) for line in f]
    by_epoch = {h["epoch"]: h["nodes_kept"] for h in history}
    return {"variant": variant, "seed": seed, "dir": out_dir, "predictive": metrics["test"],
            "compressed": report["compressed_test"], "nodes_kept": report["nodes_kept"],
            "flops_kept": report["flops_kept"]["fraction_kept"],
            "params_kept": report["params_kept"]["fraction_kept"],
            "nodes_by_epoch": {e: by_epoch.get(e) for e in EPOCHS_SHOWN}, "train_wall_s": metrics.get("train_wall_s")}


def compare_trajectories(run_dirs, epochs=(20, 40, 55, 60, 65, 70, 80), path: str = TRAJECTORY) -> str:
    """Markdown: nodes kept and the theta spread (min / median / max of layer 1 and layer 2) by epoch of each run
    directory's ``history.jsonl`` beside the authors' reference trajectory."""
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            ref = {int(r["epoch"]): r for r in csv.DictReader(f)}
        for e in epochs:
            if e in ref:
                r = ref[e]
                rows.append(["authors' layers", e, f"{r['nodes_layer1']}/{r['nodes_layer2']}",
                             f"{float(r['theta1_min']):.2f} / {float(r['theta1_median']):.2f} / {float(r['theta1_max']):.2f}",
                             f"{float(r['theta2_min']):.2f} / {float(r['theta2_median']):.2f} / {float(r['theta2_max']):.2f}"])
    for d in run_dirs:
        with open(os.path.join(d, HISTORY)) as f:
            history = {h["epoch"]: h for h in map(json.loads, f)}
        for e in epochs:
            h = history.get(e)
            if h is None:
                continue
            spread = [" / ".join(f"{q:.2f}" for q in layer) for layer in h.get("theta_spread", [[], []])]
            rows.append([os.path.basename(os.path.normpath(d)), e, "/".join(map(str, h["nodes_kept"])), *spread])
    return common.markdown_table(["run", "epoch", "nodes kept", "theta layer 1 (min / median / max)",
                                  "theta layer 2"], rows)


def reference_trajectory(path: str = TRAJECTORY) -> dict | None:
    """Nodes kept per hidden layer at ``EPOCHS_SHOWN`` in the authors' reference run (None if the file is absent)."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        rows = {int(r["epoch"]): r for r in csv.DictReader(f)}
    return {e: [int(rows[e]["nodes_layer1"]), int(rows[e]["nodes_layer2"])] for e in EPOCHS_SHOWN if e in rows}


def format_table(fits: list[dict], reference) -> str:
    head = ["variant", "seed", "compressed acc.", "predictive acc.", "NLL", "ECE", "nodes kept", "FLOPs kept",
            *[f"nodes @{e}" for e in EPOCHS_SHOWN], "train s"]
    rows = []
    if reference:
        rows.append(["authors' layers (reference)", "0", "", "", "", "", "", "",
                     *[f"{reference[e][0]}/{reference[e][1]}" if e in reference else "" for e in EPOCHS_SHOWN], ""])
    for v, a in ANCHORS.items():
        rows.append([f"anchor {v}, 300 ep.", "", f"{a['accuracy']:.4f}", "", "", "", f"{a['nodes_kept']}",
                     f"{a['flops_kept']:.3f}", *[""] * len(EPOCHS_SHOWN), ""])
    for f in fits:
        nodes = ["/".join(str(n) for n in f["nodes_by_epoch"][e]) if f["nodes_by_epoch"].get(e) else ""
                 for e in EPOCHS_SHOWN]
        p = f["predictive"]
        rows.append([f["variant"], str(f["seed"]), f"{f['compressed']['accuracy']:.4f}", f"{p['accuracy']:.4f}",
                     f"{p['nll']:.3f}", f"{p['ece']:.3f}", str(f["nodes_kept"]), f"{f['flops_kept']:.3f}", *nodes,
                     f"{f['train_wall_s']:.0f}" if f["train_wall_s"] else ""])
    summary = []
    for v in dict.fromkeys(f["variant"] for f in fits):
        g = [f for f in fits if f["variant"] == v]
        acc = common.mean_se([f["compressed"]["accuracy"] for f in g])
        flops = common.mean_se([f["flops_kept"] for f in g])
        summary.append([v, str(len(g)), common.fmt(acc, ".4f"), common.fmt(flops, ".3f")])
    return (common.markdown_table(head, rows) + "\n\nMean +- s.e. over seeds:\n\n"
            + common.markdown_table(["variant", "seeds", "compressed acc.", "FLOPs kept"], summary))


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.compare_runs:
        print(compare_trajectories(args.compare_runs))
        return None
    log = None if args.quiet else sys.stderr
    t0 = time.perf_counter()
    fits = []
    for variant in args.variants:
        for seed in args.seeds:
            sub = os.path.join(args.out, variant, f"seed{seed}")
            fits.append(fit_variant(sub, args.data, args.hidden, variant, seed, args.epochs, args.checkpoint_every, log,
                                    args.prune_below))
            f = fits[-1]
            print(f"{variant} seed {seed}: compressed acc {f['compressed']['accuracy']:.4f} nodes {f['nodes_kept']} "
                  f"flops {f['flops_kept']:.3f}", flush=True)
    reference = reference_trajectory() if args.data == "fashion-mnist" else None
    results = {"data": args.data, "hidden": args.hidden, "epochs": args.epochs, "fits": fits,
               "reference_trajectory": reference, "anchors": ANCHORS, "wall_s": time.perf_counter() - t0}
    common.write_outputs(args.out, results, format_table(fits, reference))
    return results


if __name__ == "__main__":
    common.run_main(lambda: main(sys.argv[1:]))
