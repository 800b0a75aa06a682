"""The compressed network during training, selection by its validation score under a FLOPs budget, the
accuracy-FLOPs front, and fine-tuning with the mask frozen (refimpl/run/selection.py, train.py, finetune.py,
pipeline.py, cli.py).

Oracles: the compressed network's metrics are recomputed here from the definitions (PR-1, PR-2: weights at the
variational mean, which for SS-IG are the means ``mu``, pruned nodes' columns and biases zeroed, a plain NumPy
forward pass); the selected epoch is recomputed from the history by plain code, and the selected parameters by
training again for exactly that many epochs; the frozen-mask network is compared with the model's own forward
pass under uniform noise crafted so that its sampled indicators equal the mask.
"""
from __future__ import annotations

import json
import math
import signal

import numpy as np
import pytest
from scipy.special import expit, log_softmax

import refimpl.run.pipeline as pipeline
import refimpl.run.train as train_module
from refimpl import NodeSparseBNN
from refimpl.run.checkpoint import load_checkpoint, save_checkpoint
from refimpl.run.cli import build_parser, main
from refimpl.run.compressed import CompressedMLP
from refimpl.data import Standardiser, teacher_classification, teacher_regression
from refimpl.run.finetune import FrozenMask, finetune
from refimpl.run.metrics import flops_kept
from refimpl.run.prune import node_masks
from refimpl.run.selection import ADDED_OPTIONS, front, selected_epoch, selection_key
from refimpl.run.train import TrainConfig, fit

from helpers import randomise

WIDTHS = [4, 8, 8, 3]
# theta moves ~ lr * lr_mult_theta = 0.2 per Adam step from logit(0.99) = 4.6, 6 steps per epoch: the first three
# epochs keep every node, then most leave (SS-IG: [2, 2] after epoch 4); the tests check this as preconditions
CONFIG = dict(epochs=8, batch_size=50, lr=0.01, lr_mult_theta=20.0, eval_samples=2, seed=1, theta_optimizer="adam",
              theta_init_sd=0.0, select="nll")     # Adam on theta and identical logits, as before 2026-12-05


def classification_data():
    ds = teacher_classification(n_train=400, n_test=100, rng=0)
    s = Standardiser.fit(ds.x_train)
    x = (ds.x_train - s.mean) / s.std
    return x[:300], ds.y_train[:300], x[300:], ds.y_train[300:]


def run(model=None, data=None, **overrides):
    model = model or NodeSparseBNN(WIDTHS, prior="ss-ig", likelihood="categorical")
    return fit(model, *(data or classification_data()), TrainConfig(**{**CONFIG, **overrides}), log=None)


def without_time(history):
    return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in history]


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k


def interrupt_at(monkeypatch, n_steps):
    """SIGINT right after step ``n_steps`` of the next training loop (caught there: checkpoint, return)."""
    check, calls = train_module._check_finite_step, []

    def counting(*args):
        check(*args)
        calls.append(1)
        if len(calls) == n_steps:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(train_module, "_check_finite_step", counting)
    return lambda: monkeypatch.setattr(train_module, "_check_finite_step", check)


def masked_mean_forward(params, x, widths):
    """PR-1, PR-2 for SS-IG with SiLU, from the definitions: weights ``mu``, node (l, j) kept iff
    ``sigmoid(theta_lj) > 1/2``, a pruned node's column and bias zeroed."""
    h = x
    n_layers = len(widths) - 1
    for l in range(n_layers):
        a = h @ np.asarray(params[f"{l}.w_mu"]) + np.asarray(params[f"{l}.b_mu"])
        if l < n_layers - 1:
            a = a * (expit(np.asarray(params[f"{l}.theta"])) > 0.5)
            a = a * expit(a)
        h = a
    return h


# ---------------------------------------------------------------- history

