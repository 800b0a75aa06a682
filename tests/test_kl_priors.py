"""Each KL part of SS-GL and SS-GHS against Monte Carlo (>= 2e5 draws, within 5 standard errors),
including scales b != 1 where the authors' (Louizos et al.) Gamma form is wrong, and the Gauss-Hermite
expectation against adaptive quadrature to 1e-10."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from refimpl import NodeSparseBNN
from refimpl.priors.scales import (expected_softplus, hermite_rule, kl_half_cauchy_rho, kl_lognormal_gamma_rho,
                                   kl_lognormal_invgamma_rho, scale_from_log_variance)
from refimpl.stable import softplus

N_MC = 200_000
mus, rhos = st.floats(-1.5, 1.5), st.floats(-2.0, 0.5)


def _inv_softplus(s):
    return math.log(math.expm1(s))


def _check_mc(closed, samples):
    """|closed - mean| <= 5 SE, and the SE is small enough for the check to mean something."""
    mean, se = float(np.mean(samples)), float(np.std(samples) / math.sqrt(samples.size))
    assert abs(closed - mean) <= 5 * se, (closed, mean, se)
    return se


@pytest.mark.slow
@settings(max_examples=8)
@given(mu=mus, rho=rhos, shape=st.floats(0.5, 20.0), lam_mu=mus, lam_rho=rhos)
def test_gl_tau_kl_expected_over_lambda(mu, rho, shape, lam_mu, lam_rho):
    """(KL-6, GL-3): E_{q(lam2)} KL(LogNormal || Gamma(shape, rate lam2/2)), jointly by Monte Carlo."""
    rng = np.random.default_rng(abs(hash((mu, rho, shape))) % 2**32)
    s, s_lam = float(softplus(np.array(rho))), float(softplus(np.array(lam_rho)))
    x = np.exp(mu + s * rng.standard_normal(N_MC))
    lam2 = np.exp(lam_mu + s_lam * rng.standard_normal(N_MC))
    log_q = stats.lognorm(s, scale=math.exp(mu)).logpdf(x)
    log_p = stats.gamma(shape, scale=2.0 / lam2).logpdf(x)
    e_rate = 0.5 * math.exp(lam_mu + 0.5 * s_lam**2)
    kl = kl_lognormal_gamma_rho(np.array(mu), np.array(rho), shape, lam_mu - math.log(2.0), e_rate)[0]
    _check_mc(float(kl), log_q - log_p)


@pytest.mark.slow
@settings(max_examples=8)
@given(lam_mu=mus, lam_rho=rhos, shape=st.floats(0.5, 10.0), rate=st.floats(0.2, 5.0))
def test_gl_lambda_kl_through_the_model(lam_mu, lam_rho, shape, rate):
    """(GL-4) ``kl_lam`` as the SS-GL prior computes it, from its (mu, rho) parameters and any Gamma(shape, rate)
    hyper-prior: KL(LogNormal || Gamma) by Monte Carlo."""
    model = NodeSparseBNN([3, 2, 1], prior="ss-gl", lam2_shape=shape, lam2_rate=rate, lam=0.5)
    params = model.init_params(np.random.default_rng(0))
    params["lam_mu"], params["lam_rho"] = np.array(lam_mu), np.array(lam_rho)
    parts, _ = model.prior.family.kl(model.prior, params)
    rng = np.random.default_rng(abs(hash((lam_mu, lam_rho, shape, rate))) % 2**32)
    s = float(softplus(np.array(lam_rho)))
    lam2 = np.exp(lam_mu + s * rng.standard_normal(N_MC))
    mc = stats.lognorm(s, scale=math.exp(lam_mu)).logpdf(lam2) - stats.gamma(shape, scale=1.0 / rate).logpdf(lam2)
    _check_mc(float(parts["kl_lam"]), mc)


@pytest.mark.slow
@settings(max_examples=8)
@given(mu_a=mus, rho_a=rhos, mu_b=mus, rho_b=rhos, b_scale=st.floats(0.2, 4.0))
def test_half_cauchy_factor_kls_over_drawn_parameters(mu_a, rho_a, mu_b, rho_b, b_scale):
    """(KL-7) over hypothesis-drawn variational parameters and scales b, Monte Carlo within 5 SE."""
    rng = np.random.default_rng(abs(hash((mu_a, rho_a, mu_b, rho_b, b_scale))) % 2**32)
    s_a, s_b = float(softplus(np.array(rho_a))), float(softplus(np.array(rho_b)))
    a = np.exp(mu_a + s_a * rng.standard_normal(N_MC))
    b = np.exp(mu_b + s_b * rng.standard_normal(N_MC))
    mc = (stats.lognorm(s_a, scale=math.exp(mu_a)).logpdf(a) - stats.gamma(0.5, scale=b_scale**2).logpdf(a)
          + stats.lognorm(s_b, scale=math.exp(mu_b)).logpdf(b) - stats.invgamma(0.5, scale=1.0).logpdf(b))
    kl, _ = kl_half_cauchy_rho(np.array(mu_a), np.array(rho_a), np.array(mu_b), np.array(rho_b), b_scale)
    _check_mc(float(kl), mc)


@pytest.mark.slow
@pytest.mark.parametrize("b_scale", [0.25, 0.5, 1.0, 3.0])
def test_half_cauchy_factor_kls_and_the_authors_form(b_scale):
    """(KL-7) for b != 1, and the authors' Louizos et al. Gamma form, which matches only at b = 1."""
    rng = np.random.default_rng(int(100 * b_scale))
    mu_a, s_a, mu_b, s_b = 0.3, 0.4, -0.2, 0.7
    a = np.exp(mu_a + s_a * rng.standard_normal(N_MC))
    b = np.exp(mu_b + s_b * rng.standard_normal(N_MC))
    mc = (stats.lognorm(s_a, scale=math.exp(mu_a)).logpdf(a) - stats.gamma(0.5, scale=b_scale**2).logpdf(a)
          + stats.lognorm(s_b, scale=math.exp(mu_b)).logpdf(b) - stats.invgamma(0.5, scale=1.0).logpdf(b))
    kl, _ = kl_half_cauchy_rho(np.array(mu_a), np.array(_inv_softplus(s_a)), np.array(mu_b),
                               np.array(_inv_softplus(s_b)), b_scale)
    _check_mc(float(kl), mc)
    kl_a_exact = float(kl_lognormal_gamma_rho(np.array(mu_a), np.array(_inv_softplus(s_a)), 0.5,
                                              -2 * math.log(b_scale), b_scale**-2)[0])
    louizos = -math.log(b_scale) + math.exp(mu_a + s_a**2 / 2) / b_scale - 0.5 * (mu_a + 2 * math.log(s_a) + 1 + math.log(2))
    assert (abs(louizos - kl_a_exact) < 1e-12) == (b_scale == 1.0)


