"""The user's own data: a CSV file, an ``.npz`` archive or a pair of ``.npy`` files.

Sources (the ``name`` given to :func:`refimpl.data.load`, or ``--data`` on the command line):

* ``csv:PATH`` -- comma-separated numbers, one row per line, header row optional; the target is the column
  ``target`` (a header name or a 0-based index; default the last column), every other column is a feature;
* ``npz:PATH`` -- arrays ``x`` ``(n, p)`` and ``y`` ``(n,)``, or ``x_train``, ``y_train``, ``x_test``, ``y_test``;
* ``npy:X.npy,Y.npy`` -- two ``.npy`` files, features ``(n, p)`` and targets ``(n,)``.

**Header.** The first CSV row is a header when one of its cells is not a number while every cell below it in the
same column is one (the names of numeric columns give it away).

**Task** (``task=None``, the default, infers it from the training targets): non-numeric labels -> classification;
a number that is not an integer -> regression; integers with 2 to ``MAX_INFERRED_CLASSES`` (20) distinct values ->
classification. Anything else (integers with one value or more than 20, numbers mixed with other values such as
``NA``) is ambiguous and an error that asks for ``task``. "Integer" means integer-valued, so ``1.0`` counts as 1
in a CSV file and in a float array alike.

**Labels** of any kind (strings, non-contiguous integers) map to ``0..K-1`` in sorted order (numbers numerically,
strings lexicographically); ``info["classes"]`` (and ``info["spec"]["classes"]``) keep the sorted originals, so
class ``k`` of a prediction is ``classes[k]``.

**Test set**: ``test`` (another source of these forms; a test CSV's target is the training file's target column, by
name when the test file has a header, else by position) or, by default, a random ``test_fraction`` (0.2) of the
rows, seeded by ``split`` (0), stratified for classification: each class gives ``min(round(test_fraction * n_c),
n_c - 1)`` of its ``n_c`` rows, so every class keeps a training row.

Every problem with a file (missing, empty, not a number, NaN or infinity, ragged rows, missing target column) is a
``FileNotFoundError`` or ``ValueError`` naming the file and saying how to fix it. Nothing is standardised here.
"""
from __future__ import annotations

import csv
import os
import zipfile
from numbers import Integral, Real

import numpy as np

from .dataset import Dataset

FORMATS = ("csv", "npz", "npy")
MAX_INFERRED_CLASSES = 20
_FORMS = "csv:PATH, npz:PATH or npy:X.npy,Y.npy"


def is_tabular(name) -> bool:
    """Whether ``name`` is a source of this module (``csv:``, ``npz:`` or ``npy:`` followed by a path)."""
    return isinstance(name, str) and name.partition(":")[0] in FORMATS and len(name.partition(":")[2]) > 0


def absolute(source: str) -> str:
    """``source`` with its path(s) made absolute, so that a run can reload it from any directory."""
    kind, _, paths = source.partition(":")
    return f"{kind}:" + ",".join(os.path.abspath(p) for p in paths.split(","))


# ---------------------------------------------------------------- reading one source: (x, y, column names or None)

def _open_check(path: str, form: str):
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory; pass the data file itself, as {form}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: file not found; check the path (the data forms are {_FORMS})")


def _parses(cells: np.ndarray) -> bool:
    """Whether every cell of ``cells`` reads as a float (NaN and infinity included)."""
    try:
        cells.astype(np.float64)
        return True
    except ValueError:
        return False


def _numbers(cells: np.ndarray, path: str, lines, columns):
    """float64 of a 2-D block of CSV cells; the first non-number or non-finite cell is reported by line and column."""
    values = cells.astype(np.float64) if _parses(cells) else None
    bad = np.ones(cells.shape, dtype=bool) if values is None else ~np.isfinite(values)
    for i, j in np.argwhere(bad):
        cell = str(cells[i, j])
        if not _parses(np.array([cell])):
            what = "is empty" if not cell.strip() else f"{cell!r} is not a number"
            raise ValueError(f"{path}: line {lines[i]}, column {columns[j]!r}: {what}; every feature and a regression "
                             "target must be a number (encode categories as numbers, fill or drop missing cells)")
        if not np.isfinite(np.float64(cell)):
            raise ValueError(f"{path}: line {lines[i]}, column {columns[j]!r}: {cell!r} is NaN or infinite; remove or "
                             "impute it")
    return values


