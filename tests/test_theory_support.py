"""The support-recovery experiment (experiments/support.py, SR-1 to SR-3): its error rates against hand-counted
cases, the first-layer matching against planted permutations and sign flips, the control start, and the
command line's error contract. The sweep itself is an experiment; here it runs on a tiny grid."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from experiments import support as sr
from refimpl.run.executors import SerialExecutor
from experiments.contraction import ExperimentConfig


# ---- (SR-1) counts and indices, hand-counted --------------------------------------------------------
@pytest.mark.parametrize("kept, active, width, expected", [
    (5, 3, 8, (2 / 5, 0.0)),      # two extra nodes among five inactive ones
    (1, 3, 8, (0.0, 2 / 3)),      # two of three active nodes missing
    (3, 3, 8, (0.0, 0.0)),        # the true count
    (8, 3, 8, (1.0, 0.0)),        # every node kept: the largest over-selection
    (0, 3, 8, (0.0, 1.0)),        # an empty layer: the largest under-selection
    (4, 4, 4, (0.0, 0.0)),        # every node active: FP defined as 0, not 0 / 0
])
def test_count_errors_hand_counted(kept, active, width, expected):
    assert sr.count_errors(kept, active, width) == pytest.approx(expected, abs=0)


def test_index_errors_hand_counted():
    mask = np.array([1, 1, 0, 0, 1, 0], dtype=bool)        # kept {0, 1, 4}; true {0, 3}
    fp, fn = sr.index_errors(mask, [0, 3])
    assert (fp, fn) == (2 / 4, 1 / 2)                      # {1, 4} of four inactive; {3} of two active
    assert sr.index_errors(np.isin(np.arange(6), [0, 3]), [0, 3]) == (0.0, 0.0)


# ---- (SR-2) matching up to permutation and sign --------------------------------------------------------
def test_matching_recovers_a_permuted_signed_scaled_teacher():
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(5, 3))
    student = teacher[:, [2, 0, 1]] * np.array([-1.0, 3.0, 0.5])        # permuted, one negated, rescaled
    extra = rng.normal(size=(5, 1))
    extra -= teacher @ np.linalg.lstsq(teacher, extra, rcond=None)[0]   # orthogonal to every teacher node
    assert sr.matched_errors(student, teacher) == (3, 0, 0)
    assert sr.matched_errors(np.hstack([student, extra]), teacher) == (3, 1, 0)
    assert sr.matched_errors(student[:, :2], teacher) == (2, 0, 1)
    assert sr.matched_errors(np.zeros((5, 0)), teacher) == (0, 0, 3)


@pytest.mark.parametrize("cos, tp", [(sr.MATCH_COS + 1e-6, 1), (sr.MATCH_COS - 1e-6, 0)])
def test_matching_threshold_is_sharp(cos, tp):
    """A student vector at angle arccos(cos) from the teacher's: a true positive exactly when cos >= MATCH_COS."""
    teacher = np.array([[1.0], [0.0], [0.0]])
    student = np.array([[cos], [math.sqrt(1 - cos * cos)], [0.0]])
    assert sr.matched_errors(student, teacher) == (tp, 1 - tp, 1 - tp)


# ---- the experiment on a tiny grid ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    config = ExperimentConfig(n_grid=(250, 500), seeds=(0,), priors=("ss-ig",), steps=100, qstar_steps=0,
                              n_test=300, elbo_samples=2)
    return sr.run_support(config, SerialExecutor(), log=None)


def test_control_starts_and_stays_at_the_truth(tiny):
    """The control starts at the teacher's support (gamma = sigmoid(+-12)) and, after 100 steps, keeps the
    teacher's nodes index for index; a random start (logits near logit(0.99) +- 2) still keeps more. A control
    that ignored its start, or a mask read from the wrong start, fails both."""
    for r in tiny["records"]:
        truth = r["truth"]
        assert [L["kept"] for L in truth["layers"]] == r["true_active"]
        assert all(L["fp_index"] == 0 and L["fn_index"] == 0 for L in truth["layers"])
        assert truth["exact_counts"] is True
        assert sum(L["kept"] for L in r["random"]["layers"]) > sum(r["true_active"])


def test_summary_means_the_records(tiny):
    rows = tiny["summary"]["priors"]["ss-ig"]
    for r in tiny["records"]:
        row = rows[str(r["n"])]
        for start in sr.STARTS:
            assert row[start]["kept"] == [float(L["kept"]) for L in r[start]["layers"]]
            assert row[start]["exact_counts"] == float(r[start]["exact_counts"])
        assert row["elbo_diff_ci"] is None                  # one seed: no interval
    assert "ss-ig" in sr.report(tiny)


# ---- the command line -------------------------------------------------------------------------------
def test_cli_quick_writes_json(tmp_path, capsys):
    out = tmp_path / "sr"
    assert sr.main(["--quick", "--executor", "serial", "--quiet", "--priors", "ss-gl", "--seeds", "0",
                    "--n-grid", "250", "500", "--steps", "30", "--theta-lr", "0.5", "--out", str(out)]) == 0
    result = json.loads((out / "support.json").read_text())
    assert result["train_options"] == {"theta_lr": 0.5} and result["smoke"] is True
    assert len(result["records"]) == 2
    assert "theta_lr" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["--steps", "0"], "steps"),
    (["--theta-lr", "-1"], "theta_lr"),
    (["--n-grid", "250"], "n_grid"),
    (["--workers", "0"], "workers"),
    (["--priors", "nope"], "invalid choice"),
    (["--hidden", "8", "--active", "9"], "active"),
    (["--sweep", "width"], "--sweep width"),
])
def test_cli_bad_input_is_one_line(argv, needle, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        sr.main(argv + ["--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1
    assert err[0].startswith("theory: error: ") and needle in err[0]


def test_topology_and_sweep_from_the_command_line(tmp_path, capsys):
    """The contraction experiment's teacher flags and sweeps (issue: both experiments take the topology): one
    hidden layer of 6 with 2 active, B swept over two values; each point its own folder; a smoke run says so."""
    out = tmp_path / "sw"
    assert sr.main(["--quick", "--executor", "serial", "--quiet", "--priors", "ss-ig", "--seeds", "0", "--n-grid",
                    "250", "500", "--steps", "20", "--hidden", "6", "--active", "2", "--sweep", "B", "1", "2",
                    "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("SMOKE RUN") == 2 and "== B=1 ==" in printed and "== B=2 ==" in printed
    for tag, B in (("B=1", 1.0), ("B=2", 2.0)):
        result = json.loads((out / tag / "support.json").read_text())
        assert result["config"]["hidden"] == [6] and result["config"]["active"] == [2] and result["config"]["B"] == B
        assert all(len(r["random"]["layers"]) == 1 and r["true_active"] == [2] for r in result["records"])
