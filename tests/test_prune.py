"""Pruning by the median-probability rule and the exported network (refimpl/run/prune.py, compressed.py).

The oracle for the export is written here from the definitions (PR-1, PR-2): weights at the variational
mean ``E_q[t] * mu`` (``E_q[t]`` from SciPy: the log-normal mean, or adaptive quadrature for the
regularised horseshoe), pruned nodes' incoming columns and biases zeroed, and a plain NumPy forward pass.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit, softplus

from refimpl import NodeSparseBNN
from refimpl.run.compressed import CompressedMLP
from refimpl.run.prune import compress, dense_mean_network, node_masks

from helpers import randomise

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTHS = [3, 6, 5, 4, 2]    # three hidden layers

PRIORS = {
    "gaussian": dict(prior="gaussian"),
    "ss-ig": dict(prior="ss-ig"),
    "ss-gl-noncentred": dict(prior="ss-gl", parameterisation="non-centred"),
    "ss-gl-centred": dict(prior="ss-gl", parameterisation="centred"),
    "ss-ghs-centred": dict(prior="ss-ghs", parameterisation="centred"),
    "ss-ghs-noncentred-c1": dict(prior="ss-ghs", parameterisation="non-centred", c=1.0),
    "ss-ghs-noncentred-cinf": dict(prior="ss-ghs", parameterisation="non-centred", c=math.inf),
}


def _sp(rho):
    return softplus(np.asarray(rho, dtype=float))


def expected_scale_oracle(model, params, l):
    """``E_q[t]`` of layer l's node scales from the definitions, or None when the scales are not in the
    forward pass (centred, or no scales)."""
    cfg = model.config
    if cfg["prior"] not in ("ss-gl", "ss-ghs") or cfg.get("parameterisation", "non-centred" if cfg["prior"] == "ss-gl"
                                                         else "centred") == "centred":
        return None
    if cfg["prior"] == "ss-gl":      # t = exp(V/2), V ~ N(tau_mu, s^2): t ~ LogNormal(tau_mu/2, (s/2)^2)
        mu, s = params[f"{l}.tau_mu"], _sp(params[f"{l}.tau_rho"])
        return stats.lognorm(s=s / 2, scale=np.exp(mu / 2)).mean()
    # ss-ghs (GHS-1): V = log(s^2 tau^2) ~ N(M, Sigma^2), a sum of four independent Gaussians
    M = params[f"{l}.tau_a_mu"] + params[f"{l}.tau_b_mu"] + params["s_a_mu"] + params["s_b_mu"]
    Sigma = np.sqrt(sum(_sp(params[k]) ** 2 for k in (f"{l}.tau_a_rho", f"{l}.tau_b_rho", "s_a_rho", "s_b_rho")))
    c = cfg.get("c", 1.0)
    if math.isinf(c):
        return stats.lognorm(s=Sigma / 2, scale=np.exp(M / 2)).mean()

    def t(v):   # regularised horseshoe scale (Piironen & Vehtari 2017): c^2 e^V / (c^2 + e^V), square-rooted
        return c / math.sqrt(c * c * math.exp(-v) + 1.0)

    # the Gaussian mass beyond 12 Sigma is < 1e-32 and t <= c, so the truncation is invisible
    return np.array([integrate.quad(lambda v: t(v) * stats.norm.pdf(v, m, S), m - 12 * S, m + 12 * S,
                                    epsabs=1e-14, epsrel=1e-13, limit=200)[0] for m, S in zip(M, Sigma)])


def oracle_layers(model, params, keep):
    """Full-width weights at the variational mean with pruned nodes' groups zeroed (PR-1, PR-2)."""
    layers = []
    for l in range(len(model.widths) - 1):
        W, b = params[f"{l}.w_mu"].copy(), params[f"{l}.b_mu"].copy()
        t = expected_scale_oracle(model, params, l)
        if t is not None:
            W, b = W * t, b * t
        if l < len(keep):
            W[:, ~keep[l]], b[~keep[l]] = 0.0, 0.0
        layers.append((W, b))
    return layers


