"""Three implementations of the same loss agree: refimpl (hand-written gradients), autograd
(``oracles/autograd_model.py``) and PyTorch (``oracles/torch_model.py``). Same parameters, same noise,
float64: loss and every gradient within round-off (``oracles.gradcheck.assert_matches_oracle``: the tolerances, the
measure and their reasons). Skipped without torch."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

torch = pytest.importorskip("torch")

from helpers import architectures, max_rel_err, problem  # noqa: E402
from oracles import torch_model  # noqa: E402
from oracles.autograd_model import model_config, oracle_loss_and_grad  # noqa: E402
from oracles.gradcheck import assert_matches_oracle  # noqa: E402

VARIANTS = [
    ("ss-ig", {}),
    ("ss-gl", dict(parameterisation="non-centred")),
    ("ss-ghs", dict(parameterisation="centred", c=1.0)),           # 64-node Gauss-Hermite (H-2)
    # the other variants the three implementations share
    ("gaussian", {}),
    ("ss-gl", dict(parameterisation="centred")),
    ("ss-ghs", dict(parameterisation="centred", c=math.inf)),
    ("ss-ghs", dict(parameterisation="centred", c=1.7, expectation="one-sample")),
    ("ss-ghs", dict(parameterisation="non-centred", c=1.0)),
]
IDS = [f"{p}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for p, kw in VARIANTS]


def three_way(model, params, noise, x, y, n):
    """``{name: (loss, grads)}`` of the three implementations, gradients as float64 NumPy arrays."""
    loss, grads, _ = model.loss_and_grad(params, x, y, noise, n)
    cfg = model_config(model, n)
    t_loss, t_grads = torch_model.loss_and_grad(cfg, torch_model.as_tensors(params, requires_grad=True),
                                                torch.from_numpy(x), torch.from_numpy(y),
                                                torch_model.as_tensors(noise), n)
    a_loss, a_grads = oracle_loss_and_grad(cfg, params, x, y, noise, n)
    return {"refimpl": (float(loss), {k: np.asarray(v, dtype=float) for k, v in grads.items()}),
            "torch": (float(t_loss), {k: v.double().numpy() for k, v in t_grads.items()}),
            "autograd": (float(a_loss), {k: np.asarray(v, dtype=float) for k, v in a_grads.items()})}


def assert_agree(results):
    loss, grads = results["refimpl"]
    for name in ("torch", "autograd"):
        assert_matches_oracle(loss, grads, *results[name], name=name)


@pytest.mark.parametrize("likelihood", ["gaussian", "categorical"])
@pytest.mark.parametrize("prior,hyper", VARIANTS, ids=IDS)
def test_three_implementations_agree(prior, hyper, likelihood):
    @settings(max_examples=8)
    @given(arch=architectures(likelihood))
    def check(arch):
        assert_agree(three_way(*problem(arch, prior, likelihood, "silu", lam=0.3, **hyper)))

    check()


@pytest.mark.parametrize("prior,hyper", VARIANTS[:3], ids=IDS[:3])
def test_agree_at_benchmark_layout(prior, hyper):
    """The benchmarks' setting: categorical, SiLU, straight-through, one sample, authors' initialisation
    and schedule (lam = "paper"), a few hundred inputs."""
    rng = np.random.default_rng(5)
    from refimpl import NodeSparseBNN
    model = NodeSparseBNN([60, 32, 24, 10], prior=prior, likelihood="categorical", **hyper)
    params = {k: np.asarray(v) for k, v in model.init_params(rng).items()}
    noise = {k: np.asarray(v) for k, v in model.sample_noise(rng).items()}
    x, y = rng.standard_normal((256, 60)), rng.integers(0, 10, 256)
    assert_agree(three_way(model, params, noise, x, y, 60000))


@pytest.mark.parametrize("prior,hyper", VARIANTS[:3], ids=IDS[:3])
def test_float32_refimpl_and_torch_agree(prior, hyper):
    """float32 (the benchmarks' other dtype): refimpl and PyTorch within float32 round-off. The loss is a
    sum of O(100) terms of size O(1) and each gradient a sum over up to 256 inputs, so relative errors of
    a few hundred eps (eps = 1.2e-7) are expected; 1e-4 bounds them."""
    rng = np.random.default_rng(6)
    from refimpl import NodeSparseBNN
    model = NodeSparseBNN([60, 32, 24, 10], prior=prior, likelihood="categorical", dtype="float32", **hyper)
    params = {k: np.asarray(v) for k, v in model.init_params(rng).items()}
    noise = {k: np.asarray(v) for k, v in model.sample_noise(rng).items()}
    x, y = rng.standard_normal((256, 60)).astype(np.float32), rng.integers(0, 10, 256)
    loss, grads, _ = model.loss_and_grad(params, x, y, noise, 60000)
    t_loss, t_grads = torch_model.loss_and_grad(model_config(model, 60000), torch_model.as_tensors(params, True),
                                                torch.from_numpy(x), torch.from_numpy(y), torch_model.as_tensors(noise),
                                                60000)
    assert all(g.dtype == torch.float32 for g in t_grads.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert abs(float(t_loss) - float(loss)) <= 1e-4 * abs(float(loss))
    assert max_rel_err({k: v.numpy() for k, v in t_grads.items()}, grads) <= 1e-4