def _centred_model(prior, widths, **hyper):
    model = NodeSparseBNN(widths, prior=prior, parameterisation="centred", lam=0.5, **hyper)
    rng = np.random.default_rng(5)
    params = model.init_params(rng)
    for k in params:                      # spread the variational parameters out
        if k.endswith("mu"):
            params[k] = params[k] + 0.5 * rng.standard_normal(params[k].shape)
        elif k.endswith("rho"):
            params[k] = rng.uniform(-2.0, 0.0, size=params[k].shape)
        elif k.endswith("theta"):
            params[k] = np.full(params[k].shape, 40.0)   # gamma = 1 - 4e-18: kl_w is the plain sum
    return model, params, rng


def _mc_weight_kl(params, widths, rng, draw_log_v, sigma0=1.0):
    """Monte Carlo of sum over nodes of E[log q(w) - log N(w; 0, sigma0^2 v)], v from draw_log_v."""
    total = np.zeros(N_MC)
    for l in range(len(widths) - 1):
        for kind in ("w", "b"):
            mu, sig = params[f"{l}.{kind}_mu"], softplus(params[f"{l}.{kind}_rho"])
            mu, sig = mu.reshape(-1, widths[l + 1]), sig.reshape(-1, widths[l + 1])
            for j in range(widths[l + 1]):
                log_v = draw_log_v(l, j, total.size)
                w = mu[:, j] + sig[:, j] * rng.standard_normal((total.size, mu.shape[0]))
                log_q = stats.norm(mu[:, j], sig[:, j]).logpdf(w).sum(axis=1)
                log_p = stats.norm(0.0, sigma0 * np.exp(0.5 * log_v)[:, None]).logpdf(w).sum(axis=1)
                total += log_q - log_p
    return total


