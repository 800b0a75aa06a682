"""Per-layer kernels of the ELBO: the Gaussian weight factors, their node groups and the indicators, each
with its reverse-mode rule beside it. (V-1, P-1, P-2, KL-1, KL-5, R-2)

One weight layer l holds ``w_mu, w_rho`` ``(k_in, k_out)``, ``b_mu, b_rho`` ``(k_out,)`` and, on hidden layers
of spike-and-slab priors, the indicator logits ``theta`` ``(k_out,)``; the group of node j is the column
``W[:, j]`` plus ``b[j]`` (``m = k_in + 1`` numbers). Every function of ``rho`` the kernels need comes from one
:class:`RhoParts` (``sigma = softplus(rho)``, ``sigmoid(rho)``), computed once per step by :func:`rho_parts`.

The reference step and the fast step of :mod:`refimpl.elbo` call these same kernels. Kernels write with
in-place operators into arrays they own or are given (documented per kernel); both steps give them only
arrays that are theirs to overwrite. Column sums are ``einsum`` on NumPy (no temporary) and a sum of
products elsewhere (:func:`column_dot`).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .backend import array_namespace
from .kl import kl_bernoulli_logit
from .relaxation import relaxed_indicator
from .stable import d_log_softplus_given, log_softplus_given, sigmoid, softplus_and_sigmoid, switch_idle


class RhoParts(NamedTuple):
    """The functions of one ``rho`` a step needs, computed once (F-1, F-2)."""

    sigma: object        # softplus(rho), the standard deviation
    sig: object          # sigmoid(rho) = d sigma / d rho
    idle: bool | None    # no entry at or below log_softplus's -30 switch (None: not checked, other backends)


def rho_parts(rho) -> RhoParts:
    """:class:`RhoParts` of ``rho`` (on NumPy from one ``exp(-|rho|)``; bitwise the stable functions)."""
    sigma, sig = softplus_and_sigmoid(rho)
    return RhoParts(sigma, sig, switch_idle(rho))


def column_dot(a, b):
    """``sum_i a[..., i, j] b[..., i, j]``: the sum over the second-to-last axis of a product."""
    if isinstance(a, np.ndarray):
        return np.einsum("...ij,...ij->...j", a, b)
    return array_namespace(a).sum(a * b, axis=-2)


def sum_samples(a):
    """Sum over the Monte Carlo axis S (a view for S = 1: no copy)."""
    return a[0, ...] if a.shape[0] == 1 else array_namespace(a).sum(a, axis=0)


# ---- (V-1, P-1) sampled weights and their reverse ------------------------------------------------------
def sample(mu, parts: RhoParts, eps):
    """(V-1) ``beta = mu + sigma eps``, ``(S, *mu.shape)``, a new array."""
    beta = eps * parts.sigma
    beta += mu
    return beta


def gate(beta_w, beta_b, mult):
    """(P-1) ``W = mult beta_w``, ``b = mult beta_b`` with the per-node multiplier ``mult = z t`` ``(S, k_out)``
    (``None``: 1, the arrays themselves)."""
    if mult is None:
        return beta_w, beta_b
    return beta_w * mult[:, None, :], mult * beta_b


def gate_backward(d_W, d_b, beta_w, beta_b, mult):
    """(P-1) reversed: ``g_j = sum_i dW_ij beta_ij + db_j beta_bj`` ``(S, k_out)`` (``None`` when ``mult`` is)
    and ``(d_beta_w, d_beta_b) = (mult dW, mult db)``; ``d_W`` is overwritten."""
    if mult is None:
        return None, d_W, d_b
    g = column_dot(d_W, beta_w)
    g += d_b * beta_b
    d_W *= mult[:, None, :]
    return g, d_W, mult * d_b


def factor_grads(d_beta, eps, mu, rho, parts: RhoParts, c_sq, c_log, scratch=None):
    """``(d_mu, d_rho)`` of one Gaussian factor: (V-1) reversed plus the (KL-5) gradient, with the per-node
    coefficients ``c_sq = kl_scale gamma E[1/v] / sigma0^2`` and ``c_log = kl_scale gamma``::

        d_mu  = sum_s d_beta + c_sq mu
        d_rho = sigmoid(rho) (sum_s d_beta eps + c_sq sigma) - c_log d log sigma / d rho

    ``d_beta`` ``(S, ...)`` is overwritten; ``None`` gives the KL gradient alone. ``scratch``: a NumPy buffer
    of ``rho``'s shape the kernel may use."""
    d_mu = mu * c_sq
    d_rho = parts.sigma * c_sq
    if d_beta is not None:
        d_mu += sum_samples(d_beta)
        d_beta *= eps
        d_rho += sum_samples(d_beta)
    d_rho *= parts.sig
    d_log = d_log_softplus_given(rho, parts.sigma, parts.sig, out=scratch, idle=parts.idle)
    d_log *= c_log
    d_rho -= d_log
    return d_mu, d_rho