def test_history_holds_the_compressed_networks_validation_metrics():
    data = classification_data()
    result = run(data=data)
    h = result.history
    for r in h:
        for key in ("val_compressed_accuracy", "val_compressed_nll", "val_compressed_ece", "flops_kept"):
            assert math.isfinite(r[key]), key
        assert r["flops_kept"] == flops_kept(WIDTHS, r["nodes_kept"])["fraction_kept"]     # M-8, same integers
    assert h[0]["flops_kept"] == 1.0 and h[-1]["flops_kept"] < 1.0      # precondition: the network did shrink
    # the last record's compressed metrics are those of the final parameters, recomputed from the definitions
    x_val, y_val = data[2], data[3]
    logits = masked_mean_forward(result.params, x_val, WIDTHS)
    assert h[-1]["val_compressed_accuracy"] == np.mean(np.argmax(logits, axis=1) == y_val)    # a count: exact
    nll = -np.mean(log_softmax(logits, axis=1)[np.arange(len(y_val)), y_val])
    assert h[-1]["val_compressed_nll"] == pytest.approx(nll, rel=1e-12)   # round-off: other summation order


def test_regression_history_has_the_compressed_rmse_in_original_units():
    d = teacher_regression(n_train=200, n_test=10, widths=(3, 5, 5, 1), rng=0)
    model = NodeSparseBNN([3, 5, 1], prior="ss-ig")
    x, y = d.x_train, (d.y_train - d.y_train.mean()) / 2.5
    result = fit(model, x[:150], y[:150], x[150:], y[150:], TrainConfig(epochs=2, batch_size=50, eval_samples=2),
                 y_scale=2.5, log=None)
    r = result.history[-1]
    assert "val_compressed_accuracy" not in r and {"val_compressed_rmse", "flops_kept"} <= set(r)
    pred = masked_mean_forward(result.params, x[150:], [3, 5, 1])[:, 0]
    rmse = 2.5 * np.sqrt(np.mean((y[150:] - pred) ** 2))
    assert r["val_compressed_rmse"] == pytest.approx(rmse, rel=1e-12)         # round-off: other summation order


def test_flops_kept_is_recorded_without_validation_data():
    x, y, _, _ = classification_data()
    result = fit(NodeSparseBNN(WIDTHS, prior="ss-ig", likelihood="categorical"), x, y,
                 config=TrainConfig(**{**CONFIG, "epochs": 3}), log=None)
    for r in result.history:
        assert r["flops_kept"] == flops_kept(WIDTHS, r["nodes_kept"])["fraction_kept"]
        assert not any(k.startswith("val_") for k in r)


def test_scoring_the_compressed_network_leaves_the_training_trajectory_alone(monkeypatch):
    """With the compressed network's scoring replaced by a constant, the parameters, the selected ones and the
    predictive's validation metrics are bit for bit the same: the scoring draws from no generator."""
    reference = run(epochs=4)
    monkeypatch.setattr(train_module, "network_metrics", lambda *a, **k: {"accuracy": 0.0, "nll": 0.0, "ece": 0.0})
    monkeypatch.setattr(train_module, "compress", lambda *a, **k: None)
    stubbed = run(epochs=4)
    assert_same_params(stubbed.params, reference.params)
    assert_same_params(stubbed.best_params, reference.best_params)
    assert [r["val_nll"] for r in stubbed.history] == [r["val_nll"] for r in reference.history]


def test_resume_with_compressed_selection_is_bit_identical(tmp_path, monkeypatch):
    """SIGINT in the middle of epoch 5 (after epochs within the budget were seen), then resume: parameters,
    selected parameters and history equal the uninterrupted run's exactly (the selection key, a list, goes
    through the checkpoint's JSON)."""
    options = dict(epochs=7, select="compressed", flops_budget=0.7)
    reference = run(**options)
    assert any(r["flops_kept"] <= 0.7 for r in reference.history[:4])       # precondition
    restore_check = interrupt_at(monkeypatch, 27)                  # 6 steps per epoch: epoch 5, step 3
    model = NodeSparseBNN(WIDTHS, prior="ss-ig", likelihood="categorical")
    config = TrainConfig(**{**CONFIG, **options})
    stopped = fit(model, *classification_data(), config, out_dir=str(tmp_path), log=None)
    assert stopped.interrupted and len(stopped.history) == 4
    restore_check()
    resumed = fit(model, *classification_data(), config, out_dir=str(tmp_path), resume=True, log=None)
    assert_same_params(resumed.params, reference.params)
    assert_same_params(resumed.best_params, reference.best_params)
    assert without_time(resumed.history) == without_time(json.loads(json.dumps(reference.history)))


