"""Priors on node groups and their variational factors, one module per slab family.

A prior object knows the parameter and noise layout (docs/spec.md §6), initialises parameters, turns
parameters and noise into sampled weights (and back, in reverse mode), and computes its KL in closed
form with the gradient. It knows nothing about the data, the likelihood or the activation.
"""
from __future__ import annotations

import math

from ..checks import check_choice, check_positive
from .gaussian_slab import GaussianSlab
from .ss_ghs import EXPECTATIONS, SpikeSlabGroupHorseshoe
from .ss_gl import PARAMETERISATIONS, SpikeSlabGroupLasso

PRIORS = ("gaussian", "ss-ig", "ss-gl", "ss-ghs")
COMMON = ("sigma0", "lam", "C", "kappa")
SPECIFIC = {
    "gaussian": (), "ss-ig": (),
    "ss-gl": ("parameterisation", "lam2_shape", "lam2_rate"),
    "ss-ghs": ("parameterisation", "c", "b_loc", "b_glob", "expectation", "n_quadrature"),
}
POSITIVE = ("sigma0", "C", "kappa", "lam2_shape", "lam2_rate", "b_loc", "b_glob")


def make_prior(name: str, widths, *, relaxation, temperature, backend, **hyper):
    """Build the prior called ``name`` for ``widths``, checking every hyper-parameter by name."""
    check_choice("prior", name, PRIORS)
    accepted = COMMON + SPECIFIC[name]
    for key, value in hyper.items():
        if key not in accepted:
            raise ValueError(f"{key}: not a hyper-parameter of prior {name!r}; it accepts {list(accepted)}")
        if key in POSITIVE:
            check_positive(key, value)
    if "c" in hyper and not (isinstance(hyper["c"], (int, float)) and hyper["c"] > 0 and not math.isnan(hyper["c"])):
        raise ValueError(f"c: the slab width must be > 0 (math.inf for the plain group horseshoe), got {hyper['c']!r}")
    if "parameterisation" in hyper:
        check_choice("parameterisation", hyper["parameterisation"], PARAMETERISATIONS)
    if "expectation" in hyper:
        check_choice("expectation", hyper["expectation"], EXPECTATIONS)
    if "n_quadrature" in hyper and not (isinstance(hyper["n_quadrature"], int) and 2 <= hyper["n_quadrature"] <= 200):
        raise ValueError(f"n_quadrature: expected an integer in [2, 200], got {hyper['n_quadrature']!r}")
    kw = dict(relaxation=relaxation, temperature=temperature, backend=backend, **hyper)
    if name == "gaussian":
        return GaussianSlab(widths, spike=False, **kw)
    if name == "ss-ig":
        return GaussianSlab(widths, spike=True, **kw)
    if name == "ss-gl":
        return SpikeSlabGroupLasso(widths, **kw)
    return SpikeSlabGroupHorseshoe(widths, **kw)
