"""Predictions and intervals of the contraction experiment (theory/predictions.py, CE-3 and CE-4), and its
command line's topology and sweeps (experiments/contraction_cli.py).

- the derived slope is a finite difference of eps_n (T-11), computed here from ``eps_n`` values;
- the t interval covers a known slope at its nominal rate on synthetic data;
- vacuous points (eps_n^2 >= 1) are marked and left out of the slope fit;
- the command line's topology flags and sweeps build the configurations they describe.
No fit is trained here except one tiny sweep; the whole file runs in a few seconds.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from oracles.gradcheck import check_grads
from refimpl.data import teacher_network
from refimpl.data.synthetic import WEIGHT_MAGNITUDE
from experiments import contraction as ce
from experiments import contraction_cli as cli
from theory import predictions as pr
from theory.rates import eps_n
from theory.slab_mass import PRIORS
from theory.topology import topology

TEACHER = dict(widths=[4, 8, 8, 1], active=[3, 2], bounds=1.5)     # the experiment's default (tanh: L_psi = 1)
GRID = (250, 500, 1000, 2000, 4000, 8000, 16000)


def _log_eps2(n, prior, group_mode="full", **topo):
    t = {**TEACHER, **topo}
    return math.log(eps_n(n, t["widths"], t["active"], t["bounds"], prior, group_mode=group_mode).eps2)


# ---- (CE-4) the derived slope -----------------------------------------------------------------------
@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("group_mode", ["full", "active"])
def test_derived_slope_is_a_finite_difference_of_the_rate(prior, group_mode):
    """On two grid points the OLS slope is the chord (log eps^2(n2) - log eps^2(n1)) / log(n2/n1); the local
    slope at their geometric middle is the derivative of log eps_n^2 in log n (central differences,
    ``check_grads``). Both also follow from n r_n = D log n + K0 (T-11) with K0 read off at one n."""
    n1, n2 = 1000, 8000
    got = pr.derived_prediction((n1, n2), **TEACHER, prior=prior, group_mode=group_mode)
    chord = (_log_eps2(n2, prior, group_mode) - _log_eps2(n1, prior, group_mode)) / math.log(n2 / n1)
    assert got["derived_slope"] == pytest.approx(chord, rel=1e-12)
    n_mid = math.sqrt(n1 * n2)
    assert got["n_mid"] == pytest.approx(n_mid, rel=1e-12)
    check_grads(lambda p: _log_eps2(math.exp(p["log_n"]), prior, group_mode), {"log_n": math.log(n_mid)},
                {"log_n": got["local_slope"]})
    # n eps_n^2 = D log n + K0: the chord from the closed form
    D = topology(TEACHER["widths"], TEACHER["active"], 1.5, group_mode=group_mode).D
    K0 = n1 * math.exp(_log_eps2(n1, prior, group_mode)) - D * math.log(n1)
    closed = math.log((D * math.log(n2) + K0) / (D * math.log(n1) + K0)) / math.log(n2 / n1) - 1.0
    assert got["derived_slope"] == pytest.approx(closed, rel=1e-10)


def test_derived_slopes_of_the_experiments_teacher():
    """The numbers issue 14 quotes for [4, 8, 8, 1], s = (3, 2), B = 1.5: about -0.95 with full groups and
    -0.94 with active ones, on the informative grid n = 1000..16000; the bound is vacuous at 250 and 500."""
    for prior in PRIORS:
        full = pr.derived_prediction(GRID, **TEACHER, prior=prior)
        active = pr.derived_prediction(GRID, **TEACHER, prior=prior, group_mode="active", fit_n=full["fit_n"])
        assert full["vacuous"] == [True, True, False, False, False, False, False]
        assert full["fit_n"] == active["fit_n"] == [1000, 2000, 4000, 8000, 16000]
        assert 500 < full["informative_from_n"] < 1000
        assert full["derived_slope"] == pytest.approx(-0.95, abs=0.005)
        assert active["derived_slope"] == pytest.approx(-0.943, abs=0.005)
        assert active["derived_slope"] > full["derived_slope"]        # smaller D: constants weigh more


# ---- (CE-3) the t interval --------------------------------------------------------------------------
def test_t_interval_by_hand():
    """Three values: mean -+ t_{2, 0.975} sd / sqrt(3), with the closed form of Student's t quantile for two
    degrees of freedom, t_{2, p} = (2p - 1) / sqrt(2 p (1 - p)) (= 4.3027 at p = 0.975)."""
    x = [-1.1, -0.9, -0.7]
    got = pr.t_interval(x)
    half = (2 * 0.975 - 1) / math.sqrt(2 * 0.975 * 0.025) * 0.2 / math.sqrt(3)
    assert got["mean"] == pytest.approx(-0.9, abs=1e-15)
    np.testing.assert_allclose(got["ci"], [-0.9 - half, -0.9 + half], rtol=1e-12)
    assert got["df"] == 2 and pr.t_interval([0.3])["ci"] is None
    with pytest.raises(ValueError, match="level"):
        pr.t_interval(x, level=1.0)


def test_seed_slopes_recover_an_exact_power_law():
    """y = a_s n^b with a different constant per seed: every per-seed slope, the mean, the median and both
    interval ends equal b (round-off only)."""
    n = np.array([1000, 2000, 4000, 8000])
    b = -0.8731
    res = pr.seed_slopes(n, np.array([a * n**b for a in (0.3, 1.0, 7.5, 2.0)]))
    for got in [res["slope"], res["median_slope"], *res["ci"], *res["per_seed"]]:
        assert got == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("n_seeds", [3, 10])
def test_t_interval_covers_a_known_slope_at_its_level(n_seeds):
    """2000 synthetic experiments, log y = a_s + b log n + noise (normal, sd 0.2, per seed and n): the 95%
    interval covers b in 95% of them, within 5 binomial standard errors (0.024). At 3 seeds the old
    percentile bootstrap covered about 75% (docs/theory.md, CE-3)."""
    rng = np.random.default_rng(2024)
    n, b, reps = np.array(GRID[2:], dtype=float), -0.7, 2000
    covered = 0
    for _ in range(reps):
        log_y = rng.normal(size=(n_seeds, 1)) + b * np.log(n) + 0.2 * rng.normal(size=(n_seeds, n.size))
        lo, hi = pr.seed_slopes(n, np.exp(log_y))["ci"]
        covered += lo <= b <= hi
    assert abs(covered / reps - 0.95) <= 5 * math.sqrt(0.95 * 0.05 / reps)


# ---- (CE-4) vacuous points and levels -----------------------------------------------------------------
def _records(config, h2):
    """Synthetic records: ``hellinger_sq = h2(n, seed)``, posterior-mean errors proportional to it."""
    return [{"prior": prior, "n": n, "seed": seed, "hellinger_sq": h2(n, seed), "mse_posterior_mean": 3 * h2(n, seed),
             "mse_expected": 4 * h2(n, seed), "nodes_kept": list(config.active), "true_active": list(config.active),
             "elbo_gap": 1.0} for prior in config.priors for n in config.n_grid for seed in config.seeds]


def test_vacuous_points_are_marked_and_kept_out_of_the_slope_fit():
    """eps_n^2 >= 1 at n = 250, 500 (checked against eps_n here). The records follow c_s n^-0.8 at the other n
    and are 0.5 (flat) at those two, so the fit recovers -0.8 only if it leaves them out; the all-n slope
    does not. The level is c_s n^-0.8 / eps_n^2, its geometric mean over seeds."""
    cfg = ce.ExperimentConfig(seeds=(0, 1, 2), priors=("ss-gl",))
    c = {0: 0.2, 1: 0.5, 2: 0.8}
    res = ce.summarise(_records(cfg, lambda n, s: 0.5 if n <= 500 else c[s] * n ** -0.8), cfg)["priors"]["ss-gl"]
    vacuous = [n for n in GRID if eps_n(n, **TEACHER, prior="ss-gl").eps2 >= 1.0]
    assert res["vacuous_n"] == vacuous == [250, 500]
    assert res["fit_n"] == [1000, 2000, 4000, 8000, 16000]
    assert res["hellinger_sq"]["slope"] == pytest.approx(-0.8, abs=1e-12)
    assert res["hellinger_sq"]["ci"] == pytest.approx([-0.8, -0.8], abs=1e-12)
    assert abs(res["hellinger_sq"]["slope_all_n"] + 0.8) > 0.1
    eps2 = np.array([eps_n(n, **TEACHER, prior="ss-gl").eps2 for n in res["fit_n"]])
    want = np.exp(np.mean(np.log([0.2, 0.5, 0.8]))) * np.array(res["fit_n"], dtype=float) ** -0.8 / eps2
    np.testing.assert_allclose(res["level_ratio"]["ratio"], want, rtol=1e-12)
    assert res["checks"]["level_below_eps2"] is True and res["checks"]["derived_slope_in_ci"] is False
    text = cli.report({"config": {**vars(cfg)}, "summary": ce.summarise(_records(cfg, lambda n, s: c[s] / n), cfg)})
    assert "vacuous (eps_n^2 >= 1) at n = 250, 500" in text and "use n = 1000, 2000, 4000, 8000, 16000" in text
    assert "-1.00 [-1.00, -1.00]" in text and "note: 3 seeds (< 10)" in text


def test_no_slope_without_two_informative_points():
    cfg = ce.ExperimentConfig(n_grid=(100, 250, 700), seeds=(0, 1), priors=("ss-ig",))
    summary = ce.summarise(_records(cfg, lambda n, s: 1.0 / n), cfg)
    res = summary["priors"]["ss-ig"]
    assert res["fit_n"] == [] and res["hellinger_sq"]["slope"] is None and res["level_ratio"] is None
    assert res["prediction"]["full"]["derived_slope"] is None
    text = cli.report({"config": vars(cfg), "summary": summary})
    assert "no slope is fitted" in text and "derived" not in text and "E_Q H^2 by n" in text


# ---- the command line: topology and sweeps ---------------------------------------------------------------
def _config(argv):
    return cli.base_config(cli._parser().parse_args(argv))


def test_topology_from_the_command_line():
    cfg = _config(["--p", "3", "--hidden", "6", "5", "4", "--active", "2", "2", "1", "--B", "2.4", "--noise", "0.3",
                   "--activation", "relu", "--seeds", "0", "1"])
    assert (cfg.p, cfg.hidden, cfg.active, cfg.B, cfg.noise_sigma, cfg.activation, cfg.seeds) == \
        (3, (6, 5, 4), (2, 2, 1), 2.4, 0.3, "relu", (0, 1))
    assert cfg.widths == [3, 6, 5, 4, 1] and cfg.weight_magnitude == pytest.approx((0.8, 2.4)) and cfg.bounds == 2.4
    assert _config([]) == ce.ExperimentConfig() and ce.ExperimentConfig(B=0.3).bounds == 0.5   # biases U(-0.5, 0.5)
    quick = _config(["--quick", "--hidden", "4", "4"])
    assert quick.hidden == (4, 4) and quick.steps == ce.QUICK["steps"]


def test_sweeps_over_width_depth_s_and_B():
    base = ce.ExperimentConfig()
    assert cli.sweep_points(base, None) == [("", base)]
    pts = cli.sweep_points(base, [["width", "6", "16"]])
    assert [(t, c.hidden, c.active) for t, c in pts] == [("width=6", (6, 6), (3, 2)), ("width=16", (16, 16), (3, 2))]
    pts = cli.sweep_points(base, [["s", "1", "4"], ["depth", "1", "3"]])         # depth first: s reaches every layer
    assert [(t, c.hidden, c.active) for t, c in pts] == [
        ("depth=1,s=1", (8,), (1,)), ("depth=1,s=4", (8,), (4,)),
        ("depth=3,s=1", (8, 8, 8), (1, 1, 1)), ("depth=3,s=4", (8, 8, 8), (4, 4, 4))]
    pts = cli.sweep_points(base, [["B", "0.75", "3"]])
    assert [(t, c.B, c.weight_magnitude) for t, c in pts] == [("B=0.75", 0.75, (0.25, 0.75)), ("B=3", 3.0, (1.0, 3.0))]


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "8", "1"], "active: expected one count 1 <= s_l <= k_l"),
    (["--sweep", "width", "2"], "sweep point width=2: active"),
    (["--sweep", "size", "2"], "unknown axis 'size'"),
    (["--sweep", "width", "x"], "expected int values"),
    (["--sweep", "B", "1", "--sweep", "B", "2"], "given twice"),
    (["--sweep", "depth", "0"], "depths >= 1"),
    (["--B", "-1"], "B: expected a finite weight bound > 0"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_topology_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv + ["--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("theory: error: ") and message in err and err.count("\n") == 1


def test_teacher_weight_magnitude():
    """``weight_magnitude`` maps the same uniform draws affinely: |w| in [1, 3] is 1 + 2 (|w_default| - 0.5)
    on the same support, to round-off; the default is refimpl's U[0.5, 1.5]."""
    w0, b0, a0 = teacher_network([4, 8, 8, 1], [3, 2], 7)
    w1, b1, a1 = teacher_network([4, 8, 8, 1], [3, 2], 7, weight_magnitude=(1.0, 3.0))
    assert WEIGHT_MAGNITUDE == (0.5, 1.5) and all(np.array_equal(x, y) for x, y in zip(a0, a1))
    for x, y in zip(w0, w1):
        on = x != 0
        np.testing.assert_array_equal(on, y != 0)
        np.testing.assert_allclose(np.abs(y[on]), 1.0 + 2.0 * (np.abs(x[on]) - 0.5), rtol=1e-14)
        assert np.all(np.sign(x) == np.sign(y))
    assert all(np.array_equal(x, y) for x, y in zip(b0, b1))
    with pytest.raises(ValueError, match="weight_magnitude"):
        teacher_network([4, 8, 8, 1], [3, 2], 7, weight_magnitude=(2.0, 1.0))


def test_a_tiny_sweep_writes_each_point_and_a_table(tmp_path, capsys):
    """Two values of B, one prior, one seed, 20 steps: each point's JSON has its B and a teacher within it."""
    argv = ["--quick", "--executor", "serial", "--priors", "ss-ig", "--seeds", "0", "--steps", "20", "--qstar-steps",
            "0", "--sweep", "B", "0.9", "2.7", "--out", str(tmp_path), "--quiet"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("== B=") == 2 and "SMOKE RUN" in printed and "== sweep ==" not in printed
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert [p["point"] for p in sweep["points"]] == ["B=0.9", "B=2.7"] and sweep["smoke"] is True
    for B in (0.9, 2.7):
        result = json.loads((tmp_path / f"B={B:g}" / "contraction.json").read_text())
        assert result["config"]["B"] == B and len(result["records"]) == 2
        assert result["summary"]["bounds"] == max(B, 0.5)