def _read_csv(path: str, target, fallback=None):
    _open_check(path, "csv:PATH")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, r) for r in reader if r and not (len(r) == 1 and not r[0].strip())]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: is not a UTF-8 text file; save it as CSV (UTF-8), or use npz:PATH for "
                         "NumPy archives") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: is not valid CSV ({exc}); save it as comma-separated values") from None
    if not rows:
        raise ValueError(f"{path}: the file is empty; give a CSV file with one row of numbers per line")
    width = len(rows[0][1])
    for line, r in rows:
        if len(r) != width:
            raise ValueError(f"{path}: line {line} has {len(r)} cells but line {rows[0][0]} has {width}; every row "
                             "needs the same number of comma-separated cells")
    if width < 2:
        raise ValueError(f"{path}: has a single column; it needs feature columns and a target column, separated by "
                         "commas")
    lines, cells = [line for line, _ in rows], np.array([r for _, r in rows], dtype=str)
    if len(rows) == 1 and not _parses(cells):
        raise ValueError(f"{path}: holds one line, a header without data rows; add the data below it")
    header = len(rows) > 1 and any(not _parses(cells[:1, j]) and _parses(cells[1:, j]) for j in range(width))
    names = [c.strip() for c in cells[0]] if header else None
    if header:
        lines, cells = lines[1:], cells[1:]
    columns = names or list(range(width))
    if names is None and isinstance(target, str) and fallback is not None and not target.lstrip("-").isdigit():
        target = fallback     # a test file without a header: the training file's target column, by position
    t = _target_index(target, names, width, path)
    features = [j for j in range(width) if j != t]
    x = _numbers(cells[:, features], path, lines, [columns[j] for j in features])
    y = np.char.strip(cells[:, t])
    empty = np.flatnonzero(y == "")
    if empty.size:
        raise ValueError(f"{path}: line {lines[empty[0]]}, target column {columns[t]!r}: is empty; fill or drop "
                         "rows without a target")
    if _parses(y):
        y = _numbers(y[:, None], path, lines, [columns[t]])[:, 0]
    return x, y, names and [names[j] for j in features], columns[t], t


def _target_index(target, names, width: int, path: str) -> int:
    cols = f"columns {names}" if names else f"{width} columns, 0..{width - 1} (no header row)"
    if target is None:
        return width - 1
    if names and str(target) in names:
        return names.index(str(target))
    try:
        t = int(target)
    except (TypeError, ValueError):
        t = None
    if isinstance(target, bool) or t is None or (isinstance(target, Real) and t != target) or not -width <= t < width:
        raise ValueError(f"{path}: no target column {target!r}; it has {cols}; pass --target NAME or a 0-based index")
    return t % width


def _load_array(path: str, form: str):
    """``np.load`` with every failure turned into a message naming the file."""
    _open_check(path, form)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        why = ("not .npy or .npz data, or Python objects inside" if "pickle" in str(exc) else
               f"{type(exc).__name__}: {exc}")
        raise ValueError(f"{path}: cannot be read as a NumPy file ({why}); write it with np.save / np.savez (numbers "
                         f"or strings, no Python objects) and pass it as {form}") from None


