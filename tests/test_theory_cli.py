"""``python -m theory rates`` (theory/rates_cli.py) and the published rates beside it (theory/published.py, T-17).

The command runs in this process through ``theory.__main__.main`` (fast); one error path also runs as a
``python -m theory`` subprocess, as a user would. ``--from-run`` reads a run directory written by the project's
own ``refimpl train`` on its synthetic teacher data (two epochs, about a second). The published forms are
tested for their shape only (how they move with n, s, widths, depth, B): their constants are not known here.
Rate values are compared with ``theory.rates`` at the printed precision, or to round-off (rel 1e-12) in JSON.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from oracles.gradcheck import check_grads
from refimpl.activations import SILU_LIPSCHITZ
from refimpl.run.cli import main as refimpl_main
from theory.__main__ import main as theory_main
from theory.published import (SOURCES, bai_song_cheng_2020, cherief_abdellatif_2020, edge_count, polson_rockova_2018,
                              published_rates, schmidt_hieber_2020)
from theory.rates import eps_n, eps_n_published, validity_threshold
from theory.rates_cli import EXAMPLES
from theory.slab_mass import PRIORS, slab
from theory.topology import topology

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SILU = SILU_LIPSCHITZ
TEACHER = topology([4, 8, 8, 1], [3, 2], 1.5)


def run(argv, capsys):
    code = theory_main(["rates", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def fails(argv, capsys) -> str:
    """Run a bad command line: exit status 2 through SystemExit, exactly one line on stderr, nothing on stdout."""
    with pytest.raises(SystemExit) as exc:
        theory_main(["rates", *argv])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert out == "" and err.count("\n") == 1 and err.startswith("theory: error: ")
    return err


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("run") / "teacher")
    assert refimpl_main(["train", "--out", out, "--data", "teacher-regression", "--hidden", "8", "8", "--epochs", "2",
                         "--quiet"]) == 0
    return out


# ---------------------------------------------------------------------------------------------
# the default, the paper example, JSON
# ---------------------------------------------------------------------------------------------
def test_teacher_example_is_the_contraction_experiments_teacher():
    from refimpl.data.synthetic import WEIGHT_MAGNITUDE
    from experiments.contraction import ExperimentConfig

    cfg, ex = ExperimentConfig(), EXAMPLES["teacher"]
    assert ex["widths"] == cfg.widths and ex["active"] == list(cfg.active) and ex["activation"] == cfg.activation
    assert ex["bounds"] == [WEIGHT_MAGNITUDE[1]]
    grid = sorted(cfg.n_grid)
    assert ex["n"] == pytest.approx(math.exp(sum(map(math.log, grid)) / len(grid)), rel=1e-12)   # geometric middle


def test_default_is_the_teacher_and_says_it_is_informative(capsys):
    code, out, err = run([], capsys)
    assert code == 0 and err == ""
    assert "--example teacher" in out and "warning" not in out          # one output: regression, no warning
    for prior in PRIORS:
        r = eps_n(2000.0, [4, 8, 8, 1], [3, 2], 1.5, prior)              # tanh: L_psi = 1
        assert f"{r.eps:10.4g}" in out and r.eps2 < 1.0
        n_from = validity_threshold(TEACHER, slab(prior))
        assert f"{n_from:16.4g}" in out and f"{n_from:.3g} ({prior})" in out
    assert "Informative at n = 2000" in out and "VACUOUS" not in out
    assert "differ by their slab terms only" in out and "published*" in out and "L+1 (copy layer L)" in out


def test_paper_example_is_vacuous_says_from_where_and_warns_about_classification(capsys):
    code, out, _ = run(["--example", "paper"], capsys)
    assert code == 0
    assert "warning: K = 10 outputs" in out and "Gaussian regression" in out
    topo = topology([784, 400, 400, 10], [41, 34], 1.0)
    for prior in PRIORS:
        r = eps_n(60000.0, topo.widths, [41, 34], 1.0, prior, lipschitz=SILU)
        assert r.eps2 > 1.0 and f"{r.eps:10.4g}" in out
        n_from = validity_threshold(topo, slab(prior), lipschitz=SILU)
        assert 1e6 < n_from < 3e6 and f"{n_from:.3g} ({prior})" in out
    assert "VACUOUS at n = 60000" in out and "never exceeds 1" in out
    assert "R (C3) skipped: D > 5000" in out                          # the 785-coordinate quadrature is not run
    assert "hides the difference" in out                              # the Lipschitz term is > 50% of n r_n


def test_json_parses_and_holds_the_decomposition(capsys):
    code, out, _ = run(["--json", "--example", "paper"], capsys)
    rep = json.loads(out)
    assert code == 0 and rep["n"] == 60000.0 and rep["warning"].startswith("warning: K = 10")
    assert rep["topology"]["D"] == 41 * 785 + 34 * 401 + 10 * 401 and rep["topology"]["edges_S"] == 33963
    parts = {p: rep["priors"][p]["parts"] for p in PRIORS}
    for prior, r in rep["priors"].items():
        ref = eps_n(60000.0, [784, 400, 400, 10], [41, 34], 1.0, prior, lipschitz=SILU)
        assert r["eps2"] == pytest.approx(ref.eps2, rel=1e-12) and r["vacuous"] is True and r["R_c3"] is None
        assert r["parts"]["sample_size"] == pytest.approx(ref.D * math.log(60000.0), rel=1e-12)
        assert r["parts"]["lipschitz"] == pytest.approx(ref.D * math.log(ref.Lambda), rel=1e-9)
        assert r["parts"]["slab"] == pytest.approx(ref.slab, rel=1e-12)
    # only the slab term depends on the prior (T-11): the others agree to round-off, the slab terms do not
    for key in ("sample_size", "lipschitz", "selection"):
        assert len({round(parts[p][key], 6) for p in PRIORS}) == 1
    assert len({round(parts[p]["slab"]) for p in PRIORS}) == 3
    assert json.loads(json.dumps(rep)) == rep and "published" not in rep


def test_given_topology_and_options(capsys):
    code, out, _ = run(["--widths", "8", "32", "32", "1", "--active", "6", "4", "--bounds", "1", "--n", "1000",
                        "--prior", "ss-gl", "--no-c3"], capsys)
    r = eps_n(1000.0, [8, 32, 32, 1], [6, 4], 1.0, "ss-gl")                # relu by default
    assert code == 0 and "given on the command line" in out and f"{r.eps:10.4g}" in out
    assert "ss-ig" not in out and "(--no-c3)" in out


# ---------------------------------------------------------------------------------------------
# --from-run
# ---------------------------------------------------------------------------------------------
def test_from_run_reads_widths_kept_nodes_bounds_and_n(regression_run, capsys):
    from refimpl.run.checkpoint import load_checkpoint
    from refimpl.run.pipeline import read_run, restore, structure
    from refimpl.run.prune import node_masks

    code, out, _ = run(["--from-run", regression_run, "--json", "--no-c3"], capsys)
    rep = json.loads(out)
    model, params, prep, _ = restore(regression_run)                  # the project's own reading of the run
    kept = structure(model, params)["nodes_kept"]
    assert code == 0 and rep["topology"]["widths"] == list(model.widths) and rep["topology"]["active"] == kept
    assert rep["n"] == len(prep.x_fit) == len(load_checkpoint(os.path.join(regression_run, "checkpoint.npz")).perm)
    assert rep["topology"]["activation"] == read_run(regression_run)["model"]["activation"] == "silu"
    assert rep["run_prior"] == model.prior_name and rep["warning"] is None
    keep = [np.ones(model.widths[0], bool), *node_masks(model, params), np.ones(model.widths[-1], bool)]
    largest = [max(np.abs(W[np.ix_(keep[l], keep[l + 1])]).max(), np.abs(v[keep[l + 1]]).max())
               for l, (W, v) in enumerate(model.mean_network(params))]      # B_l: the kept entries of layer l
    assert rep["topology"]["bounds"] == pytest.approx(largest, rel=1e-15)
    code, out, _ = run(["--from-run", regression_run, "--n", "5000", "--bounds", "1", "--no-c3"], capsys)
    assert code == 0 and "<- the run's prior" in out and "bounds [1, 1, 1]" in out
    assert f"{eps_n(5000.0, model.widths, kept, 1.0, model.prior_name, lipschitz=SILU).eps:10.4g}" in out


def test_classification_run_gets_the_regression_warning(tmp_path, capsys):
    out_dir = str(tmp_path / "cls")
    assert refimpl_main(["train", "--out", out_dir, "--data", "teacher-classification", "--hidden", "8", "8",
                         "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    code, out, _ = run(["--from-run", out_dir, "--no-c3"], capsys)
    assert code == 0 and "warning: this is a classification network (categorical likelihood" in out


def test_from_run_errors(tmp_path, capsys):
    assert "does not exist" in fails(["--from-run", str(tmp_path / "nothing")], capsys)
    assert "holds no run.json" in fails(["--from-run", str(tmp_path)], capsys)
    (tmp_path / "run.json").write_text("{}")
    assert "holds no checkpoint.npz" in fails(["--from-run", str(tmp_path)], capsys)
    (tmp_path / "checkpoint.npz").write_bytes(b"junk")
    err = fails(["--from-run", str(tmp_path)], capsys)
    assert "not a readable refimpl run" in err and "--widths and --active" in err
    assert "both name a topology" in fails(["--from-run", str(tmp_path), "--example", "paper"], capsys)


# ---------------------------------------------------------------------------------------------
# bad input: one line, exit status 2
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, says", [
    (["--widths", "4", "8", "1"], "--widths needs --active"),
    (["--active", "3"], "--active needs --widths"),
    (["--widths", "4", "8", "1", "--active", "9"], "s_1 = 9 exceeds the width k_1 = 8"),
    (["--widths", "4", "8", "1", "--active", "2", "--example", "paper"], "both name a topology"),
    (["--n", "0.5"], "n: expected a sample size > 1"),
    (["--bounds", "-1"], "bounds: weight bounds must be finite numbers >= 0"),
    (["--bounds", "1", "1"], "bounds: expected one number or 3 numbers"),
    (["--example", "mnist"], "invalid choice"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--plot", "rates.pdf"], "expected a .png file name"),
    (["--plot", "/nonexistent-dir/rates.png"], "does not exist"),
    (["--published", "--alpha", "0"], "alpha: expected a finite number > 0"),
])
def test_bad_input_is_one_line_and_exit_2(argv, says, capsys):
    err = fails(argv, capsys)
    assert says in err and ("; " in err or ", " in err)


def test_plot_without_matplotlib_is_one_line(monkeypatch, tmp_path, capsys):
    from refimpl.run import plots
    monkeypatch.setattr(plots, "pyplot", lambda: None)                # as without matplotlib
    err = fails(["--plot", str(tmp_path / "r.png")], capsys)
    assert "needs matplotlib, which is not installed" in err and "pip install -e '.[plots]'" in err
    assert not (tmp_path / "r.png").exists()


def test_error_as_a_user_sees_it():
    proc = subprocess.run([sys.executable, "-m", "theory", "rates", "--widths", "4", "8", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("theory: error: --widths needs --active")


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "rates.png"
    code, out, _ = run(["--plot", str(path), "--no-c3"], capsys)
    assert code == 0 and f"wrote {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# (T-17) published rates: shape only
# ---------------------------------------------------------------------------------------------
NS = [1e3 * 2.0 ** j for j in range(20)]


def decreasing(values):
    return all(b < a for a, b in zip(values, values[1:]))


def test_edge_count_is_the_active_mode_dimension():
    assert edge_count(TEACHER) == 3 * 5 + 2 * 4 + 1 * 3                 # s_l (s_{l-1} + 1), s_0 = p, s_3 = K
    assert edge_count(topology([784, 400, 400, 10], [41, 34], 1.0)) == 41 * 785 + 34 * 42 + 10 * 35


def test_formulas_as_their_docstrings_state_them():
    """One value of each form by hand (the docstring's formula, not the paper's constants)."""
    n, widths, s = 1000.0, [4, 8, 8, 1], 26
    log_V = math.log(5 * 9 * 9 * 2)
    sh = 4 * 27 * (math.log(2 * n * 3) + 2 * log_V) / n                 # F^2 (s+1) log(2 n (L+1) V^2) / n
    assert schmidt_hieber_2020(n, widths, s, F=2.0) == pytest.approx(sh, rel=1e-12)
    assert polson_rockova_2018(n, 4, alpha=2.0, delta=1.5) == pytest.approx(n ** (-4 / 8) * math.log(n) ** 3, rel=1e-12)
    ca = (2 * 26 * math.log(1.5 * 8) + 26 * math.log(2 * n / 26)) / n   # [L S log(B D) + S log(n L / S)] / n
    assert cherief_abdellatif_2020(n, 2, 8, 26, 1.5) == pytest.approx(ca, rel=1e-12)
    assert bai_song_cheng_2020(n, 2, 8, 4, 26, delta=1.0) == pytest.approx(
        (3 * 26 * math.log(8) + 26 * math.log(4 * math.sqrt(n) / 26)) / n * math.log(n) ** 2, rel=1e-12)


def test_published_rates_decrease_in_n_where_their_theorems_apply():
    for topo in (TEACHER, topology([784, 400, 400, 10], [41, 34], 1.0)):
        rows = [published_rates(n, topo) for n in NS]
        for name in ("schmidt-hieber", "cherief-abdellatif", "bai-song-cheng"):
            assert decreasing([r[name] for r in rows]), name
    # Polson & Ročková: d log eps^2 / d log n = -2 alpha/(2 alpha + p) + 2 delta / log n, negative iff
    # log n > delta (2 alpha + p) / alpha: the curse of dimensionality in p
    for p, alpha, delta in ((4, 1.0, 1.0), (20, 1.0, 1.0), (4, 3.0, 1.5)):
        turn = math.exp(delta * (2 * alpha + p) / alpha)
        f = lambda n: polson_rockova_2018(n, p, alpha=alpha, delta=delta)   # noqa: E731
        for n in (turn / 10, turn * 10):
            slope = -2 * alpha / (2 * alpha + p) + 2 * delta / math.log(n)
            check_grads(lambda q: math.log(f(math.exp(q["log_n"]))), {"log_n": math.log(n)}, {"log_n": slope})
            assert (slope < 0) == (n > turn)


def test_published_rates_grow_with_sparsity_width_depth_and_B_as_stated():
    n = 1e5
    # linear in (s + 1): Schmidt-Hieber; at most linear in S, and growing: Chérief-Abdellatif, Bai et al.
    assert schmidt_hieber_2020(n, [4, 8, 8, 1], 51) / schmidt_hieber_2020(n, [4, 8, 8, 1], 25) == pytest.approx(2.0)
    for f in (lambda S: cherief_abdellatif_2020(n, 2, 8, S, 1.5), lambda S: bai_song_cheng_2020(n, 2, 8, 4, S)):
        assert 1.0 < f(52) / f(26) <= 2.0
    # widths and depth enter through logarithms (log V, log D, log N) and a factor of L
    assert schmidt_hieber_2020(n, [4, 16, 16, 1], 26) > schmidt_hieber_2020(n, [4, 8, 8, 1], 26)
    assert schmidt_hieber_2020(n, [4, 8, 8, 8, 1], 26) > schmidt_hieber_2020(n, [4, 8, 8, 1], 26)
    assert cherief_abdellatif_2020(n, 3, 8, 26, 1.5) > cherief_abdellatif_2020(n, 2, 8, 26, 1.5)
    assert cherief_abdellatif_2020(n, 2, 16, 26, 1.5) > cherief_abdellatif_2020(n, 2, 8, 26, 1.5)
    assert bai_song_cheng_2020(n, 3, 8, 4, 26) > bai_song_cheng_2020(n, 2, 8, 4, 26)
    assert bai_song_cheng_2020(n, 2, 16, 4, 26) > bai_song_cheng_2020(n, 2, 8, 4, 26)
    # B: logarithmic in Chérief-Abdellatif (L S log B), absent from the others (their weights are bounded by 1 or B
    # is absorbed in the constants)
    diff = cherief_abdellatif_2020(n, 2, 8, 26, 3.0) - cherief_abdellatif_2020(n, 2, 8, 26, 1.5)
    assert diff == pytest.approx(2 * 26 * math.log(2.0) / n, rel=1e-12)
    t1, t2 = published_rates(n, TEACHER), published_rates(n, TEACHER.with_bounds(3.0))
    for name in ("schmidt-hieber", "polson-rockova", "bai-song-cheng"):
        assert t1[name] == t2[name]
    # the log^{2 delta} factor of Bai et al.: delta -> delta + 1/2 multiplies by log n
    assert bai_song_cheng_2020(n, 2, 8, 4, 26, delta=1.5) / bai_song_cheng_2020(n, 2, 8, 4, 26) == \
        pytest.approx(math.log(n), rel=1e-12)


def test_published_rates_refuse_bad_input():
    with pytest.raises(ValueError, match="n: expected a sample size > 1"):
        bai_song_cheng_2020(1.0, 2, 8, 4, 26)
    with pytest.raises(ValueError, match="s: expected an integer >= 1"):
        schmidt_hieber_2020(100.0, [4, 8, 1], 0)
    with pytest.raises(ValueError, match="alpha"):
        polson_rockova_2018(100.0, 4, alpha=-1.0)
    with pytest.raises(ValueError, match="B: expected a finite weight bound"):
        cherief_abdellatif_2020(100.0, 2, 8, 26, math.inf)


def test_published_table_beside_ours(capsys):
    code, out, _ = run(["--published", "--json", "--no-c3"], capsys)
    pub = json.loads(out)["published"]
    assert code == 0 and list(pub["eps"])[-4:] == list(SOURCES) and pub["mapping"]["S"] == 26
    for name in SOURCES:
        assert pub["eps"][name][1] == pytest.approx(math.sqrt(published_rates(2000.0, TEACHER)[name]), rel=1e-12)
    assert pub["eps"]["Jantre et al. (reconstructed, T-13)"][1] == pytest.approx(
        eps_n_published(2000.0, [4, 8, 8, 1], [3, 2], 1.5, "ss-ig").eps, rel=1e-12)
    assert pub["slope"]["this project, ss-ig"] == pytest.approx(json.loads(out)["priors"]["ss-ig"]["slope"], abs=1e-7)
    code, out, _ = run(["--published"], capsys)
    assert "Published rates on the same topology" in out and "RECONSTRUCTED" in out
    assert all(SOURCES[name] in out for name in SOURCES)


def test_the_reconstruction_is_labelled():
    assert "RECONSTRUCTED, NOT THE PAPER'S TEXT" in eps_n_published.__doc__
    for f in (schmidt_hieber_2020, polson_rockova_2018, cherief_abdellatif_2020, bai_song_cheng_2020):
        assert "Form used" in f.__doc__ and "Reconstructed" in f.__doc__ and "Setting" in f.__doc__