def test_a_checkpoint_saved_before_select_existed_resumes_with_the_default(tmp_path):
    model = NodeSparseBNN(WIDTHS, prior="ss-ig", likelihood="categorical")
    first = fit(model, *classification_data(), TrainConfig(**{**CONFIG, "epochs": 2}), out_dir=str(tmp_path), log=None)
    path = str(tmp_path / "checkpoint.npz")
    ckpt = load_checkpoint(path)
    for key in ADDED_OPTIONS:
        del ckpt.meta["train_config"][key]
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("format", "version")}
    save_checkpoint(path, params=ckpt.params, opt_state=ckpt.opt_state, best_params=ckpt.best_params, perm=ckpt.perm,
                    meta=meta)
    again = fit(model, *classification_data(), TrainConfig(**{**CONFIG, "epochs": 2}), out_dir=str(tmp_path),
                resume=True, log=None)
    assert_same_params(again.best_params, first.best_params)
    with pytest.raises(ValueError, match="differs in"):     # the saved run had the default rule, not this one
        fit(model, *classification_data(), TrainConfig(**{**CONFIG, "epochs": 2, "select": "compressed"}),
            out_dir=str(tmp_path), resume=True, log=None)


def strip_added_options(run_dir):
    """Make ``run_dir`` look as if written before the options of ``ADDED_OPTIONS`` (select, flops_budget, the
    node-selection options of 2026-12-05) existed."""
    path = run_dir / "run.json"
    run_json = json.loads(path.read_text())
    for key in ADDED_OPTIONS:
        del run_json["train"][key]
    path.write_text(json.dumps(run_json))
    ckpt = load_checkpoint(str(run_dir / "checkpoint.npz"))
    for key in ADDED_OPTIONS:
        del ckpt.meta["train_config"][key]
    save_checkpoint(str(run_dir / "checkpoint.npz"), params=ckpt.params, opt_state=ckpt.opt_state,
                    best_params=ckpt.best_params, perm=ckpt.perm,
                    meta={k: v for k, v in ckpt.meta.items() if k not in ("format", "version")})


def test_runs_saved_before_select_existed_resume_and_are_skipped(tmp_path):
    """``train --resume`` (run.json and checkpoint compared) and the experiments' resumable fits (run.json
    compared) take a saved configuration without the new options as one with their earlier behaviour (ADDED_OPTIONS)."""
    import experiments.common as common
    legacy = dict(epochs=1, batch_size=512, eval_samples=2, select="nll", theta_optimizer="adam", theta_init_sd=0.0)
    args = dict(data_spec={"name": "teacher-classification"}, model_kw={"prior": "ss-ig"}, hidden=[4],
                config=TrainConfig(**legacy), out_dir=str(tmp_path / "a"), log=None)
    first = pipeline.train_run(**args)
    strip_added_options(tmp_path / "a")
    again = pipeline.train_run(**args, resume=True)
    assert again["test"] == first["test"]
    ds = pipeline.load_data({"name": "teacher-classification"})
    config = TrainConfig(**legacy)
    fitted = common.fit_once(str(tmp_path / "b"), ds, {"name": "teacher-classification"}, [4], {"prior": "ss-ig"},
                             config, log=None)
    strip_added_options(tmp_path / "b")
    assert common.fit_once(str(tmp_path / "b"), ds, {"name": "teacher-classification"}, [4], {"prior": "ss-ig"},
                           config, log=None) == json.loads(json.dumps(fitted))     # finished: skipped, not refused
    with pytest.raises(ValueError, match="other options"):
        common.fit_once(str(tmp_path / "b"), ds, {"name": "teacher-classification"}, [4], {"prior": "ss-ig"},
                        TrainConfig(**{**legacy, "select": "compressed"}), log=None)
    with pytest.raises(ValueError, match="other options"):      # today's defaults are not the saved run's
        pipeline.train_run(**{**args, "config": TrainConfig(epochs=1, batch_size=512, eval_samples=2)}, resume=True)


# ---------------------------------------------------------------- the selection rule

