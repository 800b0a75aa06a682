"""The user's own data (refimpl/data/tabular.py): CSV, .npz and .npy files, the task rule, label mapping, the
train/test split, every file error, and the command line's --data csv:... / --target / --task / --test-data /
--test-fraction. Expected values come from the files the tests write, never from the loader."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from refimpl.run.cli import main
from refimpl.data import load
from refimpl.data.tabular import MAX_INFERRED_CLASSES, infer_task, split_rows

TINY = ["--epochs", "2", "--hidden", "8", "--batch-size", "32", "--quiet"]


def write_csv(path, rows, header=None):
    with open(path, "w") as f:
        if header:
            f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    return str(path)


def table(n=60, seed=0):
    """Features (str of a float64 is its shortest exact repr) and string labels in three classes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)) * [1.0, 10.0, 100.0]
    labels = np.array(["setosa", "versicolor", "virginica"])[np.arange(n) % 3]
    return x, labels


# ---------------------------------------------------------------- reading and mapping

def test_csv_with_header_string_labels(tmp_path):
    x, labels = table()
    path = write_csv(tmp_path / "iris.csv", [[*r, l] for r, l in zip(x, labels)], ["a", "b", "c", "species"])
    ds = load(f"csv:{path}")
    assert ds.task == "classification" and ds.n_classes == 3
    assert ds.info["classes"] == ["setosa", "versicolor", "virginica"] and ds.info["feature_names"] == ["a", "b", "c"]
    train, test = ds.info["train_index"], ds.info["test_index"]
    assert sorted([*train, *test]) == list(range(60))
    classes = np.array(ds.info["classes"])
    # every row keeps its features and its label, through the split and the mapping
    np.testing.assert_array_equal(ds.x_train, x[train])
    np.testing.assert_array_equal(ds.x_test, x[test])
    assert classes[ds.y_train].tolist() == labels[train].tolist()
    assert classes[ds.y_test].tolist() == labels[test].tolist()
    assert ds.info["spec"] == {"name": f"csv:{path}", "task": "classification", "target": "species",
                               "classes": list(classes), "test_fraction": 0.2, "split": 0}
    assert "task classification (non-numeric labels)" in ds.info["summary"]


def test_csv_without_header_target_by_index_and_regression(tmp_path):
    x, _ = table()
    y = x @ [1.5, -0.25, 0.01] + 0.5
    path = write_csv(tmp_path / "r.csv", [[t, *r] for t, r in zip(y, x)])
    ds = load(f"csv:{path}", target="0")
    assert ds.task == "regression" and ds.n_classes is None and ds.info["feature_names"] is None
    train = ds.info["train_index"]
    np.testing.assert_array_equal(ds.x_train, x[train])
    np.testing.assert_array_equal(ds.y_train, y[train])
    assert ds.info["spec"]["target"] == 0 and ds.info["test_index"].size == round(0.2 * 60)
    assert load(f"csv:{path}", target=-4).y_train.tolist() == ds.y_train.tolist()    # -4: the same column


def test_non_contiguous_integer_labels(tmp_path):
    x, _ = table()
    labels = np.array([42, -3, 10])[np.arange(60) % 3]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    ds = load(f"npy:{tmp_path / 'x.npy'},{tmp_path / 'y.npy'}")
    assert ds.info["classes"] == [-3, 10, 42]
    assert np.array([-3, 10, 42])[ds.y_train].tolist() == labels[ds.info["train_index"]].tolist()


@pytest.mark.parametrize("y, task", [
    (np.array(["a", "b"] * 10), "classification"),                      # non-numeric
    (np.arange(20) + 0.5, "regression"),                                # not integer-valued
    (np.arange(20) % 3 * 1.0, "classification"),                        # 0.0, 1.0, 2.0 count as integers
    (np.arange(40) % MAX_INFERRED_CLASSES, "classification"),           # exactly 20 distinct integers
    (np.arange(40) % (MAX_INFERRED_CLASSES + 1), None),                 # 21: ambiguous
    (np.zeros(20), None),                                               # one value: ambiguous
    (np.array(["1.5", "2.25", "NA"] * 5), None),                        # numbers with a missing-value marker
])
def test_task_rule(y, task):
    if task is None:
        with pytest.raises(ValueError, match="--task classification or --task regression|mixes numbers with other "
                                             "values such as 'NA'; fill or drop rows with missing targets"):
            infer_task(y, "file")
    else:
        assert infer_task(y, "file")[0] == task


