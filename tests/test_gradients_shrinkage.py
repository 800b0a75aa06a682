"""SS-GL and SS-GHS: hand-written loss and gradients against the autograd oracle and finite differences,
for every parameterisation, slab width c in {1, inf}, both likelihoods and both relaxations."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

from helpers import architectures, max_rel_err, problem
from oracle_autograd import oracle_loss, oracle_loss_and_grad
from test_gradients import GRAD_RTOL, _cfg, _ours

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
        ref_loss, ref_grads = oracle_loss_and_grad(_cfg(model, n), params, x, y, noise, n)
        assert abs(loss - ref_loss) <= 1e-11 * max(1.0, abs(ref_loss))  # float64 round-off of sums
        assert max_rel_err(grads, ref_grads) <= GRAD_RTOL

    check()


@pytest.mark.parametrize("prior,hyper", VARIANTS, ids=IDS)
def test_directional_finite_differences(prior, hyper):
    """Central differences of the true loss (Concrete relaxation: smooth in every parameter)."""
    @settings(max_examples=8)
    @given(arch=architectures("gaussian"))
    def check(arch):
        model, params, noise, x, y, n = problem(arch, prior, "gaussian", "tanh", "concrete", lam=0.3, **hyper)
        _, grads, _ = _ours(model, params, x, y, noise, n)
        cfg, rng = _cfg(model, n), np.random.default_rng(arch["seed"] + 1)
        for _ in range(3):
            direction = {k: rng.standard_normal(np.shape(v)) for k, v in params.items()}
            h = 1e-5

            def f(t):
                return oracle_loss(cfg, {k: params[k] + t * direction[k] for k in params}, x, y, noise, n)

            fd = (f(h) - f(-h)) / (2 * h)
            analytic = sum(float(np.sum(grads[k] * direction[k])) for k in params)
            # O(h^2) truncation plus round-off eps |f| / h: 1e-6 relative is a generous bound for both
            assert abs(fd - analytic) <= 1e-6 * max(1.0, abs(analytic))

    check()
