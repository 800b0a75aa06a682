"""The ``authors`` preset and the options it is made of: initialisation schemes (I-1), input scalings,
training on every row (``--val-fraction 0``), and the preset's merge rule (flags > config file > preset)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from refimpl import NodeSparseBNN
from refimpl.run.checkpoint import load_checkpoint
from refimpl.run.cli import main
from refimpl.run.compressed import CompressedMLP
from refimpl.data import Dataset
from refimpl.run.pipeline import prepare
from refimpl.run.presets import PRESETS, resolve
from refimpl.priors.initialise import init_bounds

SHAPES = [(784, 400), (400, 400), (400, 10), (7, 3)]


def read_json(path):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------- initialisation schemes (I-1)

@pytest.mark.parametrize("k_in, k_out", SHAPES)
def test_fan_in_scheme_is_he_uniform_on_the_true_fan_in(k_in, k_out):
    w, b = init_bounds(k_in, k_out, "fan-in")
    assert w ** 2 / 3 == pytest.approx(2 / k_in, rel=1e-14)      # Var U(-a, a) = a^2 / 3 = 2 / fan-in (He)
    assert b == pytest.approx(1 / math.sqrt(k_in), rel=1e-15)


@pytest.mark.parametrize("k_in, k_out", SHAPES)
def test_authors_scheme_is_torch_kaiming_uniform_on_a_k_in_by_k_out_tensor(k_in, k_out):
    torch = pytest.importorskip("torch")
    from torch.nn import init
    t = torch.empty(k_in, k_out, dtype=torch.float64)
    fan_in, _ = init._calculate_fan_in_and_fan_out(t)          # what the authors' bias bound reads
    torch_w = init.calculate_gain("relu") * math.sqrt(3.0 / fan_in)
    w, b = init_bounds(k_in, k_out, "authors")
    assert w == pytest.approx(torch_w, rel=1e-14) and b == pytest.approx(1 / math.sqrt(fan_in), rel=1e-15)
    # and the draws themselves: torch's fill the same interval as ours, reaching near its ends
    # (k_in k_out >= 21 draws: P(max |w| < 0.9 bound) = 0.9^21 = 0.11 for the smallest, ~0 for the others)
    torch.manual_seed(0)
    init.kaiming_uniform_(t, nonlinearity="relu")
    ours = NodeSparseBNN([k_in, k_out, 2], prior="gaussian", likelihood="categorical", init="authors")
    w_mu = ours.init_params(np.random.default_rng(0))["0.w_mu"]
    for draws in (t.numpy(), w_mu):
        assert np.max(np.abs(draws)) <= w
        if k_in * k_out > 100:
            assert np.max(np.abs(draws)) > 0.99 * w


def test_authors_bounds_of_the_fashion_mnist_network():
    """The numbers quoted in docs/derivations.md (I-1): weight bounds 0.1225, 0.1225, 0.7746; biases 0.05, 0.05,
    0.3162 (computed by hand: sqrt(6/400), sqrt(6/10), 1/sqrt(400), 1/sqrt(10))."""
    got = [init_bounds(a, b, "authors") for a, b in SHAPES[:3]]
    np.testing.assert_allclose(got, [(0.12247448713915890, 0.05), (0.12247448713915890, 0.05),
                                     (0.77459666924148338, 0.31622776601683794)], rtol=1e-15)


def test_init_scheme_changes_only_the_means_and_is_recorded():
    kw = dict(widths=[6, 5, 4], prior="ss-gl", likelihood="categorical")
    a = NodeSparseBNN(**kw).init_params(np.random.default_rng(3))
    b = NodeSparseBNN(**kw, init="authors").init_params(np.random.default_rng(3))
    # the same uniform draws rescaled: w_mu of layer l by sqrt(k_in / k_out), b_mu by the same factor
    for l, (k_in, k_out) in enumerate([(6, 5), (5, 4)]):
        np.testing.assert_allclose(b[f"{l}.w_mu"], a[f"{l}.w_mu"] * math.sqrt(k_in / k_out), rtol=1e-13)
        np.testing.assert_allclose(b[f"{l}.b_mu"], a[f"{l}.b_mu"] * math.sqrt(k_in / k_out), rtol=1e-13)
    for k in a:
        if not k.endswith(("w_mu", "b_mu")):
            np.testing.assert_array_equal(a[k], b[k])
    assert NodeSparseBNN(**kw, init="authors").config["init"] == "authors"
    with pytest.raises(ValueError, match="init: unknown 'kaiming'"):
        NodeSparseBNN(**kw, init="kaiming")


# ---------------------------------------------------------------- input scalings

def _images(name="mnist5k", n=12):
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, size=(m, 784)).astype(np.float64) for m in (n, 5)]
    labels = [np.arange(m, dtype=np.int64) % 10 for m in (n, 5)]
    return pixels, Dataset(name, "classification", pixels[0] / 255.0, labels[0], pixels[1] / 255.0, labels[1], 10)


def test_input_scalings():
    pixels, ds = _images()
    unit = prepare(ds, 0.0, 0, input_scaling="unit")
    authors = prepare(ds, 0.0, 0, input_scaling="authors")
    np.testing.assert_allclose(unit.x_fit, pixels[0] / 255, rtol=1e-15)
    np.testing.assert_allclose(authors.x_fit, pixels[0] * 255 / 126 / 255, rtol=1e-15)   # ToTensor() * 255 / 126
    np.testing.assert_allclose(authors.x_test, pixels[1] / 126, rtol=1e-15)
    assert authors.x_fit.max() <= 255 / 126 and authors.stats["input_scaling"] == "authors"
    z = prepare(ds, 0.0, 0)
    varying = z.x_fit.std(axis=0) > 0
    np.testing.assert_allclose(z.x_fit.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.x_fit.std(axis=0)[varying], 1, rtol=1e-12)
    # the stored statistics reproduce the scaling exactly (what evaluate / prune / export apply)
    again = prepare(ds, 0.0, 0, stats=authors.stats)
    np.testing.assert_array_equal(again.x_test, authors.x_test)


def test_pixel_scalings_refused_for_tabular_data():
    _, ds = _images(name="uci:yacht")
    with pytest.raises(ValueError, match="input_scaling: 'authors' applies to image data"):
        prepare(ds, 0.0, 0, input_scaling="authors")
    with pytest.raises(ValueError, match="input_scaling: unknown 'minmax'"):
        prepare(ds, 0.0, 0, input_scaling="minmax")


def test_val_fraction_zero_keeps_every_row_and_bad_fractions_are_refused():
    _, ds = _images()
    p = prepare(ds, 0.0, 0)
    assert p.x_fit.shape[0] == 12 and p.x_val.shape == (0, 784) and p.y_val.shape == (0,)
    for bad in (-0.1, 1.0, True):
        with pytest.raises(ValueError, match="val_fraction"):
            prepare(ds, bad, 0)


# ---------------------------------------------------------------- the preset, through the command line

def _mnist5k_csv(path, n=60):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(n, 784))
    labels = np.arange(n) % 10
    np.savetxt(path, np.column_stack([pixels, labels]), fmt="%d", delimiter=",")
    return path


TINY = ["--epochs", "2", "--hidden", "6", "--quiet"]


def test_preset_authors_records_every_setting(tmp_path, capsys):
    csv = _mnist5k_csv(tmp_path / "m.csv")
    out = tmp_path / "run"
    assert main(["train", "--data", "mnist5k", "--data-root", str(csv), "--prior", "ss-ghs", "--preset", "authors",
                 "--out", str(out), *TINY]) == 0
    run = read_json(out / "run.json")
    m, t = run["model"], run["train"]
    # the table of docs/training.md, one by one
    assert (m["init"], m["dtype"], m["temperature"], m["relaxation"], m["lam"]) == ("authors", "float32", 0.5,
                                                                                    "straight-through", "paper")
    assert (m["parameterisation"], m["c"], m["expectation"]) == ("centred", 1.0, "one-sample")
    assert (t["optimizer"], t["lr"], t["batch_size"], t["clip_norm"], t["kl_anneal_epochs"]) == ("adam", 1e-3, 1024, None, 0)
    assert (t["lr_mult_theta"], t["lr_mult_scales"], t["lr_mult_weights"]) == (1.0, 1.0, 1.0)
    assert t["theta_init"] == math.log(0.99 / 0.01) and t["predictive_average"] == "logits" and t["train_samples"] == 1
    assert run["val_fraction"] == 0.0 and run["input_scaling"] == "authors"
    np.testing.assert_allclose(run["stats"]["x_std"], 126 / 255, rtol=1e-15)
    assert run["preset"]["name"] == "authors" and run["preset"]["overridden"] == []
    assert run["preset"]["applied"]["init"] == "authors"
    metrics = read_json(out / "metrics.json")
    assert metrics["selection"] == "final epoch (no validation data)"
    history = [json.loads(line) for line in open(out / "history.jsonl")]
    assert len(history) == 2 and not any(k.startswith("val_") for k in history[-1])
    ckpt = load_checkpoint(str(out / "checkpoint.npz"))
    for k, v in ckpt.params.items():                     # no validation: the selected model is the final one
        np.testing.assert_array_equal(ckpt.best_params[k], v)
    # rho at -6 and theta at logit(0.99) in the run's own initial parameters
    model = NodeSparseBNN(**m)
    p0 = model.init_params(np.random.default_rng(t["seed"]))
    assert np.all(p0["0.w_rho"] == -6.0) and np.allclose(p0["0.theta"], math.log(99))
    # prune applies the same scaling: the exported network agrees with the masked model on scaled inputs
    assert main(["prune", "--out", str(out), "--repeats", "1"]) == 0
    report = read_json(out / "prune.json")
    assert report["max_abs_diff"] < 1e-5 and 0 <= report["compressed_test"]["accuracy"] <= 1
    assert CompressedMLP.load(str(out / "compressed.npz")).meta["stats"]["input_scaling"] == "authors"
    capsys.readouterr()


def test_explicit_flags_and_config_keys_override_the_preset(tmp_path, capsys):
    csv = _mnist5k_csv(tmp_path / "m.csv")
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "authors"\nbatch-size = 16\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--data", "mnist5k", "--data-root", str(csv), "--lr", "0.003",
                 "--val-fraction", "0.2", "--input-scaling", "unit", "--dtype", "float64", "--out", str(out), *TINY]) == 0
    run = read_json(out / "run.json")
    assert run["train"]["lr"] == 0.003 and run["train"]["batch_size"] == 16 and run["model"]["dtype"] == "float64"
    assert run["val_fraction"] == 0.2 and run["input_scaling"] == "unit" and run["model"]["init"] == "authors"
    assert run["preset"]["overridden"] == ["batch_size", "dtype", "input_scaling", "lr", "val_fraction"]
    assert "lr" not in run["preset"]["applied"] and run["preset"]["applied"]["predictive_average"] == "logits"
    assert read_json(out / "metrics.json")["selection"] == "lowest validation NLL"
    capsys.readouterr()


def test_without_a_preset_the_defaults_stand(tmp_path, capsys):
    csv = _mnist5k_csv(tmp_path / "m.csv")
    out = tmp_path / "run"
    assert main(["train", "--data", "mnist5k", "--data-root", str(csv), "--out", str(out), *TINY]) == 0
    run = read_json(out / "run.json")
    assert "preset" not in run and run["model"]["init"] == "fan-in" and run["input_scaling"] == "zscore"
    assert run["val_fraction"] == 0.1 and run["train"]["predictive_average"] == "probs"
    capsys.readouterr()


def test_val_fraction_zero_is_said_in_the_output(tmp_path, capsys):
    csv = _mnist5k_csv(tmp_path / "m.csv")
    assert main(["train", "--data", "mnist5k", "--data-root", str(csv), "--val-fraction", "0", "--out",
                 str(tmp_path / "o"), "--epochs", "1", "--hidden", "4"]) == 0
    assert "no validation hold-out" in capsys.readouterr().err


def test_bad_preset_and_scaling_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--preset", "nobody", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    capsys.readouterr()
    assert main(["train", "--data", "teacher-regression", "--input-scaling", "authors", "--out", str(tmp_path / "o"),
                 *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refimpl: error: input_scaling: 'authors' applies to image data") and err.count("\n") == 1
    with pytest.raises(ValueError, match="preset: unknown 'x'"):
        resolve("x", "ss-ig", {}, {}, {}, set())


def test_resolve_fills_only_missing_keys_and_prior_specific_ones_where_they_apply():
    model, train, data, record = resolve("authors", "ss-ig", {"prior": "ss-ig", "dtype": "float64"}, {"lr": 0.1}, {},
                                         {"prior", "dtype"})
    assert model["dtype"] == "float64" and "parameterisation" not in model and train["lr"] == 1e-3
    assert data == PRESETS["authors"]["data"] and record["overridden"] == ["dtype"]
    model, *_ = resolve("authors", "ss-gl", {"prior": "ss-gl"}, {}, {}, {"prior"})
    assert model["parameterisation"] == "non-centred"
    assert resolve(None, "ss-gl", {"a": 1}, {}, {}, set())[3] == {}


@pytest.mark.parametrize("flag, value, message", [("--init", "kaiming", "init: unknown 'kaiming'"),
                                                  ("--val-fraction", "1.5", "val_fraction: expected"),
                                                  ("--input-scaling", "minmax", "invalid choice: 'minmax'")])
def test_new_options_bad_values_are_one_line_errors(tmp_path, capsys, flag, value, message):
    try:
        code = main(["train", "--data", "teacher-classification", flag, value, "--out", str(tmp_path / "o"), *TINY])
    except SystemExit as exc:          # argparse's own choice errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("refimpl: error: ") and message in err and err.count("\n") == 1
