"""Draws from the priors themselves (host NumPy), for checking the hierarchies and for the theory.

These samplers follow the generative definitions literally (docs/spec.md §2) and share no code with the
variational machinery, so they can serve as oracles: e.g. the SS-GL slab's radius ``||w||_2`` must be
Gamma(m, rate lam/sigma0) (the group-lasso marginal), and ``sqrt(a b)`` from the Gamma x inverse-Gamma
split must be half-Cauchy(b). (SMP-1..SMP-3)
"""
from __future__ import annotations

import math

import numpy as np


def sample_half_cauchy_split(rng: np.random.Generator, scale: float, size) -> np.ndarray:
    """``tau = sqrt(a b)``, ``a ~ Gamma(1/2, rate 1/scale^2)``, ``b ~ InvGamma(1/2, 1)``: tau ~ C+(0, scale). (SMP-1)"""
    a = rng.gamma(0.5, scale * scale, size=size)          # NumPy's gamma takes the *scale* = 1/rate
    b = 1.0 / rng.gamma(0.5, 1.0, size=size)
    return np.sqrt(a * b)


def sample_gl_slab(rng: np.random.Generator, m: int, sigma0: float, lam: float, size: int) -> np.ndarray:
    """Active SS-GL groups ``(size, m)``: ``tau^2 ~ Gamma((m+1)/2, rate lam^2/2)``,
    ``w | tau^2 ~ N(0, sigma0^2 tau^2 I_m)``. (SMP-2)"""
    tau2 = rng.gamma(0.5 * (m + 1), 2.0 / (lam * lam), size=size)
    return sigma0 * np.sqrt(tau2)[:, None] * rng.standard_normal((size, m))


def regularised_scale(st: np.ndarray, c: float) -> np.ndarray:
    """``tt = sqrt(c^2 s^2 tau^2 / (c^2 + s^2 tau^2))`` from ``st = s tau`` (Piironen & Vehtari 2017)."""
    if math.isinf(c):
        return st
    return c * st / np.sqrt(c * c + st * st)


def sample_ghs_slab(rng: np.random.Generator, m: int, sigma0: float, c: float, b_loc: float, b_glob: float,
                    size: int) -> tuple[np.ndarray, np.ndarray]:
    """Active SS-GHS groups ``(size, m)`` and their regularised scales ``tt``: one global ``s`` per draw
    of the network is replaced here by one per group (each row an independent prior draw). (SMP-3)"""
    tau = sample_half_cauchy_split(rng, b_loc, size)
    s = sample_half_cauchy_split(rng, b_glob, size)
    tt = regularised_scale(s * tau, c)
    return sigma0 * tt[:, None] * rng.standard_normal((size, m)), tt
