"""Pieces shared by every prior: initialisation, the Gaussian reparameterisation and the indicators,
each with its reverse-mode rule next to it.

Shapes: ``mu, rho, eps`` of a weight matrix are ``(k_in, k_out)`` with noise ``(S, k_in, k_out)``;
biases drop the ``k_in`` axis. Gradients returned here are summed over the sample axis S (the loss
has already divided by S).
"""
from __future__ import annotations

import math

import numpy as np
from array_api_compat import array_namespace

from ..kl import kl_bernoulli_logit
from ..relaxation import relaxed_indicator
from ..stable import sigmoid, softplus

RHO_INIT = -6.0                      # sigma = softplus(-6) = 2.48e-3, as the authors (paper-notes §5.1)
THETA_INIT = math.log(0.99 / 0.01)   # gamma = 0.99: every node starts on, as the authors


def init_weight_means(rng: np.random.Generator, k_in: int, k_out: int):
    """Kaiming-uniform weight means and PyTorch-style bias means on the host. (I-1)

    ``w_mu ~ U(-sqrt(6/k_in), sqrt(6/k_in))`` (gain sqrt 2, 'relu'), ``b_mu ~ U(-1/sqrt(k_in), 1/sqrt(k_in))``.
    The fan-in is the true fan-in ``k_in``. The authors' code applies PyTorch's initialiser to the
    transposed ``(k_in, k_out)`` tensor, so its "fan-in" is ``k_out``; we use the correct one.
    """
    bound_w = math.sqrt(6.0 / k_in)
    bound_b = 1.0 / math.sqrt(k_in)
    return rng.uniform(-bound_w, bound_w, size=(k_in, k_out)), rng.uniform(-bound_b, bound_b, size=(k_out,))


def init_gaussian_layer(rng, k_in: int, k_out: int, indicators: bool) -> dict:
    """Host arrays of one layer's Gaussian factors (and indicator logits when ``indicators``). (I-1)"""
    w_mu, b_mu = init_weight_means(rng, k_in, k_out)
    layer = {"w_mu": w_mu, "w_rho": np.full((k_in, k_out), RHO_INIT),
             "b_mu": b_mu, "b_rho": np.full((k_out,), RHO_INIT)}
    if indicators:
        layer["theta"] = np.full((k_out,), THETA_INIT)
    return layer


# ---- (V-1) Gaussian reparameterisation: beta = mu + softplus(rho) eps -------------------------
def gaussian_sample(mu, rho, eps):
    """``beta = mu + softplus(rho) eps`` with ``eps`` ``(S, *mu.shape)``. (V-1)"""
    return mu + softplus(rho) * eps


def gaussian_sample_backward(d_beta, rho, eps):
    """(V-1) reversed: ``d_mu = sum_s d_beta``, ``d_rho = sum_s d_beta eps * sigmoid(rho)``."""
    xp = array_namespace(d_beta)
    return xp.sum(d_beta, axis=0), xp.sum(d_beta * eps, axis=0) * sigmoid(rho)


# ---- indicators ----------------------------------------------------------------------
def indicators(theta, u, relaxation: str, temperature: float):
    """Indicators ``z`` ``(S, k_out)`` and ``dz/dtheta``; see :mod:`refimpl.relaxation`."""
    return relaxed_indicator(theta, u, temperature, relaxation)


def indicators_backward(d_z, dz_dtheta):
    """``d_theta = sum_s d_z dz/dtheta`` (straight-through surrogate or exact Concrete derivative). (R-2)"""
    xp = array_namespace(d_z)
    return xp.sum(d_z * dz_dtheta, axis=0)


def kl_indicators(theta, log_lam: float, log_1m_lam: float):
    """Sum over nodes of (KL-1) in the logits, and its ``theta``-gradient."""
    xp = array_namespace(theta)
    kl, d_theta = kl_bernoulli_logit(theta, log_lam, log_1m_lam)
    return xp.sum(kl), d_theta


def gated_node_kl(theta, log_lams, kl_node):
    """One hidden layer's indicator part of (P-2): ``gamma = sigmoid(theta)``, the Bernoulli KL (KL-1) summed over
    nodes, the gated weight KL ``sum_j gamma_j KL_j``, and the ``theta``-gradient of both,
    ``d KL-1/d theta + KL_j gamma_j (1 - gamma_j)`` (with ``1 - gamma = sigmoid(-theta)``, F-2).
    Returns ``(gamma, kl_z, kl_w, d_theta)``."""
    xp = array_namespace(theta)
    gamma = sigmoid(theta)
    kl_z, d_theta = kl_indicators(theta, *log_lams)
    return gamma, kl_z, xp.sum(gamma * kl_node), d_theta + kl_node * gamma * sigmoid(-theta)