@pytest.mark.slow
def test_centred_gl_weight_kl():
    """(KL-5, GL-2): weights against N(0, sigma0^2 tau^2 I) with tau^2 log-normal."""
    widths = [3, 2, 1]
    model, params, rng = _centred_model("ss-gl", widths)
    terms = model.loss_and_grad(params, np.zeros((1, 3)), np.zeros(1), model.sample_noise(rng), 100)[2]

    def log_v(l, j, n):
        return params[f"{l}.tau_mu"][j] + softplus(params[f"{l}.tau_rho"][j]) * rng.standard_normal(n)

    _check_mc(float(terms["kl_w"]), _mc_weight_kl(params, widths, rng, log_v))


@pytest.mark.slow
@pytest.mark.parametrize("c", [0.7, 1.0, math.inf])
def test_centred_ghs_weight_kl(c):
    """(KL-5, GHS-2): weights against N(0, sigma0^2 tt^2 I), tt^2 = c^2 s^2 tau^2/(c^2 + s^2 tau^2)."""
    widths = [2, 3, 1]
    model, params, rng = _centred_model("ss-ghs", widths, c=c, b_loc=0.5, b_glob=2.0)
    terms = model.loss_and_grad(params, np.zeros((1, 2)), np.zeros(1), model.sample_noise(rng), 100)[2]

    def log_v_node(l, j, n):
        mus_ = [params[f"{l}.tau_a_mu"][j], params[f"{l}.tau_b_mu"][j], params["s_a_mu"], params["s_b_mu"]]
        rhos_ = [params[f"{l}.tau_a_rho"][j], params[f"{l}.tau_b_rho"][j], params["s_a_rho"], params["s_b_rho"]]
        V = sum(float(m) + float(softplus(np.array(r))) * rng.standard_normal(n) for m, r in zip(mus_, rhos_))
        return V if math.isinf(c) else 2 * math.log(c) + V - np.logaddexp(2 * math.log(c), V)

    _check_mc(float(terms["kl_w"]), _mc_weight_kl(params, widths, rng, log_v_node))


def test_inverse_gamma_factor_kl_matches_public_api():
    """(KL-4) in rho form equals refimpl.kl's public function at s = softplus(rho)."""
    from refimpl.kl import kl_lognormal_invgamma
    mu, rho = np.array([0.3, -1.0]), np.array([-0.5, 1.2])
    got = kl_lognormal_invgamma_rho(mu, rho, 0.5, 1.0)[0]
    np.testing.assert_allclose(got, kl_lognormal_invgamma(mu, softplus(rho), 0.5, 1.0), rtol=1e-13)


