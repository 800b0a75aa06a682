"""Closed-form Kullback-Leibler divergences and their gradients (the public cross-check API).

Every function takes plain arrays (or Python floats), broadcasts them element-wise and returns the
element-wise KL; each ``*_grad`` companion returns the tuple of gradients with respect to each
argument in order, already broadcast to the common shape. Sums over nodes and layers are the
caller's. Labels (KL-n) refer to ``docs/derivations.md``; every formula is checked there against
Monte Carlo and here in ``tests/test_kl.py``.

``q = LogNormal(mu, s^2)`` means ``log x ~ N(mu, s^2)``; under it ``E log x = mu``,
``E x = exp(mu + s^2/2)``, ``E 1/x = exp(-mu + s^2/2)`` and ``E log q = -mu - log s - 1/2 - log(2 pi)/2``.
"""
from __future__ import annotations

import math

from .backend import array_namespace

from .backend import special
from .stable import log_sigmoid, sigmoid

# 1/2 + log(2 pi)/2 = 1.41894: minus the entropy of N(0, 1); appears in every log-normal KL.
LOGNORMAL_CONST = 0.5 + 0.5 * math.log(2.0 * math.pi)


def _xp(*args):
    arrays = [a for a in args if not isinstance(a, (int, float))]
    if not arrays:
        import array_api_compat.numpy as xp

        return xp
    return array_namespace(*arrays)


def _log(xp, a):
    return math.log(a) if isinstance(a, (int, float)) else xp.log(a)


def _broadcast(xp, *arrays):
    """Broadcast results (arrays or Python floats) to one common shape."""
    arrs = [a for a in arrays if not isinstance(a, (int, float))]
    shape = xp.broadcast_arrays(*arrs)[0].shape if arrs else ()
    dtype = arrs[0].dtype if arrs else xp.float64
    device = getattr(arrs[0], "device", None) if arrs else None
    out = []
    for a in arrays:
        if isinstance(a, (int, float)):
            out.append(xp.full(shape, float(a), dtype=dtype, device=device))
        else:
            out.append(xp.broadcast_to(a, shape))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# (KL-1) Bernoulli: KL(Bern(gamma) || Bern(lam)) = gamma log(gamma/lam) + (1-gamma) log((1-gamma)/(1-lam))
# ---------------------------------------------------------------------------------------------
def kl_bernoulli(gamma, lam):
    """``KL(Bernoulli(gamma) || Bernoulli(lam))`` element-wise, ``0 log 0 = 0``. (KL-1)

    ``gamma`` in [0, 1], ``lam`` in (0, 1); ``log(1 - .)`` is ``log1p(-.)`` so tiny ``lam`` keeps full
    relative accuracy. For probabilities that underflow (the ``theory`` schedule), use
    :func:`kl_bernoulli_logit` with ``log lam`` instead.
    """
    xp = _xp(gamma, lam)
    gamma, lam = _broadcast(xp, gamma, lam)
    pos = xp.where(gamma > 0, gamma, xp.ones_like(gamma))      # safe arguments for the unused branch
    below = xp.where(gamma < 1, gamma, xp.zeros_like(gamma))
    on = xp.where(gamma > 0, gamma * (xp.log(pos) - xp.log(lam)), xp.zeros_like(gamma))
    off = xp.where(gamma < 1, (1.0 - gamma) * (xp.log1p(-below) - xp.log1p(-lam)), xp.zeros_like(gamma))
    return on + off


def kl_bernoulli_grad(gamma, lam):
    """``(dKL/dgamma, dKL/dlam) = (log(gamma/lam) - log((1-gamma)/(1-lam)), (1-gamma)/(1-lam) - gamma/lam)``. (KL-1)

    ``dKL/dgamma`` is infinite at ``gamma`` in {0, 1}: pass ``gamma`` in the open interval.
    """
    xp = _xp(gamma, lam)
    gamma, lam = _broadcast(xp, gamma, lam)
    d_gamma = xp.log(gamma) - xp.log(lam) - xp.log1p(-gamma) + xp.log1p(-lam)
    d_lam = (1.0 - gamma) / (1.0 - lam) - gamma / lam
    return d_gamma, d_lam


def kl_bernoulli_logit(theta, log_lam, log_1m_lam):
    """(KL-1) in the logit ``theta`` of ``gamma = sigmoid(theta)``, with its ``theta``-gradient.

    ``log gamma = log_sigmoid(theta)`` and ``log(1 - gamma) = log_sigmoid(-theta)`` keep it finite for
    every finite ``theta``; ``dKL/dtheta = gamma (1 - gamma) (theta - logit lam)`` (KL-1'). ``log_lam``
    and ``log_1m_lam`` are Python floats. Returns ``(kl, d_theta)``, both shaped like ``theta``.
    """
    gamma = sigmoid(theta)
    one_m_gamma = sigmoid(-theta)
    kl = gamma * (log_sigmoid(theta) - log_lam) + one_m_gamma * (log_sigmoid(-theta) - log_1m_lam)
    d_theta = gamma * one_m_gamma * (theta - (log_lam - log_1m_lam))
    return kl, d_theta


