"""Spike-and-slab group lasso (``prior="ss-gl"``). (GL-1..GL-4)

Prior (docs/paper-notes.md §2.1, read from the authors' code), hidden layer l, node j, group size ``m = k_l + 1``:

    z_lj ~ Bernoulli(lambda_l),   w_lj | z_lj = 1, tau2_lj ~ N(0, sigma0^2 tau2_lj I_m)
    tau2_lj | lam2 ~ Gamma((m + 1)/2, rate lam2/2),   lam2 ~ Gamma(lam2_shape = 4, rate lam2_rate = 2)

one ``lam2`` for the whole network; the output layer has the same slab and no indicator. Integrating
``tau2`` gives the multivariate Laplace (group-lasso) slab. Variational factors:
``q(tau2_lj) = LogNormal(tau_mu, softplus(tau_rho)^2)``, ``q(lam2) = LogNormal(lam_mu, softplus(lam_rho)^2)``.

* **non-centred** (default, as the authors): ``w = z tau (mu + sigma eps)``, ``tau = exp(V/2)``,
  ``V = tau_mu + s_tau eps_tau`` (GL-1); the Gaussian factor has prior ``N(0, sigma0^2)`` so its KL is (KL-2).
* **centred**: ``w = z (mu + sigma eps)``; its KL is (KL-5) with ``v = tau2``: ``E log v = tau_mu``,
  ``E 1/v = exp(-tau_mu + s_tau^2/2)`` (GL-2), exact.

Scale KLs (exact): ``kl_tau = sum_{l,j} E_{q(lam2)} KL(q(tau2_lj) || Gamma((m_l+1)/2, lam2/2))`` by (KL-6)
with ``E log(lam2/2) = lam_mu - log 2`` and ``E lam2/2 = exp(lam_mu + s_lam^2/2)/2`` (GL-3), not weighted
by gamma (the joint KL of ``q(z) q(tau2) q(w|z)`` has ``tau2`` under both z states);
``kl_lam = KL(q(lam2) || Gamma(4, 2))`` (GL-4).

The module is the SS-GL :class:`~refimpl.priors.record.ScaleFamily` (``FAMILY`` at the end): pure functions that
take the :class:`~refimpl.priors.record.Prior` first, with ``prior.hyper`` a :class:`GroupLasso`.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np

from ..backend import array_namespace
from ..stable import sigmoid, softplus
from .initialise import RHO_INIT
from .record import ScaleFamily
from .scales import kl_lognormal_gamma_rho, scale_from_log_variance

PARAMETERISATIONS = ("non-centred", "centred")


@dataclass(frozen=True)
class GroupLasso:
    """The hyper-parameters of SS-GL (``Prior.hyper``)."""

    centred: bool = False
    lam2_shape: float = 4.0
    lam2_rate: float = 2.0


def hyper(parameterisation="non-centred", lam2_shape=4.0, lam2_rate=2.0) -> GroupLasso:
    """The :class:`GroupLasso` of these hyper-parameters (checked by ``make_prior``)."""
    return GroupLasso(parameterisation == "centred", float(lam2_shape), float(lam2_rate))


# ---- layout ------------------------------------------------------------------------------------
def param_shapes(prior) -> dict:
    shapes = {}
    for l, _, k_out in prior.layers():
        shapes.update({f"{l}.tau_mu": (k_out,), f"{l}.tau_rho": (k_out,)})
    shapes.update({"lam_mu": (), "lam_rho": ()})
    return shapes


def noise_shapes(prior, n_samples: int) -> dict:
    if prior.hyper.centred:
        return {}
    return {f"{l}.eps_tau": (n_samples, k_out) for l, _, k_out in prior.layers()}


def init(prior, rng) -> dict:
    """``tau_mu ~ U(-0.6, 0.6)``, ``lam_mu = 1``, every ``rho = -6`` (as the authors). (I-1)"""
    params = {}
    for l, _, k_out in prior.layers():
        params[f"{l}.tau_mu"] = rng.uniform(-0.6, 0.6, size=(k_out,))
        params[f"{l}.tau_rho"] = np.full((k_out,), RHO_INIT)
    params["lam_mu"], params["lam_rho"] = np.ones(()), np.full((), RHO_INIT)
    return params


# ---- (GL-1) non-centred scales ---------------------------------------------------------------
def scales(prior, params, noise):
    if prior.hyper.centred:
        return [None] * prior.n_layers, None
    ts, cache = [], []
    for l in range(prior.n_layers):
        V = params[f"{l}.tau_mu"] + softplus(params[f"{l}.tau_rho"]) * noise[f"{l}.eps_tau"]
        t, dt_dV = scale_from_log_variance(V, math.inf)
        ts.append(t)
        cache.append(dt_dV)
    return ts, cache


def scales_backward(prior, params, noise, d_scales, cache) -> dict:
    if prior.hyper.centred:
        return {}
    grads = {}
    for l in range(prior.n_layers):
        xp = array_namespace(d_scales[l])
        d_V = d_scales[l] * cache[l]
        rho = params[f"{l}.tau_rho"]
        grads[f"{l}.tau_mu"] = xp.sum(d_V, axis=0)
        grads[f"{l}.tau_rho"] = xp.sum(d_V * noise[f"{l}.eps_tau"], axis=0) * sigmoid(rho)
    return grads


def expected_scales(prior, params):
    """``E tau = E exp(V/2) = exp(tau_mu/2 + s_tau^2/8)`` (non-centred only). (PR-1)"""
    if prior.hyper.centred:
        return [None] * prior.n_layers
    out = []
    for l in range(prior.n_layers):
        xp = array_namespace(params[f"{l}.tau_mu"])
        s = softplus(params[f"{l}.tau_rho"])
        out.append(xp.exp(0.5 * params[f"{l}.tau_mu"] + 0.125 * s * s))
    return out


# ---- (GL-2) centred weight-KL moments --------------------------------------------------------
def moments(prior, params, noise):
    if not prior.hyper.centred:
        return [None] * prior.n_layers, None
    moments, cache = [], []
    for l in range(prior.n_layers):
        xp = array_namespace(params[f"{l}.tau_mu"])
        s = softplus(params[f"{l}.tau_rho"])
        e_inv = xp.exp(-params[f"{l}.tau_mu"] + 0.5 * s * s)
        moments.append((params[f"{l}.tau_mu"], e_inv))
        cache.append((s, e_inv))
    return moments, cache


def moments_backward(prior, params, d_e_log_v, d_e_inv_v, cache) -> dict:
    if not prior.hyper.centred:
        return {}
    grads = {}
    for l in range(prior.n_layers):
        s, e_inv = cache[l]
        grads[f"{l}.tau_mu"] = d_e_log_v[l] - d_e_inv_v[l] * e_inv
        grads[f"{l}.tau_rho"] = d_e_inv_v[l] * e_inv * s * sigmoid(params[f"{l}.tau_rho"])
    return grads


# ---- (GL-3, GL-4) scale KLs ------------------------------------------------------------------
def kl(prior, params):
    lam_mu, lam_rho = params["lam_mu"], params["lam_rho"]
    xp = array_namespace(lam_mu)
    s_lam = softplus(lam_rho)
    e_log_rate = lam_mu - math.log(2.0)
    e_rate = 0.5 * xp.exp(lam_mu + 0.5 * s_lam * s_lam)
    grads, kl_tau = {}, 0.0
    d_e_log_rate, d_e_rate = 0.0, 0.0
    for l, k_in, _ in prior.layers():
        if prior.removed is not None:    # (SH-1) the full network's group size; the removed nodes' frozen scales
            k_in = prior.removed.fan_in[l]
        shape = 0.5 * (k_in + 2)  # (m + 1)/2 with m = k_in + 1
        kl, d_mu, d_rho, d_elr, d_er = kl_lognormal_gamma_rho(params[f"{l}.tau_mu"], params[f"{l}.tau_rho"],
                                                              shape, e_log_rate, e_rate)
        kl_tau = kl_tau + xp.sum(kl)
        grads[f"{l}.tau_mu"], grads[f"{l}.tau_rho"] = d_mu, d_rho
        d_e_log_rate = d_e_log_rate + d_elr * kl.shape[0]
        d_e_rate = d_e_rate + xp.sum(d_er)
        if prior.removed is not None and prior.removed.scales[l][0]:
            count, mean_sum = prior.removed.scales[l]   # their KL is linear in (E log rate, E rate)
            kl_tau = kl_tau + d_elr * count * e_log_rate + e_rate * mean_sum
            d_e_log_rate = d_e_log_rate + d_elr * count
            d_e_rate = d_e_rate + mean_sum
    kl_lam, d_lam_mu, d_lam_rho, _, _ = kl_lognormal_gamma_rho(lam_mu, lam_rho, prior.hyper.lam2_shape,
                                                               math.log(prior.hyper.lam2_rate), prior.hyper.lam2_rate)
    # chain E log rate = lam_mu - log 2 and E rate = exp(lam_mu + s^2/2)/2 back to (lam_mu, lam_rho)
    grads["lam_mu"] = d_lam_mu + d_e_log_rate + d_e_rate * e_rate
    grads["lam_rho"] = d_lam_rho + d_e_rate * e_rate * s_lam * sigmoid(lam_rho)
    return {"kl_tau": kl_tau, "kl_lam": kl_lam}, grads


FAMILY = ScaleFamily(parts=("kl_tau", "kl_lam"), param_shapes=param_shapes, noise_shapes=noise_shapes, init=init,
                     scales=scales, scales_backward=scales_backward, moments=moments,
                     moments_backward=moments_backward, expected_scales=expected_scales, kl=kl)
