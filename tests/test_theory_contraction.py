"""The contraction experiment (experiments/contraction.py): its estimators against closed forms, q* against
the teacher, and the quick sweep end to end through every executor. The slope intervals, derived
predictions and the command line's topology are tested in tests/test_theory_predictions.py.

The sweep itself is a benchmark; here it runs on the ``--quick`` grid only, and the process-pool and
dask runs must reproduce the serial run's numbers exactly (every fit seeds its own generators, so where
it runs cannot matter).
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from refimpl import NodeSparseBNN
from refimpl.data import Standardiser, teacher_outputs, teacher_regression
from refimpl.run.executors import make_executor
from refimpl.run.prune import masked_mean_network, node_masks
from experiments import contraction as ce
from experiments.contraction_cli import report
from theory.predictions import derived_prediction

TIMING_KEYS = ("fit_s", "wall_s")


def _numbers(records):
    """Records without their timings, for exact comparison between executors."""
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


@pytest.fixture(scope="module")
def quick_serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick-serial")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert ce.main(["--quick", "--executor", "serial", "--out", str(out), "--quiet"]) == 0
    (out / "printed.txt").write_text(printed.getvalue())
    with open(out / "contraction.json") as fh:
        return out, json.load(fh)


# ---- (CE-1) Hellinger ------------------------------------------------------------------------------
@pytest.mark.parametrize("delta, sigma", [(0.0, 0.5), (0.3, 0.5), (1.0, 0.2), (-2.0, 1.5), (1e-5, 0.5)])
def test_hellinger_constant_offset_closed_form(delta, sigma):
    """f = f0 + delta everywhere: H^2 = 1 - exp(-delta^2 / (8 sigma^2)), to round-off: the rounding of
    (f0 + delta) - f0 is eps |f0| relative to delta, so the tolerance is 1e-12 + 4 eps max|f0| / |delta|."""
    f0 = np.random.default_rng(0).normal(size=50)
    got = ce.hellinger_sq(f0 + delta, f0, sigma)
    want = -math.expm1(-delta * delta / (8 * sigma * sigma))
    rel = 1e-12 + (4 * np.finfo(float).eps * np.abs(f0).max() / abs(delta) if delta else 0.0)
    assert got == pytest.approx(want, rel=rel, abs=1e-300)


def test_hellinger_per_draw_is_average_over_inputs():
    """Two draws, offsets (d1 on half the inputs, d2 on the other half) and 0: the x-average of the closed form."""
    f0 = np.zeros(4)
    f = np.array([[0.2, 0.2, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    want = 0.5 * (-math.expm1(-0.04 / 2.0) - math.expm1(-1.0 / 2.0))  # sigma = 0.5: 8 sigma^2 = 2
    np.testing.assert_allclose(ce.hellinger_sq(f, f0, 0.5), [want, 0.0], rtol=1e-14)


@given(seed=st.integers(0, 2**32 - 1), sigma=st.floats(0.05, 5.0), scale=st.floats(0.0, 10.0))
def test_hellinger_bounds(seed, sigma, scale):
    """docs/theory-notes.md §4.6: 0 <= H^2 <= 1, symmetric, and H^2 <= ||f - f0||^2 / (8 sigma^2)
    (as 1 - e^-u <= u)."""
    rng = np.random.default_rng(seed)
    f0, f = rng.normal(size=30), rng.normal(size=(3, 30)) * scale
    h2 = ce.hellinger_sq(f, f0, sigma)
    assert np.all(h2 >= 0) and np.all(h2 <= 1)
    np.testing.assert_allclose(h2, [ce.hellinger_sq(f0, fi, sigma) for fi in f], rtol=1e-12)
    assert np.all(h2 <= np.mean((f - f0) ** 2, axis=1) / (8 * sigma**2) * (1 + 1e-12) + 1e-15)


def test_hellinger_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sigma_e"):
        ce.hellinger_sq(np.zeros(3), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="f, f0"):
        ce.hellinger_sq(np.zeros((2, 3)), np.zeros(4), 1.0)


# ---- (CE-2) q* ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("prior, extra", [("ss-ig", {}), ("ss-gl", {}), ("ss-ghs", {}),
                                          ("ss-ghs", {"parameterisation": "non-centred"})])
def test_concentrated_params_mean_network_is_the_teacher(prior, extra):
    """q*'s median-probability mean network reproduces the teacher in standardised units (exactly up to
    round-off), before and after tuning its free factors, and keeps exactly the teacher's nodes."""
    data = teacher_regression(n_train=300, n_test=200, widths=(4, 8, 8, 1), active=(3, 2), rng=5)
    y_std = Standardiser.fit(data.y_train)
    model = NodeSparseBNN([4, 8, 8, 1], prior=prior, activation="tanh", sigma_e=0.5 / y_std.scale, lam="theory",
                          **extra)
    weights, biases = ce.teacher_in_student_units(data.info, y_std)
    rng = np.random.default_rng(0)
    params = ce.concentrated_params(model, weights, biases, data.info["true_active"], 0.01, rng)
    config = ce.ExperimentConfig(n_grid=(300, 600), seeds=(0,))
    tuned = ce.tune_concentrated(model, params, data.x_train, y_std.transform(data.y_train), weights, biases, 20,
                                 config, rng)
    want = (data.info["f_test"] - y_std.mean) / y_std.scale
    for p in (params, tuned):
        masks = node_masks(model, p)
        assert [np.flatnonzero(m).tolist() for m in masks] == [a.tolist() for a in data.info["true_active"]]
        layers = masked_mean_network(model, p, masks)
        got = teacher_outputs(data.x_test, [w for w, _ in layers], [b for _, b in layers], "tanh")[:, 0]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


