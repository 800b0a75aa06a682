"""The ``Dataset`` record, a train/validation split and a standardiser fitted on training data only.

Conventions (docs/spec.md §9; notation.md): features ``x`` are float64 ``(n, p)``; regression targets
``y`` are float64 ``(n,)``; class labels are int64 ``(n,)`` in ``[0, n_classes)``. Everything here is
host-side NumPy; the model's backend converts at its own boundary.

This module is not a data pipeline: no caching, no minibatching, no augmentation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

TASKS = ("regression", "classification")


def check_finite(name: str, a: np.ndarray) -> None:
    """ValueError naming ``name`` (an array name or a file path) if ``a`` holds NaN or +-inf."""
    finite = np.isfinite(a)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name}: contains {int(finite.size - finite.sum())} NaN or infinite value(s), the first "
                         f"at index {first}; remove or impute them before use")


def as_generator(name: str, rng) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator or a non-negative integer seed (no global state)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"{name}: expected a numpy.random.Generator or a non-negative integer seed, got {rng!r}; "
                     "pass e.g. numpy.random.default_rng(0)")


@dataclass(frozen=True, eq=False)
class Dataset:
    """One train/test data set.

    Fields: ``name``; ``task`` (``'regression'`` or ``'classification'``); ``x_train`` ``(n_train, p)``
    and ``x_test`` ``(n_test, p)`` float64; ``y_train`` ``(n_train,)`` and ``y_test`` ``(n_test,)``
    (float64 targets, or int64 labels in ``[0, n_classes)``); ``n_classes`` (``None`` for regression);
    ``info`` (provenance: files, split indices, the teacher network, ...).

    The constructor checks dtypes, shapes and finiteness, so a ``Dataset`` that exists is usable.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task: unknown {self.task!r}; choose one of {TASKS}")
        for part in ("x_train", "x_test"):
            x = getattr(self, part)
            if not isinstance(x, np.ndarray) or x.dtype != np.float64 or x.ndim != 2:
                raise ValueError(f"{part}: expected a float64 NumPy array of shape (n, p), got "
                                 f"{type(x).__name__} {getattr(x, 'dtype', '')} {getattr(x, 'shape', '')}; "
                                 "convert with np.asarray(x, dtype=np.float64)")
            check_finite(part, x)
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(f"x_test: has {self.x_test.shape[1]} features but x_train has {self.x_train.shape[1]}")
        want = np.float64 if self.task == "regression" else np.int64
        for part, x in (("y_train", self.x_train), ("y_test", self.x_test)):
            y = getattr(self, part)
            if not isinstance(y, np.ndarray) or y.dtype != want or y.shape != (x.shape[0],):
                raise ValueError(f"{part}: expected a {np.dtype(want).name} NumPy array of shape ({x.shape[0]},) for "
                                 f"{self.task}, got {type(y).__name__} {getattr(y, 'dtype', '')} "
                                 f"{getattr(y, 'shape', '')}")
        if self.task == "regression":
            if self.n_classes is not None:
                raise ValueError(f"n_classes: must be None for regression, got {self.n_classes!r}")
            check_finite("y_train", self.y_train)
            check_finite("y_test", self.y_test)
            return
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, Integral) or self.n_classes < 2:
            raise ValueError(f"n_classes: expected an integer >= 2 for classification, got {self.n_classes!r}")
        for part in ("y_train", "y_test"):
            y = getattr(self, part)
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(f"{part}: labels must lie in [0, {self.n_classes - 1}], got range "
                                 f"[{y.min()}, {y.max()}]")

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    def __repr__(self):
        k = "" if self.n_classes is None else f", n_classes={self.n_classes}"
        return (f"Dataset({self.name!r}, {self.task}, train {self.x_train.shape}, test {self.x_test.shape}{k}, "
                f"info keys {sorted(self.info)})")


def train_validation_split(x, y, fraction: float, rng):
    """Hold out a random ``round(fraction * n)`` rows of the *training* data as a validation set.

    Returns ``(x_fit, y_fit, x_val, y_val)``; the two parts are disjoint and together are all n rows
    (each part keeps the original row order). Not stratified. ``rng``: a Generator or an int seed.
    Pass only training data: the test set must not inform model selection.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"x, y: expected x of shape (n, p) and y with the same first axis n, got {x.shape} and "
                         f"{y.shape}")
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction: expected the validation share as a number in (0, 1), got {fraction!r}")
    n = x.shape[0]
    n_val = int(round(fraction * n))
    if not 1 <= n_val <= n - 1:
        raise ValueError(f"fraction: {fraction} of n = {n} rows gives {n_val} validation rows; both parts need "
                         "at least one row, so pick a fraction in [1/n, 1 - 1/n] or use more data")
    val = np.zeros(n, dtype=bool)
    val[as_generator("rng", rng).permutation(n)[:n_val]] = True
    return x[~val], y[~val], x[val], y[val]


@dataclass(frozen=True, eq=False)
class Standardiser:
    """Column-wise ``z = (x - mean) / std``, with mean and std from the training data only.

    Build one with :meth:`fit`. Fields: ``mean`` and ``std`` (shape ``(p,)`` for 2-D data, ``()`` for 1-D
    targets; population std, ddof = 0), and ``constant``: indices of columns that are exactly constant
    in the fitted data (max == min). Those get ``std = 1`` and ``mean`` = the constant, so they map to
    exactly 0 instead of 0/0, and are reported rather than dropped (naval-propulsion-plant has two).

    For regression targets, ``scale`` (= ``std``) converts back to original units: with predictions
    and targets in standardised units, ``RMSE = scale * RMSE_z`` and a Gaussian log-likelihood per point
    is ``loglik = loglik_z - log(scale)`` (the Jacobian of ``y = mean + scale * z``).
    """

    mean: np.ndarray
    std: np.ndarray
    constant: np.ndarray

    @classmethod
    def fit(cls, x) -> "Standardiser":
        x = np.asarray(x, dtype=np.float64)
        if x.ndim not in (1, 2) or x.shape[0] < 1:
            raise ValueError(f"x: expected training data of shape (n,) or (n, p) with n >= 1, got {x.shape}")
        check_finite("x", x)
        shape = x.shape[1:]
        # An exact test (max == min), so round-off in the mean cannot make a constant column "vary";
        # its mean is set to the constant itself, so it maps to exactly 0.
        is_const = np.atleast_1d(x.max(axis=0) == x.min(axis=0))
        mean, std = np.atleast_1d(x.mean(axis=0)), np.atleast_1d(x.std(axis=0))
        mean[is_const], std[is_const] = np.atleast_1d(x[0])[is_const], 1.0
        return cls(mean=mean.reshape(shape), std=std.reshape(shape), constant=np.flatnonzero(is_const))

    @property
    def scale(self):
        """The std (a float for 1-D targets): multiply standardised errors by it for original units."""
        return float(self.std) if np.ndim(self.std) == 0 else self.std

    def _check(self, name, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape[x.ndim - np.ndim(self.mean):] != np.shape(self.mean) or x.ndim < 1:
            raise ValueError(f"{name}: expected trailing shape {np.shape(self.mean)} as in the fitted data, got "
                             f"{x.shape}")
        return x

    def transform(self, x) -> np.ndarray:
        return (self._check("x", x) - self.mean) / self.std

    def inverse_transform(self, z) -> np.ndarray:
        return self._check("z", z) * self.std + self.mean
