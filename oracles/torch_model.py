"""The same loss, -ELBO/N (E-1), written in PyTorch (CPU, eager mode) and differentiated by torch.autograd.

A second implementation for cross-checks and the "PyTorch" contender of the benchmarks. It follows
refimpl's formulas, not its code: the same parameter and noise layout (flat dicts with refimpl's names,
docs/spec.md §6), the same closed-form KLs (KL-1', KL-5, KL-6, KL-7 via KL-3/KL-4, GL-2..GL-4, GHS-1..GHS-3), the
straight-through indicator as the surrogate ``z = (hard - y).detach() + y`` (R-2), and for the centred
SS-GHS with finite ``c`` the same Gauss-Hermite expectation (H-2, here NumPy's ``hermgauss`` rule). It is
written as a PyTorch user would write it: ``F.softplus`` (its threshold 20 changes softplus by
< 2.1e-9 relative), ``F.silu``, ``F.logsigmoid``, ``F.cross_entropy``, batched ``torch.matmul``.

``cfg`` is the description of :func:`oracles.autograd_model.model_config`. What this is not: a
training library (no modules, no optimiser); it computes one loss and its gradient.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

ACT = {"silu": F.silu, "relu": torch.relu, "tanh": torch.tanh}   # torch.relu'(0) = 0, as refimpl
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
LOGNORMAL_CONST = 0.5 + HALF_LOG_2PI            # E_q[-log q] of a log-normal is mu + log s + this


def as_tensors(arrays: dict, requires_grad: bool = False) -> dict:
    """NumPy arrays -> CPU tensors sharing their memory (``torch.from_numpy``), optionally leaves that
    require gradients."""
    out = {}
    for k, v in arrays.items():
        t = torch.from_numpy(np.asarray(v))
        out[k] = t.requires_grad_(True) if requires_grad and t.is_floating_point() else t
    return out


# ---- closed-form KLs (derivations.md labels) --------------------------------------------------------
def kl_bernoulli_logit(theta, log_lam: float, log_1m_lam: float):
    """(KL-1') ``KL(Bern(sigmoid(theta)) || Bern(lam))`` per node, in the logit."""
    gamma, one_m_gamma = torch.sigmoid(theta), torch.sigmoid(-theta)
    return gamma * (F.logsigmoid(theta) - log_lam) + one_m_gamma * (F.logsigmoid(-theta) - log_1m_lam)


def node_weight_kl(mu_w, sigma_w, mu_b, sigma_b, sigma0: float, e_log_v=None, e_inv_v=None):
    """(KL-5) per node ``(k_out,)``: ``sum_i [log sigma0 + E log v/2 - log sigma_i - 1/2 +
    (sigma_i^2 + mu_i^2) E[1/v] / (2 sigma0^2)]`` over the group (column and bias); ``v = 1`` when the
    moments are ``None`` (KL-2)."""
    m = mu_w.shape[0] + 1
    sq = 0.5 * ((sigma_w * sigma_w + mu_w * mu_w).sum(0) + sigma_b * sigma_b + mu_b * mu_b) / (sigma0 * sigma0)
    log_sigma = torch.log(sigma_w).sum(0) + torch.log(sigma_b)
    kl = m * (math.log(sigma0) - 0.5) - log_sigma
    if e_inv_v is None:
        return kl + sq
    return kl + 0.5 * m * e_log_v + sq * e_inv_v


def kl_lognormal_gamma(mu, s, shape: float, e_log_rate, e_rate):
    """(KL-6) ``E_rate KL(LogNormal(mu, s^2) || Gamma(shape, rate))``, (KL-3) with ``(log rate, rate)``
    replaced by their expectations."""
    return (-shape * mu - torch.log(s) - LOGNORMAL_CONST - shape * e_log_rate + math.lgamma(shape)
            + e_rate * torch.exp(mu + 0.5 * s * s))


def kl_lognormal_invgamma(mu, s, shape: float, scale: float):
    """(KL-4) ``KL(LogNormal(mu, s^2) || InvGamma(shape, scale))``."""
    return (shape * mu - torch.log(s) - LOGNORMAL_CONST - shape * math.log(scale) + math.lgamma(shape)
            + scale * torch.exp(-mu + 0.5 * s * s))


def kl_half_cauchy(p, a: str, b: str, b_scale: float):
    """(KL-7) ``tau^2 = a b``: ``a ~ Gamma(1/2, rate 1/b_scale^2)``, ``b ~ InvGamma(1/2, 1)``."""
    rate = 1.0 / (b_scale * b_scale)
    kl_a = kl_lognormal_gamma(p[f"{a}_mu"], F.softplus(p[f"{a}_rho"]), 0.5, math.log(rate), rate)
    kl_b = kl_lognormal_invgamma(p[f"{b}_mu"], F.softplus(p[f"{b}_rho"]), 0.5, 1.0)
    return kl_a + kl_b


def regularised_scale(V, c: float):
    """(H-1) ``t = exp(V/2)`` (c = inf) or ``c exp(-softplus(2 log c - V)/2)``."""
    return torch.exp(0.5 * V) if math.isinf(c) else c * torch.exp(-0.5 * F.softplus(2.0 * math.log(c) - V))


@functools.lru_cache(maxsize=None)
def _hermite(n: int):
    """Scaled Gauss-Hermite rule: ``E f(M + Sigma Z) ~ sum_k w_k f(M + Sigma z_k)``, ``Z ~ N(0, 1)``. (H-2)"""
    x, w = np.polynomial.hermite.hermgauss(n)
    return math.sqrt(2.0) * x, w / math.sqrt(math.pi)


# ---- node scales of the shrinkage priors ---------------------------------------------------------------
def _scales(cfg, p, noise, n_layers):
    """Per layer: non-centred scale ``t`` ``(S, k_out)`` or ``None``; centred moments ``(E log v, E 1/v)``
    or ``None``; and the scale KL (a 0-d tensor or 0.0). (GL-1..GL-4, GHS-1..GHS-3)"""
    prior = cfg["prior"]
    centred = cfg.get("parameterisation") == "centred"
    scales, moments, kl = [None] * n_layers, [None] * n_layers, 0.0
    if prior == "ss-gl":
        widths = cfg["widths"]
        s_lam = F.softplus(p["lam_rho"])
        e_log_rate = p["lam_mu"] - math.log(2.0)                       # (GL-3)
        e_rate = 0.5 * torch.exp(p["lam_mu"] + 0.5 * s_lam * s_lam)
        kl = kl + kl_lognormal_gamma(p["lam_mu"], s_lam, cfg["lam2_shape"], math.log(cfg["lam2_rate"]),
                                     cfg["lam2_rate"])                  # (GL-4)
        for l in range(n_layers):
            mu, s = p[f"{l}.tau_mu"], F.softplus(p[f"{l}.tau_rho"])
            kl = kl + kl_lognormal_gamma(mu, s, 0.5 * (widths[l] + 2), e_log_rate, e_rate).sum()
            if centred:                                                 # (GL-2)
                moments[l] = (mu, torch.exp(-mu + 0.5 * s * s))
            else:                                                       # (GL-1)
                scales[l] = torch.exp(0.5 * (mu + s * noise[f"{l}.eps_tau"]))
    elif prior == "ss-ghs":
        c = cfg["c"]
        kl = kl + kl_half_cauchy(p, "s_a", "s_b", cfg["b_glob"])        # (GHS-3)
        s_ga, s_gb = F.softplus(p["s_a_rho"]), F.softplus(p["s_b_rho"])
        var_glob = s_ga * s_ga + s_gb * s_gb
        for l in range(n_layers):
            kl = kl + kl_half_cauchy(p, f"{l}.tau_a", f"{l}.tau_b", cfg["b_loc"]).sum()
            s_a, s_b = F.softplus(p[f"{l}.tau_a_rho"]), F.softplus(p[f"{l}.tau_b_rho"])
            M = p[f"{l}.tau_a_mu"] + p[f"{l}.tau_b_mu"] + p["s_a_mu"] + p["s_b_mu"]   # (GHS-1)
            var_loc = s_a * s_a + s_b * s_b
            if not centred or (cfg["expectation"] == "one-sample" and not math.isinf(c)):
                V = M + torch.sqrt(var_glob) * noise["eps_s"][:, None] + torch.sqrt(var_loc) * noise[f"{l}.eps_tau"]
            if not centred:
                scales[l] = regularised_scale(V, c)
                continue
            var = var_loc + var_glob                                    # (GHS-2)
            e_inv = torch.exp(-M + 0.5 * var)
            if math.isinf(c):
                e_log = M
            else:
                e_inv = e_inv + 1.0 / (c * c)
                if cfg["expectation"] == "one-sample":
                    e_log = M - F.softplus(V - 2.0 * math.log(c)).mean(0)
                else:                                                   # (H-2)
                    nodes, weights = (torch.as_tensor(r, dtype=M.dtype) for r in _hermite(cfg.get("n_quadrature", 64)))
                    V_k = (M - 2.0 * math.log(c))[:, None] + torch.sqrt(var)[:, None] * nodes
                    e_log = M - (weights * F.softplus(V_k)).sum(1)
            moments[l] = (e_log, e_inv)
    return scales, moments, kl


# ---- the loss -----------------------------------------------------------------------------------------
def forward(cfg, p, x, noise, with_kl: bool = True):
    """``(h, kl)``: the network outputs ``(S, B, K)`` of the noise samples (N-1) and the whole KL of (E-1)
    (``0.0`` when ``with_kl`` is false, e.g. for predictions). Arguments as :func:`loss`."""
    widths, prior = cfg["widths"], cfg["prior"]
    n_layers = len(widths) - 1
    act, sigma0 = ACT[cfg["activation"]], cfg["sigma0"]
    scales, moments, kl = _scales(cfg, p, noise, n_layers)
    kl = kl if with_kl else 0.0
    h = x
    for l in range(n_layers):
        mu_w, mu_b = p[f"{l}.w_mu"], p[f"{l}.b_mu"]
        sigma_w, sigma_b = F.softplus(p[f"{l}.w_rho"]), F.softplus(p[f"{l}.b_rho"])
        W = mu_w + sigma_w * noise[f"{l}.eps_w"]                        # (V-1)  (S, k_in, k_out)
        b = mu_b + sigma_b * noise[f"{l}.eps_b"]                        #        (S, k_out)
        mult = scales[l]
        kl_node = (node_weight_kl(mu_w, sigma_w, mu_b, sigma_b, sigma0, *(moments[l] or (None, None)))
                   if with_kl else 0.0)
        if prior != "gaussian" and l < n_layers - 1:                    # hidden spike-and-slab layer
            theta = p[f"{l}.theta"]
            u = noise[f"{l}.u"]
            logits = theta + torch.log(u) - torch.log1p(-u)
            soft = torch.sigmoid(logits / cfg["temperature"])
            z = soft if cfg["relaxation"] == "concrete" else ((logits > 0).to(soft.dtype) - soft).detach() + soft
            mult = z if mult is None else z * mult                      # (P-1)
            if with_kl:
                log_lam, log_1m_lam = cfg["log_lams"][l]
                kl = kl + kl_bernoulli_logit(theta, log_lam, log_1m_lam).sum() + (torch.sigmoid(theta) * kl_node).sum()
        elif with_kl:
            kl = kl + kl_node.sum()
        if mult is not None:
            W, b = mult[:, None, :] * W, mult * b
        a = torch.matmul(h, W) + b[:, None, :]                          # (N-1)  (S, B, k_out)
        h = act(a) if l < n_layers - 1 else a
    return h, kl


def loss(cfg, p, x, y, noise, n_data: int):
    """``-ELBO/N`` (E-1) as a 0-d tensor: ``p``, ``noise``: dicts of tensors with refimpl's names and
    shapes; ``x`` ``(B, k_0)``; ``y`` ``(B, K)`` targets or ``(B,)`` integer labels."""
    h, kl = forward(cfg, p, x, noise)
    S, B, K = h.shape
    if cfg["likelihood"] == "gaussian":                                 # (L-1)
        log_se = p["log_sigma_e"] if cfg["sigma_e"] is None else torch.tensor(math.log(cfg["sigma_e"]), dtype=h.dtype)
        resid = h - y.reshape(B, K)
        nll = K * (HALF_LOG_2PI + log_se) + 0.5 * torch.exp(-2.0 * log_se) * (resid * resid).sum(-1).mean()
    else:                                                               # (L-2)
        nll = F.cross_entropy(h.reshape(S * B, K), y.repeat(S))
    return nll + kl / n_data


def loss_and_grad(cfg, params, x, y, noise, n_data: int):
    """``(loss, {name: gradient})``; ``params`` are tensors with ``requires_grad`` (see :func:`as_tensors`)."""
    keys = [k for k, v in params.items() if v.requires_grad]
    value = loss(cfg, params, x, y, noise, n_data)
    grads = torch.autograd.grad(value, [params[k] for k in keys])
    return value.detach(), dict(zip(keys, grads))
