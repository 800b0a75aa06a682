"""Predictive and structure metrics (M-1..M-8) against independent computations: explicit loops,
SciPy densities, hand-computed cases and the worked example of docs/paper-notes.md §5.5."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from refimpl.run.metrics import (accuracy, brier, classification_metrics, ece, flops_kept, gaussian_test_loglik,
                             node_density, nodes_kept, nll, params_kept, predictive_log_probs, predictive_probs,
                             rmse)

RNG = np.random.default_rng


def softmax_loop(v):
    """Softmax of one vector, written out."""
    e = [math.exp(a - max(v)) for a in v]
    return [a / sum(e) for a in e]


# ---- classification ---------------------------------------------------------------------------------------
def test_predictive_probs_against_loops():
    logits = RNG(0).normal(scale=3.0, size=(4, 5, 3))
    S, B, K = logits.shape
    ref_p = np.array([[sum(softmax_loop(logits[s, i])[k] for s in range(S)) / S for k in range(K)] for i in range(B)])
    ref_l = np.array([softmax_loop([sum(logits[s, i, k] for s in range(S)) / S for k in range(K)]) for i in range(B)])
    # rtol: round-off (log-space evaluation vs direct exponentials)
    np.testing.assert_allclose(predictive_probs(logits), ref_p, rtol=1e-13)
    np.testing.assert_allclose(predictive_probs(logits, average="logits"), ref_l, rtol=1e-13)
    np.testing.assert_allclose(predictive_probs(logits[:1]), predictive_probs(logits[:1], "logits"), rtol=1e-14)  # S = 1


def test_predictive_is_stable_for_huge_logits():
    logits = np.array([[[2000.0, 0.0, -2000.0]], [[0.0, 2000.0, 0.0]]])  # naive exp overflows
    # class 2: log softmax -4000 in sample 1 and -2000 in sample 2; log of their mean = -2000 - log 2
    np.testing.assert_allclose(predictive_probs(logits), [[0.5, 0.5, 0.0]], atol=1e-300)  # exact up to exp(-2000) = 0
    log_p = predictive_log_probs(logits)
    assert log_p[0, 2] == pytest.approx(-2000.0 - math.log(2.0), rel=1e-15)  # round-off; exp would underflow
    m = classification_metrics(logits, np.array([2]))
    assert m["nll"] == pytest.approx(2000.0 + math.log(2.0), rel=1e-15)  # finite, unlike -log(0)
    assert nll(predictive_probs(logits), np.array([2])) == math.inf  # the probability itself underflowed


def test_accuracy_nll_brier_hand_cases():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    y = np.array([0, 1, 1, 2])
    assert accuracy(p, y) == 0.5  # argmax (0, 2, 0 (tie -> first), 2)
    assert nll(p, y) == pytest.approx(-(math.log(0.7) + math.log(0.3) + math.log(0.5) + math.log(0.6)) / 4, rel=1e-15)
    hand = ((0.09 + 0.04 + 0.01) + (0.01 + 0.49 + 0.36) + (0.25 + 0.25 + 0) + (0.04 + 0.04 + 0.16)) / 4
    assert brier(p, y) == pytest.approx(hand, rel=1e-14)  # round-off of the sums
    # edge cases: perfect, perfectly wrong, uniform
    eye = np.eye(3)
    assert accuracy(eye, np.arange(3)) == 1.0 and nll(eye, np.arange(3)) == 0.0 and brier(eye, np.arange(3)) == 0.0
    wrong = np.array([1, 2, 0])
    assert accuracy(eye, wrong) == 0.0 and brier(eye, wrong) == 2.0 and nll(eye, wrong) == math.inf
    uni = np.full((4, 4), 0.25)
    assert nll(uni, np.arange(4)) == pytest.approx(math.log(4), rel=1e-15)  # round-off
    assert brier(uni, np.arange(4)) == pytest.approx(1 - 1 / 4, rel=1e-15)  # round-off


def ece_loop(p, y, n_bins):
    """ECE written as in Guo et al.'s reference code: loop over (lower, upper] bins."""
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inb = (conf > lo) & (conf <= hi)
        if inb.any():
            total += inb.mean() * abs((pred[inb] == y[inb]).mean() - conf[inb].mean())
    return total