def forward(layers, x, activation):
    psi = {"silu": lambda a: a * expit(a), "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0)}[activation]
    h = x
    for l, (W, b) in enumerate(layers):
        h = h @ W + b
        if l < len(layers) - 1:
            h = psi(h)
    return h


def problem(name, scenario, seed=0, activation="silu"):
    model = NodeSparseBNN(WIDTHS, activation=activation, **PRIORS[name])
    rng = np.random.default_rng(seed)
    params = randomise(model, rng)
    for l in range(len(WIDTHS) - 2):
        key = f"{l}.theta"
        if key in params:   # alternating signs: some nodes kept, some pruned, in every hidden layer
            k = params[key].shape[0]
            params[key] = rng.uniform(0.2, 3.0, k) * np.where(np.arange(k) % 2 == 0, 1.0, -1.0)[rng.permutation(k)]
            if scenario == "layer-1-empty" and l == 1:
                params[key] = -np.abs(params[key])
    keep = [params[f"{l}.theta"] > 0 if f"{l}.theta" in params else np.ones(WIDTHS[l + 1], bool)
            for l in range(len(WIDTHS) - 2)]     # sigmoid(theta) > 1/2  <=>  theta > 0
    return model, params, keep, rng.standard_normal((50, WIDTHS[0]))


@pytest.mark.parametrize("scenario", ["mixed", "layer-1-empty"])
@pytest.mark.parametrize("name", list(PRIORS))
def test_export_equals_masked_full_network(name, scenario):
    model, params, keep, x = problem(name, scenario)
    net = compress(model, params, check_x=x)
    kept = [int(k.sum()) for k in keep]
    if model.prior.spike:
        assert 0 < kept[0] < WIDTHS[1] and (kept[1] == 0) == (scenario == "layer-1-empty")
    assert net.meta["max_abs_diff"] <= 1e-10                     # exact up to float64 round-off
    assert net.widths == [WIDTHS[0], *kept, WIDTHS[-1]] == net.meta["kept_widths"]
    assert [m.tolist() for m in net.masks] == [k.tolist() for k in keep]

    # The exported blocks are the kept rows/columns of the masked mean network, bit for bit.
    mean = [(np.asarray(W), np.asarray(b)) for W, b in model.mean_network(params)]
    masked = [(W * keep[l], b * keep[l]) if l < len(keep) else (W, b) for l, (W, b) in enumerate(mean)]
    keep_in = np.ones(WIDTHS[0], bool)
    for l, (W, b) in enumerate(masked):
        keep_out = keep[l] if l < len(keep) else np.ones(WIDTHS[-1], bool)
        assert np.array_equal(net.weights[l], W[np.ix_(keep_in, keep_out)]) and np.array_equal(net.biases[l], b[keep_out])
        keep_in = keep_out

    # Against the oracle written here: scales from SciPy, masking and forward pass by hand.
    ref = forward(oracle_layers(model, params, keep), x, "silu")
    out = net.predict(x)
    scale = np.max(np.abs(ref))
    # closed forms agree to round-off; quadrature (epsrel 1e-13) vs the model's 64-node Gauss-Hermite rule
    # of a smooth integrand agree to ~1e-11 relative (measured), amplified by a few layers of weights
    tol = 1e-12 if "c1" not in name else 1e-9
    assert np.max(np.abs(out - ref)) <= tol * scale
    # ... and the full-width network at the same masked weights gives the same outputs
    assert np.max(np.abs(forward(masked, x, "silu") - out)) <= 1e-12 * scale     # round-off


def test_mean_network_matches_definitions():
    for name in PRIORS:
        model, params, keep, _ = problem(name, "mixed", seed=1)
        for l, (W, b) in enumerate(model.mean_network(params)):
            t = expected_scale_oracle(model, params, l)
            if t is None:
                assert np.array_equal(W, params[f"{l}.w_mu"]) and np.array_equal(b, params[f"{l}.b_mu"]), name
            else:
                # lognormal mean: round-off; regularised horseshoe: quadrature vs Gauss-Hermite (see above)
                rtol = 1e-13 if "c1" not in name else 1e-10
                np.testing.assert_allclose(W, params[f"{l}.w_mu"] * t, rtol=rtol, err_msg=name)
                np.testing.assert_allclose(b, params[f"{l}.b_mu"] * t, rtol=rtol, err_msg=name)


def test_dense_mean_network_is_unpruned():
    model, params, keep, x = problem("ss-gl-noncentred", "layer-1-empty")
    dense = dense_mean_network(model, params)
    assert dense.widths == WIDTHS
    ref = forward(oracle_layers(model, params, [np.ones(k, bool) for k in WIDTHS[1:-1]]), x, "silu")
    assert np.max(np.abs(dense.predict(x) - ref)) <= 1e-12 * np.max(np.abs(ref))   # round-off


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_export_other_activations(activation):
    model, params, keep, x = problem("ss-ig", "mixed", activation=activation)
    net = compress(model, params, check_x=x)
    assert net.meta["max_abs_diff"] <= 1e-10 and net.activation == activation
    ref = forward(oracle_layers(model, params, keep), x, activation)
    assert np.max(np.abs(net.predict(x) - ref)) <= 1e-12 * np.max(np.abs(ref))    # round-off


def test_threshold():
    model, params, _, x = problem("ss-ig", "mixed")
    for threshold in (0.0, 0.3, 0.5, 0.9):
        masks = node_masks(model, params, threshold)
        assert [m.tolist() for m in masks] == [(expit(params[f"{l}.theta"]) > threshold).tolist() for l in range(3)]
        assert compress(model, params, threshold).widths[1:-1] == [int(m.sum()) for m in masks]
    assert compress(model, params, 0.0).widths == WIDTHS


@pytest.mark.parametrize("threshold", [1.0, 1.5, -0.1, math.nan])
def test_threshold_validation(threshold):
    model, params, _, _ = problem("ss-ig", "mixed")
    with pytest.raises(ValueError, match="threshold: expected a probability in \\[0, 1\\)"):
        compress(model, params, threshold)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ss-gl-noncentred", "ss-ghs-noncentred-c1", "ss-ghs-noncentred-cinf"])
def test_expected_scales_monte_carlo(name):
    """``prior.family.expected_scales`` (PR-1) against the mean of the scales the model's own forward pass samples."""
    model = NodeSparseBNN([2, 4, 3], **PRIORS[name])
    rng = np.random.default_rng(7)
    params = randomise(model, rng, rho=(-2.0, 0.0))
    noise = model.sample_noise(rng, 200_000)
    scales, _ = model.prior.family.scales(model.prior, params, noise)
    for l, (t, e_t) in enumerate(zip(scales, model.prior.family.expected_scales(model.prior, params))):
        mean, se = t.mean(axis=0), t.std(axis=0) / math.sqrt(t.shape[0])
        assert np.all(np.abs(mean - e_t) <= 5 * se), (l, mean, e_t, se)      # 5 standard errors


def test_compressed_file_runs_with_numpy_alone(tmp_path):
    """compressed.npz + a copy of compressed.py predict in a Python that cannot import refimpl."""
    model, params, _, x = problem("ss-ghs-noncentred-c1", "mixed")
    net = compress(model, params, check_x=x, meta={"note": "test"})
    net.save(str(tmp_path / "compressed.npz"))
    np.save(tmp_path / "x.npy", x)
    with open(os.path.join(REPO, "refimpl", "run", "compressed.py")) as src, open(tmp_path / "compressed.py", "w") as dst:
        dst.write(src.read())
    site = os.path.dirname(os.path.dirname(np.__file__))
    script = f"""
import sys
sys.path[:0] = [{str(tmp_path)!r}, {site!r}]
try:
    import refimpl
except ImportError:
    pass
else:
    sys.exit("refimpl is importable: " + refimpl.__file__)
import numpy as np
from compressed import CompressedMLP
net = CompressedMLP.load("compressed.npz")
np.save("y.npy", net.predict(np.load("x.npy")))
print(sorted(m for m in sys.modules if m.split('.')[0] in ("refimpl", "scipy", "array_api_compat")))
"""
    # -I: isolated (no PYTHONPATH, no user site, no cwd on sys.path); -S: no site-packages .pth files,
    # hence no editable-install hook for refimpl. numpy's directory is added by hand above.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.strip() == "[]"
    y = np.load(tmp_path / "y.npy")
    assert np.array_equal(y, net.predict(x))
    loaded = CompressedMLP.load(str(tmp_path / "compressed.npz"))
    assert np.array_equal(loaded.predict(x), y) and loaded.meta["note"] == "test"
    assert [m.tolist() for m in loaded.masks] == [m.tolist() for m in net.masks]


def test_compressed_predict_validates_input():
    model, params, _, x = problem("ss-ig", "mixed")
    net = compress(model, params)
    with pytest.raises(ValueError, match="x: expected shape \\(batch, 3\\)"):
        net.predict(x[:, :2])
    with pytest.raises(ValueError, match="activation: unknown 'gelu'"):
        CompressedMLP(net.weights, net.biases, "gelu")


def test_export_check_raises_on_a_wrong_export():
    """(PR-2) check_export accepts round-off and refuses a network that computes something else."""
    from refimpl.run.prune import check_export
    rng = np.random.default_rng(4)
    Ws = [rng.standard_normal((5, 4)), rng.standard_normal((4, 2))]
    bs = [rng.standard_normal(4), rng.standard_normal(2)]
    x = rng.standard_normal((7, 5))
    a = CompressedMLP(Ws, bs, "silu")
    assert check_export(a, CompressedMLP([W.copy() for W in Ws], [b.copy() for b in bs], "silu"), x) == 0.0
    roundoff = CompressedMLP([Ws[0] * (1 + 1e-15), Ws[1]], bs, "silu")        # a few eps: accepted
    assert check_export(roundoff, a, x) < 1e-13
    wrong = CompressedMLP([Ws[0], Ws[1] + 1e-6], bs, "silu")
    with pytest.raises(RuntimeError, match="^export check"):
        check_export(wrong, a, x)
