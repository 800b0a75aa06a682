"""The command line's error contract and the safety of run directories (refimpl/run/cli.py, refimpl/run/rundir.py).

The contract: every user error ends with exactly one stderr line ``refimpl: error: <what>; <how to fix>`` and exit
status 2 -- never a traceback, never a silent wrong result. :func:`fails` runs ``refimpl.run.cli.main`` in this process
and checks exactly that (pytest turns any RuntimeWarning into an error, so a warning on the way fails too); a few
cases run ``python -m refimpl`` in a subprocess, as a user would. Each case below failed before the fix it tests:
with a traceback, with a message that named neither the file nor the fix, or silently.
"""
from __future__ import annotations

import argparse
import errno
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refimpl import NodeSparseBNN
from refimpl.run import checkpoint as checkpoint_module, plots, rundir
from refimpl.run import train as train_module
from refimpl.run.checkpoint import load_checkpoint
from refimpl.run.cli import MODEL_OPTS, TRAIN_OPTS, build_parser, main
from refimpl.run.compressed import CompressedMLP
from refimpl.run.demo import PRIORS, run_main
from refimpl.run.train import TrainConfig, fit
from test_cli import write_uci
from test_data import _write_idx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--epochs", "1", "--hidden", "4", "--batch-size", "512", "--eval-samples", "2", "--quiet"]


def run_cli(argv, capsys):
    """``(exit status, stdout, stderr)`` of ``main(argv)``; argparse's own errors exit through SystemExit."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def check_error(rc, err, *fragments) -> str:
    lines = err.splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("refimpl: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def fails(capsys, argv, *fragments) -> str:
    """Run ``main(argv)``: exit status 2, exactly one line ``refimpl: error: ...`` holding every fragment."""
    rc, _, err = run_cli(argv, capsys)
    return check_error(rc, err, *fragments)


def train(capsys, out, *extra, data="teacher-regression"):
    rc, out_text, err = run_cli(["train", "--data", data, "--out", str(out), *TINY, *extra], capsys)
    assert rc == 0, err
    return json.loads(out_text)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A trained regression run and a trained classification run (copy before changing them)."""
    root = tmp_path_factory.mktemp("runs")
    for data in ("teacher-regression", "teacher-classification"):
        assert main(["train", "--data", data, "--out", str(root / data), *TINY]) == 0
    return root


def copy_run(runs, tmp_path, data="teacher-regression"):
    out = tmp_path / "run"
    shutil.copytree(runs / data, out)
    return out


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------- tracebacks before: now one line

def test_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    fails(capsys, ["train", "--out", str(f), *TINY], f"{f} is a file", "choose another --out")
    fails(capsys, ["run", "--quick", "--out", str(f)], f"{f} is a file")
    fails(capsys, ["evaluate", "--out", str(f)], f"{f} is a file")
    assert f.read_text() == "x"


