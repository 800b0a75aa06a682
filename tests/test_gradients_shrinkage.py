"""SS-GL and SS-GHS: hand-written loss and gradients against the autograd oracle and finite differences,
for every parameterisation, slab width c in {1, inf}, both likelihoods and both relaxations."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

from helpers import architectures, problem
from oracles.autograd_model import oracle_loss, oracle_loss_and_grad
from oracles.gradcheck import assert_matches_oracle, check_grads
from test_gradients import _cfg, _ours

VARIANTS = [
    ("ss-gl", dict(parameterisation="non-centred")),
    ("ss-gl", dict(parameterisation="centred", lam2_shape=3.0, lam2_rate=0.5)),
    ("ss-ghs", dict(parameterisation="centred", c=1.0)),
    ("ss-ghs", dict(parameterisation="centred", c=math.inf)),
    ("ss-ghs", dict(parameterisation="centred", c=1.7, expectation="one-sample", b_loc=0.5, b_glob=2.0)),
    ("ss-ghs", dict(parameterisation="non-centred", c=1.0)),
    ("ss-ghs", dict(parameterisation="non-centred", c=math.inf, b_loc=0.3)),
]
IDS = [f"{p}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for p, kw in VARIANTS]


@pytest.mark.parametrize("relaxation", ["straight-through", "concrete"])
@pytest.mark.parametrize("likelihood", ["gaussian", "categorical"])
@pytest.mark.parametrize("prior,hyper", VARIANTS, ids=IDS)
def test_gradients_match_autograd(prior, hyper, likelihood, relaxation):
    @settings(max_examples=15)
    @given(arch=architectures(likelihood))
    def check(arch):
        model, params, noise, x, y, n = problem(arch, prior, likelihood, "silu", relaxation, lam=0.3, **hyper)
        loss, grads, _ = _ours(model, params, x, y, noise, n)
        assert_matches_oracle(loss, grads, *oracle_loss_and_grad(_cfg(model, n), params, x, y, noise, n))

    check()


@pytest.mark.parametrize("prior,hyper", VARIANTS, ids=IDS)
def test_directional_finite_differences(prior, hyper):
    """Central differences of the true loss along random directions (Concrete relaxation: smooth in every
    parameter; ``check_grads``)."""
    @settings(max_examples=8)
    @given(arch=architectures("gaussian"))
    def check(arch):
        model, params, noise, x, y, n = problem(arch, prior, "gaussian", "tanh", "concrete", lam=0.3, **hyper)
        _, grads, _ = _ours(model, params, x, y, noise, n)
        cfg = _cfg(model, n)
        check_grads(lambda p: oracle_loss(cfg, p, x, y, noise, n), params, grads, seed=arch["seed"] + 1)

    check()
