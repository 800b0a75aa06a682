"""Tests of the closed-form KL divergences in ``refimpl.kl`` (KL-1..KL-4) and their gradients.

Oracles, all independent of the code under test (STYLE principle 6):

* invariants by hypothesis: KL >= 0, KL = 0 at q = p, the exact minimum of the log-normal KLs;
* Monte Carlo estimates of ``E_q[log q - log p]`` with ``scipy.stats`` log densities (slow), and the
  same expectation by deterministic adaptive quadrature for the log-normal KLs;
* fixed numbers from the project notes;
* central finite differences along random directions in all arguments for every ``*_grad``
  (``oracles.gradcheck.check_grads``);
* the strict array-API backend compared with NumPy on identical inputs.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
import mpmath as mp
import scipy.stats as stats
from scipy.integrate import quad
from hypothesis import given
from hypothesis import strategies as st

from oracles.gradcheck import check_grads
from refimpl.backend import get_backend
from refimpl.kl import (
    kl_bernoulli,
    kl_bernoulli_grad,
    kl_bernoulli_logit,
    kl_gaussian,
    kl_gaussian_grad,
    kl_lognormal_gamma,
    kl_lognormal_gamma_grad,
    kl_lognormal_invgamma,
    kl_lognormal_invgamma_grad,
)

EPS = np.finfo(np.float64).eps

# Parameter ranges drawn by hypothesis.
MU = (-3.0, 3.0)
S = (0.05, 3.0)  # log-normal s and Gaussian sigma, sigma0
SHAPE = (0.2, 10.0)
RATE = (0.1, 10.0)  # Gamma rate and InvGamma scale
PROB = (1e-6, 1.0 - 1e-6)  # Bernoulli gamma and lam
PROB_FD = (1e-3, 1.0 - 1e-3)  # see test_kl_bernoulli_grad_matches_finite_differences

# KL >= -ROUNDOFF_KL: near q = p the closed forms add O(1) terms that cancel, leaving a few ulp.
ROUNDOFF_KL = 1e-12


def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def _arrays(draw, *ranges):
    """One float64 array of a common drawn length (1..4) per ``(lo, hi)`` range."""
    n = draw(st.integers(1, 4))
    return tuple(np.array(draw(st.lists(_floats(lo, hi), min_size=n, max_size=n))) for lo, hi in ranges)


# =============================================================================================
# KL >= 0 and KL = 0 at q = p
# =============================================================================================
@given(_arrays(PROB, PROB))
def test_kl_bernoulli_nonnegative(args):
    assert np.all(kl_bernoulli(*args) >= -ROUNDOFF_KL)


@given(_arrays(PROB))
def test_kl_bernoulli_zero_when_gamma_equals_lam(args):
    (lam,) = args
    # q = p: each term is x (log x - log x); tolerance is round-off only.
    np.testing.assert_allclose(kl_bernoulli(lam, lam), 0.0, rtol=0, atol=1e-12)


def test_kl_bernoulli_endpoints_use_zero_log_zero():
    lam = np.array([1e-6, 0.3, 0.9])
    # 0 log 0 = 0: KL(Bern(0)||Bern(lam)) = -log(1 - lam), KL(Bern(1)||Bern(lam)) = -log(lam).
    # kl_bernoulli takes log(1 - lam) of the rounded 1 - lam: absolute error ~eps, so atol 4 eps.
    np.testing.assert_allclose(kl_bernoulli(np.zeros(3), lam), -np.log1p(-lam), rtol=1e-14, atol=4 * EPS)
    np.testing.assert_allclose(kl_bernoulli(np.ones(3), lam), -np.log(lam), rtol=1e-14)


@given(_arrays(MU, S, S))
def test_kl_gaussian_nonnegative(args):
    assert np.all(kl_gaussian(*args) >= -ROUNDOFF_KL)


@given(_arrays(S))
def test_kl_gaussian_zero_when_q_equals_p(args):
    (sigma0,) = args
    # q = p (mu = 0, sigma = sigma0): log sigma0 - log sigma0 + 1/2 - 1/2; round-off only.
    np.testing.assert_allclose(kl_gaussian(np.zeros_like(sigma0), sigma0, sigma0), 0.0, rtol=0, atol=1e-12)


@given(_arrays(MU, S, SHAPE, RATE))
def test_kl_lognormal_gamma_nonnegative(args):
    assert np.all(kl_lognormal_gamma(*args) >= -ROUNDOFF_KL)


@given(_arrays(MU, S, SHAPE, RATE))
def test_kl_lognormal_invgamma_nonnegative(args):
    assert np.all(kl_lognormal_invgamma(*args) >= -ROUNDOFF_KL)


# A log-normal is never a Gamma or an inverse Gamma, so there is no q = p and the KL never reaches 0:
# instead of a zero case we check its exact minimum over (mu, s). Setting the (mu, s) gradients of
# (KL-3) to zero gives s*^2 = 1/shape and rate E x = shape, i.e. mu* = log(shape/rate) - 1/(2 shape),
# where KL = lgamma(a) - (a - 1/2) log a + a - log(2 pi)/2 = Binet's remainder of Stirling's series,
# which lies in (0, 1/(12 a)) for every a > 0. (KL-4) is (KL-3) with mu -> -mu (x -> 1/x).
def _lognormal_gamma_argmin(shape, rate):
    return np.log(shape / rate) - 0.5 / shape, 1.0 / np.sqrt(shape)


@given(_arrays(MU, S, SHAPE, RATE))
def test_kl_lognormal_gamma_minimum_is_positive(args):
    mu, s, shape, rate = args
    mu_star, s_star = _lognormal_gamma_argmin(shape, rate)
    kl_min = kl_lognormal_gamma(mu_star, s_star, shape, rate)
    # Round-off of terms of size |lgamma(a)|, a log a <= 25: a few ulp of 25 is < 1e-13.
    assert np.all(kl_min > 0.0)
    assert np.all(kl_min < 1.0 / (12.0 * shape) + 1e-13)
    # Stationary point: the (mu, s) gradients vanish there (round-off only).
    d_mu, d_s, _, _ = kl_lognormal_gamma_grad(mu_star, s_star, shape, rate)
    assert np.all(np.abs(d_mu) <= 1e-12 * (1.0 + shape))
    assert np.all(np.abs(d_s) <= 1e-12 * (1.0 + np.sqrt(shape)))
    # ... and a minimum: any other (mu, s) gives at least as much (round-off only).
    assert np.all(kl_lognormal_gamma(mu, s, shape, rate) >= kl_min - 1e-12)


@given(_arrays(MU, S, SHAPE, RATE))
def test_kl_lognormal_invgamma_minimum_is_positive(args):
    mu, s, shape, scale = args
    mu_star, s_star = _lognormal_gamma_argmin(shape, scale)
    mu_star = -mu_star  # x -> 1/x maps LogNormal(mu, s^2) to LogNormal(-mu, s^2) and InvGamma to Gamma
    kl_min = kl_lognormal_invgamma(mu_star, s_star, shape, scale)
    # Same bounds and round-off as for the Gamma case above.
    assert np.all(kl_min > 0.0)
    assert np.all(kl_min < 1.0 / (12.0 * shape) + 1e-13)
    assert np.all(kl_lognormal_invgamma(mu, s, shape, scale) >= kl_min - 1e-12)


@given(_arrays(MU, S, SHAPE, RATE))
def test_kl_lognormal_invgamma_is_gamma_of_reciprocal(args):
    mu, s, shape, b = args
    # KL is invariant under x -> 1/x; the two closed forms add the same terms in the same order up to
    # the sign of mu, so they agree to round-off.
    np.testing.assert_allclose(kl_lognormal_invgamma(mu, s, shape, b), kl_lognormal_gamma(-mu, s, shape, b),
                               rtol=1e-13, atol=1e-13)


# =============================================================================================
# Fixed numbers
# =============================================================================================
@pytest.mark.parametrize(
    "fn, args, expected",
    [
        (kl_lognormal_gamma, (0.3, 0.4, 0.5, 1.0), 1.38200),
        (kl_lognormal_gamma, (0.3, 0.4, 0.5, 4.0), 5.07571),
        (kl_lognormal_invgamma, (0.3, 0.4, 0.5, 1.0), 1.02223),
        (kl_lognormal_gamma, (0.3, 0.4, 4.0, 2.0), 0.24109),
    ],
)
def test_kl_lognormal_known_values(fn, args, expected):
    # Independent numbers from the project notes, given to 5-6 digits: tolerance 1e-5.
    assert abs(float(fn(*args)) - expected) <= 1e-5
    # The same value through NumPy arrays (the special-function path of the backend); round-off only.
    arrays = [np.array([a]) for a in args]
    np.testing.assert_allclose(fn(*arrays), [float(fn(*args))], rtol=1e-14)


@pytest.mark.parametrize("mu, s", [(0.3, 0.4), (-1.2, 0.05), (2.0, 1.5)])
def test_kl_lognormal_gamma_matches_louizos_form_at_b_equal_one(mu, s):
    # Louizos et al. (2017): -log b + E[x]/b - (mu + 2 log s + 1 + log 2)/2 for Gamma(1/2, rate 1/b^2),
    # which is exact at b = 1 (lgamma(1/2) = log(pi)/2). Different formula, same value: round-off only.
    louizos = math.exp(mu + 0.5 * s * s) - 0.5 * (mu + 2.0 * math.log(s) + 1.0 + math.log(2.0))
    assert kl_lognormal_gamma(mu, s, 0.5, 1.0) == pytest.approx(louizos, rel=1e-13, abs=1e-13)


# =============================================================================================
# Monte Carlo (and quadrature): E_q[log q - log p] with scipy.stats log densities
# =============================================================================================
N_MC = 400_000

GAMMA_CASES = [  # (mu, s, shape, rate)
    (0.3, 0.4, 0.5, 1.0),  # Gamma(1/2, rate 1): the half-Cauchy factor with b = 1
    (-1.0, 0.6, 0.5, 4.0),  # Gamma(1/2, rate 1/b^2) with b = 1/2
    (1.2, 0.5, 0.5, 0.25),  # ... with b = 2
    (0.5, 0.3, 3.0, 0.7),  # Gamma((m+1)/2, rate) with m = 5
    (-0.4, 0.8, 3.0, 2.5),  # Gamma((m+1)/2, rate) with m = 5
    (0.3, 0.4, 4.0, 2.0),  # Gamma(4, rate 2)
]
INVGAMMA_CASES = [  # (mu, s, shape, scale)
    (0.3, 0.4, 0.5, 1.0),  # InvGamma(1/2, 1)
    (-0.5, 0.7, 0.5, 0.25),  # InvGamma(1/2, scale != 1)
    (0.8, 0.5, 3.0, 4.0),
    (-1.0, 0.3, 1.5, 0.2),
]


def _mc(log_ratio):
    """Mean and standard error of the Monte Carlo draws ``log q - log p``."""
    return float(np.mean(log_ratio)), float(np.std(log_ratio, ddof=1) / math.sqrt(log_ratio.size))


def _assert_within_5_se(closed, draws):
    mean, se = _mc(draws)
    # 5 standard errors: a false alarm has probability ~6e-7 per case (seeds are fixed anyway).
    assert abs(closed - mean) <= 5.0 * se, (closed, mean, se)
    # The check must be sharp enough to see a 5% error in the closed form.
    assert 5.0 * se <= 0.05 * abs(closed), (closed, se)


@pytest.mark.slow
@pytest.mark.parametrize("mu, s, shape, rate", GAMMA_CASES)
def test_kl_lognormal_gamma_monte_carlo(mu, s, shape, rate):
    rng = np.random.default_rng(20240301)
    x = rng.lognormal(mean=mu, sigma=s, size=N_MC)
    draws = stats.lognorm.logpdf(x, s, scale=math.exp(mu)) - stats.gamma.logpdf(x, shape, scale=1.0 / rate)
    _assert_within_5_se(float(kl_lognormal_gamma(mu, s, shape, rate)), draws)


@pytest.mark.slow
@pytest.mark.parametrize("mu, s, shape, scale", INVGAMMA_CASES)
def test_kl_lognormal_invgamma_monte_carlo(mu, s, shape, scale):
    rng = np.random.default_rng(20240302)
    x = rng.lognormal(mean=mu, sigma=s, size=N_MC)
    draws = stats.lognorm.logpdf(x, s, scale=math.exp(mu)) - stats.invgamma.logpdf(x, shape, scale=scale)
    _assert_within_5_se(float(kl_lognormal_invgamma(mu, s, shape, scale)), draws)


@pytest.mark.slow
@pytest.mark.parametrize("gamma, lam", [(0.3, 0.1), (0.9, 2e-3), (0.02, 0.5), (0.5, 0.2)])
def test_kl_bernoulli_monte_carlo(gamma, lam):
    rng = np.random.default_rng(20240303)
    z = (rng.random(N_MC) < gamma).astype(np.float64)
    draws = stats.bernoulli.logpmf(z, gamma) - stats.bernoulli.logpmf(z, lam)
    _assert_within_5_se(float(kl_bernoulli(gamma, lam)), draws)


@pytest.mark.slow
@pytest.mark.parametrize("mu, sigma, sigma0", [(0.5, 0.3, 1.0), (-2.0, 1.5, 0.7), (0.1, 0.05, 2.0)])
def test_kl_gaussian_monte_carlo(mu, sigma, sigma0):
    rng = np.random.default_rng(20240304)
    w = rng.normal(mu, sigma, size=N_MC)
    draws = stats.norm.logpdf(w, mu, sigma) - stats.norm.logpdf(w, 0.0, sigma0)
    _assert_within_5_se(float(kl_gaussian(mu, sigma, sigma0)), draws)


def _quadrature_kl(mu, s, logpdf_p):
    """``E_q[log q - log p]`` by adaptive quadrature over ``z ~ N(0, 1)``, ``x = exp(mu + s z)``."""

    def integrand(z):
        x = math.exp(mu + s * z)
        return stats.norm.pdf(z) * (stats.lognorm.logpdf(x, s, scale=math.exp(mu)) - logpdf_p(x))

    # |z| > 15 carries N(0,1) mass < 1e-50 times a log ratio polynomial in z: negligible.
    value, _ = quad(integrand, -15.0, 15.0, epsabs=1e-13, epsrel=1e-13, limit=200)
    return value


@pytest.mark.parametrize("mu, s, shape, rate", GAMMA_CASES)
def test_kl_lognormal_gamma_quadrature(mu, s, shape, rate):
    ref = _quadrature_kl(mu, s, lambda x: stats.gamma.logpdf(x, shape, scale=1.0 / rate))
    # Deterministic oracle: quadrature accurate to ~1e-13; 1e-10 leaves room for scipy's log densities.
    assert float(kl_lognormal_gamma(mu, s, shape, rate)) == pytest.approx(ref, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("mu, s, shape, scale", INVGAMMA_CASES)
def test_kl_lognormal_invgamma_quadrature(mu, s, shape, scale):
    ref = _quadrature_kl(mu, s, lambda x: stats.invgamma.logpdf(x, shape, scale=scale))
    # Deterministic oracle: quadrature accurate to ~1e-13; 1e-10 leaves room for scipy's log densities.
    assert float(kl_lognormal_invgamma(mu, s, shape, scale)) == pytest.approx(ref, rel=1e-10, abs=1e-10)


# =============================================================================================
# Gradients against central finite differences, along random directions in all arguments
# =============================================================================================
def _check_grad(f, grad, names, args, **kw):
    """``grad(*args)`` is the gradient of ``sum(f(*args))`` (element-wise ``f``, so entry by entry the partial
    derivatives): ``check_grads`` in the arguments ``names``, its tolerance from the measured truncation and the
    round-off of ``f``."""
    grads = grad(*args)
    assert len(grads) == len(args)
    check_grads(lambda p: f(*(p[k] for k in names)), dict(zip(names, args)), dict(zip(names, grads)), **kw)


@given(_arrays(PROB_FD, PROB_FD))
def test_kl_bernoulli_grad_matches_finite_differences(args):
    # Range [1e-3, 1 - 1e-3]: nearer 0 or 1 the step must shrink with the distance to the boundary and
    # the round-off eps |f| / h grows past the gradient; the logit form used there is checked separately below.
    # Steps of at most 1e-4 of the distance to the boundary keep the truncation (h/x)^2/3 <= 3e-9 relative.
    scale = {name: np.minimum(a, 1.0 - a) for name, a in zip(("gamma", "lam"), args)}
    _check_grad(kl_bernoulli, kl_bernoulli_grad, ("gamma", "lam"), args, h=1e-4, scale=scale)


@given(_arrays(MU, S, S))
def test_kl_gaussian_grad_matches_finite_differences(args):
    _check_grad(kl_gaussian, kl_gaussian_grad, ("mu", "sigma", "sigma0"), args)


@given(_arrays(MU, S, SHAPE, RATE))
def test_kl_lognormal_gamma_grad_matches_finite_differences(args):
    _check_grad(kl_lognormal_gamma, kl_lognormal_gamma_grad, ("mu", "s", "shape", "rate"), args)


@given(_arrays(MU, S, SHAPE, RATE))
def test_kl_lognormal_invgamma_grad_matches_finite_differences(args):
    _check_grad(kl_lognormal_invgamma, kl_lognormal_invgamma_grad, ("mu", "s", "shape", "scale"), args)


@pytest.mark.parametrize(
    "grad, args",
    [
        (kl_bernoulli_grad, (np.full((3, 1), 0.2), np.full((1, 4), 0.4))),
        (kl_gaussian_grad, (np.zeros((3, 1)), np.ones((1, 4)), 2.0)),
        (kl_lognormal_gamma_grad, (np.zeros((3, 1)), np.ones((1, 4)), 0.5, 4.0)),
        (kl_lognormal_invgamma_grad, (np.zeros((3, 1)), np.ones((1, 4)), np.full((3, 4), 2.0), 1.0)),
    ],
)
def test_grads_are_broadcast_to_common_shape(grad, args):
    grads = grad(*args)
    assert len(grads) == len(args)
    assert all(np.shape(g) == (3, 4) for g in grads)


# =============================================================================================
# Bernoulli in the logit theta (KL-1')
# =============================================================================================
THETA = (-30.0, 30.0)


@given(_arrays(THETA, PROB))
def test_kl_bernoulli_logit_matches_kl_bernoulli(args):
    theta, lam = args
    kl, d_theta = kl_bernoulli_logit(theta, np.log(lam), np.log1p(-lam))
    ref = kl_bernoulli(sp.expit(theta), lam)
    # kl_bernoulli forms 1 - sigmoid(theta) by subtraction: absolute error ~ eps times the log terms
    # (<= 45 here), far below 1e-12 (1 + |kl|).
    np.testing.assert_allclose(kl, ref, rtol=1e-12, atol=1e-12)
    assert kl.shape == d_theta.shape == theta.shape


@given(_arrays(THETA, PROB))
def test_kl_bernoulli_logit_d_theta_matches_finite_differences(args):
    theta, lam = args
    log_lam, log_1m_lam = np.log(lam), np.log1p(-lam)

    def kl(t):
        return kl_bernoulli_logit(t, log_lam, log_1m_lam)[0]

    def grad(t):
        return (kl_bernoulli_logit(t, log_lam, log_1m_lam)[1],)

    _check_grad(kl, grad, ("theta",), (theta,))


@pytest.mark.parametrize("lam", [1e-6, 0.01, 0.5, 1.0 - 1e-6])
def test_kl_bernoulli_logit_finite_for_large_theta(lam):
    theta = np.concatenate([np.linspace(-30.0, 30.0, 241), [-30.0, 30.0]])
    kl, d_theta = kl_bernoulli_logit(theta, math.log(lam), math.log1p(-lam))
    assert np.all(np.isfinite(kl)) and np.all(np.isfinite(d_theta))
    assert np.all(kl >= -ROUNDOFF_KL)


# =============================================================================================
# Strict array-API backend (the device path without a GPU) against NumPy
# =============================================================================================
def _strict_inputs():
    rng = np.random.default_rng(7)
    n = 6
    return {
        "mu": rng.uniform(*MU, n),
        "s": rng.uniform(*S, n),
        "sigma0": rng.uniform(*S, n),
        "shape": rng.uniform(*SHAPE, n),
        "rate": rng.uniform(*RATE, n),
        "gamma": rng.uniform(0.01, 0.99, n),
        "lam": rng.uniform(0.01, 0.99, n),
        "theta": rng.uniform(*THETA, n),
    }


STRICT_CASES = [
    (kl_bernoulli, ("gamma", "lam")),
    (kl_bernoulli_grad, ("gamma", "lam")),
    (kl_gaussian, ("mu", "s", "sigma0")),
    (kl_gaussian_grad, ("mu", "s", "sigma0")),
    (kl_lognormal_gamma, ("mu", "s", "shape", "rate")),
    (kl_lognormal_gamma_grad, ("mu", "s", "shape", "rate")),
    (kl_lognormal_invgamma, ("mu", "s", "shape", "rate")),
    (kl_lognormal_invgamma_grad, ("mu", "s", "shape", "rate")),
]


@pytest.mark.parametrize("fn, names", STRICT_CASES, ids=[fn.__name__ for fn, _ in STRICT_CASES])
def test_strict_backend_matches_numpy(fn, names):
    b = get_backend("strict")
    inputs = _strict_inputs()
    ref = fn(*(inputs[k] for k in names))
    out = fn(*(b.asarray(inputs[k]) for k in names))
    refs, outs = (ref, out) if isinstance(ref, tuple) else ((ref,), (out,))
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        assert b.is_backend_array(o)
        # Same float64 arithmetic on both backends: round-off only.
        np.testing.assert_allclose(b.to_numpy(o), r, rtol=1e-12, atol=0)


def test_strict_backend_kl_bernoulli_logit_matches_numpy():
    b = get_backend("strict")
    inputs = _strict_inputs()
    log_lam, log_1m_lam = math.log(0.05), math.log1p(-0.05)
    for o, r in zip(kl_bernoulli_logit(b.asarray(inputs["theta"]), log_lam, log_1m_lam),
                    kl_bernoulli_logit(inputs["theta"], log_lam, log_1m_lam)):
        assert b.is_backend_array(o)
        # Same float64 arithmetic on both backends: round-off only.
        np.testing.assert_allclose(b.to_numpy(o), r, rtol=1e-12, atol=0)


def test_strict_backend_mixed_python_floats():
    # Hyper-parameters given as Python floats next to strict arrays (the usual call from a prior).
    b = get_backend("strict")
    inputs = _strict_inputs()
    mu, s = inputs["mu"], inputs["s"]
    for fn in (kl_lognormal_gamma, kl_lognormal_invgamma):
        out = fn(b.asarray(mu), b.asarray(s), 0.5, 4.0)
        # Same float64 arithmetic on both backends: round-off only.
        np.testing.assert_allclose(b.to_numpy(out), fn(mu, s, 0.5, 4.0), rtol=1e-12, atol=0)
    for o, r in zip(kl_lognormal_gamma_grad(b.asarray(mu), b.asarray(s), 3.0, 0.7),
                    kl_lognormal_gamma_grad(mu, s, 3.0, 0.7)):
        assert b.is_backend_array(o)
        np.testing.assert_allclose(b.to_numpy(o), r, rtol=1e-12, atol=0)


# =============================================================================================
# Pinned values at 30 digits (mpmath): every value by quadrature or from the definition, every gradient by
# mpmath's numerical differentiation of that value (nothing taken from the closed forms under test)
# =============================================================================================
DPS = 30


def _mp_bernoulli(gamma, lam):
    """KL(Bern(gamma) || Bern(lam)) from the definition, 0 log 0 = 0."""
    on = gamma * mp.log(gamma / lam) if gamma > 0 else 0
    off = (1 - gamma) * mp.log((1 - gamma) / (1 - lam)) if gamma < 1 else 0
    return on + off


def _mp_lognormal_kl(mu, s, log_p):
    """E_q[log q(x) - log p(x)] for q = LogNormal(mu, s^2), by tanh-sinh quadrature over z, x = exp(mu + s z)."""
    def integrand(z):
        log_x = mu + s * z
        log_q = -log_x - mp.log(s * mp.sqrt(2 * mp.pi)) - z * z / 2
        return mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi) * (log_q - log_p(log_x))
    return mp.quad(integrand, [-mp.inf, 0, mp.inf])


def _mp_gamma_kl(mu, s, shape, rate):
    return _mp_lognormal_kl(mu, s, lambda lx: shape * mp.log(rate) - mp.loggamma(shape) + (shape - 1) * lx
                            - rate * mp.exp(lx))


def _mp_invgamma_kl(mu, s, shape, scale):
    return _mp_lognormal_kl(mu, s, lambda lx: shape * mp.log(scale) - mp.loggamma(shape) - (shape + 1) * lx
                            - scale * mp.exp(-lx))


@pytest.mark.parametrize("gamma, lam", [(0.3, 0.1), (0.999999, 0.5), (1e-9, 0.9), (0.5, 1e-12), (0.7, 1.0 - 1e-9),
                                        (0.0, 0.25), (1.0, 0.25)])
def test_kl_bernoulli_pinned(gamma, lam):
    # mp.mpf(lam) is the float's exact value, so 1 - lam is exact on both sides: round-off only (1e-12 relative).
    with mp.workdps(DPS):
        g, l = mp.mpf(gamma), mp.mpf(lam)
        ref = _mp_bernoulli(g, l)
        d_lam = mp.diff(lambda t: _mp_bernoulli(g, t), l)
        d_gamma = mp.diff(lambda t: _mp_bernoulli(t, l), g) if 0 < gamma < 1 else None
    assert float(kl_bernoulli(gamma, lam)) == pytest.approx(float(ref), rel=1e-12)
    if d_gamma is not None:
        grads = kl_bernoulli_grad(gamma, lam)
        # log(gamma) - log(1 - gamma) at gamma = 1 - 1e-6 cancels nothing; 1e-10 covers log1p(-gamma)'s ulp there
        assert float(grads[0]) == pytest.approx(float(d_gamma), rel=1e-10)
        assert float(grads[1]) == pytest.approx(float(d_lam), rel=1e-10)


@pytest.mark.parametrize("theta, lam", [(-35.0, 0.3), (-2.0, 1e-20), (0.5, 0.5), (35.0, 1e-20), (3.0, 1.0 - 1e-6)])
def test_kl_bernoulli_logit_pinned(theta, lam):
    with mp.workdps(DPS):
        def kl(t):
            g = 1 / (1 + mp.exp(-t))
            return _mp_bernoulli(g, mp.mpf(lam))
        ref, d_ref = kl(mp.mpf(theta)), mp.diff(kl, mp.mpf(theta))
    got, d_theta = kl_bernoulli_logit(np.array([theta]), math.log(lam), math.log1p(-lam))
    # log terms up to |log 1e-20| = 46 and |theta| = 35 added with round-off 1e-16 each: 1e-12 relative to 1 + |KL|
    assert abs(float(got[0]) - float(ref)) <= 1e-12 * (1.0 + abs(float(ref)))
    assert abs(float(d_theta[0]) - float(d_ref)) <= 1e-12 * (1.0 + abs(float(d_ref)))


@pytest.mark.parametrize("mu, sigma, sigma0", [(0.5, 0.3, 1.0), (-2.0, 1.5, 0.7), (0.1, 0.05, 2.0)])
def test_kl_gaussian_pinned(mu, sigma, sigma0):
    with mp.workdps(DPS):
        def kl(m, s, s0):
            def integrand(w):
                log_q = -(w - m) ** 2 / (2 * s * s) - mp.log(s * mp.sqrt(2 * mp.pi))
                log_p = -w * w / (2 * s0 * s0) - mp.log(s0 * mp.sqrt(2 * mp.pi))
                return mp.exp(log_q) * (log_q - log_p)
            return mp.quad(integrand, [-mp.inf, m, mp.inf])
        args = [mp.mpf(a) for a in (mu, sigma, sigma0)]
        ref = kl(*args)
        def closed(m, s, s0):                                       # (KL-2) at 30 digits
            return mp.log(s0 / s) + (s * s + m * m) / (2 * s0 * s0) - mp.mpf(1) / 2
        assert abs(closed(*args) - ref) < mp.mpf(10) ** -20          # the closed form it is differentiated from
        grads_ref = [mp.diff(lambda t: closed(*(args[:i] + [t] + args[i + 1:])), args[i]) for i in range(3)]
    assert float(kl_gaussian(mu, sigma, sigma0)) == pytest.approx(float(ref), rel=1e-12)
    for g, r in zip(kl_gaussian_grad(mu, sigma, sigma0), grads_ref):
        assert float(g) == pytest.approx(float(r), rel=1e-12)


@pytest.mark.parametrize("family, mu, s, shape, b", [
    ("gamma", 0.3, 0.4, 0.5, 1.0), ("gamma", -1.0, 0.6, 0.5, 4.0), ("gamma", 0.5, 0.3, 3.0, 0.7),
    ("invgamma", 0.3, 0.4, 0.5, 1.0), ("invgamma", 0.8, 0.5, 3.0, 4.0), ("invgamma", -1.0, 0.3, 1.5, 0.2),
])
def test_kl_lognormal_pinned_with_gradients(family, mu, s, shape, b):
    """(KL-3, KL-4) by quadrature; the four gradients by mp.diff of the closed form written at 30 digits, which
    first has to match that quadrature to 1e-20 (so it is checked, not assumed)."""
    ref_fn = _mp_gamma_kl if family == "gamma" else _mp_invgamma_kl
    fn, grad = (kl_lognormal_gamma, kl_lognormal_gamma_grad) if family == "gamma" else \
        (kl_lognormal_invgamma, kl_lognormal_invgamma_grad)
    sign = 1 if family == "gamma" else -1                  # x -> 1/x: mu -> -mu, rate -> scale

    def closed(m, sd, a, r):
        return (-sign * a * m - mp.log(sd) - mp.mpf(1) / 2 - mp.log(2 * mp.pi) / 2 - a * mp.log(r) + mp.loggamma(a)
                + r * mp.exp(sign * m + sd * sd / 2))

    with mp.workdps(DPS):
        args = [mp.mpf(a) for a in (mu, s, shape, b)]
        ref = ref_fn(*args)
        assert abs(closed(*args) - ref) < mp.mpf(10) ** -20
        grads_ref = [mp.diff(lambda t: closed(*(args[:i] + [t] + args[i + 1:])), args[i]) for i in range(4)]
    # terms of size |lgamma|, shape log b <= 10 summed in float64: 1e-12 relative to 1 + |value|
    assert abs(float(fn(mu, s, shape, b)) - float(ref)) <= 1e-12 * (1 + abs(float(ref)))
    for g, r in zip(grad(mu, s, shape, b), grads_ref):
        assert abs(float(g) - float(r)) <= 1e-12 * (1 + abs(float(r)))


def test_python_float_arguments_give_float64_arrays_of_the_broadcast_shape():
    """Every argument a Python float: results are float64 0-d (values as above); float32 arrays stay float32."""
    for out in (kl_bernoulli(0.3, 0.1), *kl_bernoulli_grad(0.3, 0.1), *kl_gaussian_grad(0.5, 0.3, 1.0),
                *kl_lognormal_gamma_grad(0.3, 0.4, 0.5, 1.0), *kl_lognormal_invgamma_grad(0.3, 0.4, 0.5, 1.0)):
        assert np.asarray(out).dtype == np.float64 and np.shape(out) == ()
    mu32 = np.array([0.3, -0.2], dtype=np.float32)
    for out in (*kl_lognormal_gamma_grad(mu32, 0.4, 0.5, 1.0), *kl_gaussian_grad(mu32, 0.3, 1.0),
                *kl_bernoulli_grad(mu32 + np.float32(0.5), 0.1)):
        assert out.dtype == np.float32 and out.shape == (2,)   # d sigma of KL-2 is a Python float before broadcasting
    assert kl_gaussian(0.5, 0.3, 1.0) == pytest.approx(math.log(1 / 0.3) + (0.09 + 0.25) / 2 - 0.5, rel=1e-14)


STRICT_ONE_ARRAY = [(kl_bernoulli, 2), (kl_bernoulli_grad, 2), (kl_gaussian, 3), (kl_gaussian_grad, 3),
                    (kl_lognormal_gamma, 4), (kl_lognormal_gamma_grad, 4), (kl_lognormal_invgamma, 4),
                    (kl_lognormal_invgamma_grad, 4)]


@pytest.mark.parametrize("fn, n_args", STRICT_ONE_ARRAY, ids=[fn.__name__ for fn, _ in STRICT_ONE_ARRAY])
def test_strict_array_in_any_one_position(fn, n_args):
    """One strict array on the fake device, Python floats elsewhere: the namespace and the device come from whichever
    argument is the array, and every output is a strict array on that device with NumPy's values (round-off only).
    The log-normal KLs need mu or s as an array (their ``xp.exp(mu + s^2/2)`` takes no Python float on strict
    arrays; callers pass variational parameters as arrays and hyper-parameters as floats)."""
    b = get_backend("strict")
    # valid for all: (gamma, lam), (mu, sigma, sigma0), (mu, s, shape, rate)
    values = (0.3, 0.2, 0.8, 1.7)[:n_args]
    for i in range(n_args if n_args < 4 else 2):
        host = np.array([values[i], 1.1 * values[i]])
        ref = fn(*[host if j == i else v for j, v in enumerate(values)])
        out = fn(*[b.asarray(host) if j == i else v for j, v in enumerate(values)])
        refs, outs = (ref, out) if isinstance(ref, tuple) else ((ref,), (out,))
        for o, r in zip(outs, refs):
            assert b.is_backend_array(o) and o.device == b.device and o.shape == (2,)
            np.testing.assert_allclose(b.to_numpy(o), r, rtol=1e-12, atol=0)