def _read_npz(path: str):
    """``(x, y, None)`` or ``(x_train, y_train, x_test, y_test)`` from an archive."""
    z = _load_array(path, "npz:PATH")
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: is a single .npy array, not an .npz archive; use npy:X.npy,Y.npy or save "
                         "np.savez(path, x=x, y=y)")
    with z:
        keys = set(z.files)
        try:
            if {"x_train", "y_train", "x_test", "y_test"} <= keys:
                return tuple(_checked(path, k, z[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
            if {"x", "y"} <= keys:
                return _checked(path, "x", z["x"]), _checked(path, "y", z["y"]), None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: an array cannot be read ({type(exc).__name__}: {exc}); the archive is damaged "
                             "or holds Python objects; write it again with np.savez") from None
    raise ValueError(f"{path}: has arrays {sorted(keys)}; expected 'x' and 'y', or 'x_train', 'y_train', 'x_test' "
                     "and 'y_test'; save with np.savez(path, x=x, y=y)")


def _read_npy_pair(paths: str):
    parts = paths.split(",")
    if len(parts) != 2:
        raise ValueError(f"npy:{paths}: expected two files separated by one comma, npy:X.npy,Y.npy")
    arrays = []
    for path, name in zip(parts, ("x", "y")):
        a = _load_array(path, "npy:X.npy,Y.npy")
        if not isinstance(a, np.ndarray):
            a.close()
            raise ValueError(f"{path}: is an .npz archive, not a .npy array; use npz:{path}")
        arrays.append(_checked(path, name, a))
    return arrays[0], arrays[1]


def _checked(path: str, name: str, a: np.ndarray) -> np.ndarray:
    """Features as float64 ``(n, p)``; targets as float64 or str ``(n,)``."""
    where = f"{path}: array {name!r}"
    if name.startswith("x"):
        if a.dtype.kind not in "biuf" or a.ndim != 2:
            raise ValueError(f"{where}: expected numbers of shape (n, p), got {a.dtype} {a.shape}; encode features as "
                             "numbers and reshape one feature to (n, 1)")
        a = a.astype(np.float64)
    else:
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1 or a.dtype.kind not in "biufUS":
            raise ValueError(f"{where}: expected numbers or strings of shape (n,), got {a.dtype} {a.shape}")
        a = a.astype(str) if a.dtype.kind in "US" else a.astype(np.float64)
    if a.shape[0] == 0:
        raise ValueError(f"{where}: has no rows; give at least one row of data")
    if a.dtype == np.float64 and not np.isfinite(a).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{where}: holds NaN or infinite values (the first at index {first}); remove or impute them")
    return a


def _read(source: str, target, fallback=None):
    """``(x, y, x_test | None, y_test | None, feature names | None, target column, its index)`` of one source;
    ``fallback``: the target's index where ``target`` names a column but the file has no header."""
    kind, _, path = source.partition(":")
    if kind == "csv":
        x, y, names, col, t = _read_csv(path, target, fallback)
        return x, y, None, None, names, col, t
    if target is not None:
        raise ValueError(f"target: applies to csv: data; the target of {source} is the array y, so drop --target")
    if kind == "npz":
        arrays = _read_npz(path)
        x, y, xt, yt = arrays if len(arrays) == 4 else (*arrays, None)
        return x, y, xt, yt, None, None, None
    x, y = _read_npy_pair(path)
    return x, y, None, None, None, None, None


# ---------------------------------------------------------------- task, labels, split

def infer_task(y: np.ndarray, where: str) -> tuple[str, str]:
    """``(task, reason)`` from training targets by the rule of the module docstring; ambiguous -> ValueError."""
    if y.dtype.kind in "US":
        numeric = np.array([_parses(np.array([v])) for v in y])
        if numeric.any():   # e.g. a numeric target with "NA" for missing values
            raise ValueError(f"{where}: the target mixes numbers with other values such as {str(y[~numeric][0])!r}; "
                             "fill or drop rows with missing targets, or pass --task classification if all are labels")
        return "classification", "non-numeric labels"
    if not np.all(y == np.round(y)):
        return "regression", "non-integer values"
    k = np.unique(y).size
    if 2 <= k <= MAX_INFERRED_CLASSES:
        return "classification", f"integer values, {k} distinct <= {MAX_INFERRED_CLASSES}"
    raise ValueError(f"{where}: the target holds integers with {k} distinct value(s), which could be class labels or "
                     "a quantity; say which with --task classification or --task regression (task=... from Python)")


def _encode(y: np.ndarray, classes, where: str):
    """Codes ``0..K-1`` (int64) and the sorted original labels (JSON values: str, int or float)."""
    if classes is None:
        values = np.unique(y)
        classes = [str(v) if y.dtype.kind in "US" else (int(v) if v == round(v) else float(v)) for v in values]
    lookup = {c: k for k, c in enumerate(classes)}
    keys = y.tolist()
    unknown = sorted({v for v in keys if v not in lookup}, key=str)
    if unknown:
        raise ValueError(f"{where}: label(s) {unknown[:5]} are not among the classes {list(classes)[:20]} of the "
                         "training data; every test label must occur in training (or drop those rows)")
    return np.array([lookup[v] for v in keys], dtype=np.int64), list(classes)


def split_rows(n: int, fraction: float, seed: int, codes=None):
    """Sorted ``(train_index, test_index)``: ``round(fraction * n)`` random test rows, or per class (``codes``)
    ``min(round(fraction * n_c), n_c - 1)`` of its ``n_c`` rows, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if codes is None else [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
    test = []
    for rows in groups:
        k = min(round(fraction * rows.size), rows.size - 1)
        test.extend(rng.permutation(rows)[:max(k, 0)].tolist())
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _options(task, test, test_fraction, split, classes):
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task: unknown {task!r}; choose classification or regression (or leave it out to infer it)")
    if test is not None and not is_tabular(test):
        raise ValueError(f"test: expected another source of the form {_FORMS}, got {test!r}")
    if test is not None and (test_fraction is not None or split is not None):
        raise ValueError(f"test_fraction, split: the test rows come from {test}; drop --test-fraction and --split")
    if test_fraction is not None and (isinstance(test_fraction, bool) or not isinstance(test_fraction, Real)
                                      or not 0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction: expected the test share as a number in (0, 1), got {test_fraction!r}")
    if split is not None and (isinstance(split, bool) or not isinstance(split, Integral) or split < 0):
        raise ValueError(f"split: expected the seed of the train/test split as an integer >= 0, got {split!r}")
    if classes is not None and (task == "regression" or not isinstance(classes, (list, tuple)) or len(classes) < 2):
        raise ValueError(f"classes: expected a list of >= 2 class labels for classification, got {classes!r}")


def load_tabular(source: str, *, target=None, task=None, test=None, test_fraction=None, split=None,
                 classes=None) -> Dataset:
    """The data set in ``source`` (module docstring), unstandardised.

    ``target``: CSV target column (name or 0-based index; default last). ``task``: ``'classification'``,
    ``'regression'`` or ``None`` (inferred). ``test``: a second source for the test rows; otherwise
    ``test_fraction`` (default 0.2) of the rows, seeded by ``split`` (default 0). ``classes``: the label order
    to use (from a trained run), otherwise the sorted training labels. ``info["spec"]`` holds the resolved
    options (absolute paths, task, target, classes, test_fraction, split), which reload the same rows exactly.
    """
    if not is_tabular(source):
        raise ValueError(f"source: expected {_FORMS}, got {source!r}")
    _options(task, test, test_fraction, split, classes)
    task = "classification" if classes is not None and task is None else task
    x, y, x_test, y_test, names, col, t = _read(source, target)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{source}: {x.shape[0]} rows of features but {y.shape[0]} targets; give one target per row")
    if x_test is not None and (test is not None or test_fraction is not None or split is not None):
        raise ValueError(f"{source}: already holds x_test and y_test; drop --test-data, --test-fraction and --split")
    if test is not None:
        x_test, y_test, *_ = _read(test, col if test.startswith("csv:") else None, t)
    if x_test is not None and x_test.shape[1] != x.shape[1]:
        raise ValueError(f"{test or source}: test data has {x_test.shape[1]} features but the training data has "
                         f"{x.shape[1]}; use files with the same feature columns")
    if task is None:
        task, reason = infer_task(y, source)
    else:
        reason = "given"
    spec = {"name": absolute(source), **({} if test is None else {"test": absolute(test)}), "task": task,
            **({} if col is None else {"target": col})}
    info = {"source": source, "test": test, "feature_names": names, "target": col, "task_rule": reason}
    if task == "regression":
        if y.dtype.kind in "US" or (y_test is not None and y_test.dtype.kind in "US"):
            raise ValueError(f"{source}: the target holds non-numeric labels, which cannot be regressed; use "
                             "--task classification or another target column")
        codes, codes_test = y, y_test
    else:
        codes, classes = _encode(y, classes, source)
        if len(classes) < 2:
            raise ValueError(f"{source}: the target has a single class {classes}; classification needs >= 2")
        codes_test = None if y_test is None else _encode(y_test, classes, test or source)[0]
        spec["classes"] = info["classes"] = classes
    if x_test is None:
        spec.update(test_fraction=0.2 if test_fraction is None else float(test_fraction), split=split or 0)
        train, held = split_rows(x.shape[0], spec["test_fraction"], spec["split"],
                                 codes if task == "classification" else None)
        if not train.size or not held.size:
            raise ValueError(f"{source}: test_fraction {spec['test_fraction']} of {x.shape[0]} rows leaves "
                             f"{train.size} training and {held.size} test rows; use more rows or another fraction")
        x, codes, x_test, codes_test = x[train], codes[train], x[held], codes[held]
        info.update(train_index=train, test_index=held)
    info.update(spec=spec, summary=_summary(source, spec, info, x.shape, x_test.shape[0]))
    return Dataset(source, task, x, codes, x_test, codes_test, len(classes) if task == "classification" else None,
                   info)


def _summary(source: str, spec: dict, info: dict, shape, n_test: int) -> str:
    """The one-line account the command line prints: what was read, which task and why, where the test rows are."""
    target = "" if info["target"] is None else f", target column {info['target']!r}"
    line = f"data: {source}: {shape[1]} features{target}; task {spec['task']} ({info['task_rule']})"
    if "classes" in spec:
        shown = ", ".join(map(repr, spec["classes"][:10])) + (", ..." if len(spec["classes"]) > 10 else "")
        line += f"; classes [{shown}] -> 0..{len(spec['classes']) - 1}"
    how = (f"from {info['test']}" if info["test"] else "from the same file" if "split" not in spec else
           f"{spec['test_fraction']:g} split{' stratified' if spec['task'] == 'classification' else ''}, seed "
           f"{spec['split']}")
    return line + f"; {shape[0]} training rows, {n_test} test rows ({how})"


def inherit(spec: dict, trained: dict) -> dict:
    """``spec`` (data given to ``evaluate`` / ``prune``) completed from the run's own data spec ``trained``: the task
    and class order (so labels map to the same outputs), a CSV's target column, and for the same file its test rows."""
    if not (is_tabular(spec.get("name")) and is_tabular(trained.get("name"))):
        return spec
    keys = ["task", "classes"]
    if spec["name"].startswith("csv:") and trained["name"].startswith("csv:"):
        keys.append("target")
    if absolute(spec["name"]) == trained["name"] and not {"test", "test_fraction", "split"} & set(spec):
        keys += ["test", "test_fraction", "split"]
    return {**{k: trained[k] for k in keys if k in trained}, **spec}


def spec_from_options(source: str, *, root=None, split=None, target=None, task=None, test_data=None,
                      test_fraction=None) -> dict:
    """The data spec of the command line's options for ``source``, its paths absolute, so that ``evaluate`` and
    ``prune`` reload the data from run.json in any directory."""
    if root is not None:
        raise ValueError("data-root: applies to uci:, fashion-mnist and mnist5k data; csv:, npz: and npy: name their "
                         "files themselves, so drop --data-root")
    if test_data is not None and not is_tabular(test_data):
        raise ValueError(f"test-data: expected {_FORMS}, got {test_data!r}")
    given = {"target": target, "task": task, "test": test_data and absolute(test_data), "test_fraction": test_fraction,
             "split": split}
    return {"name": absolute(source), **{k: v for k, v in given.items() if v is not None}}