# ---- the sweep -----------------------------------------------------------------------------------------
def test_quick_serial_end_to_end(quick_serial):
    out, result = quick_serial
    cfg = ce.ExperimentConfig(**{**ce.QUICK})
    assert len(result["records"]) == len(cfg.n_grid) * len(cfg.seeds) * len(ce.PRIORS)
    assert result["smoke"] is True and result["config"]["B"] == 1.5
    summary = result["summary"]
    for r in result["records"]:
        assert 0 < r["hellinger_sq"] < 1
        # E_Q H^2 <= E_Q ||f - f0||^2 / (8 sigma_e^2), docs/theory-notes.md §4.6, averaged over draws
        assert r["hellinger_sq"] <= r["mse_expected"] / (8 * cfg.noise_sigma**2)
        assert r["mse_posterior_mean"] <= r["mse_expected"] * (1 + 1e-12)  # Jensen
        assert r["true_active"] == list(cfg.active)
        assert all(0 <= k <= w for k, w in zip(r["nodes_kept"], cfg.hidden))
        assert math.isfinite(r["elbo_gap"]) and math.isfinite(r["elbo_gap_se"])
    for prior in ce.PRIORS:
        res = summary["priors"][prior]
        # the quick grid (250, 1000): eps_n^2 >= 1 at 250, so one informative n and no slope (CE-4)
        assert res["prediction"]["full"] == derived_prediction(cfg.n_grid, cfg.widths, cfg.active, 1.5, prior)
        assert res["vacuous_n"] == [250] and res["fit_n"] == [1000]
        for metric in ce.METRICS:
            assert res[metric]["slope"] is None and res[metric]["ci"] is None
            assert math.isfinite(res[metric]["slope_all_n"])
        assert res["checks"]["excess_slope_le_0.2"] is None
        assert set(res["checks"]) >= {"slope_in_[-1.5,-0.5]", "elbo_gap_nonnegative", "level_below_eps2"}
    assert result["wall_s"] > 0
    if _has_matplotlib():
        assert os.path.getsize(out / "contraction.png") > 0


def test_quick_says_it_is_a_smoke_run_and_prints_no_slope(quick_serial):
    """--quick: the report says SMOKE RUN and has no slope, interval, or word of the rate; the same result
    reported as an experiment talks about eps_n (so the test can see the difference)."""
    out, result = quick_serial
    printed = (out / "printed.txt").read_text()
    assert "SMOKE RUN (--quick)" in printed and "no slope and no prediction is printed" in printed
    assert "derived" not in printed and "eps_n" not in printed
    assert not re.search(r"-?\d\.\d\d \[-?\d", printed)          # no 'slope [lo, hi]'
    assert printed.count("SMOKE RUN") == 1
    assert "vacuous (eps_n^2 >= 1) at n = 250" in report(result, smoke=False)


def _has_matplotlib():
    return importlib.util.find_spec("matplotlib") is not None


def test_quick_process_pool_matches_serial(tmp_path, quick_serial):
    _, serial = quick_serial
    assert ce.main(["--quick", "--executor", "process", "--workers", "2", "--priors", "ss-ig", "ss-gl",
                    "--out", str(tmp_path), "--quiet"]) == 0
    with open(tmp_path / "contraction.json") as fh:
        pooled = json.load(fh)
    want = [r for r in serial["records"] if r["prior"] in ("ss-ig", "ss-gl")]
    assert _numbers(pooled["records"]) == _numbers(want)


def test_dask_executor_matches_serial(tmp_path, quick_serial):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    _, serial = quick_serial
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        assert ce.main(["--quick", "--executor", "dask", "--scheduler", cluster.scheduler_address,
                        "--priors", "ss-ig", "--out", str(tmp_path), "--quiet"]) == 0
    with open(tmp_path / "contraction.json") as fh:
        result = json.load(fh)
    want = [r for r in serial["records"] if r["prior"] == "ss-ig"]
    assert _numbers(result["records"]) == _numbers(want)


def test_dask_executor_errors(monkeypatch):
    with pytest.raises(ValueError, match="--scheduler"):
        with make_executor("dask"):
            pass
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(RuntimeError, match="pip install"):
        with make_executor("dask", scheduler="tcp://127.0.0.1:1"):
            pass
    with pytest.raises(ValueError, match="executor"):
        with make_executor("threads"):
            pass


def test_config_validation():
    with pytest.raises(ValueError, match="n_grid"):
        ce.ExperimentConfig(n_grid=(100,))
    with pytest.raises(ValueError, match="priors"):
        ce.ExperimentConfig(priors=("gaussian",))
    with pytest.raises(ValueError, match="active"):
        ce.ExperimentConfig(hidden=(8, 2), active=(3, 3))
    with pytest.raises(ValueError, match="active"):
        ce.ExperimentConfig(hidden=(8, 8, 8))
    with pytest.raises(ValueError, match="B"):
        ce.ExperimentConfig(B=0.0)
    with pytest.raises(ValueError, match="noise_sigma"):
        ce.ExperimentConfig(noise_sigma=-1.0)
    with pytest.raises(ValueError, match="activation"):
        ce.ExperimentConfig(activation="sigmoid")
    assert len(ce.ExperimentConfig().seeds) >= 10
