"""Hypothesis profiles: ``ci`` (derandomised, reproducible) and ``dev`` (default).

Pick one with the environment variable ``HYPOTHESIS_PROFILE`` (``ci`` in continuous integration).
``mutation`` (scripts/mutation.py) is ``ci`` without shrinking and without the example database: a mutant only
needs one failing example, and every run sees the same examples.

The oracles (``oracles/``) are installed with refimpl; the run layers the tests import (``benchmarks``,
``experiments``, ``crosscheck``) are found from the repository root (``pythonpath`` in pyproject.toml).
"""
import os

from hypothesis import Phase, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=50, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.register_profile("mutation", derandomize=True, deadline=None, max_examples=50, database=None,
                          phases=(Phase.explicit, Phase.generate))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
