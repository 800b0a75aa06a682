"""Figures from the experiments' ``results.json`` files (matplotlib optional: without it nothing is drawn).

* ``accuracy_vs_flops.png`` -- test accuracy against FLOPs kept, one point per fit (filled: the Bayesian
  predictive; hollow: the compressed median-probability network at the variational mean), from every
  classification table given (fashion_mnist.py, mnist5k.py), with the docs/spec.md §10 anchors that state FLOPs kept;
* ``nodes_<name>.png`` -- nodes kept per hidden layer and prior (mean ± s.e. over seeds) by the selected and the
  final-epoch model, one per table;
* ``uci_rmse.png`` -- UCI test RMSE per data set and prior (mean ± s.e. over splits) against the MC dropout
  anchors (dashed line);
* ``front`` (a sub-command, one PNG from run directories, e.g. those of selection_remedies.py): per sparse prior,
  each seed's compressed test accuracy against FLOPs kept, as selected and after fine-tuning (``finetune/``), the
  per-epoch validation front of each run (``refimpl.run.selection.front`` of its ``history.jsonl``, thin lines), the
  dense BNN's mean as a horizontal line, and the authors' points of the data set's ``ANCHORS``.

    python -m experiments.plots --classification out/mnist5k/results.json out/fmnist-25/results.json \
        --uci out/uci/results.json --out docs/figures
    python -m experiments.plots front --runs runs/fashion-defaults/fashion-mnist/*/defaults/seed* \
        --out docs/figures/fashion_front_defaults.png
"""
from __future__ import annotations

import json
import os
import sys

from refimpl.run import plots as refimpl_plots
from refimpl.run.scripts import script_parser

COLORS = {"gaussian": "tab:gray", "ss-ig": "tab:blue", "ss-gl": "tab:green", "ss-ghs": "tab:red"}
MARKERS = ["o", "s", "^", "D"]


def _load(path):
    with open(path) as f:
        return json.load(f)


def _slug(title: str) -> str:
    return title.split(",")[0].lower().replace(" ", "-")


