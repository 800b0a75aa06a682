"""The own-data example of docs/training.md ("Your own data"), run end to end on a generated CSV: a CSV in, train,
prune, and the NumPy-only export predicting from raw rows in the target's units; and test metrics from Python
with ``refimpl.run.evaluate.evaluate(..., y_scale=...)``. The expected numbers are computed here from the CSV files
themselves (means, standard deviations, targets), not taken from the code under test."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from refimpl.run.cli import main
from refimpl.run.compressed import CompressedMLP

COLUMNS = ["price", "area", "rooms", "age"]


def houses(n: int, seed: int) -> np.ndarray:
    """Rows (price, area m^2, rooms, age years): price in currency units, a linear rule plus noise of sd 5,000."""
    rng = np.random.default_rng(seed)
    area, rooms, age = rng.uniform(40, 200, n), rng.integers(1, 7, n), rng.uniform(0, 80, n)
    price = 50_000 + 2_000 * area + 10_000 * rooms - 500 * age + rng.normal(0, 5_000, n)
    return np.c_[price, area, rooms, age]


def write(path, rows) -> str:
    np.savetxt(path, rows, delimiter=",", header=",".join(COLUMNS), comments="", fmt="%.17g")
    return str(path)


def test_csv_in_train_prune_predict_in_original_units(tmp_path, capsys):
    train_csv, test_csv = write(tmp_path / "train.csv", houses(300, 0)), write(tmp_path / "test.csv", houses(100, 1))
    out = str(tmp_path / "houses")
    assert main(["train", "--data", f"csv:{train_csv}", "--test-data", f"csv:{test_csv}", "--target", "price",
                 "--prior", "ss-gl", "--hidden", "16", "--epochs", "60", "--batch-size", "32", "--lr", "0.01",
                 "--out", out]) == 0
    assert "task regression (non-integer values)" in capsys.readouterr().err
    assert main(["prune", "--out", out, "--repeats", "1"]) == 0
    capsys.readouterr()

    net = CompressedMLP.load(os.path.join(out, "compressed.npz"))
    test = np.loadtxt(test_csv, delimiter=",", skiprows=1)
    pred = net.predict_raw(test[:, 1:])[:, 0]                         # raw rows in, price out

    # the export standardises with the training file's statistics and undoes the target's: computed from the file
    train = np.loadtxt(train_csv, delimiter=",", skiprows=1)
    x_mean, x_std, y_mean, y_std = train[:, 1:].mean(0), train[:, 1:].std(0), train[:, 0].mean(), train[:, 0].std()
    by_hand = y_mean + y_std * net.predict((test[:, 1:] - x_mean) / x_std)[:, 0]
    # tolerance: the same arithmetic, possibly in another summation order for the means (round-off, ~1e-16)
    np.testing.assert_allclose(pred, by_hand, rtol=1e-12)

    # it learned: the noise (sd 5,000) is ~5% of the price sd (~95,000), and a fit of the rule reaches ~0.06 of it;
    # 0.25 leaves room for a short training run and still fails a model that has not learned (a constant gives 1)
    rmse = math.sqrt(np.mean((pred - test[:, 0]) ** 2))
    assert rmse < 0.25 * test[:, 0].std(), (rmse, test[:, 0].std())
    with open(os.path.join(out, "prune.json")) as f:
        report = json.load(f)
    # prune.json computes the same RMSE on standardised data times y_std (round-off of the two routes, 1e-9)
    assert rmse == pytest.approx(report["compressed_test"]["rmse"], rel=1e-9)


def test_test_metrics_from_python(tmp_path):
    """docs/training.md: own data from Python, test metrics in original units through ``y_scale``."""
    from refimpl.data import Standardiser, load
    from refimpl.run.evaluate import evaluate, predict_outputs
    from refimpl.model import NodeSparseBNN
    from refimpl.run.train import TrainConfig, fit

    path = write(tmp_path / "houses.csv", houses(200, 2))
    ds = load(f"csv:{path}", target="price")                          # 20% test rows, split seed 0
    sx, sy = Standardiser.fit(ds.x_train), Standardiser.fit(ds.y_train)
    model = NodeSparseBNN([ds.n_features, 16, 1], prior="ss-gl")
    result = fit(model, sx.transform(ds.x_train), sy.transform(ds.y_train),
                 config=TrainConfig(epochs=20, batch_size=32, lr=0.01), log=None)
    metrics = evaluate(model, result.best_params, sx.transform(ds.x_test), sy.transform(ds.y_test), 10,
                       np.random.default_rng(0), y_scale=sy.scale)

    # the RMSE of the predictive mean in price units, computed here from the same draws and the CSV's targets
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    y_test = rows[ds.info["test_index"], 0]
    outputs = predict_outputs(model, result.best_params, sx.transform(ds.x_test), 10, np.random.default_rng(0))
    mean = rows[ds.info["train_index"], 0].mean() + rows[ds.info["train_index"], 0].std() * outputs[..., 0].mean(0)
    # tolerance: standardising and un-standardising the target in another order (round-off on ~1e5 prices)
    assert metrics["rmse"] == pytest.approx(math.sqrt(np.mean((mean - y_test) ** 2)), rel=1e-9)
