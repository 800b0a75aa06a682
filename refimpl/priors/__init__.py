"""Priors on node groups and their variational factors: a :class:`Prior` record per model, one module of pure
functions per slab family (``ss_gl``, ``ss_ghs``; the Gaussian slab has none, :data:`record.NO_SCALES`).

The families (docs/derivations.md):

    gaussian:  w_lj ~ N(0, sigma0^2 I_m)                                       (dense BNN, no indicators)
    ss-ig:     w_lj | z_lj ~ z_lj N(0, sigma0^2 I_m) + (1 - z_lj) delta_0,  z_lj ~ Bernoulli(lambda_l)
    ss-gl:     the slab N(0, sigma0^2 tau2_lj I_m) with a group-lasso scale     (GL-1..GL-4, ``ss_gl``)
    ss-ghs:    the slab with a regularised group-horseshoe scale               (GHS-1..GHS-3, ``ss_ghs``)

for the group ``w_lj`` of node j of hidden layer l (incoming column plus bias, ``m = k_l + 1``); the output
layer has the same slab and no indicator. Variational family: ``q(z_lj) = Bernoulli(sigmoid(theta_lj))`` and
``q(w | z = 1) = N(mu, softplus(rho)^2)`` element-wise; for ss-ig the factorisation is exact because spike
matches spike. A prior knows the parameter and noise layout (docs/spec.md §6) and its family's functions; it
knows nothing about the data, the likelihood or the activation. :mod:`refimpl.elbo` evaluates the objective.
"""
from __future__ import annotations

import math

from ..checks import check_choice, check_positive
from . import ss_ghs, ss_gl
from .record import NO_SCALES, Prior, Removed, ScaleFamily
from .ss_ghs import EXPECTATIONS
from .ss_gl import PARAMETERISATIONS

__all__ = ["PRIORS", "Prior", "Removed", "ScaleFamily", "make_prior"]

PRIORS = ("gaussian", "ss-ig", "ss-gl", "ss-ghs")
COMMON = ("sigma0", "lam", "C", "kappa")
SPECIFIC = {
    "gaussian": (), "ss-ig": (),
    "ss-gl": ("parameterisation", "lam2_shape", "lam2_rate"),
    "ss-ghs": ("parameterisation", "c", "b_loc", "b_glob", "expectation", "n_quadrature"),
}
POSITIVE = ("sigma0", "C", "kappa", "lam2_shape", "lam2_rate", "b_loc", "b_glob")


def make_prior(name: str, widths, *, relaxation, temperature, backend, **hyper) -> Prior:
    """The :class:`Prior` called ``name`` for ``widths``, checking every hyper-parameter by name."""
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
    shared = {k: hyper.pop(k) for k in COMMON if k in hyper}
    record = dict(name=name, widths=widths, spike=name != "gaussian", sigma0=float(shared.get("sigma0", 1.0)),
                  lam=shared.get("lam", "paper"), C=shared.get("C", 1e-9), kappa=shared.get("kappa", 0.1),
                  relaxation=relaxation, temperature=float(temperature))
    if name == "ss-gl":
        return Prior(**record, family=ss_gl.FAMILY, hyper=ss_gl.hyper(**hyper))
    if name == "ss-ghs":
        return Prior(**record, family=ss_ghs.FAMILY, hyper=ss_ghs.hyper(backend, **hyper))
    return Prior(**record, family=NO_SCALES)
