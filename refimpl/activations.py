"""Activations psi with their derivatives and Lipschitz constants. (N-2)

Each activation is a pair ``(psi, d_psi)`` of pure functions of the pre-activation ``a``; the
Lipschitz constant ``sup |psi'|`` is what the theory needs (SiLU's is about 1.0998, so SiLU is not
1-Lipschitz; ReLU and tanh are).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .backend import array_namespace
from .stable import exp_minus_abs, sigmoid_from, sigmoid, sigmoid_numpy


class Activation(NamedTuple):
    name: str
    psi: Callable
    d_psi: Callable
    lipschitz: float


def _silu(a):
    """``silu(a) = a sigmoid(a)``."""
    return a * sigmoid(a)


def _d_silu(a):
    """``silu'(a) = sigmoid(a) (1 + a (1 - sigmoid(a)))``."""
    s = sigmoid(a)
    return s * (1.0 + a * (1.0 - s))


def _relu(a):
    xp = array_namespace(a)
    return xp.maximum(a, 0.0)


def _d_relu(a):
    """``relu'(a) = 1[a > 0]`` (0 at a = 0, as PyTorch)."""
    xp = array_namespace(a)
    return xp.astype(a > 0, a.dtype)


def _tanh(a):
    xp = array_namespace(a)
    return xp.tanh(a)


def _d_tanh(a):
    xp = array_namespace(a)
    t = xp.tanh(a)
    return 1.0 - t * t


# sup_a silu'(a) is attained at a* = 2.39936 (root of silu''), found numerically; value 1.0998393...
SILU_LIPSCHITZ = 1.0998393201

ACTIVATIONS = {
    "silu": Activation("silu", _silu, _d_silu, SILU_LIPSCHITZ),
    "relu": Activation("relu", _relu, _d_relu, 1.0),
    "tanh": Activation("tanh", _tanh, _d_tanh, 1.0),
}


def get_activation(name: str) -> Activation:
    """The :class:`Activation` called ``name`` (``silu`` default, ``relu``, ``tanh``)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"activation: unknown name {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


# ---- value and derivative together, in place on NumPy (N-2) ------------------------------------------------
def value_and_derivative(activation: Activation, a):
    """``(psi(a), psi'(a))``, bitwise as ``activation.psi`` and ``activation.d_psi``. A NumPy ``a`` is
    overwritten and SiLU's derivative reuses the sigmoid of its value (one ``exp``, in the sigmoid's own
    array); on other backends, and for an activation other than the three named here, these are the two
    functions."""
    if not isinstance(a, np.ndarray) or ACTIVATIONS.get(activation.name) is not activation:
        return activation.psi(a), activation.d_psi(a)
    if activation.name == "silu":
        e = exp_minus_abs(a)
        s = sigmoid_from(a, e)                           # e = 1 + exp(-|a|) now: scratch
        t = np.subtract(1.0, s, out=e)
        t *= a
        t += 1.0                                          # 1 + a (1 - s)
        a *= s                                            # a s
        s *= t                                            # s (1 + a (1 - s)), the array of the sigmoid
        return a, s
    if activation.name == "relu":
        d = (a > 0).astype(a.dtype)
        return np.maximum(a, 0.0, out=a), d
    t = np.tanh(a, out=a)                                 # tanh
    d = np.multiply(t, t)
    np.subtract(1.0, d, out=d)
    return t, d


def value_in_place(activation: Activation, a):
    """``psi(a)``, bitwise as ``activation.psi``, overwriting a NumPy ``a`` (prediction holds one array per
    layer); on other backends and for other activations ``activation.psi(a)``."""
    if not isinstance(a, np.ndarray) or ACTIVATIONS.get(activation.name) is not activation:
        return activation.psi(a)
    if activation.name == "silu":
        a *= sigmoid_numpy(a)                             # a sigmoid(a)
        return a
    if activation.name == "relu":
        return np.maximum(a, 0.0, out=a)
    return np.tanh(a, out=a)                              # tanh
