"""Mutation testing of ``theory/``, ``refimpl/kl.py`` and ``refimpl/priors/scales.py`` (docs/theory.md, "Mutation
testing").

    pip install -e '.[test,mutation]'
    python scripts/mutation.py [--out out/mutation] [--jobs 1] [--keep]

The tool is mutmut (pinned in the ``mutation`` extra); its configuration is ``[tool.mutmut]`` in pyproject.toml: which
files are mutated, which test files may kill a mutant (the fast theory and KL tests, ``-m 'not slow'``, hypothesis
profile ``mutation``: derandomised, no shrinking). mutmut records which tests reach each function and runs only
those per mutant. It works on a copy of the tree it runs in (``mutants/``), so this script first copies the working
tree (tracked and untracked, not ignored files) to a temporary directory: the checkout is left alone, and edits made
while it runs do not leak in.

Writes to ``--out``: ``summary.json`` (counts by status, score, wall time), ``survivors.txt`` (the diff of every
mutant that no test killed, for the survivor list in docs/theory.md) and ``mutmut.log``. The score is
killed / (total - no tests): a mutant that no selected test reaches is reported apart, not counted as killed.
About 17 minutes on one core (3,533 mutants); ``--jobs N`` runs N mutants at a time. Not run by the tests.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from refimpl.run.scripts import script_parser

ROOT = Path(__file__).resolve().parents[1]


def copy_tree(dst: Path) -> None:
    """Copy the working tree's tracked and untracked, not ignored, files (as git lists them) to ``dst``."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():                                   # skips files deleted in the working tree
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)


def mutmut(*args: str, cwd: Path, log=None) -> str:
    """Run ``mutmut ARGS`` in ``cwd`` with this interpreter; returns stdout (or writes it to ``log``)."""
    cmd = [sys.executable, "-m", "mutmut", *args]
    if log is not None:
        return str(subprocess.run(cmd, cwd=cwd, check=True, stdout=log, stderr=subprocess.STDOUT).returncode)
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def main(argv=None) -> int:
    ap = script_parser("python scripts/mutation.py", __doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "mutation", help="output directory")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at a time (default 1: one core)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy (for `mutmut browse` there)")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mutation."))
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        copy_tree(work)
        t0 = time.perf_counter()
        with open(out / "mutmut.log", "w") as log:
            mutmut("run", "--max-children", str(args.jobs), cwd=work, log=log)
        wall = time.perf_counter() - t0
        status = {}
        for line in mutmut("results", "--all", "true", cwd=work).splitlines():
            m = re.match(r"\s*(\S+): (.+)$", line)
            if m:
                status[m.group(1)] = m.group(2).strip()
        counts = Counter(status.values())
        tested = len(status) - counts.get("no tests", 0)
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        by_file = {}
        for name, st in status.items():
            parts = name.split(".")
            module = ".".join(p for p in parts[:-1] if not p.startswith("x"))   # drop the mangled function name
            by_file.setdefault(module, Counter())[st] += 1
        summary = {"total": len(status), "counts": dict(counts), "tested": tested, "killed_or_timeout": killed,
                   "score": killed / tested if tested else None, "wall_s": round(wall, 1), "jobs": args.jobs,
                   "by_module": {k: dict(v) for k, v in sorted(by_file.items())}}
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        with open(out / "survivors.txt", "w") as fh:
            for name, st in sorted(status.items()):
                if st not in ("killed", "timeout"):
                    fh.write(mutmut("show", name, cwd=work) + "\n")
        print(f"{killed} of {tested} mutants killed ({100 * killed / max(tested, 1):.1f}%), "
              f"{counts.get('survived', 0)} survived, {counts.get('no tests', 0)} not reached by the selected tests; "
              f"{wall:.0f} s; wrote {out}/summary.json and survivors.txt")
    finally:
        if args.keep:
            print(f"kept the copy in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
