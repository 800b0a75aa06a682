"""Checks at the public boundary. Every failure is a ``ValueError`` that names the argument, says what
was expected and how to fix it. Nothing here runs inside the maths."""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def check_widths(widths) -> tuple[int, ...]:
    try:
        w = tuple(int(k) for k in widths)
    except (TypeError, ValueError):
        raise ValueError(f"widths: expected a sequence of positive integers like [p, 50, 1], got {widths!r}") from None
    if len(w) < 3 or any(k < 1 for k in w) or any(int(k) != k for k in widths):
        raise ValueError(
            f"widths: expected [input, hidden..., output] with at least one hidden layer and every width >= 1, got {list(widths)!r}")
    return w


def check_positive(name: str, value, fix: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}{'; ' + fix if fix else ''}")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}: unknown {value!r}; choose one of {tuple(choices)}")
    return value


def check_n_data(n_data) -> int:
    if isinstance(n_data, bool) or not isinstance(n_data, Integral) or n_data < 1:
        raise ValueError(f"n_data: expected the training-set size N as a positive integer, got {n_data!r}")
    return int(n_data)


def check_finite_host(name: str, a: np.ndarray):
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name}: contains {bad} NaN or infinite value(s); remove or impute them before training")


def check_inputs(x, k_in: int, backend):
    """``x`` as a backend array of shape ``(B, k_in)``: host arrays are converted, backend arrays must
    already have the model's dtype."""
    if backend.is_backend_array(x) and backend.name != "numpy":
        if x.dtype != backend.dtype:
            raise ValueError(f"x: dtype {x.dtype} does not match the model's {backend.dtype_name}; cast it first")
        host = None
    else:
        host = np.asarray(x)
        if host.dtype.kind not in "fiu":
            raise ValueError(f"x: expected real numbers, got dtype {host.dtype}; convert features to float")
        if backend.name == "numpy" and host.dtype.kind == "f" and host.dtype != np.dtype(backend.dtype_name):
            raise ValueError(f"x: dtype {host.dtype} does not match the model's {backend.dtype_name}; "
                             f"cast with x.astype({backend.dtype_name!r}) or build the model with dtype={str(host.dtype)!r}")
    shape = tuple(x.shape)
    if len(shape) != 2 or shape[1] != k_in or shape[0] < 1:
        raise ValueError(f"x: expected shape (batch, {k_in}) with batch >= 1, got {shape}; "
                         f"reshape it or build the model with widths[0] = number of features")
    if host is not None:
        check_finite_host("x", host)
        return backend.asarray(host)
    xp = backend.xp
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError("x: contains NaN or infinite values; remove or impute them before training")
    return x


def check_targets(y, batch: int, n_out: int, likelihood: str, backend):
    """Gaussian: ``y`` ``(B,)`` (K = 1) or ``(B, K)`` floats -> ``(B, K)``. Categorical: integer labels
    ``(B,)`` in ``[0, K)`` -> one-hot ``(B, K)``."""
    host = np.asarray(y) if not (backend.is_backend_array(y) and backend.name != "numpy") else backend.to_numpy(y)
    if likelihood == "gaussian":
        if host.dtype.kind not in "fiu":
            raise ValueError(f"y: expected real-valued regression targets, got dtype {host.dtype}")
        if host.ndim == 1 and n_out == 1:
            host = host[:, None]
        if host.shape != (batch, n_out):
            raise ValueError(f"y: expected shape ({batch},) or ({batch}, {n_out}) to match x and the output width, got {host.shape}")
        check_finite_host("y", host)
        return backend.asarray(host)
    if host.dtype.kind not in "iu":
        raise ValueError(f"y: expected integer class labels for the categorical likelihood, got dtype {host.dtype}; "
                         "cast with y.astype(int)")
    if host.shape != (batch,):
        raise ValueError(f"y: expected shape ({batch},) of class labels to match x, got {host.shape}")
    if host.size and (host.min() < 0 or host.max() >= n_out):
        raise ValueError(f"y: labels must lie in [0, {n_out - 1}] (output width {n_out}), got range "
                         f"[{host.min()}, {host.max()}]; relabel or widen the output layer")
    return backend.asarray(np.arange(n_out)[None, :] == host[:, None])


def check_arrays(name: str, arrays, shapes: dict, backend, *, leading=None) -> int | None:
    """Keys, shapes and backend of a params or noise dict. With ``leading='S'`` every array carries a
    common leading sample axis, whose size is returned."""
    if not isinstance(arrays, dict):
        raise ValueError(f"{name}: expected a dict of arrays (as returned by the model), got {type(arrays).__name__}")
    missing, extra = sorted(set(shapes) - set(arrays)), sorted(set(arrays) - set(shapes))
    if missing or extra:
        raise ValueError(f"{name}: keys do not match this model (missing {missing}, unexpected {extra}); "
                         f"build them with the same model's init_params / sample_noise")
    n_samples = None
    for key, shape in shapes.items():
        a = arrays[key]
        if not backend.is_backend_array(a):
            raise ValueError(f"{name}[{key!r}]: expected a {backend.name} array on the model's device, got "
                             f"{type(a).__module__}.{type(a).__name__}; convert with model.backend.asarray")
        if a.dtype != backend.dtype:
            raise ValueError(f"{name}[{key!r}]: dtype {a.dtype} does not match the model's {backend.dtype_name}")
        got = tuple(a.shape)
        if leading:
            if len(got) != len(shape) or got[1:] != tuple(shape[1:]) or got[0] < 1:
                raise ValueError(f"{name}[{key!r}]: expected shape (S, {', '.join(map(str, shape[1:]))}), got {got}")
            if n_samples is None:
                n_samples = got[0]
            elif got[0] != n_samples:
                raise ValueError(f"{name}[{key!r}]: {got[0]} samples but other entries have {n_samples}; "
                                 "draw all noise with one sample_noise call")
        elif got != tuple(shape):
            raise ValueError(f"{name}[{key!r}]: expected shape {tuple(shape)}, got {got}")
    return n_samples