def accuracy_vs_flops(plt, tables: list[dict], path: str) -> str:
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    for i, res in enumerate(tables):
        name = res["title"].split(",")[0]
        for prior in res["priors"]:
            fits = [f for f in res["fits"] if f["prior"] == prior]
            flops = [100 * f["metrics"]["flops_kept"]["fraction_kept"] for f in fits]
            ax.scatter(flops, [100 * f["metrics"]["test"]["accuracy"] for f in fits], color=COLORS[prior],
                       marker=MARKERS[i % len(MARKERS)], alpha=0.8, label=f"{name} {prior}")
            comp = [100 * f["prune"]["compressed_test"]["accuracy"] if "compressed_test" in f.get("prune", {}) else None
                    for f in fits]
            ax.scatter([x for x, c in zip(flops, comp) if c is not None], [c for c in comp if c is not None],
                       facecolors="none", edgecolors=COLORS[prior], marker=MARKERS[i % len(MARKERS)])
            final = [(100 * f["metrics"]["final"]["flops_kept"]["fraction_kept"], 100 * f["metrics"]["final"]["test"]["accuracy"])
                     for f in fits if "final" in f["metrics"]]
            final = [(x, y) for x, y in final if x > 0]          # an empty network has no place on a log axis
            if final:
                ax.scatter(*zip(*final), color=COLORS[prior], marker="x", alpha=0.8)
        for source, per in res.get("anchors", {}).items():
            for prior, a in per.items():
                if "flops_kept" in a:
                    colour = COLORS.get(prior.split(" ")[0], "black")        # "ss-ghs (non-centred)" -> ss-ghs
                    ax.scatter([100 * a["flops_kept"]], [100 * a["accuracy"]], color=colour, marker="*", s=110,
                               edgecolors="black", linewidths=0.6, label=f"anchor for {name} {prior}: {source}")
    ax.set_xscale("log")
    ax.set_xlabel("FLOPs kept (% of the dense network, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title("accuracy vs FLOPs kept: filled = Bayesian predictive, hollow = compressed median-probability\n"
                 "network (selected model); x = final epoch's predictive (FLOPs > 0); "
                 "stars = docs/spec.md §10 anchors", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")        # the legend sits outside the axes
    plt.close(fig)
    return path


def nodes_per_layer(plt, res: dict, path: str) -> str:
    """Bars per prior: nodes kept in each hidden layer by the selected model (solid) and the final one (hatched)."""
    fig, ax = plt.subplots(figsize=(5, 3))
    priors = res["priors"]
    n_layers = len(res["summary"][priors[0]]["nodes_kept"])
    bars = [(f"layer {l + 1}, selected", lambda s, l=l: s["nodes_kept"][l], None) for l in range(n_layers)]
    if "final" in res["summary"][priors[0]]:
        bars += [(f"layer {l + 1}, final epoch", lambda s, l=l: s["final"]["nodes_kept"][l], "//")
                 for l in range(n_layers)]
    width = 0.8 / len(bars)
    for i, (label, get, hatch) in enumerate(bars):
        stats = [get(res["summary"][p]) for p in priors]
        ax.bar([j + (i - (len(bars) - 1) / 2) * width for j in range(len(priors))], [s["mean"] for s in stats], width,
               yerr=[s["se"] or 0 for s in stats], capsize=2, label=label, hatch=hatch,
               color=f"C{i % n_layers}", edgecolor="black", linewidth=0.3)
    ax.set_xticks(range(len(priors)), priors)
    ax.set_ylabel("nodes kept (gamma > 1/2)")
    ax.set_title(f"{res['title']}: nodes kept (mean ± s.e., {len(res['seeds'])} seed(s))", fontsize=8)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def uci_rmse(plt, res: dict, path: str) -> str:
    names = list(res["summary"])
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.3 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        per = res["summary"][name]
        priors = list(per)
        ax.errorbar(range(len(priors)), [per[p]["rmse"]["mean"] for p in priors],
                    yerr=[per[p]["rmse"]["se"] or 0 for p in priors], fmt="o", capsize=3)
        anchor = res["anchors"]["mc_dropout"].get(name)
        if anchor is not None:
            ax.axhline(anchor[0], color="black", ls="--", lw=1, label="MC dropout")
        n = per[priors[0]]["rmse"]["n"]
        ax.set_title(f"{name} ({n} split{'s' if n != 1 else ''})", fontsize=8)
        ax.set_xticks(range(len(priors)), priors, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=6)
    fig.suptitle("UCI test RMSE (mean ± s.e.); dashed: MC dropout, 20 splits", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _anchors_for(data: str) -> dict:
    """The docs/spec.md §10 anchors the table script of ``data`` plots (``{}`` for a data set without a script)."""
    if data == "fashion-mnist":
        from .fashion_mnist import ANCHORS
    elif data == "mnist5k":
        from .mnist5k import ANCHORS
    else:
        return {}
    return ANCHORS


def read_run(run_dir: str) -> dict:
    """What :func:`front_plot` needs of one run directory (``refimpl train``'s files): the prior, widths and data
    name (``run.json``), the per-epoch validation front (``history.jsonl``), the compressed network's test accuracy
    and FLOPs kept as selected (``metrics.json``) and, if ``finetune/metrics.json`` exists, after fine-tuning."""
    from refimpl.run.selection import front
    paths = {name: os.path.join(run_dir, name) for name in ("run.json", "metrics.json", "history.jsonl")}
    for name, path in paths.items():
        if not os.path.exists(path):
            raise FileNotFoundError(f"run directory {run_dir!r} has no {name}"
                                    + (" (archived with --no-history?); the front needs the per-epoch history"
                                       if name == "history.jsonl" else ""))
    run, metrics = _load(paths["run.json"]), _load(paths["metrics.json"])
    if metrics.get("interrupted"):
        raise ValueError(f"run directory {run_dir!r} is unfinished (metrics.json says interrupted)")
    with open(paths["history.jsonl"]) as f:
        history = [json.loads(line) for line in f if line.strip()]
    if "accuracy" not in metrics.get("compressed_test", {}):
        raise ValueError(f"run directory {run_dir!r}: no compressed test accuracy in metrics.json (the front plot "
                         "is for classification runs)")
    record = {"dir": run_dir, "prior": run["model"]["prior"], "widths": run["model"].get("widths"),
              "data": run.get("data", {}).get("name"), "front": front(history),
              "accuracy": metrics["compressed_test"]["accuracy"], "flops_kept": metrics["flops_kept"]["fraction_kept"]}
    ft = os.path.join(run_dir, "finetune", "metrics.json")
    if os.path.exists(ft) and not _load(ft).get("interrupted"):
        m = _load(ft)
        record["finetuned"] = {"accuracy": m["compressed_test"]["accuracy"], "flops_kept": m["flops_kept"]["fraction_kept"]}
    return record


def front_plot(plt, run_dirs: list[str], path: str, anchors: dict | None = None, title: str | None = None) -> dict:
    """Accuracy against FLOPs kept from run directories (:func:`read_run`), one colour per prior: hollow circles
    the compressed network's test accuracy as selected, filled triangles after fine-tuning (joined per seed), thin
    lines each run's validation front over epochs; the dense BNN (FLOPs kept = 1, or prior ``gaussian``) as its
    seeds and a dashed line at their mean; stars the ``anchors`` (``{source: {prior: {"accuracy", "flops_kept" or
    "nodes_kept"}}}``, default: those of the runs' data set; FLOPs from nodes by M-8 where only nodes are given).
    Writes ``path``; returns per prior the seeds and the mean accuracy and FLOPs kept before / after fine-tuning."""
    if not run_dirs:
        raise ValueError("front: no run directories given")
    runs = [read_run(d) for d in run_dirs]
    if anchors is None:
        anchors = _anchors_for(runs[0]["data"])
    by_prior: dict[str, list] = {}
    for r in sorted(runs, key=lambda r: list(COLORS).index(r["prior"]) if r["prior"] in COLORS else len(COLORS)):
        by_prior.setdefault(r["prior"], []).append(r)
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    summary = {}
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    shown = []                                  # test-accuracy points, for the y range (fronts may fall far lower)
    for prior, rs in by_prior.items():
        colour = COLORS.get(prior, "black")
        ft = [r for r in rs if "finetuned" in r]
        summary[prior] = {"seeds": len(rs), "accuracy": mean([r["accuracy"] for r in rs]),
                          "flops_kept": mean([r["flops_kept"] for r in rs]),
                          "finetuned_seeds": len(ft), "finetuned_accuracy": mean([r["finetuned"]["accuracy"] for r in ft]),
                          "finetuned_flops_kept": mean([r["finetuned"]["flops_kept"] for r in ft])}
        dense = prior == "gaussian" or all(r["flops_kept"] >= 1.0 for r in rs)
        for i, r in enumerate(rs):
            if r["front"] and not dense:
                ax.plot([100 * p["flops_kept"] for p in r["front"]],
                        [100 * p["val_compressed_accuracy"] for p in r["front"]], color=colour, lw=0.7, alpha=0.45,
                        drawstyle="steps-post", label=f"{prior}: validation front over epochs" if i == 0 else None)
        xs, ys = [100 * r["flops_kept"] for r in rs], [100 * r["accuracy"] for r in rs]
        name = f"{prior} (dense BNN)" if dense else prior
        ax.scatter(xs, ys, facecolors="none", edgecolors=colour, marker="o", s=36, zorder=3,
                   label=f"{name}: compressed test acc., selected ({len(rs)} seed{'s' * (len(rs) != 1)})")
        shown += ys
        if ft:
            fx, fy = [100 * r["finetuned"]["flops_kept"] for r in ft], [100 * r["finetuned"]["accuracy"] for r in ft]
            ax.scatter(fx, fy, color=colour, marker="^", s=36, zorder=3, label=f"{name}: after fine-tuning")
            for r in ft:
                ax.plot([100 * r["flops_kept"], 100 * r["finetuned"]["flops_kept"]],
                        [100 * r["accuracy"], 100 * r["finetuned"]["accuracy"]], color=colour, lw=0.6, ls=":")
            shown += fy
        if dense:
            ax.axhline(100 * summary[prior]["accuracy"], color=colour, ls="--", lw=1,
                       label=f"{name}: mean of the seeds, selected ({100 * summary[prior]['accuracy']:.2f}%)")
    widths = runs[0]["widths"]
    for source, per in (anchors or {}).items():
        for prior, a in per.items():
            base = prior.split(" ")[0]                          # "ss-ghs (non-centred)" -> ss-ghs
            if "flops_kept" in a:
                flops, how = a["flops_kept"], ""
            elif "nodes_kept" in a and widths:
                from refimpl.run.metrics import flops_kept
                flops, how = flops_kept(widths, a["nodes_kept"])["fraction_kept"], ", FLOPs from its nodes (M-8)"
            elif base == "gaussian":
                flops, how = 1.0, ""
            else:
                continue
            ax.scatter([100 * flops], [100 * a["accuracy"]], color=COLORS.get(base, "black"), marker="*", s=140,
                       edgecolors="black", linewidths=0.6, zorder=4,
                       label=f"authors: {prior} {100 * a['accuracy']:.2f}% at {100 * flops:.1f}% ({source}{how})")
            shown.append(100 * a["accuracy"])
    ax.set_xscale("log")
    ax.set_ylim(min(shown) - 4, max(shown) + 2)
    ax.set_xlabel("FLOPs kept (% of the dense network, log scale)")
    ax.set_ylabel("accuracy (%): markers test, lines validation")
    if title is None:
        title = f"{runs[0]['data']}" + (f" {'-'.join(map(str, widths))}" if widths else "")
    ax.set_title(f"{title}: compressed network (nodes with gamma > 1/2 at the variational mean)\n"
                 "hollow = selected, triangles = after fine-tuning (mask frozen); thin lines = validation front "
                 "over epochs; stars = authors", fontsize=7)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.savefig(path, dpi=90, bbox_inches="tight")        # no tight_layout: it would shrink the axes for the legend
    plt.close(fig)
    return summary


def front_main(argv) -> list[str]:
    ap = script_parser("python -m experiments.plots front",
                       "accuracy against FLOPs kept from run directories (front_plot)")
    ap.add_argument("--runs", nargs="+", required=True, help="run directories (run.json, metrics.json, history.jsonl; "
                                                             "finetune/metrics.json if fine-tuned)")
    ap.add_argument("--out", required=True, help="the PNG file")
    ap.add_argument("--anchors", default="auto",
                    help="authors' points: 'auto' (those of the runs' data set), 'none', or a data set name")
    ap.add_argument("--title", help="default: the data set and the widths")
    args = ap.parse_args(argv)
    plt = refimpl_plots.pyplot()
    if plt is None:
        print("plots: matplotlib is not installed; no figures drawn", file=sys.stderr)
        return []
    anchors = None if args.anchors == "auto" else {} if args.anchors == "none" else _anchors_for(args.anchors)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    summary = front_plot(plt, args.runs, args.out, anchors=anchors, title=args.title)
    pct = lambda v: "–" if v is None else f"{100 * v:.2f}"  # noqa: E731
    for prior, s in summary.items():
        print(f"{prior}: {s['seeds']} seeds, compressed test acc. {pct(s['accuracy'])}% at {pct(s['flops_kept'])}% "
              f"FLOPs; after fine-tuning ({s['finetuned_seeds']}) {pct(s['finetuned_accuracy'])}% at "
              f"{pct(s['finetuned_flops_kept'])}%")
    print(args.out)
    return [args.out]


def main(argv=None) -> list[str]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["front"]:
        return front_main(argv[1:])
    ap = script_parser("python -m experiments.plots", __doc__,
                       epilog="python -m experiments.plots front --help: the accuracy-FLOPs plot of run directories")
    ap.add_argument("--classification", nargs="*", default=[], help="results.json of fashion_mnist.py / mnist5k.py")
    ap.add_argument("--uci", help="results.json of uci.py")
    ap.add_argument("--out", required=True, help="directory for the PNG files")
    args = ap.parse_args(argv)
    plt = refimpl_plots.pyplot()
    if plt is None:
        print("plots: matplotlib is not installed; no figures drawn", file=sys.stderr)
        return []
    os.makedirs(args.out, exist_ok=True)
    tables = [_load(p) for p in args.classification]
    paths = []
    if tables:
        paths.append(accuracy_vs_flops(plt, tables, os.path.join(args.out, "accuracy_vs_flops.png")))
        paths += [nodes_per_layer(plt, t, os.path.join(args.out, f"nodes_{_slug(t['title'])}.png")) for t in tables]
    if args.uci:
        paths.append(uci_rmse(plt, _load(args.uci), os.path.join(args.out, "uci_rmse.png")))
    for p in paths:
        print(p)
    return paths


if __name__ == "__main__":
    main()
