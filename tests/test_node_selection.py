"""Robust node selection: the natural-gradient step of the indicator logits (O-6), optimisers by parameter group,
staggered initial logits, the initial rho override, and the ``"sparse"`` selection rule (refimpl/optim.py,
train.py, selection.py).

Oracles: the natural step is recomputed from its definition with SciPy's ``expit`` (``gamma (1 - gamma)`` as a
product, not the ``2 + 2 cosh`` form the code uses) and, for the claim that it follows the gradient with respect
to gamma, by finite differences of a function of gamma; the sparse rule by hand-worked histories and, where the
best epoch comes first, by the offline definition written here.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from oracles.gradcheck import check_grads
from refimpl import NodeSparseBNN
from refimpl.data import Standardiser, teacher_classification
from refimpl.optim import adam, bernoulli_natural, by_group, param_group
from refimpl.run.selection import selected_epoch, update
from refimpl.run.train import TrainConfig, fit


# ---- (O-6) the natural-gradient step ---------------------------------------------------------------------------
def test_natural_step_divides_by_bernoulli_fisher():
    theta = np.array([-8.0, -1.0, 0.0, 0.5, 4.6, 9.5])
    g = np.array([1e-4, -0.02, 0.3, -0.1, 0.01, 2e-6])
    new, state = bernoulli_natural(0.1).update(0, {"0.theta": g}, {}, {"0.theta": theta})
    gamma = expit(theta)
    expected = theta - 0.1 * g / (gamma * (1.0 - gamma))
    assert np.all(np.abs(expected - theta) < 1.0), "precondition: no step reaches the clip"
    # 2 + 2 cosh(t) and 1 / (gamma (1 - gamma)) are the same number up to a few ulps of e^|t| (<= 1.3e4 here)
    np.testing.assert_allclose(new["0.theta"], expected, rtol=1e-12, atol=0)
    assert state == {}


def test_natural_step_is_minus_lr_times_gradient_in_gamma():
    """For L(theta) = f(sigmoid(theta)), the step is -lr f'(gamma): the size of the signal, not its sign (O-6)."""
    f = lambda gam: 3.0 * gam ** 2 - 2.0 * gam        # noqa: E731, f'(gamma) = 6 gamma - 2
    theta = np.array([-3.0, 0.2, 2.5])
    gamma = expit(theta)
    dl_dtheta = (6 * gamma - 2) * gamma * (1 - gamma)
    new, _ = bernoulli_natural(0.05).update(0, {"t.theta": dl_dtheta}, {}, {"t.theta": theta})
    # (theta - new) / lr is the gradient of sum f(gamma) in gamma: central differences (f''' = 0, round-off only)
    check_grads(lambda p: f(p["gamma"]), {"gamma": gamma}, {"gamma": (theta - new["t.theta"]) / 0.05})


def test_natural_step_caps_the_logit_and_clips_the_step():
    theta = np.array([-300.0, -25.0, 40.0, 300.0, 0.0, 2.0], dtype=np.float32)
    g = np.array([1.0, 1e-4, -1e-6, 1e-30, 600.0, -100.0], dtype=np.float32)
    new, _ = bernoulli_natural(1e-3, logit_cap=10.0, max_step=1.0).update(0, {"0.theta": g}, {}, {"0.theta": theta})
    assert new["0.theta"].dtype == np.float32 and np.all(np.isfinite(new["0.theta"]))
    factor = 2 + 2 * np.cosh(10.0)                  # beyond the cap: the plain gradient times this factor
    raw = 1e-3 * g.astype(float) * np.where(np.abs(theta) > 10, factor, 2 + 2 * np.cosh(theta.astype(float)))
    expected = theta - np.clip(raw, -1.0, 1.0)
    assert np.abs(raw[0]) > 1 and np.abs(raw[4]) > 1 and np.abs(raw[1]) < 1, "precondition: clipped and free steps"
    np.testing.assert_allclose(new["0.theta"], expected, rtol=1e-6)   # float32 rounding of theta - step


def test_by_group_steps_each_group_by_its_optimiser():
    rng = np.random.default_rng(0)
    params = {"0.theta": rng.normal(size=5), "0.w_mu": rng.normal(size=(3, 5)), "0.w_rho": rng.normal(size=(3, 5))}
    grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
    opt = by_group({"theta": bernoulli_natural(0.1), "rest": adam(1e-2)})
    state = opt.init(params)
    assert sorted(state) == ["rest/m.0.w_mu", "rest/m.0.w_rho", "rest/v.0.w_mu", "rest/v.0.w_rho"]
    p1, s1 = opt.update(0, grads, state, params)
    nat, _ = bernoulli_natural(0.1).update(0, {"0.theta": grads["0.theta"]}, {}, {"0.theta": params["0.theta"]})
    rest = {k: v for k, v in params.items() if param_group(k) != "theta"}
    a = adam(1e-2)
    ad, ad_state = a.update(0, {k: grads[k] for k in rest}, a.init(rest), rest)
    np.testing.assert_array_equal(p1["0.theta"], nat["0.theta"])
    for k in rest:
        np.testing.assert_array_equal(p1[k], ad[k])
    assert {k[len("rest/"):]: v for k, v in s1.items()}.keys() == ad_state.keys()
    with pytest.raises(ValueError, match="'rest'"):
        by_group({"theta": adam()})


