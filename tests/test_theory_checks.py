"""Binary Concrete facts (T-14), ELBO <= log evidence in conjugate group regression (T-15) and the
Hellinger utilities (T-16): docs/theory-notes.md §4.5-§4.7, §5(f), §5(h)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logit

from refimpl.kl import kl_bernoulli
from theory.concrete import (kl_binary_concrete, kl_binary_concrete_logit, kl_logistic_quadrature, log_density_binary_concrete,
                             sample_binary_concrete)
from theory.conjugate import elbo, log_evidence, orthogonal_posterior
from theory.hellinger import hellinger_bc, hellinger_lower_bound, hellinger_predictive, kl_regression

SLACK = 1e-10
probs = st.floats(1e-6, 1 - 1e-6)
seeds = st.integers(0, 2 ** 32 - 1)


def leq(a, b):
    return a <= b * (1.0 + SLACK) + 1e-12


# ---------------------------------------------------------------------------------------------
# (T-14) binary Concrete
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.03, 0.5, 0.9])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_thresholding_gives_bernoulli(gamma, temperature):
    """1[y > 1/2] ~ Bernoulli(gamma) for every temperature: two-sided binomial test at alpha = 1e-6."""
    y, _ = sample_binary_concrete(np.random.default_rng(int(100 * gamma + 10 * temperature)), gamma, temperature, 100_000)
    hits = int(np.sum(y > 0.5))
    assert stats.binomtest(hits, y.size, gamma).pvalue > 1e-6


@settings(max_examples=200)
@given(g1=probs, g2=probs)
def test_concrete_kl_formula_against_quadrature_and_bernoulli(g1, g2):
    d = float(logit(g1) - logit(g2))
    kl = float(kl_binary_concrete(g1, g2))
    assert kl == pytest.approx(kl_logistic_quadrature(float(logit(g1)), float(logit(g2))), rel=1e-8, abs=1e-12)
    assert kl >= 0.0 and (kl == 0.0) == (d == 0.0)
    assert leq(float(kl_bernoulli(g1, g2)), kl)                            # data processing (T-14c)


def test_concrete_kl_small_d_series_is_continuous():
    """Across the series/direct switch at d = 0.2; for d < 0.01 the reference is d^2/6 - d^4/360."""
    d = np.array([1e-8, 1e-3, 0.19999, 0.2, 0.20001, 1.0, 30.0])
    kl = kl_binary_concrete_logit(d)
    ref = np.where(d < 0.01, d * d / 6 - d ** 4 / 360, d / np.tanh(d / 2) - 2)
    np.testing.assert_allclose(kl, ref, rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("g1,g2", [(0.3, 0.6), (0.9, 0.05)])
def test_concrete_kl_is_temperature_free_by_monte_carlo(g1, g2):
    """E_q[log q(y) - log p(y)] with the binary Concrete density at t = 0.2 and t = 1.5: both agree with
    d coth(d/2) - 2 within 5 standard errors (log-ratios are Lipschitz in the logistic noise: light tails)."""
    target = float(kl_binary_concrete(g1, g2))
    for t in (0.2, 1.5):
        _, xi = sample_binary_concrete(np.random.default_rng(7), g1, t, 200_000)
        ratio = log_density_binary_concrete(xi, g1, t) - log_density_binary_concrete(xi, g2, t)
        assert abs(ratio.mean() - target) <= 5 * ratio.std(ddof=1) / math.sqrt(ratio.size)


# ---------------------------------------------------------------------------------------------
# (T-15) ELBO <= log evidence
# ---------------------------------------------------------------------------------------------
@st.composite
def regressions(draw):
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    n = draw(st.integers(max(2, sum(sizes)), 30))
    return sizes, n, draw(seeds), draw(st.floats(0.05, 0.95)), draw(st.floats(0.3, 2.0)), draw(st.floats(0.3, 3.0))


@settings(max_examples=100)
@given(problem=regressions(), q_seed=seeds)
def test_elbo_below_log_evidence(problem, q_seed):
    sizes, n, seed, lam, sigma, sigma0 = problem
    rng, q_rng = np.random.default_rng(seed), np.random.default_rng(q_seed)
    X = rng.standard_normal((n, sum(sizes)))
    y = X @ rng.standard_normal(sum(sizes)) + sigma * rng.standard_normal(n)
    gamma = q_rng.uniform(0.0, 1.0, len(sizes))
    mu, s = q_rng.normal(0.0, 2.0, sum(sizes)), q_rng.uniform(0.05, 2.0, sum(sizes))
    assert leq(elbo(y, X, sizes, gamma, mu, s, lam, sigma, sigma0), log_evidence(y, X, sizes, lam, sigma, sigma0))


@settings(max_examples=50)
@given(problem=regressions())
def test_elbo_equals_log_evidence_at_the_exact_posterior(problem):
    """Orthogonal design (X^T X diagonal): the posterior is mean-field, so ELBO(q_post) = log p(y) to 1e-9,
    and moving q away from it lowers the ELBO."""
    sizes, n, seed, lam, sigma, sigma0 = problem
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, sum(sizes))))
    X = Q * rng.uniform(0.5, 3.0, sum(sizes))                              # orthogonal columns, any lengths
    y = X @ rng.standard_normal(sum(sizes)) + sigma * rng.standard_normal(n)
    gamma, mu, s = orthogonal_posterior(y, X, sizes, lam, sigma, sigma0)
    exact = log_evidence(y, X, sizes, lam, sigma, sigma0)
    assert elbo(y, X, sizes, gamma, mu, s, lam, sigma, sigma0) == pytest.approx(exact, rel=1e-9, abs=1e-9)
    assert elbo(y, X, sizes, gamma, mu + 0.1, s, lam, sigma, sigma0) < exact


def test_orthogonal_posterior_rejects_correlated_design():
    X = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="X: the exact posterior is mean-field only"):
        orthogonal_posterior(np.zeros(3), X, [2], 0.5, 1.0, 1.0)


# ---------------------------------------------------------------------------------------------
# (T-16) Hellinger
# ---------------------------------------------------------------------------------------------
@settings(max_examples=200)
@given(seed=seeds, sigma_e=st.floats(0.1, 3.0), spread=st.floats(1e-4, 5.0), n_x=st.integers(1, 64))
def test_hellinger_inequalities(seed, sigma_e, spread, n_x):
    """0 <= H^2 <= 1 and both bounds over random functions; the values and the equality cases are pinned in
    test_theory_pinned.py."""
    rng = np.random.default_rng(seed)
    f0 = rng.normal(size=n_x)
    f = f0 + spread * rng.uniform(-1, 1, size=n_x)
    H2 = hellinger_bc(f, f0, sigma_e)
    assert 0.0 <= H2 <= 1.0
    assert leq(H2, kl_regression(f, f0, sigma_e) / 4)
    M = float(np.abs(f - f0).max())
    assert leq(hellinger_lower_bound(f, f0, sigma_e, M), H2)


@settings(max_examples=25)
@given(seed=seeds, sigma_e=st.floats(0.2, 2.0), spread=st.floats(0.0, 3.0), S=st.integers(1, 6))
def test_predictive_hellinger_below_expected_hellinger(seed, sigma_e, spread, S):
    """Jensen: H^2(mixture, l0) <= mean_s H^2(l_{f_s}, l0); equality when every draw is the same."""
    rng = np.random.default_rng(seed)
    f0 = rng.normal(size=8)
    draws = f0 + spread * rng.normal(size=(S, 8))
    pred = hellinger_predictive(draws, f0, sigma_e)
    expected = float(np.mean([hellinger_bc(d, f0, sigma_e) for d in draws]))
    assert -1e-12 <= pred and leq(pred, expected)
    same = hellinger_predictive(np.repeat(draws[:1], 3, axis=0), f0, sigma_e)
    assert same == pytest.approx(hellinger_bc(draws[0], f0, sigma_e), rel=1e-9, abs=1e-12)
