"""Priors on node groups and their variational factors, one module per slab family.

A prior object knows the parameter and noise layout (SPEC §6), initialises parameters, turns
parameters and noise into sampled weights (and back, in reverse mode), and computes its KL in closed
form with the gradient. It knows nothing about the data, the likelihood or the activation.
"""
from __future__ import annotations

from .gaussian_slab import GaussianSlab

PRIORS = ("gaussian", "ss-ig")


def make_prior(name: str, widths, **hyper):
    """Build the prior called ``name`` for ``widths`` with its hyper-parameters."""
    if name == "gaussian":
        return GaussianSlab(widths, spike=False, **hyper)
    if name == "ss-ig":
        return GaussianSlab(widths, spike=True, **hyper)
    raise ValueError(f"prior: unknown name {name!r}; choose one of {PRIORS}")
