"""Spike-and-slab (regularised) group horseshoe (``prior="ss-ghs"``). (GHS-1..GHS-3)

Prior (docs/paper-notes.md §2.2, read from the authors' code), hidden layer l, node j, ``m = k_l + 1``:

    z_lj ~ Bernoulli(lambda_l),   w_lj | z_lj = 1 ~ N(0, sigma0^2 tt_lj^2 I_m),
    tt^2 = c^2 s^2 tau^2 / (c^2 + s^2 tau^2)        (regularised; c = inf gives s^2 tau^2)
    tau_lj ~ C+(0, b_loc) local,   s ~ C+(0, b_glob) global (one for the network)

each half-Cauchy through ``tau^2 = a b``, ``a ~ Gamma(1/2, rate 1/b^2)``, ``b ~ InvGamma(1/2, 1)``; the
output layer has the same slab and no indicator. Every factor ``a, b`` (local: ``tau_a``, ``tau_b``;
global: ``s_a``, ``s_b``) is log-normal, so ``V_lj = log(s^2 tau_lj^2)`` is Gaussian under q with

    M_lj = tau_a_mu + tau_b_mu + s_a_mu + s_b_mu,   Sigma_lj^2 = Sigma_loc^2 + Sigma_glob^2,
    Sigma_loc^2 = s_{tau_a}^2 + s_{tau_b}^2,         Sigma_glob^2 = s_{s_a}^2 + s_{s_b}^2.          (GHS-1)

* **non-centred**: ``w = z tt (mu + sigma eps)`` with ``V = M + Sigma_glob eps_s + Sigma_loc eps_tau``
  (one ``eps_s`` per sample, as the authors) and ``tt = t(V)`` of (H-1); Gaussian factor KL (KL-2).
* **centred** (default, as the authors' MLPs): ``w = z (mu + sigma eps)``; weight KL (KL-5) with ``v = tt^2``:
  ``E 1/v = exp(-M + Sigma^2/2) + 1/c^2`` and ``E log v = M - E softplus(V - 2 log c)`` (GHS-2). The
  expectation is by Gauss-Hermite quadrature (H-2, default, deterministic) or, as the authors, by
  the one-sample estimate ``softplus(V_s - 2 log c)`` from the noise (``expectation="one-sample"``).
* scale KLs (GHS-3): ``kl_tau = sum_{l,j} (KL-7)(tau_a, tau_b; b_loc)`` and ``kl_s = (KL-7)(s_a, s_b; b_glob)``,
  exact; the Gamma factor uses the exact (KL-3), not the authors' Louizos et al. form, which agrees
  with it only at ``b = 1``.

The module is the SS-GHS :class:`~refimpl.priors.record.ScaleFamily` (``FAMILY`` at the end): pure functions that
take the :class:`~refimpl.priors.record.Prior` first, with ``prior.hyper`` a :class:`GroupHorseshoe`.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np

from ..backend import array_namespace
from ..stable import sigmoid, softplus
from .initialise import RHO_INIT
from .record import ScaleFamily
from .scales import expected_softplus, hermite_rule, kl_half_cauchy_rho, scale_from_log_variance

PARAMETERISATIONS = ("centred", "non-centred")
EXPECTATIONS = ("quadrature", "one-sample")
LOCAL = ("tau_a", "tau_b")
GLOBAL = ("s_a", "s_b")


@dataclass(frozen=True, eq=False)
class GroupHorseshoe:
    """The hyper-parameters of SS-GHS (``Prior.hyper``); ``rule``: the Gauss-Hermite nodes and weights (H-2) as
    backend arrays (so records compare by identity, ``eq=False``: arrays have no truth value)."""

    centred: bool
    c: float
    b_loc: float
    b_glob: float
    one_sample: bool
    n_quadrature: int
    rule: tuple

    @property
    def needs_scale_noise(self) -> bool:
        return not self.centred or (self.one_sample and not math.isinf(self.c))


def hyper(backend, parameterisation="centred", c=1.0, b_loc=1.0, b_glob=1.0, expectation="quadrature",
          n_quadrature=64) -> GroupHorseshoe:
    """The :class:`GroupHorseshoe` of these hyper-parameters (checked by ``make_prior``), its rule on ``backend``."""
    nodes, weights = hermite_rule(int(n_quadrature))
    return GroupHorseshoe(parameterisation == "centred", float(c), float(b_loc), float(b_glob),
                          expectation == "one-sample", int(n_quadrature),
                          (backend.asarray(nodes), backend.asarray(weights)))


# ---- layout ------------------------------------------------------------------------------------
def param_shapes(prior) -> dict:
    shapes = {}
    for l, _, k_out in prior.layers():
        for f in LOCAL:
            shapes.update({f"{l}.{f}_mu": (k_out,), f"{l}.{f}_rho": (k_out,)})
    for f in GLOBAL:
        shapes.update({f"{f}_mu": (), f"{f}_rho": ()})
    return shapes


def noise_shapes(prior, n_samples: int) -> dict:
    if not prior.hyper.needs_scale_noise:
        return {}
    shapes = {f"{l}.eps_tau": (n_samples, k_out) for l, _, k_out in prior.layers()}
    shapes["eps_s"] = (n_samples,)
    return shapes


def init(prior, rng) -> dict:
    """Local means ``U(-0.6, 0.6)``, global means 1, every ``rho = -6`` (as the authors). (I-1)"""
    params = {}
    for l, _, k_out in prior.layers():
        for f in LOCAL:
            params[f"{l}.{f}_mu"] = rng.uniform(-0.6, 0.6, size=(k_out,))
            params[f"{l}.{f}_rho"] = np.full((k_out,), RHO_INIT)
    for f in GLOBAL:
        params[f"{f}_mu"], params[f"{f}_rho"] = np.ones(()), np.full((), RHO_INIT)
    return params


# ---- (GHS-1) the Gaussian log-variance of every node ---------------------------------------------
def _log_variance(prior, params):
    """Per layer ``(M, Sigma_loc, s_tau_a, s_tau_b)`` and global ``(Sigma_glob, s_s_a, s_s_b)``."""
    xp = array_namespace(params["s_a_mu"])
    s_ga, s_gb = softplus(params["s_a_rho"]), softplus(params["s_b_rho"])
    glob = (xp.sqrt(s_ga * s_ga + s_gb * s_gb), s_ga, s_gb)
    g_mu = params["s_a_mu"] + params["s_b_mu"]
    local = []
    for l in range(prior.n_layers):
        s_a, s_b = softplus(params[f"{l}.tau_a_rho"]), softplus(params[f"{l}.tau_b_rho"])
        M = params[f"{l}.tau_a_mu"] + params[f"{l}.tau_b_mu"] + g_mu
        local.append((M, xp.sqrt(s_a * s_a + s_b * s_b), s_a, s_b))
    return local, glob


def _sampled_log_variance(noise, l, M, Sigma_loc, Sigma_glob):
    """``V_s = M + Sigma_glob eps_s + Sigma_loc eps_tau``, shape ``(S, k_out)``."""
    return M + Sigma_glob * noise["eps_s"][:, None] + Sigma_loc * noise[f"{l}.eps_tau"]


def _chain(params, local, glob, d_M, d_Sig_loc, d_Sig_glob, d_var):
    """Gradients of ``(M_l, Sigma_loc_l, Sigma_glob, Sigma_l^2)`` back to every scale parameter."""
    xp = array_namespace(params["s_a_mu"])
    grads = {}
    d_g_mu, d_s_ga, d_s_gb = 0.0, 0.0, 0.0
    Sigma_glob, s_ga, s_gb = glob
    for l, (M, Sigma_loc, s_a, s_b) in enumerate(local):
        dM = d_M[l] if d_M[l] is not None else xp.zeros_like(M)
        d_sa, d_sb = xp.zeros_like(M), xp.zeros_like(M)
        if d_Sig_loc[l] is not None:
            d_sa, d_sb = d_sa + d_Sig_loc[l] * s_a / Sigma_loc, d_sb + d_Sig_loc[l] * s_b / Sigma_loc
        if d_var[l] is not None:
            d_sa, d_sb = d_sa + 2.0 * d_var[l] * s_a, d_sb + 2.0 * d_var[l] * s_b
            d_s_ga, d_s_gb = d_s_ga + 2.0 * xp.sum(d_var[l]) * s_ga, d_s_gb + 2.0 * xp.sum(d_var[l]) * s_gb
        grads[f"{l}.tau_a_mu"], grads[f"{l}.tau_b_mu"] = dM, dM
        grads[f"{l}.tau_a_rho"] = d_sa * sigmoid(params[f"{l}.tau_a_rho"])
        grads[f"{l}.tau_b_rho"] = d_sb * sigmoid(params[f"{l}.tau_b_rho"])
        d_g_mu = d_g_mu + xp.sum(dM)
    if d_Sig_glob is not None:
        d_s_ga, d_s_gb = d_s_ga + d_Sig_glob * s_ga / Sigma_glob, d_s_gb + d_Sig_glob * s_gb / Sigma_glob
    grads["s_a_mu"], grads["s_b_mu"] = d_g_mu, d_g_mu
    grads["s_a_rho"] = d_s_ga * sigmoid(params["s_a_rho"])
    grads["s_b_rho"] = d_s_gb * sigmoid(params["s_b_rho"])
    return grads


# ---- non-centred scales (GHS-1, H-1) -------------------------------------------------------------
def scales(prior, params, noise):
    if prior.hyper.centred:
        return [None] * prior.n_layers, None
    local, glob = _log_variance(prior, params)
    ts, dts = [], []
    for l, (M, Sigma_loc, _, _) in enumerate(local):
        t, dt_dV = scale_from_log_variance(_sampled_log_variance(noise, l, M, Sigma_loc, glob[0]), prior.hyper.c)
        ts.append(t)
        dts.append(dt_dV)
    return ts, (local, glob, dts)


def scales_backward(prior, params, noise, d_scales, cache) -> dict:
    if prior.hyper.centred:
        return {}
    local, glob, dts = cache
    xp = array_namespace(params["s_a_mu"])
    d_M, d_loc, d_glob = [], [], 0.0
    for l in range(prior.n_layers):
        d_V = d_scales[l] * dts[l]
        d_M.append(xp.sum(d_V, axis=0))
        d_loc.append(xp.sum(d_V * noise[f"{l}.eps_tau"], axis=0))
        d_glob = d_glob + xp.sum(d_V * noise["eps_s"][:, None])
    return _chain(params, local, glob, d_M, d_loc, d_glob, [None] * prior.n_layers)


def expected_scales(prior, params):
    """``E tt`` under ``V ~ N(M, Sigma^2)`` (non-centred only): ``exp(M/2 + Sigma^2/8)`` for c = inf,
    else Gauss-Hermite of (H-1). (PR-1)"""
    if prior.hyper.centred:
        return [None] * prior.n_layers
    xp = array_namespace(params["s_a_mu"])
    local, glob = _log_variance(prior, params)
    nodes, weights = prior.hyper.rule
    out = []
    for M, Sigma_loc, _, _ in local:
        Sigma = xp.sqrt(Sigma_loc * Sigma_loc + glob[0] * glob[0])
        if math.isinf(prior.hyper.c):
            out.append(xp.exp(0.5 * M + 0.125 * Sigma * Sigma))
        else:
            t, _ = scale_from_log_variance(M[:, None] + Sigma[:, None] * nodes[None, :], prior.hyper.c)
            out.append(xp.sum(weights * t, axis=1))
    return out


# ---- centred weight-KL moments (GHS-2, H-2) ------------------------------------------------------
def moments(prior, params, noise):
    if not prior.hyper.centred:
        return [None] * prior.n_layers, None
    xp = array_namespace(params["s_a_mu"])
    local, glob = _log_variance(prior, params)
    Sigma_glob = glob[0]
    finite_c = not math.isinf(prior.hyper.c)
    moments, per_layer = [], []
    for l, (M, Sigma_loc, _, _) in enumerate(local):
        var = Sigma_loc * Sigma_loc + Sigma_glob * Sigma_glob
        e_inv_core = xp.exp(-M + 0.5 * var)
        e_inv = e_inv_core + 1.0 / (prior.hyper.c * prior.hyper.c) if finite_c else e_inv_core
        q_grads = None
        if not finite_c:
            e_log = M
        elif prior.hyper.one_sample:
            shift = _sampled_log_variance(noise, l, M, Sigma_loc, Sigma_glob) - 2.0 * math.log(prior.hyper.c)
            sig = sigmoid(shift)
            e_log = M - xp.mean(softplus(shift), axis=0)
            q_grads = (xp.mean(sig, axis=0), xp.mean(sig * noise[f"{l}.eps_tau"], axis=0),
                       xp.mean(sig * noise["eps_s"][:, None], axis=0))
        else:
            Q, dQ_dM, dQ_dSig = expected_softplus(M - 2.0 * math.log(prior.hyper.c), xp.sqrt(var), *prior.hyper.rule)
            e_log = M - Q
            q_grads = (dQ_dM, dQ_dSig, xp.sqrt(var))
        moments.append((e_log, e_inv))
        per_layer.append((e_inv_core, q_grads))
    return moments, (local, glob, per_layer)


def moments_backward(prior, params, d_e_log_v, d_e_inv_v, cache) -> dict:
    if not prior.hyper.centred:
        return {}
    local, glob, per_layer = cache
    d_M, d_loc, d_var, d_glob = [], [], [], 0.0
    for l, (e_inv_core, q_grads) in enumerate(per_layer):
        d_elv, d_eiv = d_e_log_v[l], d_e_inv_v[l]
        dM = d_elv - d_eiv * e_inv_core
        dvar = 0.5 * d_eiv * e_inv_core
        d_sig_loc = None
        if q_grads is not None and prior.hyper.one_sample:
            dQ_dM, dQ_dloc, dQ_dglob = q_grads
            dM = dM - d_elv * dQ_dM
            d_sig_loc = -d_elv * dQ_dloc
            d_glob = d_glob - array_namespace(dM).sum(d_elv * dQ_dglob)
        elif q_grads is not None:
            dQ_dM, dQ_dSig, Sigma = q_grads
            dM = dM - d_elv * dQ_dM
            dvar = dvar - d_elv * dQ_dSig / (2.0 * Sigma)   # dSigma/d(Sigma^2) = 1/(2 Sigma)
        d_M.append(dM)
        d_loc.append(d_sig_loc)
        d_var.append(dvar)
    return _chain(params, local, glob, d_M, d_loc, d_glob, d_var)


# ---- (GHS-3) scale KLs ---------------------------------------------------------------------------
def kl(prior, params):
    xp = array_namespace(params["s_a_mu"])
    grads, kl_tau = {}, 0.0
    for l in range(prior.n_layers):
        kl, (da_mu, da_rho, db_mu, db_rho) = kl_half_cauchy_rho(
            params[f"{l}.tau_a_mu"], params[f"{l}.tau_a_rho"], params[f"{l}.tau_b_mu"], params[f"{l}.tau_b_rho"], prior.hyper.b_loc)
        kl_tau = kl_tau + xp.sum(kl)
        grads.update({f"{l}.tau_a_mu": da_mu, f"{l}.tau_a_rho": da_rho, f"{l}.tau_b_mu": db_mu, f"{l}.tau_b_rho": db_rho})
    kl_s, (da_mu, da_rho, db_mu, db_rho) = kl_half_cauchy_rho(
        params["s_a_mu"], params["s_a_rho"], params["s_b_mu"], params["s_b_rho"], prior.hyper.b_glob)
    grads.update({"s_a_mu": da_mu, "s_a_rho": da_rho, "s_b_mu": db_mu, "s_b_rho": db_rho})
    return {"kl_tau": kl_tau, "kl_s": kl_s}, grads


FAMILY = ScaleFamily(parts=("kl_tau", "kl_s"), param_shapes=param_shapes, noise_shapes=noise_shapes, init=init,
                     scales=scales, scales_backward=scales_backward, moments=moments,
                     moments_backward=moments_backward, expected_scales=expected_scales, kl=kl)