def best_within_budget(history, budget):
    """The selection rule written out: highest compressed accuracy, then lowest compressed NLL, then earliest."""
    eligible = [r for r in history if r["flops_kept"] <= budget]
    return min(eligible, key=lambda r: (-r["val_compressed_accuracy"], r["val_compressed_nll"], r["epoch"]))["epoch"]


def test_selection_is_the_best_compressed_score_within_the_budget():
    budget = 0.6
    result = run(select="compressed", flops_budget=budget)
    h = result.history
    assert any(r["flops_kept"] > budget for r in h) and any(r["flops_kept"] <= budget for r in h)   # precondition
    epoch = best_within_budget(h, budget)
    assert selected_epoch(h, "compressed", budget) == epoch and h[epoch - 1]["flops_kept"] <= budget
    # an epoch outside the budget scored better: the budget, not the score alone, decided (the test can fail)
    assert max(r["val_compressed_accuracy"] for r in h) >= h[epoch - 1]["val_compressed_accuracy"]
    # the selected parameters are those of that epoch: training for exactly that many epochs ends on them
    # (a constant rate, so the shorter run's trajectory is the longer one's beginning)
    assert_same_params(result.best_params, run(epochs=epoch).params)
    assert selected_epoch(h, "nll") == min(h, key=lambda r: (r["val_nll"], r["epoch"]))["epoch"]


def test_without_an_epoch_within_the_budget_the_fewest_flops_are_selected():
    result = run(select="compressed", flops_budget=0.01)     # below 3/139, the output biases alone
    h = result.history
    fewest = min(r["flops_kept"] for r in h)
    assert fewest > 0.01
    epoch = selected_epoch(h, "compressed", 0.01)
    assert h[epoch - 1]["flops_kept"] == fewest
    assert epoch == best_within_budget(h, fewest)          # ties on FLOPs go to the better score


def test_patience_counts_only_once_an_epoch_lies_within_the_budget():
    """theta frozen: every epoch keeps all FLOPs. With budget 1 the run stops at the first epoch without a better
    compressed score; with budget 0.5 no epoch is within it, so patience never starts counting."""
    frozen = dict(lr_mult_theta=0.0, select="compressed", patience=1, epochs=6)
    stopped = run(**frozen, flops_budget=1.0)
    assert len(stopped.history) < 6                         # precondition: a non-improving epoch exists
    assert len(run(**frozen, flops_budget=0.5).history) == 6


def test_selection_key_orders_epochs():
    rec = lambda e, f, acc, nll: dict(epoch=e, flops_kept=f, val_compressed_accuracy=acc,  # noqa: E731
                                      val_compressed_nll=nll, val_nll=1.0)
    h = [rec(1, 1.0, 0.9, 0.3), rec(2, 0.5, 0.7, 0.6), rec(3, 0.4, 0.7, 0.5), rec(4, 0.2, 0.6, 0.5),
         rec(5, 0.45, 0.7, 0.5)]
    assert selected_epoch(h, "compressed", 1.0) == 1
    assert selected_epoch(h, "compressed", 0.5) == 3         # 2, 3, 5 tie on accuracy; 3 and 5 on NLL: the earlier
    assert selected_epoch(h, "compressed", 0.3) == 4
    assert selected_epoch(h, "compressed", 0.1) == 4         # none within: the fewest FLOPs
    assert selection_key(h[0], "compressed", 0.5) > selection_key(h[3], "compressed", 0.5)
    reg = [dict(epoch=1, flops_kept=0.3, val_compressed_rmse=2.0, val_nll=0.0),
           dict(epoch=2, flops_kept=0.3, val_compressed_rmse=1.5, val_nll=0.0)]
    assert selected_epoch(reg, "compressed", 0.5) == 2
    assert selected_epoch([{"epoch": 1, "flops_kept": 1.0}], "compressed", 0.5) is None     # no validation data


