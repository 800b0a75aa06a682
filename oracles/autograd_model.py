"""An independent oracle: the same loss written directly in autograd.numpy, differentiated by autograd.

It shares nothing with refimpl but the parameter/noise layout (docs/spec.md §6): naive formulas (no stable
rewrites), every KL written as ``E_q log q - E_q log p`` from the densities rather than the simplified
closed forms, the authors' own way of sampling the horseshoe scales, NumPy's ``hermgauss`` rule
(refimpl uses SciPy's ``roots_hermite``). Straight-through indicators are the usual surrogate
``z = stop_gradient(hard - y) + y`` so that autograd differentiates the same surrogate.

Two uses: the gradient oracle of the tests (tests/test_gradients.py, tests/test_golden.py, ...) and
the "autograd" contender of the benchmarks (``python -m benchmarks``). :func:`model_config` reads the
description these functions take from a ``NodeSparseBNN``; ``oracles/torch_model.py`` takes the same.
"""
from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
from autograd import grad
from autograd.tracer import getval

ACT = {
    "silu": lambda a: a / (1.0 + anp.exp(-a)),
    # relu'(0) = 0 as PyTorch (autograd's maximum would split ties 1/2-1/2). It matters: a node with
    # z = 0 has pre-activation exactly 0, and its straight-through theta-gradient passes through psi'(0).
    "relu": lambda a: anp.where(a > 0, a, 0.0),
    "tanh": anp.tanh,
}
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def softplus(r):
    return anp.log1p(anp.exp(r))


def sigmoid(t):
    return 0.5 * (1.0 + anp.tanh(0.5 * t))   # overflow-free, and a different formula from refimpl's


def indicator(theta, u, temperature, relaxation):
    logits = theta + anp.log(u) - anp.log(1.0 - u)
    y = sigmoid(logits / temperature)
    if relaxation == "concrete":
        return y
    hard = (getval(logits) > 0).astype(getval(y).dtype)   # float32 stays float32 in the benchmarks
    return getval(hard - y) + y


def gauss_kl(mu, sigma, sigma0):
    return anp.log(sigma0 / sigma) + (sigma**2 + mu**2) / (2 * sigma0**2) - 0.5


def e_log_lognormal_q(mu, s):
    """E_q log q for q = LogNormal(mu, s^2)."""
    return -mu - anp.log(s) - 0.5 - HALF_LOG_2PI


def e_log_gamma_p(mu, s, shape, e_log_rate, e_rate):
    """E_q log Gamma(x; shape, rate) under x ~ LogNormal(mu, s^2), expectations over a random rate too."""
    return shape * e_log_rate - math.lgamma(shape) + (shape - 1) * mu - e_rate * anp.exp(mu + s**2 / 2)


def e_log_invgamma_p(mu, s, shape, scale):
    return shape * math.log(scale) - math.lgamma(shape) - (shape + 1) * mu - scale * anp.exp(-mu + s**2 / 2)


def half_cauchy_kl(p, a, b, b_scale):
    """KL of q(a) q(b) against Gamma(1/2, rate 1/b_scale^2) x InvGamma(1/2, 1)."""
    sa, sb = softplus(p[f"{a}_rho"]), softplus(p[f"{b}_rho"])
    rate = 1.0 / b_scale**2
    kl_a = e_log_lognormal_q(p[f"{a}_mu"], sa) - e_log_gamma_p(p[f"{a}_mu"], sa, 0.5, math.log(rate), rate)
    kl_b = e_log_lognormal_q(p[f"{b}_mu"], sb) - e_log_invgamma_p(p[f"{b}_mu"], sb, 0.5, 1.0)
    return anp.sum(kl_a + kl_b)


