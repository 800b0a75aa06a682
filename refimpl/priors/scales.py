"""Log-normal scale factors: sampling, the regularised horseshoe scale, their KLs in ``(mu, rho)``
form and the Gauss-Hermite expectation needed by the centred group horseshoe.

A scale factor ``x`` has ``q(x) = LogNormal(mu, s^2)``, ``s = softplus(rho)``: ``log x = mu + s eps``.
Gradients with respect to ``rho`` use ``ds/drho = sigmoid(rho)`` and ``d log s/drho = d_log_softplus(rho)``.
"""
from __future__ import annotations

import math

import numpy as np
from ..backend import array_namespace
from scipy.special import roots_hermite

from ..kl import LOGNORMAL_CONST
from ..stable import d_log_softplus, log_softplus, sigmoid, softplus


# ---- (KL-6) log-normal vs Gamma(shape, rate) with a random rate -----------------------------------
def kl_lognormal_gamma_rho(mu, rho, shape: float, e_log_rate, e_rate):
    """``E_rate KL(LogNormal(mu, s^2) || Gamma(shape, rate))`` for a rate that is itself random. (KL-6)

    (KL-3) is linear in ``(log rate, rate)``, so its expectation replaces them by ``E log rate`` and
    ``E rate`` (plain numbers for a fixed rate). Returns ``(kl, d_mu, d_rho, d_e_log_rate, d_e_rate)``
    with ``d_e_log_rate = -shape`` and ``d_e_rate = E x = exp(mu + s^2/2)``.
    """
    s = softplus(rho)
    mean = _exp(mu + 0.5 * s * s)
    kl = -shape * mu - log_softplus(rho) - LOGNORMAL_CONST - shape * e_log_rate + math.lgamma(shape) + e_rate * mean
    d_mu = -shape + e_rate * mean
    d_rho = s * sigmoid(rho) * e_rate * mean - d_log_softplus(rho)
    return kl, d_mu, d_rho, -shape, mean


def kl_lognormal_invgamma_rho(mu, rho, shape: float, scale: float):
    """(KL-4) ``KL(LogNormal(mu, s^2) || InvGamma(shape, scale))`` with ``(kl, d_mu, d_rho)``."""
    s = softplus(rho)
    inv_mean = _exp(-mu + 0.5 * s * s)
    kl = shape * mu - log_softplus(rho) - LOGNORMAL_CONST - shape * math.log(scale) + math.lgamma(shape) + scale * inv_mean
    d_mu = shape - scale * inv_mean
    d_rho = s * sigmoid(rho) * scale * inv_mean - d_log_softplus(rho)
    return kl, d_mu, d_rho


def kl_half_cauchy_rho(a_mu, a_rho, b_mu, b_rho, b_scale: float):
    """(KL-7) KL of the two log-normal factors of ``tau^2 = a b`` against ``a ~ Gamma(1/2, rate 1/b_scale^2)``
    and ``b ~ InvGamma(1/2, 1)``, i.e. ``tau ~ C+(0, b_scale)``. Returns ``(kl, (d_a_mu, d_a_rho, d_b_mu, d_b_rho))``."""
    rate = 1.0 / (b_scale * b_scale)
    kl_a, da_mu, da_rho, _, _ = kl_lognormal_gamma_rho(a_mu, a_rho, 0.5, math.log(rate), rate)
    kl_b, db_mu, db_rho = kl_lognormal_invgamma_rho(b_mu, b_rho, 0.5, 1.0)
    return kl_a + kl_b, (da_mu, da_rho, db_mu, db_rho)


def _exp(a):
    return math.exp(a) if isinstance(a, float) else array_namespace(a).exp(a)


# ---- (H-1) scale from a Gaussian log-variance, optionally regularised ------------------------------
def scale_from_log_variance(V, c: float):
    """Node scale ``t`` from ``V = log(s^2 tau^2)`` and ``dt/dV``. (H-1)

    Plain: ``t = exp(V/2)``, ``dt/dV = t/2``. Regularised (finite ``c``, Piironen & Vehtari 2017):
    ``t = c e^{V/2} / sqrt(c^2 + e^V) = c exp(-softplus(2 log c - V)/2)`` (no overflow for large V) and
    ``dt/dV = (t/2) sigmoid(2 log c - V)``; ``t < c`` always.
    """
    xp = array_namespace(V)
    if math.isinf(c):
        t = xp.exp(0.5 * V)
        return t, 0.5 * t
    shift = 2.0 * math.log(c) - V
    t = c * xp.exp(-0.5 * softplus(shift))
    return t, 0.5 * t * sigmoid(shift)


# ---- (H-2) Gauss-Hermite expectation of softplus under a Gaussian -----------------------------------
def hermite_rule(n: int):
    """Nodes ``x_k`` and weights ``w_k / sqrt(pi)`` of the n-point Gauss-Hermite rule (host arrays), so
    that ``E f(M + Sigma Z) ~ sum_k w_k f(M + sqrt(2) Sigma x_k)``, ``Z ~ N(0, 1)``."""
    x, w = roots_hermite(n)
    return np.sqrt(2.0) * x, w / math.sqrt(math.pi)


def expected_softplus(M, Sigma, nodes, weights):
    """``Q = E softplus(V)``, ``V ~ N(M, Sigma^2)``, by Gauss-Hermite, with exact ``(dQ/dM, dQ/dSigma)``. (H-2)

    ``M, Sigma``: ``(k,)``; ``nodes, weights``: ``(n,)`` backend arrays from :func:`hermite_rule` (the
    scaled nodes ``z_k = sqrt(2) x_k`` and weights ``w_k / sqrt(pi)``), ``V_k = M + Sigma z_k``.
    ``dQ/dM = sum_k w_k sigmoid(V_k) / sqrt(pi)``, ``dQ/dSigma = sum_k w_k sigmoid(V_k) z_k / sqrt(pi)``
    (derivatives of the rule itself, so the gradient is exact for the computed value).
    """
    xp = array_namespace(M)
    V = M[:, None] + Sigma[:, None] * nodes[None, :]
    sig = sigmoid(V)
    return xp.sum(weights * softplus(V), axis=1), xp.sum(weights * sig, axis=1), xp.sum(weights * sig * nodes, axis=1)