def test_front_is_the_set_of_non_dominated_epochs():
    rec = lambda e, f, acc: dict(epoch=e, flops_kept=f, val_compressed_accuracy=acc,  # noqa: E731
                                 val_compressed_nll=0.0)
    h = [rec(1, 1.0, 0.6), rec(2, 0.5, 0.6), rec(3, 0.5, 0.7), rec(4, 0.3, 0.5), rec(5, 0.3, 0.5), rec(6, 0.2, 0.4),
         rec(7, 0.8, 0.8)]
    assert [p["epoch"] for p in front(h)] == [6, 4, 3, 7]
    rng = np.random.default_rng(0)      # against the definition, on random records with many ties
    for _ in range(20):
        h = [rec(e, float(rng.integers(1, 6)) / 5, float(rng.integers(0, 5)) / 4) for e in range(1, 30)]
        on = {p["epoch"] for p in front(h)}
        point = lambda r: (r["flops_kept"], r["val_compressed_accuracy"])  # noqa: E731
        for r in h:
            dominated = any(point(q)[0] <= point(r)[0] and point(q)[1] >= point(r)[1] and point(q) != point(r)
                            for q in h)
            earlier_twin = any(q["epoch"] < r["epoch"] and point(q) == point(r) for q in h)
            assert (r["epoch"] in on) == (not dominated and not earlier_twin)
    reg = [dict(epoch=1, flops_kept=0.5, val_compressed_rmse=1.0), dict(epoch=2, flops_kept=0.4, val_compressed_rmse=2.0),
           dict(epoch=3, flops_kept=0.6, val_compressed_rmse=1.5)]
    assert [p["epoch"] for p in front(reg)] == [2, 1]        # regression: lower RMSE is better


@pytest.mark.parametrize("field, value", [("select", "accuracy"), ("flops_budget", 0.0), ("flops_budget", 1.5),
                                          ("flops_budget", math.nan), ("flops_budget", True)])
def test_train_config_rejects_bad_selection_options(field, value):
    with pytest.raises(ValueError, match=f"^{field}:"):
        TrainConfig(**{field: value, **({"select": "compressed"} if field == "flops_budget" else {})})


def test_a_budget_without_the_compressed_rule_and_the_rule_without_validation_are_refused():
    with pytest.raises(ValueError, match="^flops_budget: 0.5 applies only with select='compressed'"):
        TrainConfig(flops_budget=0.5)
    x, y, _, _ = classification_data()
    with pytest.raises(ValueError, match="^select: 'compressed' .* no validation data"):
        fit(NodeSparseBNN(WIDTHS, prior="ss-ig", likelihood="categorical"), x, y,
            config=TrainConfig(select="compressed"), log=None)


# ---------------------------------------------------------------- the pipeline never shows test data to the rule

def train_args(out, **extra):
    return dict(data_spec={"name": "teacher-classification"}, model_kw={"prior": "ss-ig"}, hidden=[8, 8],
                config=TrainConfig(epochs=6, batch_size=128, lr=0.01, lr_mult_theta=20.0, eval_samples=2,
                                   select="compressed", flops_budget=0.6, **extra),
                out_dir=str(out), log=None)


def test_selection_never_reads_test_data(tmp_path, monkeypatch):
    prepare, seen, preps = pipeline.prepare, [], []
    scorer = train_module.network_metrics

    def recording_prepare(*a, **k):
        preps.append(prepare(*a, **k))
        return preps[-1]

    def recording_scorer(net, x, y, *a):
        seen.append((x, y))
        return scorer(net, x, y, *a)

    monkeypatch.setattr(pipeline, "prepare", recording_prepare)
    monkeypatch.setattr(train_module, "network_metrics", recording_scorer)
    clean = pipeline.train_run(**train_args(tmp_path / "clean"))
    assert len(seen) == 6 and all(x is preps[0].x_val and y is preps[0].y_val for x, y in seen)

    def poisoned_prepare(*a, **k):      # other test inputs and every test label wrong
        p = prepare(*a, **k)
        p.x_test = np.random.default_rng(5).standard_normal(p.x_test.shape)
        p.y_test = (p.y_test + 1) % p.n_out
        return p

    monkeypatch.setattr(pipeline, "prepare", poisoned_prepare)
    poisoned = pipeline.train_run(**train_args(tmp_path / "poisoned"))
    assert poisoned["test"]["accuracy"] != clean["test"]["accuracy"]          # the poison reached the test metrics
    assert poisoned["selected"]["epoch"] == clean["selected"]["epoch"]
    read = lambda d: [json.loads(line) for line in open(d / "history.jsonl")]  # noqa: E731
    assert without_time(read(tmp_path / "poisoned")) == without_time(read(tmp_path / "clean"))
    a, b = (load_checkpoint(str(tmp_path / d / "checkpoint.npz")) for d in ("clean", "poisoned"))
    assert_same_params(a.best_params, b.best_params)


