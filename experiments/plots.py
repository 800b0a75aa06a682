"""Figures from the experiments' ``results.json`` files (matplotlib optional: without it nothing is drawn).

* ``accuracy_vs_flops.png`` -- test accuracy against FLOPs kept, one point per fit (filled: the Bayesian
  predictive; hollow: the compressed median-probability network at the variational mean), from every
  classification table given (fashion_mnist.py, mnist5k.py), with the SPEC §10 anchors that state FLOPs kept;
* ``nodes_<name>.png`` -- nodes kept per hidden layer and prior (mean ± s.e. over seeds) by the selected and the
  final-epoch model, one per table;
* ``uci_rmse.png`` -- UCI test RMSE per data set and prior (mean ± s.e. over splits) against the MC dropout
  anchors (dashed line).

    python -m experiments.plots --classification out/mnist5k/results.json out/fmnist-25/results.json \
        --uci out/uci/results.json --out docs/figures
"""
from __future__ import annotations

import argparse
import json
import os
import sys

COLORS = {"gaussian": "tab:gray", "ss-ig": "tab:blue", "ss-gl": "tab:green", "ss-ghs": "tab:red"}
MARKERS = ["o", "s", "^", "D"]


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        return None


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
                 "network (selected model); x = final epoch's predictive (FLOPs > 0); stars = SPEC §10 anchors", fontsize=7)
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


def main(argv=None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classification", nargs="*", default=[], help="results.json of fashion_mnist.py / mnist5k.py")
    ap.add_argument("--uci", help="results.json of uci.py")
    ap.add_argument("--out", required=True, help="directory for the PNG files")
    args = ap.parse_args(argv)
    plt = _pyplot()
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
    main(sys.argv[1:])