@settings(max_examples=60)
@given(M=st.floats(-10, 10), Sigma=st.floats(0.0, 2.0))
def test_gauss_hermite_expected_softplus_against_adaptive_quadrature(M, Sigma):
    """(H-2) with the default 64 nodes: within 1e-10 of scipy.integrate.quad for Sigma <= 2 (the rule's
    error grows with Sigma: docs/derivations.md tabulates it)."""
    nodes, weights = hermite_rule(64)
    Q, dQ_dM, _ = expected_softplus(np.array([M]), np.array([Sigma]), nodes, weights)
    if Sigma < 1e-3:   # too narrow for adaptive quadrature: Taylor, E f = f(M) + f''(M) Sigma^2/2 + O(Sigma^4)
        sig = 1.0 / (1.0 + math.exp(-M))
        ref = float(softplus(np.array(M))) + 0.5 * sig * (1.0 - sig) * Sigma**2
    else:
        f = lambda v: float(softplus(np.array(v))) * stats.norm.pdf(v, M, Sigma)   # noqa: E731
        ref = integrate.quad(f, M - 40 * Sigma, M + 40 * Sigma, points=[0.0] if abs(M) < 40 * Sigma else None,
                             epsabs=1e-13, epsrel=1e-13, limit=400)[0]
    assert abs(Q[0] - ref) <= 1e-10
    assert 0.0 <= dQ_dM[0] <= 1.0 + 1e-12   # E sigmoid(V)


# =============================================================================================
# Pinned values at 30 digits (mpmath) for refimpl.priors.scales: values by quadrature over the log-normal, gradients
# by mpmath's differentiation of those quadratures' closed forms, which are first matched to the quadrature
# =============================================================================================
DPS = 30


def _mp_softplus(rho):
    return mp.log(1 + mp.exp(rho))


def _mp_lognormal_kl(mu, s, log_p):
    """E_q[log q - log p], q = LogNormal(mu, s^2), by tanh-sinh quadrature over z, log x = mu + s z."""
    def integrand(z):
        log_x = mu + s * z
        return mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi) * (-log_x - mp.log(s * mp.sqrt(2 * mp.pi)) - z * z / 2
                                                          - log_p(log_x))
    return mp.quad(integrand, [-mp.inf, 0, mp.inf])


def _gamma_closed(mu, s, shape, log_rate, rate):
    """(KL-3/KL-6) at 30 digits:
    -shape mu - log s - 1/2 - log(2 pi)/2 - shape E log rate + lgamma(shape) + E rate E x."""
    return (-shape * mu - mp.log(s) - mp.mpf(1) / 2 - mp.log(2 * mp.pi) / 2 - shape * log_rate + mp.loggamma(shape)
            + rate * mp.exp(mu + s * s / 2))


def _invgamma_closed(mu, s, shape, scale):
    return (shape * mu - mp.log(s) - mp.mpf(1) / 2 - mp.log(2 * mp.pi) / 2 - shape * mp.log(scale) + mp.loggamma(shape)
            + scale * mp.exp(-mu + s * s / 2))