def test_given_task_overrides_the_rule(tmp_path):
    x = np.random.default_rng(0).standard_normal((100, 2))
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(100) % 50)            # 50 distinct integers: ambiguous
    with pytest.raises(ValueError, match="50 distinct"):
        load(f"npz:{tmp_path / 'd.npz'}")
    assert load(f"npz:{tmp_path / 'd.npz'}", task="regression").task == "regression"
    assert load(f"npz:{tmp_path / 'd.npz'}", task="classification", test_fraction=0.5).n_classes == 50
    np.savez(tmp_path / "s.npz", x=x, y=np.array(["u", "v"] * 50))
    with pytest.raises(ValueError, match="non-numeric labels, which cannot be regressed"):
        load(f"npz:{tmp_path / 's.npz'}", task="regression")


def test_npz_layouts(tmp_path):
    x, labels = table()
    np.savez(tmp_path / "xy.npz", x=x, y=labels)
    np.savez(tmp_path / "split.npz", x_train=x[:45], y_train=labels[:45], x_test=x[45:], y_test=labels[45:])
    ds = load(f"npz:{tmp_path / 'split.npz'}")
    np.testing.assert_array_equal(ds.x_test, x[45:])
    assert np.array(ds.info["classes"])[ds.y_test].tolist() == labels[45:].tolist()
    assert "split" not in ds.info["spec"]                               # the archive's own test rows
    assert load(f"npz:{tmp_path / 'xy.npz'}").x_test.shape == (12, 3)


def test_stratified_seeded_split():
    codes = np.repeat([0, 1, 2], [50, 30, 7])
    train, test = split_rows(codes.size, 0.2, 3, codes)
    # min(round(0.2 * n_c), n_c - 1) rows of each class
    assert [int(np.sum(codes[test] == c)) for c in range(3)] == [10, 6, 1]
    assert sorted([*train, *test]) == list(range(codes.size))
    again, other = split_rows(codes.size, 0.2, 3, codes)[1], split_rows(codes.size, 0.2, 4, codes)[1]
    assert again.tolist() == test.tolist() and other.tolist() != test.tolist()
    lone = split_rows(6, 0.6, 0, np.array([0] * 5 + [1]))[1]           # round(0.6 * 1) = 1 capped at 1 - 1 = 0
    assert lone.size == 3 and 5 not in lone                             # the lone class keeps its training row


def test_separate_test_file(tmp_path):
    x, labels = table()
    head = ["a", "b", "c", "species"]
    train = write_csv(tmp_path / "train.csv", [[*r, l] for r, l in zip(x[:40], labels[:40])], head)
    test = write_csv(tmp_path / "test.csv", [[l, *r] for r, l in zip(x[40:], labels[40:])], [head[3], *head[:3]])
    ds = load(f"csv:{train}", test=f"csv:{test}")                       # the target found by name in the test file
    assert ds.x_train.shape == (40, 3) and ds.x_test.shape == (20, 3)
    np.testing.assert_array_equal(ds.x_test, x[40:])                    # features: the other columns, in file order
    bare = write_csv(tmp_path / "bare.csv", [[*r, l] for r, l in zip(x[40:], labels[40:])])
    ds = load(f"csv:{train}", test=f"csv:{bare}")                       # no header: the same position
    assert np.array(ds.info["classes"])[ds.y_test].tolist() == labels[40:].tolist()
    odd = write_csv(tmp_path / "odd.csv", [[*r, "rose"] for r in x[40:]], head)
    with pytest.raises(ValueError, match=r"odd.csv.*\['rose'\] are not among the classes"):
        load(f"csv:{train}", test=f"csv:{odd}")
    narrow = write_csv(tmp_path / "narrow.csv", [[r[0], l] for r, l in zip(x[40:], labels[40:])], ["a", "species"])
    with pytest.raises(ValueError, match="test data has 1 features but the training data has 3"):
        load(f"csv:{train}", test=f"csv:{narrow}")
    with pytest.raises(ValueError, match="drop --test-fraction and --split"):
        load(f"csv:{train}", test=f"csv:{test}", test_fraction=0.3)


