"""Training that gets cheaper as nodes are pruned (refimpl/run/shrink.py, ``TrainConfig.prune_below``; SH-1, SH-2).

The oracle of SH-1: a node whose ``gamma`` is 0 (theta = -60: ``gamma = 9e-27``, its straight-through
indicator is 0 for every uniform draw) contributes nothing to the likelihood, so the step of the full
network on the remaining parameters must equal the step of the smaller network to round-off, for every
prior variant, both likelihoods and both paths (reference and fused). The KL couplings that the smaller
network carries (``Removed``) are what make that true; dropping one of them is caught below."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from refimpl import NodeSparseBNN
from refimpl.run import shrink
from refimpl.run.checkpoint import load_checkpoint
from refimpl.run.train import CHECKPOINT, TrainConfig

from test_train import CONFIG, MODEL, REPO, assert_same_params, run_fit, tiny_data, without_time

VARIANTS = [("ss-ig", {}), ("ss-gl", {}), ("ss-gl", {"parameterisation": "centred"}), ("ss-ghs", {}),
            ("ss-ghs", {"parameterisation": "non-centred"}), ("ss-ghs", {"c": float("inf")}),
            ("ss-ghs", {"expectation": "one-sample"})]
ALIVE = [np.array([1, 0, 1, 1, 0, 1, 1], bool), np.array([0, 1, 1, 0, 1, 1], bool)]
# Summation order differs between the full and the smaller network (fewer terms, other blocking); the
# largest relative difference seen is 3e-15 over every variant. Dropping any coupling of SH-1 gives >= 1e-3.
RTOL = 1e-12


def _case(prior, kw, likelihood, seed=0):
    widths = [5, 7, 6, 3 if likelihood == "categorical" else 1]
    model = NodeSparseBNN(widths, prior=prior, likelihood=likelihood, lam="theory", **kw)
    rng = np.random.default_rng(seed)
    params = {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in model.init_params(rng).items()}
    for l, a in enumerate(ALIVE):
        params[f"{l}.theta"] = np.where(a, params[f"{l}.theta"], -60.0)
    x = rng.normal(size=(11, 5))
    y = rng.normal(size=11) if likelihood == "gaussian" else rng.integers(0, 3, 11)
    return model, params, x, y, model.sample_noise(rng, 2)


def _worst(model, params, x, y, noise, small, fused):
    step = (lambda m: m.loss_and_grad_fused) if fused else (lambda m: m.loss_and_grad)
    _, grads, terms = step(model)(params, x, y, noise, 100)
    _, small_grads, small_terms = step(small)(shrink.gather(model, params, ALIVE), x, y,
                                              shrink.gather(model, noise, ALIVE), 100)
    expected = shrink.gather(model, grads, ALIVE)
    assert small_grads.keys() == expected.keys()
    assert float(small_terms["nll"]) == float(terms["nll"])       # the same network function: bit for bit
    return max(float(np.max(np.abs(expected[k] - small_grads[k]))) / max(float(np.max(np.abs(expected[k]))), 1e-300)
               for k in expected)


@pytest.mark.parametrize("fused", [False, True], ids=["reference", "fused"])
@pytest.mark.parametrize("likelihood", ["gaussian", "categorical"])
@pytest.mark.parametrize("prior, kw", VARIANTS, ids=[p + "-" + "-".join(f"{k}={v}" for k, v in kw.items())
                                                     for p, kw in VARIANTS])
def test_smaller_network_step_equals_the_full_step_at_gamma_zero(prior, kw, likelihood, fused):
    model, params, x, y, noise = _case(prior, kw, likelihood)
    small = shrink.smaller_model(model, params, ALIVE, 100)
    assert small.widths == (5, 5, 4, model.widths[-1])
    assert _worst(model, params, x, y, noise, small, fused) < RTOL


@pytest.mark.parametrize("prior, kw, drop", [
    ("ss-ig", {}, "log_sigma"),                                  # the frozen entries in a live node's gamma KL_w
    ("ss-gl", {"parameterisation": "centred"}, "sq"),            # ... and in E[1/v] of a centred group
    ("ss-gl", {}, "scales"),                                     # the removed scales in the KL of lam2
    ("ss-gl", {}, "fan_in"),                                     # the full group size in the scale prior
    ("ss-ghs", {}, "log_lams"),                                  # the full network's lambda_l (theory schedule)
])
def test_each_coupling_of_sh1_is_needed(prior, kw, drop):
    model, params, x, y, noise = _case(prior, kw, "gaussian")
    small = shrink.smaller_model(model, params, ALIVE, 100)
    r = small.prior.removed
    blank = {"log_sigma": tuple(0.0 for _ in r.log_sigma), "sq": tuple(0.0 for _ in r.sq),
             "scales": tuple((0, 0.0) for _ in r.scales), "fan_in": tuple(small.widths[:-1]),
             "log_lams": tuple(_without(small.prior).inclusion_log_probs(100))}[drop]
    small.prior.removed = dataclasses.replace(r, **{drop: blank})
    assert _worst(model, params, x, y, noise, small, fused=True) > 1e-3


def _without(prior):
    """``prior`` as if nothing had been removed (its own widths' lambda_l)."""
    import copy
    clone = copy.copy(prior)
    clone.removed = None
    return clone


# ---- the alive masks and the gather / scatter bookkeeping ------------------------------------------------
def test_update_alive_is_permanent_and_never_empties_a_layer():
    model = NodeSparseBNN([2, 4, 3, 1], prior="ss-ig")
    params = model.init_params(np.random.default_rng(0))
    params["0.theta"] = np.array([5.0, -8.0, 0.0, -6.0])      # gamma 0.99, 3e-4, 0.5, 2.5e-3
    params["1.theta"] = np.array([-9.0, -7.0, -8.0])           # every gamma below 1e-3: keep the largest (-7)
    alive = shrink.update_alive(model, params, [np.array([1, 1, 1, 0], bool), np.ones(3, bool)], 1e-3)
    assert alive[0].tolist() == [True, False, True, False]     # -6 (2.5e-3 >= 1e-3) stays out: removal is permanent
    assert alive[1].tolist() == [False, True, False]
    assert shrink.flops_fraction(model, alive) == pytest.approx((2 * 2 + 2 * 1 + 1 * 1) / (2 * 4 + 4 * 3 + 3 * 1))


def test_gather_then_scatter_restores_and_keeps_the_input():
    model, params, *_ = _case("ss-gl", {}, "gaussian")
    state = {f"rest/m.{k}": v + 1.0 for k, v in params.items()} | {f"rest/v.{k}": v * 2 for k, v in params.items()}
    for arrays in (params, state):
        small = shrink.gather(model, arrays, ALIVE)
        assert small["rest/m.0.w_mu" if "rest/m.0.w_mu" in small else "0.w_mu"].shape == (5, 5)
        back = shrink.scatter(model, arrays, small, ALIVE)
        assert_same_params(back, arrays)
        changed = shrink.scatter(model, arrays, {k: v + 1.0 for k, v in small.items()}, ALIVE)
        key = next(k for k in arrays if k.endswith("1.w_mu"))
        assert not np.shares_memory(changed[key], arrays[key])
        diff = changed[key] != arrays[key]
        assert diff[np.ix_(ALIVE[0], ALIVE[1])].all() and not diff[~ALIVE[0]].any() and not diff[:, ~ALIVE[1]].any()


# ---- training with prune_below ----------------------------------------------------------------------
PRUNE = dict(theta_optimizer="natural", theta_lr=1.0, prune_below=0.05, theta_init=0.0, epochs=6)


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    out = tmp_path_factory.mktemp("pruned")
    result = run_fit(out, **PRUNE)
    result.alive = [np.asarray(a, dtype=bool) for a in load_checkpoint(str(out / CHECKPOINT)).meta["alive"]]
    return result


def test_training_removes_nodes_and_returns_full_shapes(pruned):
    trained = [r["nodes_trained"] for r in pruned.history]
    assert trained[0] == [5, 4] and trained[-1] != [5, 4]           # nodes leave during the run ...
    assert all(all(a >= b for a, b in zip(x, y)) for x, y in zip(trained, trained[1:]))   # ... for good
    shapes = NodeSparseBNN(**MODEL).param_shapes()
    assert {k: np.shape(v) for k, v in pruned.params.items()} == shapes


def test_removed_nodes_are_frozen(pruned):
    """A node removed at epoch e keeps its parameters (and the weights reading from it) to the end: a run of
    one more epoch (constant rate, the same random numbers) changes only the remaining entries."""
    longer = run_fit(**{**PRUNE, "epochs": PRUNE["epochs"] + 1})
    model = NodeSparseBNN(**MODEL)
    alive = shrink.update_alive(model, pruned.params, pruned.alive, PRUNE["prune_below"])   # during epoch 7
    assert sum(map(sum, alive)) < 9
    frozen_before = shrink.scatter(model, pruned.params, shrink.gather(model, longer.params, alive), alive)
    assert_same_params(frozen_before, longer.params)


def test_option_off_is_the_loop_as_before():
    """prune_below=None must not touch the random stream or the step: the same numbers as before it existed."""
    a, b = run_fit(epochs=2), run_fit(epochs=2, prune_below=None)
    assert_same_params(a.params, b.params)
    assert "nodes_trained" not in a.history[-1]


CHILD = textwrap.dedent("""
    import json, signal, sys, time
    import numpy as np
    from refimpl import NodeSparseBNN
    from refimpl.run.train import TrainConfig, fit

    spec = json.loads(sys.argv[1])
    d = np.load(spec["data"])
    plain, calls = NodeSparseBNN.loss_and_grad_fused, [0]   # patched on the class: the smaller network's too

    def step(self, *args, **kw):
        if calls[0] == spec["pause_at"]:
            print("ready", flush=True)
            flag, deadline = signal.getsignal(signal.SIGINT).__self__, time.monotonic() + 60
            while flag.raised is None and time.monotonic() < deadline:
                time.sleep(0.005)
        calls[0] += 1
        return plain(self, *args, **kw)

    NodeSparseBNN.loss_and_grad_fused = step
    result = fit(NodeSparseBNN(**spec["model"]), d["x"], d["y"], d["xv"], d["yv"], TrainConfig(**spec["config"]),
                 out_dir=spec["out"], log=sys.stdout)
    sys.exit(130 if result.interrupted else 0)
""")


def test_resume_mid_epoch_after_removal_is_bit_identical(tmp_path, pruned):
    """SIGINT in epoch 4 (nodes were removed at the start of epoch 3): the checkpoint holds the full network
    and the alive masks, and the resumed run ends bit-identical to the uninterrupted one."""
    x, y, xv, yv = tiny_data()
    np.savez(tmp_path / "data.npz", x=x, y=y, xv=xv, yv=yv)
    out = tmp_path / "run"
    spec = dict(data=str(tmp_path / "data.npz"), model=MODEL, config={**CONFIG, **PRUNE}, out=str(out),
                pause_at=3 * 5 + 2)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(spec)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": REPO})
    for line in proc.stdout:
        if line.strip() == "ready":
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    ckpt = load_checkpoint(str(out / CHECKPOINT))
    assert (ckpt.meta["epoch"], ckpt.meta["step"]) == (3, 3)
    assert ckpt.meta["alive"] is not None and sum(map(sum, ckpt.meta["alive"])) < 9
    resumed = run_fit(out, resume=True, **PRUNE)
    assert_same_params(resumed.params, pruned.params)
    assert without_time(resumed.history) == without_time(pruned.history)


def test_prune_below_is_checked():
    for bad in (0.0, 0.5, -1e-3, True, "1e-3"):
        with pytest.raises(ValueError, match="prune_below"):
            TrainConfig(prune_below=bad)


# ---- experiments/shrink_timing.py: what the option saves, read from run directories ----------------------
def _fake_run(path, times, trained, kept, gamma_sums, acc, flops):
    path.mkdir(parents=True)
    with open(path / "history.jsonl", "w") as f:
        for e, (t, g) in enumerate(zip(times, gamma_sums), 1):
            f.write(json.dumps({"epoch": e, "epoch_time_s": t, "nodes_kept": kept, "nodes_trained": trained,
                                "removed_gamma_sum": g}) + "\n")
    (path / "metrics.json").write_text(json.dumps({"train_wall_s": float(sum(times)), "compressed_test":
                                                   {"accuracy": acc}, "flops_kept": {"fraction_kept": flops}}))


def test_shrink_timing_reads_runs_and_reports_late_over_early(tmp_path, capsys):
    from experiments import shrink_timing
    _fake_run(tmp_path / "a", [2.0] * 4 + [1.0] * 4, [10, 20], [3, 5], [0, 0, 0.1, 0.2] + [0.3] * 4, 0.85, 0.1)
    _fake_run(tmp_path / "b", [2.0] * 8, None, [3, 6], [0] * 8, 0.86, 0.12)
    row = shrink_timing.read(str(tmp_path / "a"), window=3)
    assert (row["early_s"], row["late_s"], row["late_over_early"]) == (2.0, 1.0, 0.5)
    assert row["removed_gamma_sum_max"] == 0.3 and row["flops_kept"] == 0.1 and row["train_s"] == 12.0
    assert shrink_timing.main(["--with", str(tmp_path / "a"), "--without", str(tmp_path / "b"), "--window", "3"]) == 0
    out = capsys.readouterr().out
    assert "late_over_early: with 0.5, without 1, ratio 0.50" in out and "train_s: with 12, without 16, ratio 0.75" in out
    assert shrink_timing.main(["--with", str(tmp_path / "missing"), "--without", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "history.jsonl: not found" in err[0]


@pytest.mark.parametrize("value, what", [("0", "prune_below"), ("0.5", "prune_below"), ("-1e-3", "--prune-below"),
                                         ("abc", "--prune-below")])
def test_the_command_line_refuses_a_bad_prune_below_in_one_line(tmp_path, capsys, value, what):
    from refimpl.run.cli import main
    try:
        code = main(["train", "--data", "teacher-regression", "--epochs", "1", "--quiet", "--out",
                     str(tmp_path / "r"), "--prune-below", value])
    except SystemExit as exc:        # argparse's own errors (a value that is not a number) exit from the parser
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("refimpl: error:") and what in err and "\n" not in err
    assert not (tmp_path / "r" / "checkpoint.npz").exists()