def test_ece_against_loop_and_hand():
    rng = RNG(1)
    p = rng.dirichlet(np.full(4, 0.3), size=500)
    y = rng.integers(0, 4, size=500)
    for n_bins in (1, 5, 15):
        assert ece(p, y, n_bins) == pytest.approx(ece_loop(p, y, n_bins), rel=1e-12, abs=1e-15)  # round-off
    # hand: confidences 0.9 (right), 0.9 (wrong), 0.6 (right); M = 2 bins (0, .5], (.5, 1]:
    # one bin, acc 2/3, conf 0.8 -> 0.1333...; M = 10: bin (.8,.9] has acc 1/2 conf .9, bin (.5,.6] acc 1 conf .6
    p = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    y = np.array([0, 0, 0])
    assert ece(p, y, 2) == pytest.approx(abs(2 / 3 - 0.8), rel=1e-14)  # round-off
    assert ece(p, y, 10) == pytest.approx(2 / 3 * 0.4 + 1 / 3 * 0.4, rel=1e-14)  # round-off
    # a confidence exactly on an edge goes to the lower bin: with M = 2, 0.5 is in (0, 0.5], 0.75 in (0.5, 1]
    # -> 1/2 |1 - 0.5| + 1/2 |0 - 0.75| = 0.625 (one shared bin would give |1/2 - 0.625| = 0.125)
    p = np.array([[0.5, 0.5], [0.25, 0.75]])
    assert ece(p, np.array([0, 0]), 2) == pytest.approx(0.625, rel=1e-15)  # round-off


