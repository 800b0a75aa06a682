"""Likelihoods: negative log-likelihood of network outputs and its gradient. (L-1, L-2)

Outputs ``eta`` have shape ``(S, B, K)`` (S Monte Carlo samples, B data points, K outputs). The
returned NLL is the mean over samples and data points, ``(1/S) sum_s (1/B) sum_i -log p(y_i | eta_si)``,
and the gradient is that of this mean.
"""
from __future__ import annotations

import math

from .backend import array_namespace

LIKELIHOODS = ("gaussian", "categorical")
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_nll(eta, y, log_sigma_e):
    """Gaussian regression (L-1): ``-log N(y; eta, sigma_e^2)`` summed over K, averaged over S and B.

    ``-log p = K log(2 pi)/2 + K log sigma_e + ||y - eta||^2 / (2 sigma_e^2)``. ``y``: ``(B, K)``;
    ``log_sigma_e``: 0-d array. Returns ``(nll, d_eta, d_log_sigma_e)`` with
    ``d_eta = (eta - y) / (sigma_e^2 S B)`` and ``d_log_sigma_e = mean_{s,i} (K - ||y - eta||^2 / sigma_e^2)``.
    """
    xp = array_namespace(eta, y)
    S, B, K = eta.shape
    inv_var = xp.exp(-2.0 * log_sigma_e)
    resid = eta - y
    sq = xp.sum(resid * resid, axis=-1)  # (S, B)
    mean_sq = xp.mean(sq)
    nll = K * _HALF_LOG_2PI + K * log_sigma_e + 0.5 * inv_var * mean_sq
    d_eta = resid * (inv_var / (S * B))
    d_log_sigma_e = K - inv_var * mean_sq
    return nll, d_eta, d_log_sigma_e


def categorical_nll(eta, onehot):
    """Softmax cross-entropy (L-2): ``-log p(y | eta) = logsumexp(eta) - eta_y``, averaged over S and B.

    ``onehot``: ``(B, K)`` one-hot labels. Returns ``(nll, d_eta)`` with
    ``d_eta = (softmax(eta) - onehot) / (S B)``.
    """
    xp = array_namespace(eta, onehot)
    S, B, K = eta.shape
    shifted = eta - xp.max(eta, axis=-1, keepdims=True)
    log_norm = xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))
    log_p = shifted - log_norm  # (S, B, K) log-softmax
    nll = -xp.sum(log_p * onehot) / (S * B)
    d_eta = (xp.exp(log_p) - onehot) / (S * B)
    return nll, d_eta


def nll_and_grad(likelihood: str, eta, target, log_sigma_e=None, learn_sigma_e: bool = False):
    """The minibatch NLL of ``likelihood`` and its gradients: ``(nll, d_eta, extra)``, with ``extra`` =
    ``{"log_sigma_e": d nll / d log_sigma_e}`` for a Gaussian likelihood whose noise scale is learned and ``{}``
    otherwise. ``target``: ``(B, K)`` targets (``gaussian``, L-1) or one-hot labels (``categorical``, L-2);
    ``log_sigma_e``: the Gaussian noise's log scale (0-d). The one place the likelihood is chosen, for the
    reference and the fused step."""
    if likelihood == "gaussian":
        nll, d_eta, d_log_sigma_e = gaussian_nll(eta, target, log_sigma_e)
        return nll, d_eta, ({"log_sigma_e": d_log_sigma_e} if learn_sigma_e else {})
    if likelihood == "categorical":
        nll, d_eta = categorical_nll(eta, target)
        return nll, d_eta, {}
    raise ValueError(f"likelihood: expected one of {list(LIKELIHOODS)}, got {likelihood!r}")
