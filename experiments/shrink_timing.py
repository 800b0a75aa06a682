"""What removing nodes during training (``--prune-below``, SH-1) saves: run directories with and without it.

    python -m experiments.shrink_timing --with DIR [DIR ...] --without DIR [DIR ...] [--window 30]

For every run directory (``refimpl train --out DIR`` or a ``selection_remedies.py`` fit) it reads
``history.jsonl`` and ``metrics.json`` and prints: the training wall time, the mean epoch time over the first and
the last ``--window`` epochs, their ratio (late / early: how much cheaper an epoch became, a measure that does not
depend on how loaded the machine was, as long as the load was steady), the nodes each layer still trained at the
end (``nodes_trained``) beside the compressed network's (``nodes_kept``), the largest ``removed_gamma_sum`` (SH-2)
the selected compressed network's test accuracy and FLOPs kept, and the predictive's test accuracy beside them. Then the mean of each group and the ratio of
the groups' means. Runs of one group are meant to share a configuration (prior, epochs) but for the option.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from refimpl.run.scripts import script_parser


def read(run_dir: str, window: int) -> dict:
    """One run's row (``FileNotFoundError`` naming the file when ``history.jsonl`` or ``metrics.json`` is missing)."""
    history_path, metrics_path = (os.path.join(run_dir, f) for f in ("history.jsonl", "metrics.json"))
    for path in (history_path, metrics_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: not found; give finished run directories")
    with open(history_path) as f:
        history = [json.loads(line) for line in f]
    with open(metrics_path) as f:
        metrics = json.load(f)
    times = np.array([h["epoch_time_s"] for h in history])
    window = max(1, min(window, len(times) // 2))
    compressed = metrics.get("compressed_test") or metrics.get("test_compressed") or {}
    return {"dir": run_dir, "epochs": len(history), "train_s": metrics.get("train_wall_s", float(times.sum())),
            "early_s": float(times[:window].mean()), "late_s": float(times[-window:].mean()),
            "late_over_early": float(times[-window:].mean() / times[:window].mean()),
            "nodes_trained": history[-1].get("nodes_trained"), "nodes_kept": history[-1]["nodes_kept"],
            "removed_gamma_sum_max": max((h.get("removed_gamma_sum") or 0.0) for h in history),
            "compressed_accuracy": compressed.get("accuracy"), "predictive_accuracy": (metrics.get("test") or {}).get("accuracy"), "flops_kept": _fraction(metrics.get("flops_kept"))}


def _fraction(flops):
    """``metrics.json``'s FLOPs kept: a number, or the dict of ``metrics.flops_kept``."""
    return flops.get("fraction_kept") if isinstance(flops, dict) else flops


def _num(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def table(rows_with: list, rows_without: list) -> str:
    head = ("| group | run | epochs | train s | early epoch s | late epoch s | late / early | nodes trained at end | "
            "nodes kept | max removed gamma sum | compressed test acc. | FLOPs kept | predictive test acc. |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for group, rows in (("with", rows_with), ("without", rows_without)):
        for r in rows:
            lines.append(f"| {group} | {r['dir']} | {r['epochs']} | {r['train_s']:.0f} | {r['early_s']:.2f} | "
                         f"{r['late_s']:.2f} | {r['late_over_early']:.2f} | {r['nodes_trained'] or '-'} | "
                         f"{r['nodes_kept']} | {r['removed_gamma_sum_max']:.3g} | {_num(r['compressed_accuracy'])} | "
                         f"{_num(r['flops_kept'])} | {_num(r['predictive_accuracy'])} |")
    mean = lambda rows, k: float(np.mean([r[k] for r in rows]))   # noqa: E731
    lines.append("")
    for k in ("train_s", "late_over_early"):
        lines.append(f"{k}: with {mean(rows_with, k):.3g}, without {mean(rows_without, k):.3g}, "
                     f"ratio {mean(rows_with, k) / mean(rows_without, k):.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = script_parser("python -m experiments.shrink_timing", __doc__)
    ap.add_argument("--with", dest="with_", nargs="+", required=True, help="run directories trained with --prune-below")
    ap.add_argument("--without", nargs="+", required=True, help="the same configuration without it")
    ap.add_argument("--window", type=int, default=30, help="epochs averaged at the start and at the end")
    args = ap.parse_args(argv)
    try:
        rows_with = [read(d, args.window) for d in args.with_]
        rows_without = [read(d, args.window) for d in args.without]
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"shrink_timing: error: {exc}", file=sys.stderr)
        return 2
    print(table(rows_with, rows_without))
    return 0


if __name__ == "__main__":
    sys.exit(main())
