"""The error contract of ``python -m theory``'s commands: one line ``theory: error: <what>; <how to fix>`` on
stderr and exit status 2 (``SystemExit``, as argparse's own errors), shared by ``rates`` and ``contraction``."""
from __future__ import annotations

import argparse
import sys


def fail(message: str):
    """Print ``theory: error: <message>`` on stderr and exit with status 2."""
    print(f"theory: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parser_class(prog: str) -> type:
    """An ``ArgumentParser`` subclass whose usage errors go through :func:`fail`, pointing at ``prog --help``."""
    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            fail(f"{message}; see `{prog} --help`")
    return _Parser