# ---------------------------------------------------------------- every file error names the file and the fix

CSV_ERRORS = [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    ("a,b,c\n", "header without data rows"),
    ("1,2,3\n4,5\n", "line 2 has 2 cells but line 1 has 3"),
    ("a,b,c\n1,2,3\n4,nan,5\n", "line 3, column 'b': 'nan' is NaN or infinite"),
    ("a,b,c\n1,2,3\n4,-inf,5\n", "line 3, column 'b': '-inf' is NaN or infinite"),
    ("a,b,c\n1,2,3\n4,abc,5\n", "line 3, column 'b': 'abc' is not a number"),
    ("a,b,c\n1,2,3\n4,,5\n", "line 3, column 'b': is empty"),
    ("a,b,c\n1,2,3\n4,5,\n", "line 3, target column 'c': is empty"),
    ("1\n2\n3\n", "has a single column"),
]


@pytest.mark.parametrize("text, message", CSV_ERRORS)
def test_csv_errors(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load(f"csv:{path}")
    assert str(info.value).startswith(str(path)) and ";" in str(info.value)


def test_missing_target_and_other_file_errors(tmp_path):
    x, labels = table()
    path = write_csv(tmp_path / "d.csv", [[*r, l] for r, l in zip(x, labels)], ["a", "b", "c", "species"])
    with pytest.raises(ValueError, match=r"no target column 'kind'; it has columns \['a', 'b', 'c', 'species'\]"):
        load(f"csv:{path}", target="kind")
    with pytest.raises(ValueError, match="no target column '7'"):
        load(f"csv:{path}", target="7")
    with pytest.raises(FileNotFoundError, match="nope.csv: file not found"):
        load(f"csv:{tmp_path / 'nope.csv'}")
    with pytest.raises(ValueError, match="is a directory"):
        load(f"csv:{tmp_path}")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(ValueError, match="bin.csv: is not a UTF-8 text file"):
        load(f"csv:{tmp_path / 'bin.csv'}")


def test_numpy_file_errors(tmp_path):
    x = np.zeros((10, 2))
    np.savez(tmp_path / "keys.npz", features=x, labels=np.arange(10))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x1.npy", np.zeros(10))
    np.save(tmp_path / "y.npy", np.arange(10) % 2)
    np.save(tmp_path / "y9.npy", np.arange(9) % 2)
    np.save(tmp_path / "ynan.npy", np.r_[np.nan, np.arange(9.0)])
    (tmp_path / "cut.npz").write_bytes((tmp_path / "keys.npz").read_bytes()[:100])
    cases = [
        (f"npz:{tmp_path / 'keys.npz'}", "has arrays ['features', 'labels']; expected 'x' and 'y'"),
        (f"npz:{tmp_path / 'x.npy'}", "is a single .npy array, not an .npz archive"),
        (f"npz:{tmp_path / 'cut.npz'}", "cut.npz: cannot be read as a NumPy file"),
        (f"npy:{tmp_path / 'keys.npz'},{tmp_path / 'y.npy'}", "is an .npz archive, not a .npy array"),
        (f"npy:{tmp_path / 'x.npy'}", "expected two files separated by one comma"),
        (f"npy:{tmp_path / 'x1.npy'},{tmp_path / 'y.npy'}", "array 'x': expected numbers of shape (n, p)"),
        (f"npy:{tmp_path / 'x.npy'},{tmp_path / 'y9.npy'}", "10 rows of features but 9 targets"),
        (f"npy:{tmp_path / 'x.npy'},{tmp_path / 'ynan.npy'}", "ynan.npy: array 'y': holds NaN or infinite"),
    ]
    for source, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            load(source)
    with pytest.raises(ValueError, match="target: applies to csv: data"):
        load(f"npy:{tmp_path / 'x.npy'},{tmp_path / 'y.npy'}", target="y")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 10, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="obj.npy: cannot be read as a NumPy file .*Python objects"):
        load(f"npy:{tmp_path / 'x.npy'},{tmp_path / 'obj.npy'}")


