"""One argparse builder for the script entry points (``experiments``, ``benchmarks``, ``crosscheck``, ``scripts``).

:func:`script_parser` takes the first paragraph of the script's docstring as the description, ``prog`` as the
command the user types (``python -m benchmarks``), and keeps the error contract of ``refimpl/run/cli.py``: a bad
argument prints exactly one line ``<prog>: error: <message>; see `<prog> --help``` on stderr (no usage block)
and exits with status 2. Standard library only, so ``refimpl`` still imports none of the scripts' packages.
"""
from __future__ import annotations

import argparse
import re
import sys


def fail(prefix: str, message: str):
    """Print ``<prefix>: error: <message>`` as one line on stderr and exit with status 2 (``SystemExit``, as
    argparse's own errors)."""
    message = " ".join(str(message).splitlines())
    print(f"{prefix}: error: {message}", file=sys.stderr)
    sys.exit(2)


class ScriptParser(argparse.ArgumentParser):
    """argparse with the error contract: one line ``<prefix>: error: <message>; see `<prog> --help``` on stderr,
    exit status 2, no usage block. The prefix is ``error_prefix`` when a subclass sets it (``refimpl`` for the
    main command line, ``theory`` for ``python -m theory rates`` and the theory's experiments), else ``prog``."""

    error_prefix: str | None = None

    def error(self, message):
        fail(self.error_prefix or self.prog, f"{message}; see `{self.prog} --help`")


def first_paragraph(doc: str | None) -> str:
    """The text up to the first blank line of ``doc`` (a module docstring), its lines joined by single spaces."""
    return " ".join(re.split(r"\n\s*\n", (doc or "").strip(), maxsplit=1)[0].split())


def invoked_as() -> str | None:
    """``python -m <module>`` if this process was started that way, else ``None`` (argparse then names the file)."""
    name = getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None)
    return f"python -m {name.removesuffix('.__main__')}" if name else None


def script_parser(prog: str | None, doc: str | None, *, defaults_in_help: bool = False,
                  **kwargs) -> ScriptParser:
    """The parser of one script: ``prog`` (``None``: :func:`invoked_as`), the first paragraph of ``doc`` as the
    description, "(default: ...)" after every help string if ``defaults_in_help``; ``kwargs`` go to argparse
    (``epilog`` ...)."""
    if defaults_in_help:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
    return ScriptParser(prog=prog or invoked_as(), description=first_paragraph(doc), **kwargs)