# ---- (KL-5, KL-1, P-2) the node groups' KL ----------------------------------------------------------------
def node_weight_kl(w_mu, b_mu, w_rho, b_rho, w: RhoParts, b: RhoParts, sigma0: float, e_log_v, e_inv_v,
                   removed=(0, 0.0, 0.0)):
    """(KL-5) per node ``(k_out,)`` and ``sq = sum_i (sigma_i^2 + mu_i^2) / (2 sigma0^2)`` (= ``dKL/dE[1/v]``);
    ``e_log_v, e_inv_v``: the slab-variance moments ``(k_out,)``, ``None`` for ``v = 1``. ``removed = (r, sq,
    log_sigma)``: the ``r`` frozen entries per group read from removed inputs, their square sum and
    ``sum log sigma`` (SH-1); they belong to the group's (KL-5) like the others."""
    xp = array_namespace(w_mu)
    r, sq_removed, log_sigma_removed = removed
    m = w_mu.shape[0] + 1 + r
    sq = (column_dot(w.sigma, w.sigma) + column_dot(w_mu, w_mu)
          + b.sigma * b.sigma + b_mu * b_mu) * (0.5 / (sigma0 * sigma0)) + sq_removed
    log_sigma = (xp.sum(log_softplus_given(w_rho, w.sigma, w.idle), axis=0)
                 + log_softplus_given(b_rho, b.sigma, b.idle)) + log_sigma_removed
    kl = m * (math.log(sigma0) - 0.5) - log_sigma
    if e_inv_v is None:
        return kl + sq, sq
    return kl + 0.5 * m * e_log_v + sq * e_inv_v, sq


def gated_node_kl(theta, log_lams, kl_node):
    """One hidden layer's indicator part of (P-2): ``gamma = sigmoid(theta)``, the Bernoulli KL (KL-1) summed over
    nodes, the gated weight KL ``sum_j gamma_j KL_j``, and the ``theta``-gradient of both,
    ``d KL-1/d theta + KL_j gamma_j (1 - gamma_j)`` (with ``1 - gamma = sigmoid(-theta)``, F-2).
    Returns ``(gamma, kl_z, kl_w, d_theta)``."""
    xp = array_namespace(theta)
    gamma = sigmoid(theta)
    kl, d_theta = kl_bernoulli_logit(theta, *log_lams)
    return gamma, xp.sum(kl), xp.sum(gamma * kl_node), d_theta + kl_node * gamma * sigmoid(-theta)


# ---- indicators ----------------------------------------------------------------------------
def indicators(theta, u, relaxation: str, temperature: float):
    """Indicators ``z`` ``(S, k_out)`` and ``dz/dtheta``; see :mod:`refimpl.relaxation`."""
    return relaxed_indicator(theta, u, temperature, relaxation)


def indicators_backward(d_z, dz_dtheta):
    """``d_theta = sum_s d_z dz/dtheta`` (straight-through surrogate or exact Concrete derivative). (R-2)"""
    return array_namespace(d_z).sum(d_z * dz_dtheta, axis=0)
