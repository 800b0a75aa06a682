"""The error contract of ``python -m theory rates`` and of the theory's two experiments (``experiments/contraction``,
``experiments/support``): one line ``theory: error: <what>; <how to fix>`` on stderr and exit status 2, by the
scripts' one parser class (:class:`refimpl.run.scripts.ScriptParser`) with the prefix ``theory``."""
from __future__ import annotations

from refimpl.run import scripts


def fail(message: str):
    """Print ``theory: error: <message>`` on stderr and exit with status 2."""
    scripts.fail("theory", message)


class TheoryParser(scripts.ScriptParser):
    """The scripts' parser class with the prefix ``theory``."""

    error_prefix = "theory"