def test_out_under_a_file(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    fails(capsys, ["train", "--out", str(f / "sub"), *TINY], f"lies under {f}, which is a file")
    fails(capsys, ["run", "--quick", "--out", str(f / "sub")], f"lies under {f}")


def test_unwritable_out_and_run_directory(runs, tmp_path, capsys, monkeypatch):
    """Tests run as root, who may write anywhere: the permission check is made to say no for these paths."""
    out = copy_run(runs, tmp_path)
    new = tmp_path / "ro" / "new"
    (tmp_path / "ro").mkdir()
    real_access = os.access
    monkeypatch.setattr(rundir.os, "access", lambda p, mode, **kw: False if str(p) in (str(out), str(new.parent))
                        else real_access(p, mode, **kw))
    fails(capsys, ["train", "--out", str(new), *TINY], f"cannot write in {new.parent}", "writable --out")
    assert not new.exists()
    before = sorted(os.listdir(out))
    fails(capsys, ["prune", "--out", str(out), "--repeats", "1"], f"cannot write in {out}")
    fails(capsys, ["train", "--out", str(out), "--resume", *TINY], f"cannot write in {out}")
    assert sorted(os.listdir(out)) == before


def test_lock_file_that_cannot_be_created(runs, tmp_path, capsys, monkeypatch):
    """The permission check passes but the file system refuses (read-only mount, ACLs): still one line."""
    out = copy_run(runs, tmp_path)
    real_open = open

    def refusing_open(path, *a, **kw):
        if str(path).endswith(rundir.LOCK):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", refusing_open)
    fails(capsys, ["evaluate", "--out", str(out)], f"cannot write in {out} (Permission denied)")


def test_compressed_npz_is_a_directory(runs, tmp_path, capsys):
    out = copy_run(runs, tmp_path)
    (out / "compressed.npz").mkdir()
    fails(capsys, ["prune", "--out", str(out), "--repeats", "1"], f"{out / 'compressed.npz'} is a directory",
          "move or remove")
    assert (out / "compressed.npz").is_dir() and not (out / "prune.json").exists()
    with pytest.raises(ValueError, match="is a directory"):
        CompressedMLP.load(str(out / "compressed.npz"))


@pytest.mark.parametrize("name, text", [("c.json", '{"hidden": 50}'), ("c.toml", "hidden = 50\n")])
def test_config_hidden_is_a_number(tmp_path, capsys, name, text):
    (tmp_path / name).write_text(text)
    fails(capsys, ["train", "--config", str(tmp_path / name), "--out", str(tmp_path / "o"), "--quiet"],
          f"hidden in {tmp_path / name} must be a non-empty list of integers", "[50]", "got 50")
    assert not (tmp_path / "o").exists()


def test_config_that_is_not_a_table(tmp_path, capsys):
    (tmp_path / "c.json").write_text("[1, 2]")
    fails(capsys, ["train", "--config", str(tmp_path / "c.json"), "--out", str(tmp_path / "o")], "holds a list")


def test_truncated_fashion_mnist_gz(tmp_path, capsys):
    for kind, n in (("train", 20), ("t10k", 10)):
        _write_idx(tmp_path / f"{kind}-images-idx3-ubyte.gz", np.zeros((n, 28, 28), np.uint8), gz=True)
        _write_idx(tmp_path / f"{kind}-labels-idx1-ubyte.gz", np.zeros(n, np.uint8), gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    fails(capsys, ["train", "--data", "fashion-mnist", "--data-root", str(tmp_path), "--out", str(tmp_path / "o"),
                   *TINY], str(path), "truncated or corrupt", "apt install --reinstall dataset-fashion-mnist")


@pytest.mark.parametrize("data, flags, fragment", [
    ("teacher-regression", ["--split", "2"], "--split: teacher-regression has no standard splits"),
    ("teacher-classification", ["--data-root", "/tmp"], "--data-root: teacher-classification is generated"),
    ("fashion-mnist", ["--split", "1"], "--split: fashion-mnist has no standard splits"),
])
def test_split_or_data_root_with_data_that_has_none(tmp_path, capsys, data, flags, fragment):
    fails(capsys, ["train", "--data", data, *flags, "--out", str(tmp_path / "o"), *TINY], fragment, "drop")


def test_full_disk_during_a_checkpoint_write(tmp_path, capsys, monkeypatch):
    """ENOSPC on the second checkpoint: one line, the first checkpoint intact, and --resume then finishes the run
    with the numbers of an uninterrupted one."""
    args = ["train", "--epochs", "3", "--hidden", "4", "--batch-size", "512", "--eval-samples", "2", "--quiet"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert run_cli([*args, "--out", str(full)], capsys)[0] == 0
    plain, calls = checkpoint_module.atomic_write_bytes, []

    def disk_full_on_the_second_checkpoint(path, data):
        if path.endswith("checkpoint.npz"):
            calls.append(path)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        plain(path, data)

    monkeypatch.setattr(checkpoint_module, "atomic_write_bytes", disk_full_on_the_second_checkpoint)
    fails(capsys, [*args, "--out", str(part)], f"could not write {part / 'checkpoint.npz'} after epoch 2",
          "No space left on device", "previous checkpoint is intact", "--resume")
    monkeypatch.undo()
    assert load_checkpoint(str(part / "checkpoint.npz")).meta["epoch"] == 1
    assert run_cli([*args, "--out", str(part), "--resume"], capsys)[0] == 0
    a, b = load_checkpoint(str(full / "checkpoint.npz")), load_checkpoint(str(part / "checkpoint.npz"))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_system_errors_are_one_line_with_a_fix(runs, tmp_path, capsys, monkeypatch):
    """An OSError of the file system itself (here: writing evaluate.json) reads 'path: reason; what to do'."""
    out = copy_run(runs, tmp_path)
    import refimpl.run.pipeline as pipeline

    def write_json(path, obj):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(pipeline, "write_json", write_json)
    fails(capsys, ["evaluate", "--out", str(out)], f"{out / 'evaluate.json'}: No space left on device", "free disk space")


def test_interrupt_outside_the_training_loop(tmp_path, capsys, monkeypatch):
    import refimpl.run.pipeline as pipeline

    def interrupted(spec):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "load_data", interrupted)
    try:
        rc, _, err = run_cli(["train", "--out", str(tmp_path / "o"), *TINY], capsys)
    except KeyboardInterrupt:       # would end the whole pytest session
        pytest.fail("KeyboardInterrupt escaped main()")
    assert rc == 130 and err.count("\n") == 1 and err.startswith("refimpl: error: interrupted")


# ---------------------------------------------------------------- the Python entry point fit()

def fit_data(n=20):
    rng = np.random.default_rng(0)
    return NodeSparseBNN([3, 4, 1]), rng.standard_normal((n, 3)), rng.standard_normal(n)


def test_fit_with_a_dict_config():
    model, x, y = fit_data()
    with pytest.raises(TypeError, match=r"config: expected a TrainConfig, got dict.*TrainConfig\(\*\*options\)"):
        fit(model, x, y, config={"epochs": 2}, log=None)


def test_fit_out_dir_is_a_file(tmp_path):
    model, x, y = fit_data()
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="is a file, not a directory; choose another out_dir"):
        fit(model, x, y, config=TrainConfig(epochs=1), out_dir=str(tmp_path / "f"), log=None)


def test_fit_on_no_rows_and_half_a_validation_set():
    model, x, y = fit_data()
    with pytest.raises(ValueError, match=r"x_train: expected at least one training row.*got shape \(0, 3\)"):
        fit(model, x[:0], y[:0], config=TrainConfig(epochs=1), log=None)
    with pytest.raises(ValueError, match="y_val: x_val was given without y_val; pass both"):
        fit(model, x, y, x, config=TrainConfig(epochs=1), log=None)
    with pytest.raises(ValueError, match="x_val: y_val was given without x_val"):
        fit(model, x, y, None, y, config=TrainConfig(epochs=1), log=None)
    with pytest.raises(ValueError, match="y_val: expected one target per validation row"):
        fit(model, x, y, x, y[:5], config=TrainConfig(epochs=1), log=None)


# ---------------------------------------------------------------- unclear messages before: now what and how

@pytest.mark.parametrize("flags, where", [
    (["--lr", "1000"], r"at epoch 1, step 2: the loss is inf"),                   # the step's own loss
    (["--lr", "100", "--optimizer", "sgd"], r"in epoch 1: its parameters give NaN or infinite validation"),
    (["--lr", "100", "--optimizer", "sgd", "--val-fraction", "0"], r"the selected parameters give NaN or infinite test"),
])
def test_divergence_says_where_and_suggests_a_smaller_lr(tmp_path, capsys, flags, where):
    line = fails(capsys, ["train", "--out", str(tmp_path / "o"), "--epochs", "2", "--hidden", "8", "--batch-size", "256",
                          "--quiet", *flags], "training diverged", "lower the learning rate", "--clip-norm")
    assert re.search(where, line), line
    if "1000" in flags:
        assert "(lr 1000 now; try --lr 100)" in line


def test_fit_raises_at_the_first_non_finite_gradient():
    """A gradient can overflow while the loss is still finite: the step is refused before the update."""
    model, x, y = fit_data()
    plain = model.loss_and_grad_fused

    def inf_gradient(*a, **kw):
        loss, grads, terms = plain(*a, **kw)
        return loss, {**grads, "0.w_mu": np.full_like(grads["0.w_mu"], np.inf)}, terms

    model.loss_and_grad_fused = inf_gradient
    with pytest.raises(train_module.DivergedError, match="at epoch 1, step 1: a gradient is NaN or infinite"):
        fit(model, x, y, config=TrainConfig(epochs=1), log=None)


@pytest.mark.parametrize("flags, fragments", [
    # before: "boundaries: expected increasing integer steps >= 0, got [-4]", the optimiser's step numbers
    (["--lr-schedule", "step", "--lr-decay-epochs", "-1"], ("lr_decay_epochs: expected increasing whole epoch numbers "
                                                            ">= 1", "e.g. (30, 60), got [-1]")),
    (["--lr-schedule", "step", "--lr-decay-epochs", "5", "3"], ("lr_decay_epochs", "got [5, 3]")),
    (["--lr-decay-epochs", "3"], ("--lr-decay-epochs: applies to the step schedule only", "--lr-schedule step")),
    (["--lr-schedule", "step"], ("--lr-schedule step: needs --lr-decay-epochs",)),
])
def test_step_schedule_options(tmp_path, capsys, flags, fragments):
    fails(capsys, ["train", "--out", str(tmp_path / "o"), *TINY, *flags], *fragments)
    with pytest.raises(ValueError, match="lr_decay_epochs"):
        TrainConfig(lr_schedule="step", lr_decay_epochs=(0,))


def test_step_schedule_from_the_command_line_decays(tmp_path, capsys):
    out = tmp_path / "o"
    train(capsys, out, "--epochs", "3", "--lr-schedule", "step", "--lr-decay-epochs", "1", "2", "--lr-decay-factor",
          "0.5")
    with open(out / "history.jsonl") as f:
        assert [json.loads(line)["lr"] for line in f] == pytest.approx([1e-3, 5e-4, 2.5e-4], rel=1e-12)


@pytest.mark.parametrize("damage, fragment", [
    ("truncated", "line 8 holds 2 values but line 1 holds 4"),
    ("word", "line 8, column 2 is 'abc', not a number"),
    ("empty", "holds no data (empty file)"),
])
def test_damaged_uci_data_txt(tmp_path, capsys, damage, fragment):
    folder = write_uci(tmp_path / "uci", "fake", 3)
    lines = (folder / "data.txt").read_text().splitlines()
    if damage == "truncated":
        lines[7] = " ".join(lines[7].split()[:2])
    elif damage == "word":
        lines[7] = " ".join([lines[7].split()[0], "abc", *lines[7].split()[2:]])
    (folder / "data.txt").write_text("" if damage == "empty" else "\n".join(lines) + "\n")
    fails(capsys, ["train", "--data", "uci:fake", "--data-root", str(tmp_path / "uci"), "--out", str(tmp_path / "o"),
                   *TINY], str(folder / "data.txt"), fragment, "restore")


@pytest.mark.parametrize("command", [["train", *TINY], ["evaluate"], ["prune"], ["run", "--quick"]])
def test_empty_out(capsys, command):
    fails(capsys, [command[0], "--out", "", *command[1:]], "out: expected a directory path, got ''", "--out out/run")


def test_evaluate_with_another_models_checkpoint(runs, tmp_path, capsys):
    out = copy_run(runs, tmp_path)
    shutil.copy(runs / "teacher-classification" / "checkpoint.npz", out / "checkpoint.npz")
    fails(capsys, ["evaluate", "--out", str(out)], f"{out / 'checkpoint.npz'} belongs to another model than",
          "differ in ['likelihood', 'widths']", "--overwrite")
    assert not (out / "evaluate.json").exists()


@pytest.mark.parametrize("text, fragment", [
    ('{"model": {', "is damaged, not valid JSON"),
    ("{}", "is not the run.json of a refimpl run (missing ['model', 'train', 'data', 'val_fraction', 'stats'])"),
    ("[]", "is not the run.json of a refimpl run"),
])
def test_damaged_run_json(runs, tmp_path, capsys, text, fragment):
    out = copy_run(runs, tmp_path)
    (out / "run.json").write_text(text)
    for command in (["evaluate"], ["prune", "--repeats", "1"]):
        fails(capsys, [*command, "--out", str(out)], f"{out / 'run.json'}", fragment)


# ---------------------------------------------------------------- silent before: now refused

@pytest.mark.parametrize("run, data, fragment", [
    ("teacher-regression", "teacher-classification", "trained for regression on 'teacher-regression', but "
                                                      "'teacher-classification' is a classification data set"),
    ("teacher-classification", "teacher-regression", "trained for classification with 3 classes"),
])
def test_evaluate_with_data_of_another_kind(runs, capsys, run, data, fragment):
    for command in (["evaluate"], ["prune", "--repeats", "1"]):
        fails(capsys, [*command, "--out", str(runs / run), "--data", data], fragment, "omit --data")
    assert not (runs / run / "evaluate.json").exists()


@pytest.mark.parametrize("flags", [["--split", "2"], ["--data-root", "/tmp"]])
def test_evaluate_split_without_data(runs, capsys, flags):
    fails(capsys, ["evaluate", "--out", str(runs / "teacher-regression"), *flags],
          "apply only with --data", "the run was trained on --data teacher-regression")


def test_compressed_predict_refuses_nan():
    net = CompressedMLP([np.ones((3, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)], "tanh")
    x = np.zeros((2, 3))
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"x: contains NaN or infinite values \(the first at row, column \[1, 2\]\)"):
        net.predict(x)
    assert np.all(np.isfinite(net.predict(np.zeros((2, 3)))))


# ---------------------------------------------------------------- generated bad options (property tests)

def _floats(low=None, high=None):
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


NAN = float("nan")
BAD_FLAGS = [   # (flag, a strategy of values it must refuse before any training)
    ("--epochs", st.integers(max_value=0)), ("--epochs", st.sampled_from(["abc", "1.5", ""])),
    ("--batch-size", st.integers(max_value=0)), ("--train-samples", st.integers(max_value=0)),
    ("--eval-samples", st.integers(max_value=0)), ("--checkpoint-every", st.integers(max_value=0)),
    ("--patience", st.integers(max_value=0)), ("--kl-anneal-epochs", st.integers(max_value=-1)),
    ("--seed", st.integers(max_value=-1)), ("--hidden", st.integers(max_value=0)),
    ("--lr", _floats(high=0.0) | st.sampled_from([NAN, float("inf")])),
    ("--momentum", _floats(low=1.0) | _floats(high=-1e-9) | st.just(NAN)),
    ("--val-fraction", _floats(low=1.0) | _floats(high=-1e-9) | st.just(NAN)),
    ("--temperature", _floats(high=0.0) | st.just(NAN)), ("--sigma0", _floats(high=0.0) | st.just(NAN)),
    ("--sigma-e", _floats(high=0.0) | st.just(NAN)), ("--clip-norm", _floats(high=0.0) | st.just(NAN)),
    ("--lr-mult-theta", _floats(high=-1e-9) | st.just(NAN)), ("--lr-decay-factor", _floats(high=0.0)),
    ("--lam", _floats(low=1.0) | _floats(high=0.0) | st.sampled_from(["nan", "papers", ""])),
    ("--optimizer", st.sampled_from(["rmsprop", "Adam", ""])), ("--prior", st.sampled_from(["ss-xyz", "horseshoe"])),
    ("--dtype", st.sampled_from(["float16", "int32"])), ("--input-scaling", st.sampled_from(["unit", "none"])),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(BAD_FLAGS), data=st.data())
def test_generated_bad_flags(capsys, case, data):
    flag, values = case
    value = data.draw(values, label="value")
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["train", "--out", os.path.join(tmp, "o"), *TINY, f"{flag}={value!s}"]
        rc, _, err = run_cli(argv, capsys)
        check_error(rc, err)
        assert not os.path.exists(os.path.join(tmp, "o", "checkpoint.npz"))   # refused before training


def _train_actions():
    sub = build_parser()._subparsers._group_actions[0].choices["train"]
    return {a.dest: a for a in sub._actions if a.dest not in ("help", "config", "out")}


def _wrong_values(action):
    """JSON values of another type than ``action`` takes."""
    words, numbers = st.text(max_size=5), st.integers() | _floats()
    if action.nargs == "+":
        return st.one_of(st.integers(), words, st.just([]), st.lists(words | st.booleans(), min_size=1, max_size=3))
    if isinstance(action, argparse._StoreTrueAction):
        return words | numbers
    if action.type is int:
        return words | _floats().filter(lambda v: v != int(v)) | st.booleans() | st.lists(st.integers(), max_size=2)
    if action.type is float:
        return words | st.booleans() | st.lists(numbers, max_size=2) | st.none()
    if action.dest == "lam":                                               # a number or a schedule's name
        return st.booleans() | st.lists(words, max_size=2)
    return numbers | st.booleans() | st.lists(words, max_size=2)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_bad_config_files(capsys, data):
    """A config file with one key of the wrong type, or an unknown key: refused by name, nothing trained."""
    actions = _train_actions()
    key = data.draw(st.sampled_from(sorted(actions) + ["epochz", "batch_sise"]), label="key")
    value = data.draw(_wrong_values(actions[key]) if key in actions else st.integers(), label="value")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "c.json")
        with open(path, "w") as f:
            json.dump({key.replace("_", data.draw(st.sampled_from(["_", "-"]), label="sep")): value}, f)
        rc, _, err = run_cli(["train", "--config", path, "--out", os.path.join(tmp, "o"), *TINY], capsys)
        line = check_error(rc, err, path)
        assert key in line
        assert not os.path.exists(os.path.join(tmp, "o"))


