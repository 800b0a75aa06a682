"""The training loop (refimpl/run/train.py) and its checkpoints (refimpl/run/checkpoint.py).

Exact resume is checked the hard way: a child process trains, is stopped by a real signal (SIGINT or
SIGTERM: caught, checkpoint at that step; SIGKILL: nothing caught, the last epoch checkpoint), and the
run is finished in this process with ``resume=True``. Its final parameters must be *bit-identical*
(``np.array_equal``, no tolerance) to an uninterrupted run: resume replays the same random numbers and
the same floating-point operations, so any difference at all is a bug.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict

import numpy as np
import pytest

from refimpl import NodeSparseBNN
from refimpl.run import checkpoint as checkpoint_module
from refimpl.run.checkpoint import load_checkpoint, save_checkpoint
from refimpl.data import Standardiser, teacher_regression
from refimpl.run.evaluate import evaluate
from refimpl.run.train import CHECKPOINT, HISTORY, TrainConfig, fit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A tiny problem: 72 training rows in batches of 16 -> 5 steps per epoch (the last one a partial batch of 8).
MODEL = dict(widths=[3, 5, 4, 1], prior="ss-gl", activation="tanh")
CONFIG = dict(epochs=4, batch_size=16, lr=1e-2, seed=3, eval_samples=3, train_samples=2, checkpoint_every=1,
              theta_optimizer="adam", theta_init_sd=0.0, select="nll")   # the loop under the pre-2026-12-05 defaults
STEPS_PER_EPOCH = 5


def tiny_data(seed=0, n=96):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    y = np.tanh(x @ np.array([1.0, -0.5, 0.0])) + 0.1 * rng.standard_normal(n)
    return x[:72], y[:72], x[72:], y[72:]


def run_fit(out_dir=None, resume=False, model=None, **overrides):
    model = model or NodeSparseBNN(**MODEL)
    return fit(model, *tiny_data(), TrainConfig(**{**CONFIG, **overrides}), out_dir=None if out_dir is None else str(out_dir),
               resume=resume, log=None)


def assert_same_params(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k


def without_time(history):
    return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in history]


def read_history(out_dir):
    with open(os.path.join(out_dir, HISTORY)) as f:
        return [json.loads(line) for line in f]


def temp_files(out_dir):
    return [f for f in os.listdir(out_dir) if ".tmp" in f]


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run every resume test must reproduce."""
    return run_fit()


# ---------------------------------------------------------------- exact resume after a signal

CHILD = textwrap.dedent("""
    import json, signal, sys, time
    import numpy as np
    from refimpl import NodeSparseBNN
    from refimpl.run.train import TrainConfig, fit

    spec = json.loads(sys.argv[1])
    d = np.load(spec["data"])
    model = NodeSparseBNN(**spec["model"])
    plain, calls = model.loss_and_grad_fused, [0]     # the step fit() takes by default (TrainConfig.fused)

    def loss_and_grad(*args, **kw):
        # Before global step `pause_at`: tell the parent, then wait for its signal.
        if calls[0] == spec["pause_at"]:
            print("ready", flush=True)
            deadline = time.monotonic() + 60
            if spec["signal"] == "KILL":
                time.sleep(60)
            else:   # wait until fit's own handler has seen the signal
                flag = signal.getsignal(signal.SIGINT).__self__
                while flag.raised is None and time.monotonic() < deadline:
                    time.sleep(0.005)
        calls[0] += 1
        return plain(*args, **kw)

    model.loss_and_grad = model.loss_and_grad_fused = loss_and_grad
    result = fit(model, d["x"], d["y"], d["xv"], d["yv"], TrainConfig(**spec["config"]), out_dir=spec["out"],
                 log=sys.stdout)
    sys.exit(130 if result.interrupted else 0)
""")


