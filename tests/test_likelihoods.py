"""refimpl.likelihoods.nll_and_grad, the one place the likelihood is chosen (L-1, L-2): values against SciPy's
densities, gradients against central differences (oracles.gradcheck), and the choice itself."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from oracles.gradcheck import check_grads
from refimpl.likelihoods import nll_and_grad

S, B, K = 2, 5, 3
RNG = np.random.default_rng(7)
ETA = RNG.standard_normal((S, B, K))
Y = RNG.standard_normal((B, K))
ONEHOT = np.eye(K)[RNG.integers(0, K, B)]


def test_gaussian_is_the_mean_negative_log_density_with_both_gradients():
    log_sigma_e = np.asarray(-0.3)
    nll, d_eta, extra = nll_and_grad("gaussian", ETA, Y, log_sigma_e, learn_sigma_e=True)
    want = -np.mean(np.sum(stats.norm.logpdf(Y, loc=ETA, scale=np.exp(-0.3)), axis=-1))
    assert nll == pytest.approx(want, rel=1e-14)          # the same sums, reordered: round-off
    check_grads(lambda p: nll_and_grad("gaussian", p["eta"], Y, p["log_sigma_e"])[0],
                {"eta": ETA, "log_sigma_e": log_sigma_e}, {"eta": d_eta, "log_sigma_e": extra["log_sigma_e"]})
    assert nll_and_grad("gaussian", ETA, Y, log_sigma_e)[2] == {}        # a fixed noise scale has no gradient


def test_categorical_is_the_mean_cross_entropy_and_ignores_the_noise_scale():
    nll, d_eta, extra = nll_and_grad("categorical", ETA, ONEHOT, None, learn_sigma_e=True)
    want = -np.mean(np.sum(ONEHOT * (ETA - special.logsumexp(ETA, axis=-1, keepdims=True)), axis=-1))
    assert nll == pytest.approx(want, rel=1e-14) and extra == {}
    check_grads(lambda p: nll_and_grad("categorical", p["eta"], ONEHOT)[0], {"eta": ETA}, {"eta": d_eta})


def test_an_unknown_likelihood_is_refused_by_name():
    with pytest.raises(ValueError, match="likelihood: expected one of"):
        nll_and_grad("poisson", ETA, Y)
