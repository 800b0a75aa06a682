"""The command line (refimpl/run/cli.py) and the pipeline behind it (refimpl/run/pipeline.py, demo.py).

Most runs call ``refimpl.run.cli.main([...])`` in this process (fast); the main job and the unknown-option
path also run as ``python -m refimpl`` subprocesses, as a user would.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from refimpl import NodeSparseBNN
from refimpl.run.checkpoint import load_checkpoint
from refimpl.run.cli import main
from refimpl.run.compressed import CompressedMLP
from refimpl.data import idx as idx_module

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--epochs", "2", "--hidden", "8", "--batch-size", "64", "--quiet"]


def read_json(path):
    with open(path) as f:
        return json.load(f)


def error_of(capsys):
    return capsys.readouterr().err


# ---------------------------------------------------------------- the main job

def test_main_job_quick(tmp_path):
    out = tmp_path / "run"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "refimpl", "run", "--quick", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    print(f"\npython -m refimpl run --quick: {wall:.1f} s")
    assert proc.returncode == 0, proc.stderr
    for prior in ("ss-ig", "ss-gl", "ss-ghs"):
        assert re.search(rf"^\s*{prior}\s+\d+\.\d+\s+-?\d+\.\d+\s+\[\d+, \d+\]", proc.stdout, re.M), proc.stdout
        for f in ("run.json", "history.jsonl", "checkpoint.npz", "metrics.json", "prune.json", "compressed.npz"):
            assert (out / prior / f).is_file(), (prior, f)
        net = CompressedMLP.load(str(out / prior / "compressed.npz"))
        assert net.widths[0] == 8 and net.widths[-1] == 1
    summary = read_json(out / "summary.json")
    assert summary["quick"] is True and list(summary["rows"]) == ["ss-ig", "ss-gl", "ss-ghs"]
    assert summary["true_active"] == [6, 4]
    for row in summary["rows"].values():
        assert row["metrics"]["epochs_run"] == 5 and row["prune"]["max_abs_diff"] <= 1e-10


# ---------------------------------------------------------------- train -> evaluate -> prune

@pytest.mark.parametrize("data, metric", [("teacher-regression", "rmse"), ("teacher-classification", "accuracy")])
def test_train_evaluate_prune(tmp_path, capsys, data, metric):
    out = str(tmp_path / "run")
    assert main(["train", "--data", data, "--out", out, *TINY]) == 0
    printed = json.loads(capsys.readouterr().out)
    for f in ("run.json", "history.jsonl", "checkpoint.npz", "metrics.json"):
        assert os.path.isfile(os.path.join(out, f)), f
    metrics = read_json(os.path.join(out, "metrics.json"))
    assert printed == metrics and metrics["epochs_run"] == 2 and metric in metrics["test"]
    run = read_json(os.path.join(out, "run.json"))
    assert run["model"]["widths"][1:-1] == [8] and run["train"]["batch_size"] == 64

    # evaluate restores the selected parameters and the test data: the same numbers as at the end of training
    assert main(["evaluate", "--out", out]) == 0
    expected = {k: metrics[k] for k in ("test", "compressed_test", "nodes_kept", "node_density", "params_kept",
                                        "flops_kept")}
    assert json.loads(capsys.readouterr().out) == expected == read_json(os.path.join(out, "evaluate.json"))

    assert main(["prune", "--out", out, "--repeats", "2"]) == 0
    report = read_json(os.path.join(out, "prune.json"))
    assert report["max_abs_diff"] <= 1e-10                 # the export is exact up to round-off
    net = CompressedMLP.load(os.path.join(out, "compressed.npz"))
    assert net.widths[1:-1] == report["nodes_kept"]
    assert {r["name"] for r in report["latency"]} == {"dense", "compressed"}
    assert "inclusion_probabilities" not in json.loads(capsys.readouterr().out)
    # every node's inclusion probability is in prune.json, and the kept nodes are those above the threshold
    gammas = report["inclusion_probabilities"]
    assert [len(g) for g in gammas] == [8] and all(0.0 < v < 1.0 for g in gammas for v in g)
    assert [sum(v > report["threshold"] for v in g) for g in gammas] == report["nodes_kept"]


def test_training_writes_the_plots_when_matplotlib_is_installed(tmp_path):
    """training curves and inclusion probabilities always, predictions vs truth for regression: real PNG files."""
    pytest.importorskip("matplotlib")
    for data, names in (("teacher-regression", {"training.png", "inclusion.png", "predictions.png"}),
                        ("teacher-classification", {"training.png", "inclusion.png"})):
        out = str(tmp_path / data)
        assert main(["train", "--data", data, "--out", out, *TINY]) == 0
        pngs = {f for f in os.listdir(out) if f.endswith(".png")}
        assert pngs == names, (data, pngs)
        for f in pngs:
            with open(os.path.join(out, f), "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(os.path.join(out, f)) > 1000


def test_evaluate_uses_the_selected_parameters(tmp_path, capsys):
    """With early stopping the last epoch is not the best; evaluate and prune must use the best one."""
    out = str(tmp_path / "run")
    assert main(["train", "--out", out, "--epochs", "6", "--hidden", "8", "--batch-size", "64", "--lr", "0.1",
                 "--patience", "1", "--quiet"]) == 0
    with open(os.path.join(out, "history.jsonl")) as f:
        history = [json.loads(line) for line in f]
    assert len(history) < 6 and history[-1]["val_nll"] > min(r["val_nll"] for r in history)   # precondition
    ckpt = load_checkpoint(os.path.join(out, "checkpoint.npz"))
    assert any(not np.array_equal(ckpt.params[k], ckpt.best_params[k]) for k in ckpt.params)
    metrics = read_json(os.path.join(out, "metrics.json"))
    assert main(["evaluate", "--out", out]) == 0
    assert read_json(os.path.join(out, "evaluate.json"))["test"] == metrics["test"]
    assert main(["prune", "--out", out, "--repeats", "1"]) == 0
    model = NodeSparseBNN(**read_json(os.path.join(out, "run.json"))["model"])
    best = [(np.asarray(W), np.asarray(b)) for W, b in model.mean_network(ckpt.best_params)]
    net = CompressedMLP.load(os.path.join(out, "compressed.npz"))
    assert np.array_equal(net.biases[-1], best[-1][1])
    capsys.readouterr()


def test_evaluate_before_train(tmp_path, capsys):
    assert main(["evaluate", "--out", str(tmp_path)]) == 2
    assert "run.json not found" in error_of(capsys)


# ---------------------------------------------------------------- --config files

def test_config_toml_and_json(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text('epochs = 3\nbatch-size = 64\nhidden = [6]\nseed = 4\nprior = "ss-gl"\nquiet = true\n')
    out = str(tmp_path / "a")
    assert main(["train", "--config", str(toml), "--epochs", "1", "--out", out]) == 0     # the flag wins
    run = read_json(os.path.join(out, "run.json"))
    assert (run["train"]["epochs"], run["train"]["batch_size"], run["train"]["seed"]) == (1, 64, 4)
    assert run["model"]["prior"] == "ss-gl" and run["model"]["widths"] == [4, 6, 1]

    js = tmp_path / "c.json"
    js.write_text(json.dumps({"batch_size": 32, "hidden": [5, 3], "lr": 0.01, "epochs": 1, "quiet": True,
                              "data": "teacher-classification"}))
    out = str(tmp_path / "b")
    assert main(["train", "--config", str(js), "--lr", "0.02", "--out", out]) == 0
    run = read_json(os.path.join(out, "run.json"))
    assert (run["train"]["batch_size"], run["train"]["lr"]) == (32, 0.02)
    assert run["model"]["widths"] == [4, 5, 3, 3] and run["data"]["name"] == "teacher-classification"
    capsys.readouterr()


@pytest.mark.parametrize("name, text", [("c.toml", "epochs = 1\nepochz = 3\n"), ("c.json", '{"batch-sise": 3}')])
def test_config_unknown_key(tmp_path, capsys, name, text):
    (tmp_path / name).write_text(text)
    assert main(["train", "--config", str(tmp_path / name), "--out", str(tmp_path / "o")]) == 2
    err = error_of(capsys)
    assert ("epochz" in err) if name.endswith("toml") else ("batch_sise" in err)
    assert not (tmp_path / "o").exists()


def test_config_invalid_or_missing(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("epochs = = 3\n")
    assert main(["train", "--config", str(tmp_path / "bad.toml"), "--out", str(tmp_path)]) == 2
    assert "not valid TOML" in error_of(capsys)
    assert main(["train", "--config", str(tmp_path / "absent.json"), "--out", str(tmp_path)]) == 2
    assert "absent.json does not exist" in error_of(capsys)


# ---------------------------------------------------------------- bad inputs

def write_uci(root, name, n_features, nan=False, rows=40):
    """A tiny data set in the UCI benchmark layout (refimpl/data/uci.py): features then target per row."""
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(n_features)
    data = rng.standard_normal((rows, n_features + 1))
    if nan:
        data[5, 1] = np.nan
    np.savetxt(folder / "data.txt", data)
    (folder / "index_features.txt").write_text("\n".join(map(str, range(n_features))) + "\n")
    (folder / "index_target.txt").write_text(f"{n_features}\n")
    (folder / "index_train_0.txt").write_text("\n".join(map(str, range(30))) + "\n")
    (folder / "index_test_0.txt").write_text("\n".join(map(str, range(30, rows))) + "\n")
    (folder / "n_splits.txt").write_text("1\n")
    return folder


def test_uci_missing_root(tmp_path, capsys):
    root = tmp_path / "no-such-dir"
    assert main(["train", "--data", "uci:yacht", "--data-root", str(root), "--out", str(tmp_path / "o"), *TINY]) == 2
    err = error_of(capsys)
    assert err.startswith("refimpl: error:") and str(root) in err and "does not exist" in err


def test_fashion_mnist_missing(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--data", "fashion-mnist", "--data-root", str(empty), "--out", str(tmp_path / "o"), *TINY]) == 2
    err = error_of(capsys)
    assert str(empty / "train-images-idx3-ubyte") in err and "Fashion-MNIST file missing" in err
    # without --data-root the default location is used; when it is absent the message names the package
    monkeypatch.setattr(idx_module, "FASHION_MNIST_ROOT", str(tmp_path / "absent"))
    assert main(["train", "--data", "fashion-mnist", "--out", str(tmp_path / "o"), *TINY]) == 2
    assert "apt install dataset-fashion-mnist" in error_of(capsys)


def test_nan_in_data(tmp_path, capsys):
    folder = write_uci(tmp_path / "uci", "fake", 3, nan=True)
    assert main(["train", "--data", "uci:fake", "--data-root", str(tmp_path / "uci"), "--out", str(tmp_path / "o"),
                 *TINY]) == 2
    err = error_of(capsys)
    assert str(folder / "data.txt") in err and "NaN" in err and "(5, 1)" in err


def test_wrong_feature_count(tmp_path, capsys):
    root = tmp_path / "uci"
    write_uci(root, "three", 3)
    write_uci(root, "two", 2)
    out = str(tmp_path / "o")
    assert main(["train", "--data", "uci:three", "--data-root", str(root), "--out", out, "--epochs", "1", "--hidden", "4",
                 "--batch-size", "8", "--quiet"]) == 0
    capsys.readouterr()
    for command in (["evaluate"], ["prune", "--repeats", "1"]):
        assert main([*command, "--out", out, "--data", "uci:two", "--data-root", str(root)]) == 2
        err = error_of(capsys)
        assert "trained on 3 features" in err and "has 2" in err, command
    assert main(["evaluate", "--out", out]) == 0        # the run's own data set still works
    capsys.readouterr()


def test_unknown_option_and_prior(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(tmp_path), "--no-such-option"])
    assert info.value.code == 2 and "--no-such-option" in error_of(capsys)
    proc = subprocess.run([sys.executable, "-m", "refimpl", "prune", "--out", str(tmp_path), "--bogus"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unrecognized arguments: --bogus" in proc.stderr
    assert main(["train", "--prior", "ss-xyz", "--out", str(tmp_path / "o"), *TINY]) == 2
    err = error_of(capsys)
    assert "prior" in err and "ss-xyz" in err


def test_bad_training_option(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "o"), *TINY, "--lr", "-1"]) == 2
    assert "lr: expected a finite number > 0" in error_of(capsys)
    assert main(["train", "--out", str(tmp_path / "o"), *TINY, "--optimizer", "rmsprop"]) == 2
    assert "optimizer" in error_of(capsys)


def test_prune_threshold_out_of_range(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["train", "--out", out, "--epochs", "1", "--hidden", "4", "--batch-size", "256", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["prune", "--out", out, "--threshold", "1.5"]) == 2
    assert "threshold" in error_of(capsys)


# ---------------------------------------------------------------- --resume

def test_resume_continues_an_interrupted_run(tmp_path, capsys, monkeypatch):
    """SIGINT mid-run (a real signal to this process, caught by the training loop) -> exit 130, then
    ``--resume`` finishes with the parameters of an uninterrupted run, bit for bit."""
    args = ["train", "--data", "teacher-regression", "--epochs", "3", "--hidden", "6", "--batch-size", "256", "--quiet"]
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    assert main([*args, "--out", full]) == 0

    plain, calls = NodeSparseBNN.loss_and_grad_fused, [0]     # the step fit() takes by default

    def loss_and_grad(self, *a, **kw):
        calls[0] += 1
        if calls[0] == 11:      # global step 10: epoch 2, its 3rd step (1800 rows / 256 -> 8 steps per epoch)
            os.kill(os.getpid(), signal.SIGINT)
        return plain(self, *a, **kw)

    monkeypatch.setattr(NodeSparseBNN, "loss_and_grad_fused", loss_and_grad)
    capsys.readouterr()
    assert main([*args, "--out", part]) == 130
    monkeypatch.undo()
    captured = capsys.readouterr()     # even with --quiet the note goes to stderr; stdout stays pure JSON
    assert json.loads(captured.out)["interrupted"] is True and "continue with --resume" in captured.err
    ckpt = load_checkpoint(os.path.join(part, "checkpoint.npz"))
    assert (ckpt.meta["epoch"], ckpt.meta["step"]) == (1, 3)
    assert read_json(os.path.join(part, "metrics.json"))["interrupted"] is True

    assert main([*args, "--out", part, "--resume"]) == 0
    a = load_checkpoint(os.path.join(full, "checkpoint.npz"))
    b = load_checkpoint(os.path.join(part, "checkpoint.npz"))
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]) and np.array_equal(a.best_params[k], b.best_params[k]), k
    ma, mb = read_json(os.path.join(full, "metrics.json")), read_json(os.path.join(part, "metrics.json"))
    assert ma["test"] == mb["test"] and mb["interrupted"] is False and mb["epochs_run"] == 3

    # resuming with other options is refused
    capsys.readouterr()
    assert main([*args[:-1], "--lr", "0.5", "--quiet", "--out", part, "--resume"]) == 2
    assert "other options" in error_of(capsys)
