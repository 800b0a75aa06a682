"""Activations psi with their derivatives and Lipschitz constants. (N-2)

Each activation is a pair ``(psi, d_psi)`` of pure functions of the pre-activation ``a``; the
Lipschitz constant ``sup |psi'|`` is what the theory needs (SiLU's is about 1.0998, so SiLU is not
1-Lipschitz; ReLU and tanh are).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from .backend import array_namespace

from .stable import sigmoid


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
