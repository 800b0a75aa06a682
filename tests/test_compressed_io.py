"""The NumPy-only export (refimpl/run/compressed.py): ``predict_raw`` on inputs in original units, and ``load`` of
missing or damaged files."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from refimpl.run.compressed import CompressedMLP


def network(meta=None) -> CompressedMLP:
    rng = np.random.default_rng(0)
    return CompressedMLP([rng.standard_normal((3, 4)), rng.standard_normal((4, 1))],
                         [rng.standard_normal(4), rng.standard_normal(1)], "tanh", [np.ones(4, bool)], meta)


STATS = {"x_mean": [10.0, -2.0, 300.0], "x_std": [2.0, 0.5, 40.0], "y_mean": 1000.0, "y_std": 25.0}


def test_predict_raw_applies_the_stored_statistics():
    net = network({"stats": STATS})
    x = np.random.default_rng(1).standard_normal((5, 3)) * STATS["x_std"] + STATS["x_mean"]
    W0, W1, b0, b1 = net.weights[0], net.weights[1], net.biases[0], net.biases[1]
    eta = np.tanh((x - STATS["x_mean"]) / STATS["x_std"] @ W0 + b0) @ W1 + b1     # the forward pass, by hand
    # tolerance: the same operations; only BLAS's summation order can differ (round-off on outputs ~1e3)
    np.testing.assert_allclose(net.predict_raw(x), STATS["y_mean"] + STATS["y_std"] * eta, rtol=1e-12)
    classifier = network({"stats": {**STATS, "y_mean": None, "y_std": None}})
    np.testing.assert_allclose(classifier.predict_raw(x), eta, rtol=1e-12)          # logits: no target units
    assert np.array_equal(network().predict(x), net.predict(x))                      # predict is unchanged


def test_predict_raw_errors():
    with pytest.raises(ValueError, match=r"meta\['stats'\]: this network carries no input statistics"):
        network().predict_raw(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("x: expected shape (batch, 3), got (2, 2)")):
        network({"stats": STATS}).predict_raw(np.zeros((2, 2)))


def test_save_load_round_trip_keeps_predict_raw(tmp_path):
    net = network({"stats": STATS, "classes": None})
    net.save(str(tmp_path / "c.npz"))
    x = np.ones((2, 3))
    assert np.array_equal(CompressedMLP.load(str(tmp_path / "c.npz")).predict_raw(x), net.predict_raw(x))


def damaged(tmp_path):
    """name -> path of a damaged compressed network, and the words its message must contain."""
    good = tmp_path / "good.npz"
    network({"stats": STATS}).save(str(good))
    raw = good.read_bytes()
    arrays = dict(np.load(good))
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "text.npz").write_text("not a network\n")
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "no_w1.npz", **{k: v for k, v in arrays.items() if k != "W1"})
    np.savez(tmp_path / "no_meta.npz", **{k: v for k, v in arrays.items() if k != "meta"})
    np.savez(tmp_path / "bad_meta.npz", **{**arrays, "meta": np.frombuffer(b"{oops", dtype=np.uint8)})
    np.savez(tmp_path / "bad_shape.npz", **{**arrays, "b0": np.zeros(7)})
    (tmp_path / "folder.npz").mkdir()
    return {
        "truncated.npz": "is not a readable compressed network (BadZipFile",
        "text.npz": "is not a readable compressed network (not an .npz archive)",
        "array.npy": "a single .npy array",
        "no_w1.npz": "lacks an entry of a compressed network ('W1",
        "no_meta.npz": "lacks an entry of a compressed network ('meta",
        "bad_meta.npz": "is not a readable compressed network (JSONDecodeError",
        "bad_shape.npz": "do not chain into an MLP",
        "folder.npz": "is a directory; pass the compressed network file",
    }


def test_load_of_damaged_files_names_the_file_and_the_fix(tmp_path):
    for name, words in damaged(tmp_path).items():
        path = str(tmp_path / name)
        with pytest.raises(ValueError) as info:
            CompressedMLP.load(path)
        message = str(info.value)
        assert message.startswith(f"{path}: ") and words in message and "\n" not in message, message
        if name != "folder.npz":
            assert message.endswith("export it again with `python -m refimpl prune --out RUN` (or CompressedMLP.save)")
    with pytest.raises(FileNotFoundError, match="missing.npz: file not found"):
        CompressedMLP.load(str(tmp_path / "missing.npz"))
    assert json.loads(json.dumps(CompressedMLP.load(str(tmp_path / "good.npz")).meta["stats"])) == STATS