def test_ece_of_calibrated_predictions_is_small():
    rng, n, K, M = RNG(2), 100_000, 3, 15
    p = rng.dirichlet(np.ones(K), size=n)
    y = (rng.uniform(size=(n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)  # y_i ~ Categorical(p_i): calibrated
    # E[ECE] <= sum_m (n_m/n) sqrt(1/(4 n_m)) <= sqrt(M/n)/2 = 0.006 (Cauchy-Schwarz); 3x leaves room for noise
    assert ece(p, y, M) < 3 * math.sqrt(M / n) / 2
    sharp = p**4 / np.sum(p**4, axis=1, keepdims=True)  # overconfident version of the same predictions
    assert ece(sharp, y, M) > 0.05  # the miscalibration is ~0.1, far above the noise level 0.006


def test_classification_metrics_agree_with_parts():
    rng = RNG(3)
    logits, y = rng.normal(size=(5, 40, 4)), rng.integers(0, 4, size=40)
    for average in ("probs", "logits"):
        p = predictive_probs(logits, average)
        m = classification_metrics(logits, y, average)
        assert m["accuracy"] == accuracy(p, y) and m["ece"] == ece(p, y) and m["brier"] == brier(p, y)
        assert m["nll"] == pytest.approx(nll(p, y), rel=1e-14)  # log of exp vs log-space: round-off


# ---- regression ---------------------------------------------------------------------------------------------
def test_rmse_and_loglik_in_original_units():
    rng = RNG(4)
    S, B = 6, 30
    means, y = rng.normal(size=(S, B, 1)), rng.normal(size=B)
    mu_y, y_scale, sigma_e = 7.3, 2.5, 0.4
    y_orig, means_orig = mu_y + y_scale * y, mu_y + y_scale * means[..., 0]
    ref_rmse = math.sqrt(np.mean((y_orig - means_orig.mean(axis=0)) ** 2))
    assert rmse(means, y, y_scale) == pytest.approx(ref_rmse, rel=1e-14)  # round-off
    dens = stats.norm.pdf(y_orig, loc=means_orig, scale=y_scale * sigma_e)  # (S, B), original units
    ref_ll = np.mean(np.log(dens.mean(axis=0)))
    assert gaussian_test_loglik(means, y, sigma_e, y_scale) == pytest.approx(ref_ll, rel=1e-13)  # round-off
    # S = 1: exactly the Gaussian log density in original units
    ref1 = np.mean(stats.norm.logpdf(y_orig, loc=means_orig[0], scale=y_scale * sigma_e))
    assert gaussian_test_loglik(means[:1], y, sigma_e, y_scale) == pytest.approx(ref1, rel=1e-14)  # round-off


def test_loglik_multi_output_and_far_tails():
    rng = RNG(5)
    means, y = rng.normal(size=(3, 8, 2)), rng.normal(size=(8, 2))
    sig, scale = np.array([0.5, 1.5]), np.array([2.0, 0.1])
    # joint density of both outputs per sample, mixture over samples; change of variables per output
    log_n = stats.norm.logpdf(y[None], means, sig).sum(axis=2)
    ref = np.mean(np.log(np.exp(log_n).mean(axis=0))) - np.log(scale).sum()
    assert gaussian_test_loglik(means, y, sig, scale) == pytest.approx(ref, rel=1e-13)  # round-off
    ref_rmse = math.sqrt(np.mean((scale * (y - means.mean(axis=0))) ** 2))
    assert rmse(means, y, scale) == pytest.approx(ref_rmse, rel=1e-14)  # round-off
    # 60 standard deviations away: densities underflow, log-sum-exp does not
    far = gaussian_test_loglik(np.zeros((4, 1, 1)), np.array([60.0]), 1.0)
    assert far == pytest.approx(stats.norm.logpdf(60.0), rel=1e-14)  # identical samples: mixture = one Gaussian


# ---- structure ------------------------------------------------------------------------------------------------
def test_structure_counts_worked_example():
    widths = [784, 400, 400, 10]
    p, f = params_kept(widths, (68, 40)), flops_kept(widths, (68, 40))
    assert p == {"kept": 73_430, "total": 478_410, "fraction_kept": 73_430 / 478_410}
    assert f == {"kept": 56_550, "total": 478_410, "fraction_kept": 56_550 / 478_410}
    assert p["kept"] == 785 * 68 + 401 * 40 + 401 * 10 and f["kept"] == 785 * 68 + 69 * 40 + 41 * 10
    full = params_kept(widths, (400, 400))
    assert full["kept"] == full["total"] == flops_kept(widths, (400, 400))["kept"]
    assert params_kept(widths, (68, 40))["kept"] >= flops_kept(widths, (68, 40))["kept"]  # params % >= FLOPs %
    assert flops_kept([3, 5, 2], (0,))["kept"] == 2  # nothing survives but the output biases


def test_node_density():
    gammas = [np.array([0.9, 0.5, 0.51, 0.1]), np.array([0.0, 1.0])]
    assert nodes_kept(gammas) == [2, 1]  # strict inequality: 0.5 is not kept
    assert node_density(gammas) == [0.5, 0.5]
    assert node_density(gammas, threshold=0.05) == [1.0, 0.5]


# ---- bad inputs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: accuracy(np.full((3, 2), 0.5), np.array([0, 1])), "y"),
    (lambda: nll(np.full((3, 2), 0.5), np.array([0, 1, 2])), "y"),
    (lambda: brier(np.full((3, 2), 0.5), np.array([0, -1, 1])), "y"),
    (lambda: ece(np.full((3, 2), 0.5), np.array([0.0, 1.0, 1.0])), "y"),
    (lambda: ece(np.full((3, 2), 0.5), np.array([0, 1, 1]), n_bins=0), "n_bins"),
    (lambda: accuracy(np.ones((3, 2)), np.array([0, 1, 1])), "probs"),
    (lambda: predictive_probs(np.zeros((3, 2))), "logits"),
    (lambda: predictive_probs(np.zeros((1, 3, 2)), average="mean"), "average"),
    (lambda: classification_metrics(np.zeros((2, 3, 2)), np.array([0, 1, 2])), "y"),
    (lambda: rmse(np.zeros((2, 3, 1)), np.zeros(4)), "y"),
    (lambda: rmse(np.zeros((2, 3, 1)), np.zeros(3), y_scale=0.0), "y_scale"),
    (lambda: gaussian_test_loglik(np.zeros((2, 3, 1)), np.zeros(3), sigma_e=-1.0), "sigma_e"),
    (lambda: gaussian_test_loglik(np.zeros((2, 3, 1)), np.array([0, np.nan, 0]), 1.0), "y"),
    (lambda: params_kept([784, 400, 400, 10], (401, 40)), "kept_counts"),
    (lambda: flops_kept([784, 400, 400, 10], (68,)), "kept_counts"),
    (lambda: node_density([np.array([2.0, 0.1])]), "gammas"),
    (lambda: node_density([np.array([0.2])], threshold=1.0), "threshold"),
])
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()