# ---- staggered logits and the rho override -----------------------------------------------------------------------
def data():
    ds = teacher_classification(n_train=300, n_test=10, rng=0)
    s = Standardiser.fit(ds.x_train)
    return (ds.x_train - s.mean) / s.std, ds.y_train


def test_theta_init_sd_moves_only_the_logits_and_leaves_the_training_stream():
    x, y = data()
    model = NodeSparseBNN([4, 8, 8, 3], prior="ss-ig", likelihood="categorical")
    base = dict(epochs=1, batch_size=300, lr=1e-12, eval_samples=1, seed=3, theta_lr=1e-12)   # lr ~ 0: parameters ~ their init
    plain = fit(model, x, y, config=TrainConfig(**base, theta_init_sd=0.0), log=None).params
    spread = fit(model, x, y, config=TrainConfig(**base, theta_init_sd=2.0), log=None).params
    draws = np.random.default_rng([3, 1])
    for k in sorted(plain):
        if k.endswith(".theta"):
            z = draws.standard_normal(plain[k].shape)
            # the step moved theta by at most lr = 1e-12 per coordinate, the same in both runs up to rounding
            np.testing.assert_allclose(spread[k] - plain[k], 2.0 * z, atol=1e-9)
        else:
            np.testing.assert_array_equal(spread[k], plain[k]) if k.endswith("_rho") else None
    assert np.std(np.concatenate([spread[k] for k in spread if k.endswith(".theta")])) > 1.0


def test_rho_init_sets_every_weight_and_bias_rho():
    x, y = data()
    model = NodeSparseBNN([4, 8, 3], prior="ss-gl", likelihood="categorical")
    out = fit(model, x, y, config=TrainConfig(epochs=1, batch_size=300, lr=1e-12, eval_samples=1, rho_init=-3.5),
              log=None).params
    rhos = [k for k in out if k.endswith(("w_rho", "b_rho"))]
    assert rhos and all(np.allclose(out[k], -3.5, atol=1e-9) for k in rhos)