# ---------------------------------------------------------------------------------------------
# (KL-2) Gaussian: KL(N(mu, sigma^2) || N(0, sigma0^2)) = log sigma0 - log sigma + (sigma^2 + mu^2)/(2 sigma0^2) - 1/2
# ---------------------------------------------------------------------------------------------
def kl_gaussian(mu, sigma, sigma0):
    """``KL(N(mu, sigma^2) || N(0, sigma0^2))`` element-wise. (KL-2)"""
    xp = _xp(mu, sigma, sigma0)
    return _log(xp, sigma0) - _log(xp, sigma) + (sigma * sigma + mu * mu) / (2.0 * sigma0 * sigma0) - 0.5


def kl_gaussian_grad(mu, sigma, sigma0):
    """``(mu/sigma0^2, sigma/sigma0^2 - 1/sigma, 1/sigma0 - (sigma^2 + mu^2)/sigma0^3)``. (KL-2)"""
    xp = _xp(mu, sigma, sigma0)
    s02 = sigma0 * sigma0
    return _broadcast(xp, mu / s02, sigma / s02 - 1.0 / sigma, 1.0 / sigma0 - (sigma * sigma + mu * mu) / (s02 * sigma0))


# ---------------------------------------------------------------------------------------------
# (KL-3) log-normal vs Gamma(shape, rate):
#   KL = -shape mu - log s - LOGNORMAL_CONST - shape log rate + lgamma(shape) + rate exp(mu + s^2/2)
# ---------------------------------------------------------------------------------------------
def kl_lognormal_gamma(mu, s, shape, rate):
    """``KL(LogNormal(mu, s^2) || Gamma(shape, rate))`` element-wise (rate parameterisation). (KL-3)

    This is the exact form. The Louizos et al. (2017) expression used in the authors' code for the
    half-Cauchy's Gamma factor, ``-log b + E[x]/b - (mu + 2 log s + 1 + log 2)/2`` with rate ``1/b^2``,
    agrees with it only at ``b = 1``.
    """
    xp = _xp(mu, s, shape, rate)
    return (-shape * mu - _log(xp, s) - LOGNORMAL_CONST - shape * _log(xp, rate)
            + special("gammaln", shape) + rate * xp.exp(mu + 0.5 * s * s))


def kl_lognormal_gamma_grad(mu, s, shape, rate):
    """Gradients of (KL-3) in ``(mu, s, shape, rate)``:
    ``(-shape + rate E x, -1/s + s rate E x, digamma(shape) - mu - log rate, E x - shape/rate)``."""
    xp = _xp(mu, s, shape, rate)
    mean = xp.exp(mu + 0.5 * s * s)
    return _broadcast(xp, -shape + rate * mean, -1.0 / s + s * rate * mean,
                      special("digamma", shape) - mu - _log(xp, rate), mean - shape / rate)


# ---------------------------------------------------------------------------------------------
# (KL-4) log-normal vs InvGamma(shape, scale):
#   KL = shape mu - log s - LOGNORMAL_CONST - shape log scale + lgamma(shape) + scale exp(-mu + s^2/2)
# ---------------------------------------------------------------------------------------------
def kl_lognormal_invgamma(mu, s, shape, scale):
    """``KL(LogNormal(mu, s^2) || InvGamma(shape, scale))`` element-wise. (KL-4)"""
    xp = _xp(mu, s, shape, scale)
    return (shape * mu - _log(xp, s) - LOGNORMAL_CONST - shape * _log(xp, scale)
            + special("gammaln", shape) + scale * xp.exp(-mu + 0.5 * s * s))


def kl_lognormal_invgamma_grad(mu, s, shape, scale):
    """Gradients of (KL-4) in ``(mu, s, shape, scale)``:
    ``(shape - scale E 1/x, -1/s + s scale E 1/x, digamma(shape) + mu - log scale, E 1/x - shape/scale)``."""
    xp = _xp(mu, s, shape, scale)
    inv_mean = xp.exp(-mu + 0.5 * s * s)
    return _broadcast(xp, shape - scale * inv_mean, -1.0 / s + s * scale * inv_mean,
                      special("digamma", shape) + mu - _log(xp, scale), inv_mean - shape / scale)
