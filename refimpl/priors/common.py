"""Pieces shared by every prior: initialisation, the Gaussian reparameterisation and the indicators,
each with its reverse-mode rule next to it.

Shapes: ``mu, rho, eps`` of a weight matrix are ``(k_in, k_out)`` with noise ``(S, k_in, k_out)``;
biases drop the ``k_in`` axis. Gradients returned here are summed over the sample axis S (the loss
has already divided by S).
"""
from __future__ import annotations

import math

import numpy as np
from ..backend import array_namespace

from ..kl import kl_bernoulli_logit
from ..relaxation import relaxed_indicator
from ..stable import sigmoid, softplus

RHO_INIT = -6.0                      # sigma = softplus(-6) = 2.48e-3, as the authors (docs/paper-notes.md §5.1)
THETA_INIT = math.log(0.99 / 0.01)   # gamma = 0.99: every node starts on, as the authors


INITS = ("fan-in", "authors")     # weight-mean initialisation schemes (I-1)


def init_bounds(k_in: int, k_out: int, scheme: str = "fan-in") -> tuple[float, float]:
    """``(weight bound, bias bound)`` of the uniform weight- and bias-mean initialisation. (I-1)

    ``"fan-in"``: Kaiming-uniform with gain sqrt 2 on the true fan-in, ``sqrt(6 / k_in)``, and PyTorch's bias
    bound ``1 / sqrt(k_in)``. ``"authors"``: the authors' code applies ``torch.nn.init.kaiming_uniform_`` to a
    ``(k_in, k_out)`` tensor, which PyTorch reads as ``(out, in)``, so its fan-in is ``k_out``: ``sqrt(6 / k_out)``
    and ``1 / sqrt(k_out)``.
    """
    if scheme not in INITS:
        raise ValueError(f"init: unknown scheme {scheme!r}; choose one of {list(INITS)}")
    fan = k_in if scheme == "fan-in" else k_out
    return math.sqrt(6.0 / fan), 1.0 / math.sqrt(fan)


def init_weight_means(rng: np.random.Generator, k_in: int, k_out: int, scheme: str = "fan-in"):
    """Uniform weight means ``(k_in, k_out)`` and bias means ``(k_out,)`` on the host, bounds by
    :func:`init_bounds`. (I-1)"""
    bound_w, bound_b = init_bounds(k_in, k_out, scheme)
    return rng.uniform(-bound_w, bound_w, size=(k_in, k_out)), rng.uniform(-bound_b, bound_b, size=(k_out,))


def init_gaussian_layer(rng, k_in: int, k_out: int, indicators: bool, scheme: str = "fan-in") -> dict:
    """Host arrays of one layer's Gaussian factors (and indicator logits when ``indicators``). (I-1)"""
    w_mu, b_mu = init_weight_means(rng, k_in, k_out, scheme)
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