def _sub(params, prefix):
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def oracle_loss(cfg, params, x, y, noise, n_data):
    """-ELBO/N for cfg = dict(widths, prior, likelihood, activation, relaxation, temperature, sigma0,
    log_lams (list of (log lam, log(1 - lam))), sigma_e (None: learned), and prior extras: parameterisation, lam2_shape,
    lam2_rate (ss-gl); c, b_loc, b_glob, expectation (ss-ghs))."""
    widths, prior = cfg["widths"], cfg["prior"]
    n_layers = len(widths) - 1
    spike = prior != "gaussian"
    centred = cfg.get("parameterisation") == "centred"
    act, sigma0 = ACT[cfg["activation"]], cfg["sigma0"]
    h, kl = x, 0.0
    if prior == "ss-gl":
        s_lam = softplus(params["lam_rho"])
        e_log_rate, e_rate = params["lam_mu"] - math.log(2.0), anp.exp(params["lam_mu"] + s_lam**2 / 2) / 2
        kl = kl + e_log_lognormal_q(params["lam_mu"], s_lam) - e_log_gamma_p(
            params["lam_mu"], s_lam, cfg["lam2_shape"], math.log(cfg["lam2_rate"]), cfg["lam2_rate"])
    if prior == "ss-ghs":
        c = cfg["c"]
        kl = kl + half_cauchy_kl(params, "s_a", "s_b", cfg["b_glob"])
        s_ga, s_gb = softplus(params["s_a_rho"]), softplus(params["s_b_rho"])
        # the scales are sampled (the authors' way) unless the centred KL takes them in expectation;
        # at c = inf that expectation is closed-form (GHS-2) and no scale noise exists
        sampled = not centred or (cfg["expectation"] == "one-sample" and not math.isinf(c))
        if sampled:
            s_glob = anp.exp((params["s_a_mu"] + params["s_b_mu"]) / 2
                             + 0.5 * anp.sqrt(s_ga**2 + s_gb**2) * noise["eps_s"])[:, None]
    for l in range(n_layers):
        p = _sub(params, f"{l}.")
        m = widths[l] + 1
        sw, sb = softplus(p["w_rho"]), softplus(p["b_rho"])
        W = p["w_mu"] + sw * noise[f"{l}.eps_w"]        # (S, k_in, k_out)
        b = p["b_mu"] + sb * noise[f"{l}.eps_b"]        # (S, k_out)
        sq = anp.sum(sw**2 + p["w_mu"]**2, axis=0) + sb**2 + p["b_mu"]**2
        log_sig = anp.sum(anp.log(sw), axis=0) + anp.log(sb)
        plain_group_kl = anp.sum(gauss_kl(p["w_mu"], sw, sigma0), axis=0) + gauss_kl(p["b_mu"], sb, sigma0)
        group_kl = plain_group_kl
        scale = 1.0
        if prior == "ss-gl":
            s_tau = softplus(p["tau_rho"])
            A = (m + 1) / 2
            kl = kl + anp.sum(e_log_lognormal_q(p["tau_mu"], s_tau)
                              - e_log_gamma_p(p["tau_mu"], s_tau, A, e_log_rate, e_rate))
            if centred:
                e_inv = anp.exp(-p["tau_mu"] + s_tau**2 / 2)
                group_kl = (m * anp.log(sigma0) + 0.5 * m * p["tau_mu"] - log_sig - 0.5 * m
                            + sq * e_inv / (2 * sigma0**2))
            else:
                scale = anp.sqrt(anp.exp(p["tau_mu"] + s_tau * noise[f"{l}.eps_tau"]))
        if prior == "ss-ghs":
            kl = kl + half_cauchy_kl(p, "tau_a", "tau_b", cfg["b_loc"])
            s_a, s_b = softplus(p["tau_a_rho"]), softplus(p["tau_b_rho"])
            if sampled:
                st = s_glob * anp.exp((p["tau_a_mu"] + p["tau_b_mu"]) / 2
                                      + 0.5 * anp.sqrt(s_a**2 + s_b**2) * noise[f"{l}.eps_tau"])
            if centred:
                M = p["tau_a_mu"] + p["tau_b_mu"] + params["s_a_mu"] + params["s_b_mu"]
                var = s_a**2 + s_b**2 + s_ga**2 + s_gb**2
                if math.isinf(c):
                    e_log_v, e_inv = M, anp.exp(-M + var / 2)
                else:
                    if cfg["expectation"] == "one-sample":
                        e_log_c2_plus = anp.mean(anp.log(c**2 + st**2), axis=0)
                    else:
                        xk, wk = np.polynomial.hermite.hermgauss(cfg.get("n_quadrature", 64))
                        V = M[:, None] + anp.sqrt(2 * var)[:, None] * xk[None, :]
                        e_log_c2_plus = anp.sum(wk * anp.log(c**2 + anp.exp(V)), axis=1) / math.sqrt(math.pi)
                    e_log_v = 2 * math.log(c) + M - e_log_c2_plus
                    e_inv = anp.exp(-M + var / 2) + 1 / c**2
                group_kl = m * anp.log(sigma0) + 0.5 * m * e_log_v - log_sig - 0.5 * m + sq * e_inv / (2 * sigma0**2)
            else:
                scale = st if math.isinf(c) else c * st / anp.sqrt(c**2 + st**2)
        mult = scale
        if spike and l < n_layers - 1:
            theta = p["theta"]
            z = indicator(theta, noise[f"{l}.u"], cfg["temperature"], cfg["relaxation"])
            mult = z * scale
            # log lam and log(1 - lam) come from the schedule (tested on its own): with lam = 1 - 1e-8
            # (tiny layers under the paper schedule) a naive log(1 - lam) would lose half the digits.
            g, (log_lam, log_1m_lam) = sigmoid(theta), cfg["log_lams"][l]
            kl = kl + anp.sum(g * (anp.log(g) - log_lam) + (1 - g) * (anp.log(1 - g) - log_1m_lam))
            kl = kl + anp.sum(g * group_kl)
        else:
            kl = kl + anp.sum(group_kl)
        if not isinstance(mult, float):
            W, b = mult[:, None, :] * W, mult * b
        a = anp.einsum("bi,sij->sbj" if h.ndim == 2 else "sbi,sij->sbj", h, W) + b[:, None, :]
        h = act(a) if l < n_layers - 1 else a
    S, B, K = h.shape
    if cfg["likelihood"] == "gaussian":
        log_se = params["log_sigma_e"] if cfg["sigma_e"] is None else anp.log(cfg["sigma_e"])
        yy = y.reshape(B, K)
        nll = anp.sum(0.5 * anp.log(2 * anp.pi) + log_se + (yy - h) ** 2 / (2 * anp.exp(2 * log_se))) / (S * B)
    else:
        shift = getval(anp.max(h, axis=-1, keepdims=True))      # the constant shift leaves log-softmax unchanged
        logp = h - shift - anp.log(anp.sum(anp.exp(h - shift), axis=-1, keepdims=True))
        nll = -anp.sum(logp[:, anp.arange(B), y]) / (S * B)
    return nll + kl / n_data