@pytest.mark.parametrize("mu, rho, shape, rate", [(0.3, -0.5, 0.5, 1.0), (-1.2, 0.8, 3.0, 0.4), (0.7, -2.5, 20.0, 6.0)])
def test_lognormal_gamma_rho_pinned(mu, rho, shape, rate):
    """(KL-6) for a fixed rate (E log rate = log rate, E rate = rate), with (kl, d_mu, d_rho, d_e_log_rate, d_e_rate);
    then a random rate: the KL is affine in (E log rate, E rate), so the mean of two fixed-rate KLs is the KL at the
    mean of their (log rate, rate). Tolerance 1e-12 relative to 1 + |value| (float64 sums of terms up to lgamma(20))."""
    with mp.workdps(DPS):
        m, r, a, b = mp.mpf(mu), mp.mpf(rho), mp.mpf(shape), mp.mpf(rate)
        s = _mp_softplus(r)
        ref = _mp_lognormal_kl(m, s, lambda lx: a * mp.log(b) - mp.loggamma(a) + (a - 1) * lx - b * mp.exp(lx))
        assert abs(_gamma_closed(m, s, a, mp.log(b), b) - ref) < mp.mpf(10) ** -20
        refs = [ref, mp.diff(lambda t: _gamma_closed(t, s, a, mp.log(b), b), m),
                mp.diff(lambda t: _gamma_closed(m, _mp_softplus(t), a, mp.log(b), b), r),
                mp.diff(lambda t: _gamma_closed(m, s, a, t, b), mp.log(b)),
                mp.diff(lambda t: _gamma_closed(m, s, a, mp.log(b), t), b)]
    got = kl_lognormal_gamma_rho(np.array(mu), np.array(rho), shape, math.log(rate), rate)
    for g, r_ in zip(got, refs):
        assert abs(float(g) - float(r_)) <= 1e-12 * (1 + abs(float(r_)))
    kl2 = kl_lognormal_gamma_rho(np.array(mu), np.array(rho), shape, math.log(2 * rate), 2 * rate)[0]
    mixed = kl_lognormal_gamma_rho(np.array(mu), np.array(rho), shape, math.log(rate) + 0.5 * math.log(2),
                                   1.5 * rate)[0]
    assert float(mixed) == pytest.approx(0.5 * (float(got[0]) + float(kl2)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("mu, rho, shape, scale", [(0.3, -0.5, 0.5, 1.0), (-1.0, 1.2, 1.5, 0.2), (2.0, -3.0, 4.0, 3.0)])
def test_lognormal_invgamma_rho_pinned(mu, rho, shape, scale):
    """(KL-4) in rho form with (kl, d_mu, d_rho); 1e-12 relative to 1 + |value| as above."""
    with mp.workdps(DPS):
        m, r, a, b = mp.mpf(mu), mp.mpf(rho), mp.mpf(shape), mp.mpf(scale)
        s = _mp_softplus(r)
        ref = _mp_lognormal_kl(m, s, lambda lx: a * mp.log(b) - mp.loggamma(a) - (a + 1) * lx - b * mp.exp(-lx))
        assert abs(_invgamma_closed(m, s, a, b) - ref) < mp.mpf(10) ** -20
        refs = [ref, mp.diff(lambda t: _invgamma_closed(t, s, a, b), m),
                mp.diff(lambda t: _invgamma_closed(m, _mp_softplus(t), a, b), r)]
    for g, r_ in zip(kl_lognormal_invgamma_rho(np.array(mu), np.array(rho), shape, scale), refs):
        assert abs(float(g) - float(r_)) <= 1e-12 * (1 + abs(float(r_)))


@pytest.mark.parametrize("b_scale", [0.25, 1.0, 3.0])
def test_half_cauchy_rho_pinned(b_scale):
    """(KL-7) a ~ Gamma(1/2, rate 1/b^2), b ~ InvGamma(1/2, 1) (tau = sqrt(a b) ~ C+(0, b_scale)): the sum of the two
    quadratures, and the four gradients; arrays of two nodes, as the model passes them."""
    mu_a, rho_a = np.array([0.3, -1.0]), np.array([-0.5, 0.4])
    mu_b, rho_b = np.array([-0.2, 1.1]), np.array([0.9, -1.5])
    kl, grads = kl_half_cauchy_rho(mu_a, rho_a, mu_b, rho_b, b_scale)
    assert kl.shape == (2,) and all(np.shape(g) == (2,) for g in grads)
    with mp.workdps(DPS):
        rate = 1 / mp.mpf(b_scale) ** 2
        half = mp.mpf(1) / 2
        for j in range(2):
            args = [mp.mpf(float(v[j])) for v in (mu_a, rho_a, mu_b, rho_b)]

            def total(ma, ra, mb, rb):
                return (_gamma_closed(ma, _mp_softplus(ra), half, mp.log(rate), rate)
                        + _invgamma_closed(mb, _mp_softplus(rb), half, mp.mpf(1)))

            ref = (_mp_lognormal_kl(args[0], _mp_softplus(args[1]), lambda lx: half * mp.log(rate) - mp.loggamma(half)
                                    - half * lx - rate * mp.exp(lx))
                   + _mp_lognormal_kl(args[2], _mp_softplus(args[3]), lambda lx: -mp.loggamma(half) - 3 * half * lx
                                      - mp.exp(-lx)))
            assert abs(total(*args) - ref) < mp.mpf(10) ** -20
            assert abs(float(kl[j]) - float(ref)) <= 1e-12 * (1 + abs(float(ref)))
            for i, g in enumerate(grads):
                d = mp.diff(lambda t: total(*(args[:i] + [t] + args[i + 1:])), args[i])
                assert abs(float(g[j]) - float(d)) <= 1e-12 * (1 + abs(float(d)))


@pytest.mark.parametrize("V", [-40.0, -3.0, 0.0, 2.5, 60.0])
@pytest.mark.parametrize("c", [math.inf, 2.0, 0.1])
def test_scale_from_log_variance_pinned(V, c):
    """(H-1) t = e^{V/2} (plain) or c e^{V/2} / sqrt(c^2 + e^V), differentiated by hand: dt/dV = t/2 (plain) or
    (t/2) c^2 / (c^2 + e^V). 1e-13 relative for t (a softplus and an exp); 1e-11 for dt/dV, whose exp(2 log c - V)
    at V = 60 carries the absolute round-off of its argument (~60 ulp) as relative error."""
    with mp.workdps(DPS):
        v = mp.mpf(V)
        ref = mp.exp(v / 2) if math.isinf(c) else c * mp.exp(v / 2) / mp.sqrt(c * c + mp.exp(v))
        d_ref = ref / 2 if math.isinf(c) else ref / 2 * c * c / (c * c + mp.exp(v))
    t, dt = scale_from_log_variance(np.array([V]), c)
    assert float(t[0]) == pytest.approx(float(ref), rel=1e-13)
    assert float(dt[0]) == pytest.approx(float(d_ref), rel=1e-11, abs=1e-300)


def test_hermite_rule_moments():
    """(H-2) the scaled rule integrates against N(0, 1): weights sum to 1, E Z^2 = 1, E Z^4 = 3, E Z^6 = 15, odd
    moments 0 (exact for polynomials of degree <= 2n - 1; round-off 1e-14)."""
    for n in (4, 12, 64):
        z, w = hermite_rule(n)
        assert z.shape == w.shape == (n,)
        for k, moment in [(0, 1.0), (1, 0.0), (2, 1.0), (3, 0.0), (4, 3.0), (6, 15.0)]:
            assert abs(float(w @ z ** k) - moment) <= 1e-13 * max(1.0, moment)


@pytest.mark.parametrize("M, Sigma", [(0.0, 1.0), (-3.0, 0.5), (2.0, 1.8), (12.0, 0.2)])
def test_expected_softplus_and_both_derivatives_pinned(M, Sigma):
    """(H-2) Q = E softplus(M + Sigma Z), dQ/dM = E sigmoid(M + Sigma Z), dQ/dSigma = E[sigmoid(M + Sigma Z) Z] by
    mpmath quadrature; the 64-node rule is within 1e-10 for Sigma <= 2 (docs/derivations.md tabulates it)."""
    nodes, weights = hermite_rule(64)
    Q, dQ_dM, dQ_dS = expected_softplus(np.array([M, M]), np.array([Sigma, Sigma]), nodes, weights)
    assert Q.shape == dQ_dM.shape == dQ_dS.shape == (2,)
    with mp.workdps(DPS):
        def expect(f):
            density = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)     # noqa: E731
            return mp.quad(lambda z: density(z) * f(M + Sigma * z, z), [-mp.inf, 0, mp.inf])
        refs = [expect(lambda v, z: mp.log(1 + mp.exp(v))), expect(lambda v, z: 1 / (1 + mp.exp(-v))),
                expect(lambda v, z: z / (1 + mp.exp(-v)))]
    for got, ref in zip((Q, dQ_dM, dQ_dS), refs):
        assert abs(float(got[1]) - float(ref)) <= 1e-10
