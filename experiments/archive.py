"""Keep the results of finished fits, without their checkpoints, so that a later session can continue a table.

    python -m experiments.archive out/fmnist runs/fashion-mnist           # OUT -> DEST: the JSON of finished fits
    python -m experiments.archive out/uci runs/uci --no-history            # without the per-epoch history
    cp -r runs/fashion-mnist/. out/fmnist/                                 # later: restore, then rerun the script

A fit directory (one with ``run.json``) counts as finished when its ``metrics.json`` says it was not interrupted.
Only ``run.json``, ``metrics.json``, ``prune.json`` and ``history.jsonl`` are copied (kilobytes, not the
megabytes of ``checkpoint.npz`` / ``compressed.npz``). The scripts skip an archived fit like any finished one
(``common.fit_once``) and reuse its ``prune.json``; what needs the trained weights (``node_vs_weight``, a new
``prune``) has to train that fit again.
"""
from __future__ import annotations

import json
import os
import shutil
import sys

KEPT = ("run.json", "metrics.json", "prune.json", "history.jsonl")


def finished_fits(out: str) -> list[str]:
    """Fit directories under ``out`` (relative paths, sorted) whose ``metrics.json`` is complete."""
    found = []
    for root, _, files in os.walk(out):
        if "run.json" in files and "metrics.json" in files:
            with open(os.path.join(root, "metrics.json")) as f:
                if not json.load(f).get("interrupted"):
                    found.append(os.path.relpath(root, out))
    return sorted(found)


def archive(out: str, dest: str, history: bool = True) -> list[str]:
    """Copy the kept files of every finished fit of ``out`` to the same relative place under ``dest``
    (``history=False``: not ``history.jsonl``, which is most of the bytes)."""
    if not os.path.isdir(out):
        raise FileNotFoundError(f"OUT: no directory {out!r}; give the --out directory of an experiment script")
    fits = finished_fits(out)
    for rel in fits:
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for name in KEPT if history else [k for k in KEPT if k != "history.jsonl"]:
            src = os.path.join(out, rel, name)
            if os.path.exists(src):
                shutil.copy2(src, os.path.join(dest, rel, name))
    return fits


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    history = "--no-history" not in argv
    argv = [a for a in argv if a != "--no-history"]
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0] + "\nusage: python -m experiments.archive OUT DEST [--no-history]",
              file=sys.stderr)
        return 2
    fits = archive(*argv, history=history)
    print(f"archived {len(fits)} finished fits from {argv[0]} to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