def train_in_child(tmp_path, out_dir, pause_at: int, sig: str):
    """Train in a child process, send ``sig`` just before global step ``pause_at``; return its output."""
    x, y, xv, yv = tiny_data()
    np.savez(tmp_path / "data.npz", x=x, y=y, xv=xv, yv=yv)
    spec = dict(data=str(tmp_path / "data.npz"), model=MODEL, config=CONFIG, out=str(out_dir), pause_at=pause_at,
                signal=sig)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(spec)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == "ready":
            proc.send_signal(getattr(signal, f"SIG{sig}"))
            break
    out, err = proc.communicate(timeout=60)
    return proc.returncode, "".join(lines) + out, err


@pytest.mark.parametrize("sig, pause_at", [
    ("INT", 1 * STEPS_PER_EPOCH + 2),    # mid-epoch: epoch 2 (1-based), after its 3rd step
    ("TERM", 3 * STEPS_PER_EPOCH - 1),   # on the last step of epoch 3: the epoch's record is still to be made
])
def test_resume_after_signal_is_bit_identical(tmp_path, reference, sig, pause_at):
    out = tmp_path / "run"
    code, stdout, stderr = train_in_child(tmp_path, out, pause_at, sig)
    epoch, step = divmod(pause_at + 1, STEPS_PER_EPOCH)    # the signalled step is finished, then it stops
    if step == 0:
        epoch, step = epoch - 1, STEPS_PER_EPOCH
    assert code == 130, (stdout, stderr)
    assert f"interrupted by signal {getattr(signal, 'SIG' + sig).value} at epoch {epoch + 1} step {step}" in stdout
    ckpt = load_checkpoint(str(out / CHECKPOINT))
    assert (ckpt.meta["epoch"], ckpt.meta["step"]) == (epoch, step)
    assert len(read_history(out)) == epoch and temp_files(out) == []

    result = run_fit(out, resume=True)
    assert not result.interrupted
    assert_same_params(result.params, reference.params)
    assert_same_params(result.best_params, reference.best_params)
    assert without_time(result.history) == without_time(reference.history)
    assert without_time(read_history(out)) == without_time(reference.history)
    assert len(read_history(out)) == CONFIG["epochs"]


def test_resume_after_sigkill_is_bit_identical(tmp_path, reference):
    out = tmp_path / "run"
    pause_at = 2 * STEPS_PER_EPOCH + 3      # killed mid-epoch 3; the last checkpoint is the end of epoch 2
    code, stdout, stderr = train_in_child(tmp_path, out, pause_at, "KILL")
    assert code == -signal.SIGKILL, (stdout, stderr)
    ckpt = load_checkpoint(str(out / CHECKPOINT))
    assert (ckpt.meta["epoch"], ckpt.meta["step"]) == (2, 0)
    assert temp_files(out) == []

    result = run_fit(out, resume=True)
    assert_same_params(result.params, reference.params)
    assert without_time(read_history(out)) == without_time(reference.history)


def test_resume_of_a_finished_run_changes_nothing(tmp_path, reference):
    run_fit(tmp_path)
    again = run_fit(tmp_path, resume=True)
    assert_same_params(again.params, reference.params)
    assert without_time(read_history(tmp_path)) == without_time(reference.history)


# ---------------------------------------------------------------- atomic checkpoints