# ---------------------------------------------------------------- end to end through the command line

def test_command_line_selects_within_the_budget_writes_the_front_and_fine_tunes(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", "teacher-classification", "--hidden", "8", "8", "--prior", "ss-ig", "--epochs", "6",
            "--batch-size", "128", "--lr", "0.01", "--lr-mult-theta", "20", "--eval-samples", "2",
            "--select", "compressed", "--flops-budget", "0.6", "--theta-optimizer", "adam", "--theta-init-sd", "0",
            "--quiet", "--out", str(out)]
    assert main(argv) == 0
    read = lambda p: json.loads(p.read_text())  # noqa: E731
    metrics, run_json = read(out / "metrics.json"), read(out / "run.json")
    history = [json.loads(line) for line in open(out / "history.jsonl")]
    assert run_json["train"]["select"] == "compressed" and run_json["train"]["flops_budget"] == 0.6
    sel = metrics["selected"]
    assert sel["rule"] == "compressed" and sel["within_budget"] and sel["flops_kept"] <= 0.6
    assert sel["epoch"] == best_within_budget(history, 0.6) and "FLOPs kept <= 0.6" in metrics["selection"]
    assert metrics["flops_kept"]["fraction_kept"] == sel["flops_kept"] < 1.0
    assert metrics["nodes_kept"] == sel["nodes_kept"] and all(k >= 1 for k in metrics["nodes_kept"])  # no layer empty
    # front.json: the front of the history, with the selected epoch
    fr = read(out / "front.json")
    assert fr["selected_epoch"] == sel["epoch"] and fr["front"] == front(history) and fr["front"]
    # compressed test metrics in metrics.json, evaluate.json and prune.json agree, and match the exported file
    assert main(["evaluate", "--out", str(out)]) == 0
    assert main(["prune", "--out", str(out), "--repeats", "1"]) == 0
    capsys.readouterr()
    ev, pr = read(out / "evaluate.json"), read(out / "prune.json")
    assert ev["compressed_test"] == metrics["compressed_test"] == pr["compressed_test"]
    assert ev["test"] == metrics["test"]
    model, params, prep, _ = pipeline.restore(str(out))
    net = CompressedMLP.load(str(out / "compressed.npz"))
    acc = np.mean(np.argmax(net.predict(prep.x_test), axis=1) == prep.y_test)
    assert ev["compressed_test"]["accuracy"] == acc                       # a count of the same argmaxes: exact

    # fine-tuning with the mask frozen
    assert main(["finetune", "--out", str(out), "--epochs", "3", "--quiet"]) == 0
    capsys.readouterr()
    ft = out / "finetune"
    ft_metrics, ft_run = read(ft / "metrics.json"), read(ft / "run.json")
    assert ft_run["finetune"]["parent_epoch"] == sel["epoch"] and ft_run["train"]["lr_mult_theta"] == 0.0
    ckpt = load_checkpoint(str(ft / "checkpoint.npz"))
    for l in range(2):
        key = f"{l}.theta"
        assert np.array_equal(ckpt.params[key], np.asarray(params[key]))         # theta untouched, bit for bit
        assert np.array_equal(ckpt.best_params[key], np.asarray(params[key]))
    assert not np.array_equal(ckpt.best_params["0.w_mu"], np.asarray(params["0.w_mu"]))   # the weights did train
    ft_history = [json.loads(line) for line in open(ft / "history.jsonl")]
    assert len(ft_history) == 3 and all(r["nodes_kept"] == sel["nodes_kept"] for r in ft_history)
    assert ft_metrics["nodes_kept"] == metrics["nodes_kept"]
    assert main(["evaluate", "--out", str(ft)]) == 0 and main(["prune", "--out", str(ft), "--repeats", "1"]) == 0
    capsys.readouterr()
    assert read(ft / "evaluate.json")["test"] == ft_metrics["test"]        # evaluate rebuilds the frozen mask
    ft_net = CompressedMLP.load(str(ft / "compressed.npz"))
    assert ft_net.widths == net.widths and all(np.array_equal(a, b) for a, b in zip(ft_net.masks, net.masks))
    assert main(["finetune", "--out", str(ft), "--epochs", "1", "--quiet"]) == 2      # not a fine-tuned run again
    assert "fine-tuned run already" in capsys.readouterr().err
    # training afresh over the run removes its fine-tuning's results too
    assert main([*argv, "--epochs", "1", "--overwrite"]) == 0
    capsys.readouterr()
    assert not (ft / "metrics.json").exists() and not (ft / "checkpoint.npz").exists()


