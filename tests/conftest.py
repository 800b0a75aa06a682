"""Hypothesis profiles: ``ci`` (derandomised, reproducible) and ``dev`` (default).

Pick one with the environment variable ``HYPOTHESIS_PROFILE`` (``ci`` in continuous integration).
``mutation`` (scripts/mutation.py) is ``ci`` without shrinking and without the example database: a mutant only
needs one failing example, and every run sees the same examples.

The repository root goes on ``sys.path`` so that the tests can import the ``benchmarks`` package (the
autograd oracle and the PyTorch implementation live there) whichever way pytest is started.
"""
import os
import sys
from pathlib import Path

from hypothesis import Phase, settings

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=50, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.register_profile("mutation", derandomize=True, deadline=None, max_examples=50, database=None,
                          phases=(Phase.explicit, Phase.generate))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
