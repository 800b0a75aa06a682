"""Hellinger distance, KL and L2 for Gaussian regression with known noise. (T-16)

Derived here (docs/theory-notes.md §4.6; docs/paper-notes.md §6.2). Densities
``l_f(x, y) = p_X(x) N(y; f(x), sigma_e^2)``; expectations over x are sample means over the given inputs. Two
conventions exist, named apart:

    hellinger_bc       H^2 = 1 - BC,   BC = E_x exp(-(f - f0)^2 / (8 sigma_e^2))     (values in [0, 1])
    hellinger_integral h^2 = int (sqrt l_f - sqrt l_0)^2 = 2 (1 - BC)                (Bhattacharya & Maiti)
    kl_regression      KL(l_0, l_f) = E_x (f - f0)^2 / (2 sigma_e^2)

Inequalities (``u = (f - f0)^2/(8 sigma_e^2)`` pointwise; ``1 - e^{-u}`` is concave with slope <= 1):
    H^2 <= ||f - f0||_2^2 / (8 sigma_e^2) = KL / 4
    H^2 >= (1 - e^{-U}) / U * ||f - f0||_2^2 / (8 sigma_e^2)     if |f - f0| <= M everywhere, U = M^2/(8 sigma_e^2)
    H^2(int l_f dQ, l_0) <= int H^2(l_f, l_0) dQ                  (BC is concave in its first argument)
"""
from __future__ import annotations

import math

import numpy as np


def _check(f, f0, sigma_e):
    f, f0 = np.asarray(f, dtype=np.float64), np.asarray(f0, dtype=np.float64)
    if not (sigma_e > 0 and math.isfinite(sigma_e)):
        raise ValueError(f"sigma_e: expected a finite noise std > 0, got {sigma_e!r}")
    return f, f0


def hellinger_bc(f, f0, sigma_e: float) -> float:
    """(T-16) ``H^2 = 1 - E_x exp(-(f - f0)^2 / (8 sigma_e^2))``; ``-expm1`` keeps small values accurate."""
    f, f0 = _check(f, f0, sigma_e)
    return float(-np.mean(np.expm1(-((f - f0) ** 2) / (8.0 * sigma_e ** 2))))


def hellinger_integral(f, f0, sigma_e: float) -> float:
    """(T-16) ``h^2 = int (sqrt l_f - sqrt l_0)^2 = 2 H^2``."""
    return 2.0 * hellinger_bc(f, f0, sigma_e)


def kl_regression(f, f0, sigma_e: float) -> float:
    """(T-16) ``KL(l_0, l_f) = E_x (f - f0)^2 / (2 sigma_e^2)``."""
    f, f0 = _check(f, f0, sigma_e)
    return float(np.mean((f - f0) ** 2) / (2.0 * sigma_e ** 2))


def hellinger_lower_bound(f, f0, sigma_e: float, M: float) -> float:
    """(T-16) ``(1 - e^{-U})/U * ||f - f0||_2^2 / (8 sigma_e^2)``, ``U = M^2/(8 sigma_e^2)``, for ``|f - f0| <= M``."""
    f, f0 = _check(f, f0, sigma_e)
    if np.max(np.abs(f - f0)) > M:
        raise ValueError(f"M: the bound needs |f - f0| <= M everywhere, but max |f - f0| = {np.max(np.abs(f - f0))}")
    U = M * M / (8.0 * sigma_e ** 2)
    factor = -math.expm1(-U) / U if U > 0 else 1.0
    return factor * float(np.mean((f - f0) ** 2)) / (8.0 * sigma_e ** 2)


def hellinger_predictive(f_draws, f0, sigma_e: float, n_grid: int = 4001) -> float:
    """(T-16) ``H^2`` between the posterior predictive ``(1/S) sum_s l_{f_s}`` and ``l_0``.

    ``f_draws`` ``(S, n_x)``. Per x, ``BC_x = int sqrt(mix(y) N(y; f0, sigma_e^2)) dy`` by the trapezoid rule
    on ``[min - 12 sigma_e, max + 12 sigma_e]`` (spectrally accurate: the integrand is smooth and
    Gaussian-tailed; the truncated tails are below e^{-18}).
    """
    f_draws, f0 = _check(f_draws, f0, sigma_e)
    f_draws = np.atleast_2d(f_draws)
    bc = np.empty(f0.shape[0])
    for i in range(f0.shape[0]):
        centres = np.append(f_draws[:, i], f0[i])
        y = np.linspace(centres.min() - 12.0 * sigma_e, centres.max() + 12.0 * sigma_e, n_grid)
        log_phi = lambda mean: -0.5 * ((y - mean) / sigma_e) ** 2 - 0.5 * math.log(2.0 * math.pi * sigma_e ** 2)
        log_mix = np.logaddexp.reduce(np.stack([log_phi(m) for m in f_draws[:, i]]), axis=0) - math.log(f_draws.shape[0])
        g = np.exp(0.5 * (log_mix + log_phi(f0[i])))
        bc[i] = (g.sum() - 0.5 * (g[0] + g[-1])) * (y[1] - y[0])
    return float(1.0 - np.mean(bc))