def test_the_finetune_command_documents_its_options():
    sub = build_parser()._subparsers._group_actions[0].choices["finetune"]
    for action in sub._actions:
        if action.dest != "help":
            assert action.help and ("default" in action.help or "required" in action.help), action.option_strings
    train = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "(default: sparse)" in train and "(default: 1.0)" in train


# ---------------------------------------------------------------- the frozen mask

def crafted_noise(model, params, noise, masks):
    """The same noise with ``u`` chosen so that ``theta + logit u = +-5``: the straight-through sample is then
    exactly ``mask`` under the model's own ``theta``."""
    out = dict(noise)
    for l, m in enumerate(masks):
        theta = np.asarray(params[f"{l}.theta"])
        out[f"{l}.u"] = np.broadcast_to(expit(np.where(m, 5.0, -5.0) - theta), noise[f"{l}.u"].shape).copy()
    return out


@pytest.mark.parametrize("prior", ["ss-ig", "ss-gl", "ss-ghs"])
@pytest.mark.parametrize("relaxation", ["straight-through", "concrete"])
def test_frozen_mask_is_the_model_with_z_equal_to_the_mask(prior, relaxation):
    rng = np.random.default_rng(3)
    widths = [3, 6, 5, 2]
    model = NodeSparseBNN(widths, prior=prior, likelihood="categorical", relaxation=relaxation)
    oracle = NodeSparseBNN(widths, prior=prior, likelihood="categorical")          # straight-through
    params = randomise(model, rng)
    masks = node_masks(model, params)
    assert all(m.any() and not m.all() for m in masks)                           # precondition: a real mask
    frozen = FrozenMask(model, masks)
    noise = model.sample_noise(rng, 3)
    x, y = rng.standard_normal((7, 3)), rng.integers(0, 2, 7)
    crafted = crafted_noise(model, params, noise, masks)
    # the same indicators, so the same floating-point operations: exact
    assert np.array_equal(frozen.predict(params, x, noise), oracle.predict(params, x, crafted))
    _, g, terms = frozen.loss_and_grad(params, x, y, noise, 100, kl_weight=0.0)
    _, g_ref, terms_ref = oracle.loss_and_grad(params, x, y, crafted, 100, kl_weight=0.0)
    assert terms["nll"] == terms_ref["nll"]
    for k in g:
        if k.endswith(".theta"):
            assert np.all(g[k] == 0), k
        else:
            assert np.array_equal(g[k], g_ref[k]), k
    _, g_fused, _ = frozen.loss_and_grad_fused(params, x, y, noise, 100)
    assert all(np.all(g_fused[f"{l}.theta"] == 0) for l in range(2))