def _fail_half_way(exc):
    def write_half(f, write):
        buffer = io.BytesIO()
        write(buffer)
        data = buffer.getvalue()
        f.write(data[:len(data) // 2])
        f.flush()
        raise exc
    return write_half


@pytest.mark.parametrize("failure", ["oserror-mid-write", "keyboardinterrupt-mid-write", "rename-fails"])
def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch, reference, failure):
    """The second checkpoint (end of epoch 2) fails; the first must survive byte for byte, and resume from it."""
    plain = checkpoint_module._atomic_write
    calls, snapshot = [0], {}
    exc = KeyboardInterrupt if failure.startswith("keyboard") else OSError

    def atomic_write(path, write):
        calls[0] += 1
        if calls[0] < 2:
            return plain(path, write)
        with open(path, "rb") as f:
            snapshot["bytes"] = f.read()
        if failure == "rename-fails":
            def replace(src, dst):
                raise OSError("rename failed (simulated)")
            monkeypatch.setattr(checkpoint_module.os, "replace", replace)
            return plain(path, write)
        return plain(path, lambda f: _fail_half_way(exc("disk full (simulated)"))(f, write))

    monkeypatch.setattr(checkpoint_module, "_atomic_write", atomic_write)
    with pytest.raises(exc, match="simulated"):
        run_fit(tmp_path)
    monkeypatch.undo()
    assert calls[0] == 2
    with open(tmp_path / CHECKPOINT, "rb") as f:
        assert f.read() == snapshot["bytes"]
    assert load_checkpoint(str(tmp_path / CHECKPOINT)).meta["epoch"] == 1
    assert temp_files(tmp_path) == []
    result = run_fit(tmp_path, resume=True)
    assert_same_params(result.params, reference.params)
    assert len(read_history(tmp_path)) == CONFIG["epochs"]


# ---------------------------------------------------------------- refusing bad checkpoints

@pytest.fixture
def good_checkpoint(tmp_path):
    run_fit(tmp_path, epochs=1)
    path = tmp_path / CHECKPOINT
    return path, path.read_bytes()


def _truncate(path, data):
    path.write_bytes(data[:len(data) // 2])


def _garbage(path, data):
    path.write_bytes(b"this is not a checkpoint\n" * 10)


def _empty(path, data):
    path.write_bytes(b"")


def _npz_without_meta(path, data):
    with open(path, "wb") as f:
        np.savez(f, **{"p.0.w_mu": np.zeros((3, 5))})


def _meta_not_json(path, data):
    with open(path, "wb") as f:
        np.savez(f, meta=np.frombuffer(b"{not json", dtype=np.uint8))


@pytest.mark.parametrize("corrupt", [_truncate, _garbage, _empty, _npz_without_meta, _meta_not_json])
def test_corrupt_checkpoint_is_refused(good_checkpoint, corrupt):
    path, data = good_checkpoint
    corrupt(path, data)
    with pytest.raises(ValueError, match="checkpoint") as info:
        load_checkpoint(str(path))
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="checkpoint"):
        run_fit(path.parent, resume=True, epochs=1)


def test_foreign_checkpoint_format_is_refused(tmp_path):
    path = tmp_path / CHECKPOINT
    with open(path, "wb") as f:
        np.savez(f, meta=np.frombuffer(json.dumps({"format": "something-else", "version": 1}).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match="not a refimpl checkpoint") as info:
        load_checkpoint(str(path))
    assert str(path) in str(info.value)


def test_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    params = {"0.w_mu": rng.standard_normal((2, 3)), "log_sigma_e": np.zeros(())}
    meta = {"epoch": 3, "step": 1, "rng_state": np.random.default_rng(5).bit_generator.state, "x": [1.5, None]}
    save_checkpoint(str(tmp_path / "c.npz"), params=params, opt_state={"m.0.w_mu": params["0.w_mu"] * 2},
                    best_params=params, perm=np.arange(4), meta=meta)
    c = load_checkpoint(str(tmp_path / "c.npz"))
    assert_same_params(c.params, params)
    assert_same_params(c.best_params, params)
    assert np.array_equal(c.opt_state["m.0.w_mu"], params["0.w_mu"] * 2) and c.perm.tolist() == [0, 1, 2, 3]
    assert {k: c.meta[k] for k in meta} == meta      # the 128-bit PCG64 state survives JSON exactly
    assert os.listdir(tmp_path) == ["c.npz"]


@pytest.mark.parametrize("change, what", [
    (dict(model=dict(MODEL, prior="ss-ig")), "model"),
    (dict(model=dict(MODEL, widths=[3, 6, 4, 1])), "model"),
    (dict(lr=2e-2), "training"),
    (dict(seed=4), "training"),
    (dict(epochs=5), "training"),
])
def test_resume_with_other_options_is_refused(good_checkpoint, change, what):
    path, _ = good_checkpoint
    change = dict(change)
    model = NodeSparseBNN(**change.pop("model")) if "model" in change else None
    overrides = {"epochs": 1, **change}
    with pytest.raises(ValueError, match=f"different {what} configuration") as info:
        run_fit(path.parent, resume=True, model=model, **overrides)
    assert str(path) in str(info.value)


def test_resume_without_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        run_fit(tmp_path, resume=True)
    with pytest.raises(ValueError, match="out_dir"):
        run_fit(None, resume=True)


# ---------------------------------------------------------------- learning: a teacher is recovered

def test_training_recovers_a_teacher_regression():
    """SS-GL on the docs/theory-notes.md §5(e) teacher reaches the noise floor: test RMSE within 15% of sigma_e."""
    noise = 0.5
    ds = teacher_regression(n_train=2000, n_test=2000, widths=(4, 8, 8, 1), active=(3, 2), noise_sigma=noise, rng=0)
    sx, sy = Standardiser.fit(ds.x_train), Standardiser.fit(ds.y_train)
    model = NodeSparseBNN([4, 8, 8, 1], prior="ss-gl", activation="tanh")
    t0 = time.perf_counter()
    result = fit(model, sx.transform(ds.x_train), sy.transform(ds.y_train),
                 config=TrainConfig(epochs=40, batch_size=128, lr=3e-3, lr_mult_theta=10.0, seed=0), log=None)
    wall = time.perf_counter() - t0
    metrics = evaluate(model, result.params, sx.transform(ds.x_test), sy.transform(ds.y_test), 10,
                       np.random.default_rng(1), y_scale=sy.scale)
    oracle = float(np.sqrt(np.mean((ds.info["f_test"] - ds.y_test) ** 2)))
    kept = result.history[-1]["nodes_kept"]
    print(f"\nteacher recovery (SS-GL, 40 epochs, {wall:.1f} s): test RMSE {metrics['rmse']:.4f} "
          f"(noise sigma {noise}, teacher's own RMSE {oracle:.4f}); nodes kept {kept} vs true active {list(ds.info['active'])}")
    assert metrics["rmse"] <= 1.15 * noise


# ---------------------------------------------------------------- history, early stopping, seeds

def test_history_records(tmp_path):
    result = run_fit(tmp_path)
    model = NodeSparseBNN(**MODEL)
    assert len(result.history) == CONFIG["epochs"]
    assert read_history(tmp_path) == json.loads(json.dumps(result.history))
    n_fit = tiny_data()[0].shape[0]
    for i, r in enumerate(result.history):
        assert r["epoch"] == i + 1
        for key in ("loss", "nll", *model.prior.kl_parts, "val_nll", "val_rmse", "val_test_ll", "lr", "epoch_time_s"):
            assert math.isfinite(r[key]), key
        assert set(model.prior.kl_parts) == {"kl_z", "kl_w", "kl_tau", "kl_lam"}
        assert r["lr"] == CONFIG["lr"] and r["kl_weight"] == 1.0 and r["epoch_time_s"] > 0
        assert len(r["nodes_kept"]) == 2 and all(0 <= k <= w for k, w in zip(r["nodes_kept"], MODEL["widths"][1:3]))
        # loss = nll + KL / N step by step (E-1), so also for the epoch means; round-off of 5-term sums
        kl = sum(r[k] for k in model.prior.kl_parts)
        assert r["loss"] == pytest.approx(r["nll"] + kl / n_fit, rel=1e-12)
        assert r["val_nll"] == -r["val_test_ll"]


@pytest.mark.parametrize("prior, parts", [("gaussian", {"kl_w"}), ("ss-ig", {"kl_z", "kl_w"}),
                                          ("ss-ghs", {"kl_z", "kl_w", "kl_tau", "kl_s"})])
def test_history_has_every_kl_part(prior, parts):
    model = NodeSparseBNN(**dict(MODEL, prior=prior))
    record = run_fit(model=model, epochs=1).history[0]
    assert set(model.prior.kl_parts) == parts and parts <= set(record)
    assert record["loss"] == pytest.approx(record["nll"] + sum(record[k] for k in parts) / 72, rel=1e-12)  # round-off


def test_early_stopping(tmp_path):
    patience, epochs = 2, 40
    model = NodeSparseBNN(**MODEL)
    result = run_fit(tmp_path, model=model, patience=patience, epochs=epochs, lr=3e-2)
    nll = [r["val_nll"] for r in result.history]
    stop = None                                     # replay the rule: stop after `patience` epochs without a new best
    best, bad = math.inf, 0
    for i, v in enumerate(nll):
        best, bad = (v, 0) if v < best else (best, bad + 1)
        if bad >= patience:
            stop = i + 1
            break
    assert stop is not None and stop < epochs
    assert len(result.history) == stop and len(read_history(tmp_path)) == stop
    # best_params are the parameters of the best epoch: re-evaluating them with that epoch's generator
    # reproduces its validation NLL exactly (same numbers, same operations)
    best_epoch = int(np.argmin(nll)) + 1
    _, _, xv, yv = tiny_data()
    again = evaluate(model, result.best_params, xv, yv, CONFIG["eval_samples"],
                     np.random.default_rng([CONFIG["seed"], best_epoch]))
    assert again["nll"] == nll[best_epoch - 1]
    assert not all(np.array_equal(result.params[k], result.best_params[k]) for k in result.params)
    assert load_checkpoint(str(tmp_path / CHECKPOINT)).meta["done"] is True
    resumed = run_fit(tmp_path, resume=True, model=model, patience=patience, epochs=epochs, lr=3e-2)
    assert len(resumed.history) == stop                         # a finished run stays finished
    assert_same_params(resumed.params, result.params)


def test_seeds(reference):
    assert_same_params(run_fit().params, reference.params)
    other = run_fit(seed=4).params
    assert all(not np.array_equal(other[k], reference.params[k]) for k in reference.params if k.endswith("_mu"))


def test_training_without_validation_selects_the_final_parameters():
    x, y, _, _ = tiny_data()
    result = fit(NodeSparseBNN(**MODEL), x, y, config=TrainConfig(**CONFIG), log=None)
    assert_same_params(result.best_params, result.params)
    assert "val_nll" not in result.history[-1]


def test_progress_lines():
    log = io.StringIO()
    x, y, xv, yv = tiny_data()
    fit(NodeSparseBNN(**MODEL), x, y, xv, yv, TrainConfig(**CONFIG), log=log)
    lines = log.getvalue().splitlines()
    assert len(lines) == CONFIG["epochs"] and lines[-1].startswith(f"epoch {CONFIG['epochs']}/{CONFIG['epochs']} loss=")
    assert all(re.search(r" [0-9.]+ steps/s ETA [0-9]+s$", line) for line in lines), lines     # rate and ETA


# ---------------------------------------------------------------- optimiser options as fit() applies them

def test_fit_applies_sgd_step_schedule_and_kl_annealing():
    """SGD with a step schedule and linear KL annealing, read back from the history: the base lr of each epoch's
    last step (decay x0.1 from epoch 3) and the KL weight (warm-up over 2 epochs = 10 steps: 0.5 after epoch 1)."""
    x, y, xv, yv = tiny_data()
    cfg = TrainConfig(**{**CONFIG, "optimizer": "sgd", "momentum": 0.9, "lr_schedule": "step", "lr_decay_epochs": (2,),
                         "lr_decay_factor": 0.1, "kl_anneal_epochs": 2})
    hist = fit(NodeSparseBNN(**MODEL), x, y, xv, yv, cfg).history
    assert [h["lr"] for h in hist] == pytest.approx([1e-2, 1e-2, 1e-3, 1e-3], rel=1e-12)
    assert [h["kl_weight"] for h in hist] == pytest.approx([0.5, 1.0, 1.0, 1.0], rel=1e-12)


def test_fit_applies_the_cosine_schedule():
    x, y, xv, yv = tiny_data()
    hist = fit(NodeSparseBNN(**MODEL), x, y, xv, yv, TrainConfig(**{**CONFIG, "lr_schedule": "cosine"})).history
    total = CONFIG["epochs"] * STEPS_PER_EPOCH
    expected = [CONFIG["lr"] * 0.5 * (1 + math.cos(math.pi * (e * STEPS_PER_EPOCH - 1) / total)) for e in (1, 2, 3, 4)]
    assert [h["lr"] for h in hist] == pytest.approx(expected, rel=1e-12)


def test_fit_clips_the_gradient_norm():
    """Plain SGD with clip_norm c: each step moves the parameters by at most lr * c in the global L2 norm."""
    x, y, xv, yv = tiny_data()
    model = NodeSparseBNN(**MODEL)
    clip = 1e-3
    cfg = TrainConfig(**{**CONFIG, "optimizer": "sgd", "momentum": 0.0, "clip_norm": clip})
    init = model.init_params(np.random.default_rng(cfg.seed))          # fit draws the same initial parameters first
    final = fit(model, x, y, xv, yv, cfg).params
    moved = math.sqrt(sum(float(np.sum((np.asarray(final[k]) - init[k]) ** 2)) for k in init))
    steps = CONFIG["epochs"] * STEPS_PER_EPOCH
    assert 0 < moved <= steps * CONFIG["lr"] * clip * (1 + 1e-9)
    free = fit(model, x, y, xv, yv, TrainConfig(**{**CONFIG, "optimizer": "sgd", "momentum": 0.0})).params
    assert math.sqrt(sum(float(np.sum((np.asarray(free[k]) - init[k]) ** 2)) for k in init)) > 10 * moved


def test_checkpoint_every_n_epochs(tmp_path, monkeypatch):
    """checkpoint_every = 3 over 4 epochs: checkpoints after epochs 3 and 4 (the last), none before."""
    import refimpl.run.train as train_module
    saved, real = [], train_module.save_checkpoint

    def spy(path, **kw):
        saved.append(kw["meta"]["epoch"])
        return real(path, **kw)

    monkeypatch.setattr(train_module, "save_checkpoint", spy)
    x, y, xv, yv = tiny_data()
    fit(NodeSparseBNN(**MODEL), x, y, xv, yv, TrainConfig(**{**CONFIG, "checkpoint_every": 3}), out_dir=str(tmp_path))
    assert saved == [3, 4]


# ---------------------------------------------------------------- TrainConfig validation

@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("epochs", 1.5), ("epochs", True), ("batch_size", 0), ("train_samples", 0), ("eval_samples", 0),
    ("eval_batch_size", 0), ("checkpoint_every", 0), ("kl_anneal_epochs", -1), ("seed", -1),
    ("lr", 0.0), ("lr", -1e-3), ("lr", math.nan), ("lr", math.inf), ("lr", "1e-3"),
    ("lr_mult_theta", -0.5), ("lr_mult_scales", -1.0), ("lr_mult_weights", math.nan), ("lr_decay_factor", math.inf),
    ("fused", "yes"), ("fused", 1),
    ("optimizer", "rmsprop"), ("lr_schedule", "linear"), ("predictive_average", "mean"),
    ("clip_norm", 0.0), ("clip_norm", math.nan), ("patience", 0), ("patience", 2.5),
])
def test_train_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=f"^{field}:"):
        TrainConfig(**{field: value})


def test_train_config_defaults_are_the_authors():
    c = TrainConfig()
    assert (c.optimizer, c.lr, c.batch_size, c.train_samples, c.eval_samples) == ("adam", 1e-3, 1024, 1, 10)
    assert asdict(TrainConfig(lr_decay_epochs=[3, 5])).get("lr_decay_epochs") == (3, 5)


def test_zero_theta_multiplier_freezes_the_indicator_logits():
    """lr_mult_theta = 0 is allowed: it freezes theta (the other groups still move)."""
    d = teacher_regression(n_train=200, n_test=50, rng=0)
    model = NodeSparseBNN([d.n_features, 6, 1], prior="ss-ig", lam=0.3)
    result = fit(model, d.x_train, d.y_train, config=TrainConfig(epochs=2, batch_size=50, lr_mult_theta=0.0,
                                                                   theta_init_sd=0.0), log=None)
    init = model.init_params(np.random.default_rng(0))
    assert np.array_equal(result.params["0.theta"], init["0.theta"])
    assert not np.array_equal(result.params["0.w_mu"], init["0.w_mu"])
