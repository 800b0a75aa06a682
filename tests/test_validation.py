"""Bad input gives a ValueError that names the argument (and says how to fix it)."""
from __future__ import annotations

import numpy as np
import pytest

from refimpl import NodeSparseBNN


@pytest.mark.parametrize("kwargs,name", [
    (dict(widths=[3, 4]), "widths"),
    (dict(widths=[3, 0, 1]), "widths"),
    (dict(widths="abc"), "widths"),
    (dict(widths=[3, 4, 1], likelihood="categorical"), "widths"),
    (dict(prior="horseshoe"), "prior"),
    (dict(activation="gelu"), "activation"),
    (dict(likelihood="poisson"), "likelihood"),
    (dict(relaxation="gumbel"), "relaxation"),
    (dict(temperature=0.0), "temperature"),
    (dict(temperature=-1.0), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(sigma0=0.0), "sigma0"),
    (dict(sigma0=-2.0), "sigma0"),
    (dict(lam=0.0), "lam"),
    (dict(lam=1.0), "lam"),
    (dict(lam=1.5), "lam"),
    (dict(lam=[0.5, 0.5]), "lam"),
    (dict(lam="cosine"), "lam"),
    (dict(kappa=0.0), "kappa"),
    (dict(sigma_e=-1.0), "sigma_e"),
    (dict(backend="torch"), "backend"),
    (dict(dtype="float16"), "dtype"),
    (dict(sigma_0=1.0), "sigma_0"),
])
def test_bad_construction(kwargs, name):
    args = dict(widths=[3, 4, 1], prior="ss-ig")
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        NodeSparseBNN(**args)


@pytest.fixture
def setup():
    model = NodeSparseBNN([3, 4, 3], prior="ss-ig", likelihood="categorical", lam=0.5)
    rng = np.random.default_rng(0)
    return model, model.init_params(rng), model.sample_noise(rng, 2)


@pytest.mark.parametrize("x,y,name", [
    (np.zeros((5, 2)), np.zeros(5, int), "x"),
    (np.zeros(5), np.zeros(5, int), "x"),
    (np.zeros((0, 3)), np.zeros(0, int), "x"),
    (np.full((5, 3), np.nan), np.zeros(5, int), "x"),
    (np.full((5, 3), np.inf), np.zeros(5, int), "x"),
    (np.zeros((5, 3), dtype=np.float32), np.zeros(5, int), "x"),
    (np.array([["a"] * 3] * 5), np.zeros(5, int), "x"),
    (np.zeros((5, 3)), np.zeros(4, int), "y"),
    (np.zeros((5, 3)), np.array([0, 1, 2, 3, 0]), "y"),
    (np.zeros((5, 3)), np.array([0, 1, -1, 1, 0]), "y"),
    (np.zeros((5, 3)), np.zeros(5), "y"),
])
def test_bad_data(setup, x, y, name):
    model, params, noise = setup
    with pytest.raises(ValueError, match=rf"^{name}:"):
        model.loss_and_grad(params, x, y, noise, 100)


def test_bad_regression_targets():
    model = NodeSparseBNN([2, 3, 1], prior="gaussian")
    rng = np.random.default_rng(0)
    params, noise = model.init_params(rng), model.sample_noise(rng)
    for y in (np.array([0.0, np.nan]), np.zeros((2, 2)), np.array(["a", "b"])):
        with pytest.raises(ValueError, match="^y:"):
            model.loss_and_grad(params, np.zeros((2, 2)), y, noise, 10)


def test_bad_params_noise_and_n(setup):
    model, params, noise = setup
    x, y = np.zeros((5, 3)), np.zeros(5, int)
    with pytest.raises(ValueError, match=r"^params: keys"):
        model.loss_and_grad({k: v for k, v in params.items() if k != "0.theta"}, x, y, noise, 100)
    with pytest.raises(ValueError, match=r"^params\['0.w_mu'\]: expected shape"):
        model.loss_and_grad({**params, "0.w_mu": np.zeros((4, 3))}, x, y, noise, 100)
    with pytest.raises(ValueError, match=r"^params\['0.w_mu'\]: dtype"):
        model.loss_and_grad({**params, "0.w_mu": params["0.w_mu"].astype(np.float32)}, x, y, noise, 100)
    with pytest.raises(ValueError, match=r"^noise\['0.u'\]"):
        model.loss_and_grad(params, x, y, {**noise, "0.u": noise["0.u"][:1]}, 100)
    with pytest.raises(ValueError, match=r"^noise\['0.eps_w'\]: expected shape"):
        model.loss_and_grad(params, x, y, {**noise, "0.eps_w": noise["0.eps_w"][0]}, 100)
    for n in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="^n_data:"):
            model.loss_and_grad(params, x, y, noise, n)
    with pytest.raises(ValueError, match="^n_samples:"):
        model.sample_noise(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="^rng:"):
        model.sample_noise(np.random.RandomState(0))


def test_float32_model_runs_in_float32():
    model = NodeSparseBNN([3, 4, 2], prior="ss-ig", likelihood="categorical", dtype="float32", lam=0.5)
    rng = np.random.default_rng(0)
    params, noise = model.init_params(rng), model.sample_noise(rng)
    loss, grads, terms = model.loss_and_grad(params, np.zeros((5, 3), np.float32), np.zeros(5, int), noise, 100)
    assert loss.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert all(t.dtype == np.float32 for t in terms.values())
