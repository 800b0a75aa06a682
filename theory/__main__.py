"""``python -m theory rates ...`` prints the derived rate and its parts (``theory/rates_cli.py``). The experiments
that check the theory by training networks are scripts of ``experiments/``: ``python -m experiments.contraction``
(the empirical contraction experiment) and ``python -m experiments.support`` (node-selection consistency).

    python -m theory rates                      # the contraction experiment's teacher
    python -m theory rates --example paper      # 784-400-400-10
    python -m theory rates --widths 8 32 32 1 --active 6 4 --bounds 1 1 1 --n 1000 --prior ss-gl --published
    python -m experiments.contraction --quick --executor serial    # smoke run of the experiment
    python -m experiments.contraction --hidden 16 16 --active 3 2 --sweep B 0.75 1.5 3 --out DIR
    python -m experiments.support --out DIR                          # false-positive / false-negative nodes vs n
"""
from __future__ import annotations

import sys

from .rates_cli import rates_main

__all__ = ["main", "rates_main"]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\ncommands: rates  (python -m theory rates --help)")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "rates":
        return rates_main(rest)
    if command in ("contraction", "support"):
        print(f"theory: error: {command} is an experiment script now; run python -m experiments.{command} "
              f"{' '.join(rest)}".rstrip(), file=sys.stderr)
        return 2
    print(f"theory: error: unknown command {command!r}; use 'rates' (python -m theory --help)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