# ---------------------------------------------------------------- one process per run directory

def test_a_held_lock_refuses_every_command(runs, tmp_path, capsys):
    out = copy_run(runs, tmp_path)
    with rundir.locked(str(out), "test"):
        for command in (["train", *TINY], ["train", "--resume", *TINY], ["evaluate"], ["prune", "--repeats", "1"]):
            fails(capsys, [command[0], "--out", str(out), *command[1:]],
                  f"{out} is in use by refimpl test (pid {os.getpid()})", "wait until it ends")
    rc, _, err = run_cli(["evaluate", "--out", str(out)], capsys)     # released: works again
    assert rc == 0, err


LOCK_HOLDER = """
import sys, time
from refimpl.run import rundir
with rundir.locked(sys.argv[1], "train"):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_second_process_is_refused(runs, tmp_path, capsys):
    out = copy_run(runs, tmp_path)
    child = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "holding"
        fails(capsys, ["evaluate", "--out", str(out)], f"in use by refimpl train (pid {child.pid})")
        proc = subprocess.run([sys.executable, "-m", "refimpl", "prune", "--out", str(out)], cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        check_error(proc.returncode, proc.stderr, f"pid {child.pid}")
    finally:
        child.kill()          # SIGKILL: the kernel releases the lock all the same
        child.wait()
    assert (out / rundir.LOCK).exists()
    rc, _, err = run_cli(["evaluate", "--out", str(out)], capsys)
    assert rc == 0, err


# ---------------------------------------------------------------- no silent overwrite, no stale files

def test_training_into_a_run_is_refused_without_overwrite(runs, tmp_path, capsys):
    out = copy_run(runs, tmp_path)
    files = lambda: {f: (out / f).read_bytes() for f in os.listdir(out) if f != rundir.LOCK}  # noqa: E731
    before = files()
    fails(capsys, ["train", "--out", str(out), *TINY], f"{out} holds a trained run (checkpoint.npz, metrics.json)",
          "--resume", "--overwrite")
    assert files() == before
    fails(capsys, ["train", "--out", str(out), "--resume", "--overwrite", *TINY], "give one of them")


def test_overwrite_removes_the_old_runs_files(runs, tmp_path, capsys):
    out = copy_run(runs, tmp_path)
    assert run_cli(["prune", "--out", str(out), "--repeats", "1"], capsys)[0] == 0
    assert run_cli(["evaluate", "--out", str(out)], capsys)[0] == 0
    (out / "old-plot.png").write_bytes(b"\x89PNG")
    (out / "notes.txt").write_text("mine")                 # not a file of a run: kept
    metrics = train(capsys, out, "--overwrite", "--hidden", "6")
    files = set(os.listdir(out))
    assert not files & {"prune.json", "compressed.npz", "evaluate.json", "old-plot.png"}, files
    assert {"run.json", "history.jsonl", "checkpoint.npz", "metrics.json", "notes.txt"} <= files
    assert json.loads((out / "metrics.json").read_text()) == metrics and metrics["nodes_kept"][0] <= 6
    assert json.loads((out / "run.json").read_text())["model"]["widths"][1:-1] == [6]
    with open(out / "history.jsonl") as f:
        assert len(f.readlines()) == 1


def test_a_run_stopped_before_its_first_checkpoint_trains_afresh(runs, tmp_path, capsys):
    """run.json and history.jsonl alone hold nothing to continue (experiments.authors_preset reruns such a
    directory without resume): trained afresh without --overwrite."""
    out = copy_run(runs, tmp_path)
    for name in ("checkpoint.npz", "metrics.json"):
        os.remove(out / name)
    train(capsys, out)
    assert (out / "checkpoint.npz").exists()


def test_stale_temporary_files_are_removed_on_the_next_start(runs, tmp_path, capsys):
    out = copy_run(runs, tmp_path)
    dead, alive = dead_pid(), os.getppid()
    stale = [out / f".checkpoint.npz.tmp-{dead}", out / f".metrics.json.tmp-{dead}"]
    for p in [*stale, out / f".checkpoint.npz.tmp-{alive}"]:
        p.write_bytes(b"half a file")
    assert run_cli(["evaluate", "--out", str(out)], capsys)[0] == 0
    assert not any(p.exists() for p in stale)
    assert (out / f".checkpoint.npz.tmp-{alive}").exists()    # a live process's write in progress is left alone
    # fit() itself (experiments call it directly) cleans up too
    model, x, y = fit_data()
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / f".checkpoint.npz.tmp-{dead}").write_bytes(b"x")
    fit(model, x, y, config=TrainConfig(epochs=1), out_dir=str(tmp_path / "api"), log=None)
    assert [f for f in os.listdir(tmp_path / "api") if ".tmp-" in f] == []


# ---------------------------------------------------------------- progress after --resume

def test_progress_counts_only_the_resumed_steps():
    log = io.StringIO()
    record = {"loss": 1.0, "nodes_kept": [3]}
    # epoch 3 of 4, 5 steps per epoch, 10 of the 15 steps done before the resume, 2 s since it
    train_module._progress(log, record, 3, 4, 2.0, 5, steps_before=10)
    assert log.getvalue().rstrip().endswith("2.5 steps/s ETA 2s"), log.getvalue()


def test_resume_passes_the_steps_done_before(tmp_path, capsys, monkeypatch):
    args = ["train", "--epochs", "3", "--hidden", "6", "--batch-size", "256", "--out", str(tmp_path / "o")]
    plain, calls = NodeSparseBNN.loss_and_grad_fused, [0]

    def loss_and_grad(self, *a, **kw):
        calls[0] += 1
        if calls[0] == 11:      # epoch 2 (8 steps per epoch), its 3rd step
            os.kill(os.getpid(), signal.SIGINT)
        return plain(self, *a, **kw)

    monkeypatch.setattr(NodeSparseBNN, "loss_and_grad_fused", loss_and_grad)
    assert run_cli([*args, "--quiet"], capsys)[0] == 130
    monkeypatch.undo()
    seen = []
    real = train_module._progress
    monkeypatch.setattr(train_module, "_progress", lambda *a, **kw: seen.append(a[-1]) or real(*a, **kw))
    rc, _, err = run_cli([*args, "--resume"], capsys)
    assert rc == 0 and seen == [11, 11], (seen, err)
    assert len(re.findall(r"steps/s ETA \d+s", err)) == 2


# ---------------------------------------------------------------- the command line as documentation

def _subparsers():
    return build_parser()._subparsers._group_actions[0].choices


@pytest.mark.parametrize("command", ["train", "evaluate", "prune", "run"])
def test_every_option_has_help_with_its_default(command):
    sub = _subparsers()[command]
    text = sub.format_help()
    for action in sub._actions:
        if action.dest == "help":
            continue
        assert action.help and ("default" in action.help or "required" in action.help), action.option_strings
        for choice in action.choices or ():
            assert choice in text, (action.option_strings, choice)
    if command == "train":
        assert "(default: 100)" in text and "(default: 0.001)" in text and "(default: [50])" in text


def test_docs_mention_every_train_flag():
    with open(os.path.join(REPO, "docs", "training.md")) as f:
        doc = f.read()
    flags = [o for a in _subparsers()["train"]._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    missing = [o for o in flags if not re.search(re.escape(o) + r"(?![\w-])", doc)]
    assert not missing, f"docs/training.md does not mention {missing}"
    assert len(flags) >= len(MODEL_OPTS) + len(TRAIN_OPTS)
    assert "declares none" not in doc and "only from Python" not in doc and "have no flag" not in doc


def test_console_script_is_declared():
    with open(os.path.join(REPO, "pyproject.toml")) as f:
        assert 'refimpl = "refimpl.run.cli:main"' in f.read()


def test_main_job_says_where_its_outputs_are_and_that_plots_were_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plots, "pyplot", lambda: None)              # as without matplotlib
    log = io.StringIO()
    out = tmp_path / "job"
    run_main(str(out), quick=True, log=log)
    text = log.getvalue()
    assert f"outputs: {out / 'summary.json'}" in text and all(str(out / p) in text for p in PRIORS)
    assert text.count("matplotlib is not installed") == 1 and "pip install -e '.[plots]'" in text
    run_main(str(out), quick=True, log=io.StringIO())               # a rerun redoes its own directories
    capsys.readouterr()
    rc, _, err = run_cli(["train", "--out", str(tmp_path / "t"), *TINY[:-1]], capsys)   # not --quiet
    assert rc == 0 and err.count("pip install -e '.[plots]'") == 1