@pytest.mark.parametrize("bad", [{"theta_init_sd": -1.0}, {"theta_init_sd": math.nan}, {"rho_init": math.inf},
                                 {"theta_optimizer": "sgd"}, {"theta_lr": 0.0}, {"select_tolerance": -0.1},
                                 {"select": "sparse", "flops_budget": 0.5}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


# ---- the "sparse" selection rule ---------------------------------------------------------------------------------
def rec(epoch, flops, acc, nll=0.5):
    return {"epoch": epoch, "flops_kept": flops, "val_nll": nll, "val_compressed_accuracy": acc,
            "val_compressed_nll": nll}


def offline_sparse(history, tol):
    """The fewest FLOPs (ties: higher accuracy, then lower NLL, then earlier) among epochs within ``tol`` of the best
    accuracy of all epochs."""
    best = max(r["val_compressed_accuracy"] for r in history)
    ok = [r for r in history if r["val_compressed_accuracy"] >= best - tol]
    return min(ok, key=lambda r: (r["flops_kept"], -r["val_compressed_accuracy"], r["val_compressed_nll"], r["epoch"]))["epoch"]


def test_sparse_rule_picks_the_smallest_network_near_the_best():
    h = [rec(1, 1.0, 0.90), rec(2, 1.0, 0.93), rec(3, 0.6, 0.925), rec(4, 0.3, 0.921), rec(5, 0.1, 0.90),
         rec(6, 0.05, 0.60)]
    assert selected_epoch(h, "sparse", tolerance=0.01) == 4          # 0.921 >= 0.93 - 0.01; 0.90 is not
    assert selected_epoch(h, "sparse", tolerance=0.0) == 2
    assert selected_epoch(h, "sparse", tolerance=0.04) == 5
    for tol in (0.0, 0.005, 0.01, 0.03, 0.04, 0.5):                  # the best comes before the pruning: online = offline
        assert selected_epoch(h, "sparse", tolerance=tol) == offline_sparse(h, tol)


def test_sparse_rule_follows_a_later_best_out_of_tolerance():
    """A new best that pushes the held epoch out of the tolerance is held itself (module docstring): epoch 2 (0.2
    of the FLOPs, 0.932) is held until epoch 4 reaches 0.945; then epoch 4 is held, though epoch 3 (0.5 of the
    FLOPs, 0.938) lies within the new tolerance -- the online rule cannot return to an epoch it did not keep."""
    h = [rec(1, 1.0, 0.94), rec(2, 0.2, 0.932), rec(3, 0.5, 0.938), rec(4, 0.9, 0.945), rec(5, 0.85, 0.90)]
    assert selected_epoch(h[:3], "sparse", tolerance=0.01) == 2
    assert selected_epoch(h, "sparse", tolerance=0.01) == 4
    assert offline_sparse(h, 0.01) == 3
    state = None
    for r in h:
        _, state = update(state, r, "sparse", tolerance=0.01)
    assert state["best"] == [-0.945, 0.5] and state["held"][0] == 0.9


def test_sparse_rule_regression_tolerance_is_relative():
    h = [{"epoch": 1, "flops_kept": 1.0, "val_nll": 1.0, "val_compressed_rmse": 2.0},
         {"epoch": 2, "flops_kept": 0.4, "val_nll": 1.0, "val_compressed_rmse": 2.03},
         {"epoch": 3, "flops_kept": 0.2, "val_nll": 1.0, "val_compressed_rmse": 2.05}]
    assert selected_epoch(h, "sparse", tolerance=0.02) == 2          # 2.03 <= 2.04 < 2.05
    assert selected_epoch(h, "sparse", tolerance=0.025) == 3         # 2.05 <= 2.05


def test_training_holds_the_epoch_the_rule_selects():
    x, y = data()
    model = NodeSparseBNN([4, 8, 8, 3], prior="ss-ig", likelihood="categorical")
    cfg = dict(epochs=8, batch_size=50, lr=0.01, eval_samples=2, seed=1, theta_optimizer="natural", theta_lr=1.0,
               theta_init_sd=1.0, select="sparse", select_tolerance=0.05)
    result = fit(model, x[:240], y[:240], x[240:], y[240:], TrainConfig(**cfg), log=None)
    epoch = selected_epoch(result.history, "sparse", tolerance=0.05)
    assert len({r["flops_kept"] for r in result.history}) > 1, "precondition: the network changes size"
    again = fit(model, x[:240], y[:240], x[240:], y[240:], TrainConfig(**{**cfg, "epochs": epoch}), log=None)
    for k in result.best_params:
        np.testing.assert_array_equal(result.best_params[k], again.params[k])


def test_end_to_end_the_defaults_prune_without_emptying_a_layer(tmp_path):
    """``refimpl train`` with its defaults (natural step, staggered logits, the sparse rule; only the step size
    raised so that 30 epochs of a 2,000-row set are enough) selects a small network with every layer non-empty,
    as accurate on the test set as the same run with the logits held still."""
    from refimpl.run.cli import main
    import json

    def train(out, *extra):
        argv = ["train", "--data", "teacher-classification", "--hidden", "16", "16", "--prior", "ss-gl", "--epochs",
                "30", "--batch-size", "64", "--eval-samples", "2", "--quiet", "--out", str(out), *extra]
        assert main(argv) == 0
        return json.loads((out / "metrics.json").read_text())

    sparse = train(tmp_path / "sparse", "--theta-lr", "1")
    still = train(tmp_path / "still", "--theta-lr", "1e-9", "--theta-init-sd", "0")
    assert still["nodes_kept"] == [16, 16]                                       # precondition: nothing pruned
    assert sparse["selected"]["rule"] == "sparse" and all(k >= 1 for k in sparse["nodes_kept"])
    assert sparse["flops_kept"]["fraction_kept"] <= 0.25
    # 4,000 test rows at ~54% accuracy: one standard error of a difference is sqrt(2 * .25 / 4000) = 1.1 points;
    # 3 points is 2.7 of them
    assert sparse["compressed_test"]["accuracy"] >= still["compressed_test"]["accuracy"] - 0.03


@pytest.mark.parametrize("flags, what", [
    (["--theta-optimizer", "sgd"], "theta_optimizer"), (["--theta-lr", "0"], "theta_lr"),
    (["--theta-init-sd", "-1"], "theta_init_sd"), (["--rho-init", "nan"], "rho_init"),
    (["--select-tolerance", "-0.1"], "select_tolerance"), (["--select", "best"], "select"),
    (["--flops-budget", "0.5"], "flops_budget")])
def test_the_command_line_refuses_bad_selection_options_in_one_line(tmp_path, capsys, flags, what):
    from refimpl.run.cli import main
    code = main(["train", "--data", "teacher-classification", "--epochs", "1", "--quiet", "--out", str(tmp_path / "r"),
                 *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("refimpl: error:") and what in err and "\n" not in err
    assert "Traceback" not in err and not (tmp_path / "r" / "checkpoint.npz").exists()
