"""Hand-written loss and gradients against an independent autograd oracle and finite differences."""
from __future__ import annotations

import pytest
from hypothesis import given, settings

from helpers import architectures, max_rel_err, problem, to_backend
from oracles.autograd_model import model_config, oracle_loss, oracle_loss_and_grad
from oracles.gradcheck import assert_matches_oracle, check_grads

PRIORS = ["gaussian", "ss-ig"]
LIKELIHOODS = ["gaussian", "categorical"]
ACTIVATIONS = ["silu", "relu", "tanh"]
RELAXATIONS = ["straight-through", "concrete"]


def _cfg(model, n_data):
    """The oracle's description of a model, read from its public attributes."""
    return model_config(model, n_data)


def _ours(model, params, x, y, noise, n_data):
    loss, grads, terms = model.loss_and_grad(to_backend(model, params), x, y, to_backend(model, noise), n_data)
    return float(loss), {k: model.backend.to_numpy(g) for k, g in grads.items()}, terms


@pytest.mark.parametrize("relaxation", RELAXATIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("prior", PRIORS)
def test_gradients_match_autograd(prior, likelihood, activation, relaxation):
    @settings(max_examples=25)
    @given(arch=architectures(likelihood))
    def check(arch):
        model, params, noise, x, y, n = problem(arch, prior, likelihood, activation, relaxation, lam=0.3)
        loss, grads, _ = _ours(model, params, x, y, noise, n)
        assert_matches_oracle(loss, grads, *oracle_loss_and_grad(_cfg(model, n), params, x, y, noise, n))

    check()


@pytest.mark.parametrize("lam", ["paper", "theory", [0.2, 0.7]])
def test_gradients_match_autograd_schedules_and_fixed_noise(lam):
    @settings(max_examples=10)
    @given(arch=architectures("gaussian", max_depth=2))
    def check(arch):
        widths = arch["widths"]
        lam_spec = lam if not isinstance(lam, list) else (lam * 2)[: len(widths) - 2]
        model, params, noise, x, y, n = problem(arch, "ss-ig", "gaussian", lam=lam_spec, sigma_e=0.7, sigma0=1.3)
        loss, grads, _ = _ours(model, params, x, y, noise, n)
        assert_matches_oracle(loss, grads, *oracle_loss_and_grad(_cfg(model, n), params, x, y, noise, n))

    check()


@pytest.mark.parametrize("relaxation", RELAXATIONS)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("prior", PRIORS)
def test_directional_finite_differences(prior, likelihood, relaxation):
    """Central differences of the *true* loss along random directions (``check_grads``: tolerance from the
    measured truncation and float64 round-off). With straight-through the forward z is piecewise constant in
    theta, so theta is left out of the directions there (its gradient is the surrogate's, checked against
    autograd above)."""

    @settings(max_examples=10)
    @given(arch=architectures(likelihood))
    def check(arch):
        model, params, noise, x, y, n = problem(arch, prior, likelihood, "tanh", relaxation, lam=0.3)
        _, grads, _ = _ours(model, params, x, y, noise, n)
        cfg = _cfg(model, n)
        thetas = [k for k in params if k.endswith("theta")] if relaxation == "straight-through" else []
        check_grads(lambda p: oracle_loss(cfg, p, x, y, noise, n), params, grads, seed=arch["seed"] + 1,
                    fixed=thetas)

    check()


def test_loss_terms_add_up():
    arch = dict(widths=[3, 5, 4, 2], batch=7, n_samples=2, seed=3)
    model, params, noise, x, y, n = problem(arch, "ss-ig", "categorical", lam=0.1)
    loss, _, terms = _ours(model, params, x, y, noise, n)
    assert set(terms) == {"nll", "kl_z", "kl_w"}
    assert loss == pytest.approx(float(terms["nll"]) + (float(terms["kl_z"]) + float(terms["kl_w"])) / n, rel=1e-14)


def test_kl_weight_scales_only_the_kl():
    """loss(w) = nll + w KL/N, so grads(w) = grads_nll + w grads_KL/N: linear in w."""
    arch = dict(widths=[3, 4, 2], batch=5, n_samples=1, seed=8)
    model, params, noise, x, y, n = problem(arch, "ss-gl", "categorical", lam=0.2)
    p, z = to_backend(model, params), to_backend(model, noise)
    (l0, g0, t), (l1, g1, _), (lh, gh, _) = (model.loss_and_grad(p, x, y, z, n, kl_weight=w) for w in (0.0, 1.0, 0.5))
    assert float(l0) == pytest.approx(float(t["nll"]), rel=1e-15)
    assert float(lh) == pytest.approx(0.5 * (float(l0) + float(l1)), rel=1e-14)
    assert max_rel_err(gh, {k: 0.5 * (g0[k] + g1[k]) for k in g0}) <= 1e-13
    with pytest.raises(ValueError, match="^kl_weight:"):
        model.loss_and_grad(p, x, y, z, n, kl_weight=2.0)