def model_config(model, n_data: int) -> dict:
    """The ``cfg`` of :func:`oracle_loss` for a ``refimpl.NodeSparseBNN``, read from its public attributes."""
    from refimpl.schedules import inclusion_log_probs
    prior = model.prior
    log_lams = inclusion_log_probs(model.widths, prior.lam, n_data, prior.C, prior.kappa) if prior.spike else []
    cfg = dict(widths=model.widths, prior=model.prior_name, likelihood=model.likelihood,
               activation=model.activation.name, relaxation=prior.relaxation,
               temperature=prior.temperature, sigma0=prior.sigma0, log_lams=log_lams,
               sigma_e=None if model.log_sigma_e is None else float(np.exp(model.log_sigma_e)))
    if model.prior_name in ("ss-gl", "ss-ghs"):
        cfg["parameterisation"] = "centred" if prior.hyper.centred else "non-centred"
    if model.prior_name == "ss-gl":
        cfg.update(lam2_shape=prior.hyper.lam2_shape, lam2_rate=prior.hyper.lam2_rate)
    if model.prior_name == "ss-ghs":
        h = prior.hyper
        cfg.update(c=h.c, b_loc=h.b_loc, b_glob=h.b_glob, n_quadrature=h.n_quadrature,
                   expectation="one-sample" if h.one_sample else "quadrature")
    return cfg


def oracle_loss_and_grad(cfg, params, x, y, noise, n_data):
    keys = list(params)

    def f(values):
        return oracle_loss(cfg, dict(zip(keys, values)), x, y, noise, n_data)

    values = [params[k] for k in keys]
    return f(values), dict(zip(keys, grad(f)(values)))
