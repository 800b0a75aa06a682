"""Shared test fixtures: random architectures, randomised parameters, data."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from refimpl import NodeSparseBNN


@st.composite
def architectures(draw, likelihood="gaussian", max_width=7, max_depth=3):
    """Widths [k_0, hidden (1-3 layers of 1-7), K], batch 1-9, samples 1-3 and a seed."""
    depth = draw(st.integers(1, max_depth))
    hidden = [draw(st.integers(1, max_width)) for _ in range(depth)]
    k_in = draw(st.integers(1, max_width))
    k_out = draw(st.integers(1, 3)) if likelihood == "gaussian" else draw(st.integers(2, 4))
    return dict(widths=[k_in, *hidden, k_out], batch=draw(st.integers(1, 9)),
                n_samples=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**32 - 1)))


def randomise(model, rng, *, mu=1.0, rho=(-4.0, 1.0), theta=(-3.0, 3.0)):
    """Parameters with every entry spread out (not the near-constant initial values), on the host."""
    out = {}
    for k, shape in model.param_shapes().items():
        name = k.split(".")[-1]
        if name.endswith("rho"):
            v = rng.uniform(*rho, size=shape)
        elif name == "theta":
            v = rng.uniform(*theta, size=shape)
        elif name == "log_sigma_e":
            v = rng.uniform(-1.0, 1.0, size=shape)
        elif any(tag in k for tag in ("tau_", "lam_", "s_a_", "s_b_")):
            # log-scale means: the horseshoe's log-variance sums four of them and enters as exp(V/2), so a
            # spread of 1 each would give node scales of e^5 and outputs beyond the naive oracle's range
            v = 0.3 * mu * rng.standard_normal(shape)
        else:
            v = mu * rng.standard_normal(shape)
        out[k] = np.asarray(v, dtype=float)
    return out


def data(model, rng, batch):
    x = rng.standard_normal((batch, model.widths[0]))
    if model.likelihood == "gaussian":
        y = rng.standard_normal((batch, model.widths[-1]))
    else:
        y = rng.integers(0, model.widths[-1], size=batch)
    return x, y


def problem(arch, prior, likelihood, activation="silu", relaxation="straight-through", backend="numpy", **kw):
    """A model, host parameters, noise, data and N for one drawn architecture."""
    model = NodeSparseBNN(arch["widths"], prior=prior, likelihood=likelihood, activation=activation,
                          relaxation=relaxation, backend=backend, **kw)
    rng = np.random.default_rng(arch["seed"])
    params = randomise(model, rng)
    noise = {k: model.backend.to_numpy(v) for k, v in model.sample_noise(rng, arch["n_samples"]).items()}
    x, y = data(model, rng, arch["batch"])
    return model, params, noise, x, y, 50 + 3 * arch["batch"]


def to_backend(model, arrays):
    return {k: model.backend.asarray(v) for k, v in arrays.items()}


def max_rel_err(got: dict, ref: dict) -> float:
    """Largest per-array error ``max|got - ref| / max|ref|`` over all keys (inf-norm relative error:
    element-wise ratios are meaningless for entries that are zero up to round-off)."""
    worst = 0.0
    for k in ref:
        r, g = np.asarray(ref[k], dtype=float), np.asarray(got[k], dtype=float)
        assert g.shape == r.shape, (k, g.shape, r.shape)
        scale = max(np.max(np.abs(r)), 1e-300)
        worst = max(worst, float(np.max(np.abs(g - r)) / scale))
    return worst
