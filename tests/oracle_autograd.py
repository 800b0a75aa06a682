"""An independent oracle: the same loss written directly in autograd.numpy, differentiated by autograd.

It shares nothing with refimpl but the parameter/noise layout (SPEC §6): naive formulas (no stable
rewrites), its own KL expressions, its own forward. Straight-through indicators are expressed as the
usual surrogate ``z = stop_gradient(hard - y) + y`` so that autograd differentiates the same surrogate.
"""
from __future__ import annotations

import autograd.numpy as anp
from autograd import grad
from autograd.tracer import getval

ACT = {
    "silu": lambda a: a / (1.0 + anp.exp(-a)),
    # relu'(0) = 0 as PyTorch (autograd's maximum would split ties 1/2-1/2). It matters: a node with
    # z = 0 has pre-activation exactly 0, and its straight-through theta-gradient passes through psi'(0).
    "relu": lambda a: anp.where(a > 0, a, 0.0),
    "tanh": anp.tanh,
}


def softplus(r):
    return anp.log1p(anp.exp(r))


def sigmoid(t):
    return 1.0 / (1.0 + anp.exp(-t))


def indicator(theta, u, temperature, relaxation):
    logits = theta + anp.log(u) - anp.log(1.0 - u)
    y = sigmoid(logits / temperature)
    if relaxation == "concrete":
        return y
    hard = (getval(logits) > 0).astype(float)
    return getval(hard - y) + y


def gauss_kl(mu, sigma, sigma0):
    return anp.log(sigma0 / sigma) + (sigma**2 + mu**2) / (2 * sigma0**2) - 0.5


def oracle_loss(cfg, params, x, y, noise, n_data):
    """-ELBO/N for cfg = dict(widths, prior, likelihood, activation, relaxation, temperature, sigma0,
    lams (list of floats), sigma_e (None: learned))."""
    widths = cfg["widths"]
    n_layers = len(widths) - 1
    spike = cfg["prior"] == "ss-ig"
    act = ACT[cfg["activation"]]
    h = x
    kl = 0.0
    for l in range(n_layers):
        sw, sb = softplus(params[f"{l}.w_rho"]), softplus(params[f"{l}.b_rho"])
        W = params[f"{l}.w_mu"] + sw * noise[f"{l}.eps_w"]        # (S, k_in, k_out)
        b = params[f"{l}.b_mu"] + sb * noise[f"{l}.eps_b"]        # (S, k_out)
        group_kl = (anp.sum(gauss_kl(params[f"{l}.w_mu"], sw, cfg["sigma0"]), axis=0)
                    + gauss_kl(params[f"{l}.b_mu"], sb, cfg["sigma0"]))
        if spike and l < n_layers - 1:
            theta = params[f"{l}.theta"]
            z = indicator(theta, noise[f"{l}.u"], cfg["temperature"], cfg["relaxation"])
            W = z[:, None, :] * W
            b = z * b
            g, lam = sigmoid(theta), cfg["lams"][l]
            kl = kl + anp.sum(g * anp.log(g / lam) + (1 - g) * anp.log((1 - g) / (1 - lam)))
            kl = kl + anp.sum(g * group_kl)
        else:
            kl = kl + anp.sum(group_kl)
        a = anp.einsum("bi,sij->sbj" if h.ndim == 2 else "sbi,sij->sbj", h, W) + b[:, None, :]
        h = act(a) if l < n_layers - 1 else a
    S, B, K = h.shape
    if cfg["likelihood"] == "gaussian":
        log_se = params["log_sigma_e"] if cfg["sigma_e"] is None else anp.log(cfg["sigma_e"])
        yy = y.reshape(B, K)
        nll = anp.sum(0.5 * anp.log(2 * anp.pi) + log_se + (yy - h) ** 2 / (2 * anp.exp(2 * log_se))) / (S * B)
    else:
        logp = h - anp.log(anp.sum(anp.exp(h), axis=-1, keepdims=True))
        nll = -anp.sum(logp[:, anp.arange(B), y]) / (S * B)
    return nll + kl / n_data


def oracle_loss_and_grad(cfg, params, x, y, noise, n_data):
    keys = list(params)

    def f(values):
        return oracle_loss(cfg, dict(zip(keys, values)), x, y, noise, n_data)

    values = [params[k] for k in keys]
    return f(values), dict(zip(keys, grad(f)(values)))