# ---------------------------------------------------------------- the command line

def test_cli_train_evaluate_prune_on_a_csv(tmp_path, capsys, monkeypatch):
    x, labels = table(n=90)
    path = write_csv(tmp_path / "iris.csv", [[*r, l] for r, l in zip(x, labels)], ["a", "b", "c", "species"])
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / "run")
    assert main(["train", "--data", "csv:iris.csv", "--test-fraction", "0.3", "--split", "2", "--out", out,
                 *TINY[:-1]]) == 0                                        # relative path, progress lines on
    err = capsys.readouterr().err
    assert f"data: csv:{path}" in err and "task classification (non-numeric labels)" in err
    with open(os.path.join(out, "run.json")) as f:
        spec = json.load(f)["data"]
    assert spec == {"name": f"csv:{path}", "test_fraction": 0.3, "split": 2, "task": "classification",
                    "target": "species", "classes": ["setosa", "versicolor", "virginica"]}
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    monkeypatch.chdir(tmp_path.parent)                                  # evaluate and prune reload from anywhere
    assert main(["evaluate", "--out", out]) == 0
    assert json.loads(capsys.readouterr().out)["test"] == metrics["test"]
    assert main(["prune", "--out", out, "--repeats", "1"]) == 0
    capsys.readouterr()
    from refimpl.run.compressed import CompressedMLP
    assert CompressedMLP.load(os.path.join(out, "compressed.npz")).meta["classes"] == spec["classes"]
    # the same file given again: the run's test rows (fraction 0.3, seed 2), not the defaults
    assert main(["evaluate", "--out", out, "--data", f"csv:{path}"]) == 0
    assert json.loads(capsys.readouterr().out)["test"] == metrics["test"]
    # other data keeps the run's class order: a file holding two of the three classes evaluates
    two = write_csv(tmp_path / "two.csv", [[*r, l] for r, l in zip(x, labels) if l != "setosa"],
                    ["a", "b", "c", "species"])
    assert main(["evaluate", "--out", out, "--data", f"csv:{two}"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("args, message", [
    (["--data", "csv:{nan}"], "{nan}: line 3, column 'b': 'nan' is NaN or infinite; remove or impute it"),
    (["--data", "csv:{missing}"], "{missing}: file not found"),
    (["--data", "csv:{good}", "--target", "kind"], "no target column 'kind'"),
    (["--data", "teacher-regression", "--target", "y"], "apply to your own data files"),
    (["--data", "csv:{good}", "--data-root", "."], "data-root: applies to uci:"),
    (["--data", "csv:{good}", "--test-data", "{good}"], "test-data: expected csv:PATH"),
    (["--data", "csv:{good}", "--test-fraction", "1.5"], "test_fraction: expected the test share"),
])
def test_cli_errors(tmp_path, capsys, args, message):
    paths = {"nan": str(tmp_path / "nan.csv"), "missing": str(tmp_path / "missing.csv"),
             "good": str(tmp_path / "good.csv")}
    (tmp_path / "nan.csv").write_text("a,b,c\n1,2,3\n4,nan,5\n")
    write_csv(tmp_path / "good.csv", [[i, i % 2, i % 3] for i in range(20)], ["a", "b", "c"])
    args = [a.format(**paths) for a in args]
    assert main(["train", *args, "--out", str(tmp_path / "o"), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refimpl: error: ") and message.format(**paths) in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as info:                             # argparse's own choices
        main(["train", "--data", f"csv:{paths['good']}", "--task", "ranking", "--out", str(tmp_path / "o")])
    assert info.value.code == 2