def test_frozen_mask_kl_is_the_kept_nodes_slab_kl_and_a_constant_kl_z():
    rng = np.random.default_rng(4)
    model = NodeSparseBNN([3, 6, 5, 2], prior="ss-ig", likelihood="categorical", lam=0.2)
    params = randomise(model, rng)
    masks = node_masks(model, params)
    noise = model.sample_noise(rng, 1)
    x, y = rng.standard_normal((7, 3)), rng.integers(0, 2, 7)
    kl = lambda ms: FrozenMask(model, ms).loss_and_grad(params, x, y, noise, 100)[2]  # noqa: E731
    on, off = kl(masks), kl([~m for m in masks])
    every, none = kl([np.ones_like(m) for m in masks]), kl([np.zeros_like(m) for m in masks])
    # the hidden nodes' KLs add up (kept + pruned = all); the output layer, without indicators, counts in each
    assert float(on["kl_w"]) + float(off["kl_w"]) == pytest.approx(float(every["kl_w"]) + float(none["kl_w"]),
                                                                   rel=1e-12)   # round-off of sums of 12 terms
    assert float(none["kl_w"]) < float(on["kl_w"]) < float(every["kl_w"])
    # all nodes kept: the dense Gaussian prior's weight KL (the same slab N(0, sigma0^2), no indicators)
    dense = NodeSparseBNN([3, 6, 5, 2], prior="gaussian", likelihood="categorical")
    dense_params = {k: v for k, v in params.items() if not k.endswith(".theta")}
    kl_dense = dense.loss_and_grad(dense_params, x, y, {k: v for k, v in noise.items() if not k.endswith(".u")}, 100)[2]
    assert float(every["kl_w"]) == pytest.approx(float(kl_dense["kl_w"]), rel=1e-12)   # round-off
    # kl_z: the Bernoulli KL of the point mass, sum_kept -log lam + sum_pruned -log(1 - lam)
    kept = sum(int(m.sum()) for m in masks)
    pruned = sum(int((~m).sum()) for m in masks)
    assert float(on["kl_z"]) == pytest.approx(-kept * math.log(0.2) - pruned * math.log(0.8), rel=1e-12)


@pytest.mark.parametrize("prior", ["ss-ig", "ss-ghs"])
def test_finetune_keeps_theta_the_mask_and_the_compressed_nodes(prior):
    data = classification_data()
    model = NodeSparseBNN(WIDTHS, prior=prior, likelihood="categorical")
    trained = run(model=model, data=data, epochs=5, select="compressed", flops_budget=0.8)
    masks = node_masks(model, trained.best_params)
    assert any(not m.all() for m in masks) and all(m.any() for m in masks)      # precondition: pruned, not empty
    tuned = finetune(model, trained.best_params, *data, TrainConfig(epochs=3, batch_size=50, lr=0.01, eval_samples=2),
                     log=None)
    for params in (tuned.params, tuned.best_params):
        for l in range(2):
            assert np.array_equal(params[f"{l}.theta"], trained.best_params[f"{l}.theta"])
        assert all(np.array_equal(a, b) for a, b in zip(node_masks(model, params), masks))
    assert not np.array_equal(tuned.params["0.w_mu"], trained.best_params["0.w_mu"])
    assert all(r["nodes_kept"] == [int(m.sum()) for m in masks] for r in tuned.history)
    assert len({r["kl_z"] for r in tuned.history}) == 1                         # a constant of the frozen mask


def test_finetune_resumes_bit_identically(tmp_path, monkeypatch):
    data = classification_data()
    model = NodeSparseBNN(WIDTHS, prior="ss-ig", likelihood="categorical")
    start = run(model=model, data=data, epochs=5, select="compressed", flops_budget=0.8).best_params
    config = TrainConfig(epochs=3, batch_size=50, lr=0.01, eval_samples=2)
    reference = finetune(model, start, *data, config, log=None)
    restore_check = interrupt_at(monkeypatch, 8)                 # epoch 2, step 2
    stopped = finetune(model, start, *data, config, out_dir=str(tmp_path), log=None)
    assert stopped.interrupted and len(stopped.history) == 1
    restore_check()
    resumed = finetune(model, start, *data, config, out_dir=str(tmp_path), resume=True, log=None)
    assert_same_params(resumed.params, reference.params)
    assert_same_params(resumed.best_params, reference.best_params)
    assert without_time(resumed.history) == without_time(json.loads(json.dumps(reference.history)))


def test_finetune_refuses_an_unfinished_run(tmp_path, monkeypatch):
    restore_check = interrupt_at(monkeypatch, 2)
    metrics = pipeline.train_run(**train_args(tmp_path / "r"))
    restore_check()
    assert metrics["interrupted"]
    with pytest.raises(ValueError, match="is not finished .* --resume"):
        pipeline.finetune_run(str(tmp_path / "r"), 2, log=None)
