"""The feed-forward network and its reverse-mode pass, for a stack of S sampled weight sets. (N-1, N-3)

Weights are stored ``(k_in, k_out)`` as in the authors' code, so layer l computes

    a_l = h_l @ W_l + b_l,   h_{l+1} = psi(a_l)   (hidden l),   eta = a_L   (output layer, no psi).   (N-1)

Every weight array carries a leading Monte Carlo axis: ``W_l`` is ``(S, k_l, k_{l+1})`` and ``b_l`` is
``(S, k_{l+1})``; the input ``x`` is ``(B, k_0)`` and the output ``(S, B, K)``. This module knows
nothing about priors: the prior turns parameters and noise into ``(W_l, b_l)`` and back.

The forward pass keeps ``psi'(a_l)`` (computed with ``psi(a_l)``, :func:`activations.value_and_derivative`)
rather than ``a_l``. ``flush=True`` (the fast step, F-3) sets subnormal float32 entries of the products'
operands to zero: see :func:`flush_subnormals`.
"""
from __future__ import annotations

import numpy as np

from .activations import value_and_derivative, value_in_place
from .backend import array_namespace


def forward(x, weights, biases, activation, flush: bool = False):
    """Network outputs ``eta`` ``(S, B, K)`` and the cache the backward pass needs. (N-1)"""
    h = x
    inputs, d_psi = [], []
    last = len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        a = h @ W
        a += b[..., None, :]
        inputs.append(h)
        if l < last:
            h, d = value_and_derivative(activation, a)
            h = flush_subnormals(h) if flush else h       # (F-3) h is an operand of the next products
            d_psi.append(d)
        else:
            h = a
    return h, (inputs, d_psi, weights, flush)


def backward(d_eta, cache):
    """Reverse mode (N-3): from ``d_eta = dLoss/d eta`` ``(S, B, K)`` to ``(d_weights, d_biases)``.

    ``dW_l = h_l^T @ d_a_l``, ``db_l = sum_i d_a_l``, ``d_h_l = d_a_l @ W_l^T``,
    ``d_a_{l-1} = d_h_l * psi'(a_{l-1})``. With the forward pass's ``flush``, every ``d_a`` is flushed of
    subnormals (F-3) before it enters a product (``d_eta`` in place).
    """
    inputs, d_psi, weights, flush = cache
    xp = array_namespace(d_eta)
    n_layers = len(inputs)
    d_weights, d_biases = [None] * n_layers, [None] * n_layers
    d_a = flush_subnormals(d_eta) if flush else d_eta
    for l in range(n_layers - 1, -1, -1):
        # (k_in, B) @ (S, B, k_out) broadcasts over S for the input layer, whose x has no sample axis.
        d_weights[l] = xp.matrix_transpose(inputs[l]) @ d_a
        d_biases[l] = xp.sum(d_a, axis=-2)
        if l > 0:
            d_h = d_a @ xp.matrix_transpose(weights[l])
            d_h *= d_psi[l - 1]
            d_a = flush_subnormals(d_h) if flush else d_h
    return d_weights, d_biases


def predict(x, weights, biases, activation):
    """(N-1) outputs ``(S, B, K)`` only, bitwise :func:`forward`'s, with no cache and the activation applied in
    place on NumPy, so each layer holds one array instead of three (at 10 samples and 4096 rows a (S, B, 400)
    float32 array is 66 MB; fresh ones cost page faults)."""
    h, last = x, len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        a = h @ W
        a += b[..., None, :]
        h = value_in_place(activation, a) if l < last else a
    return h


# ---- (F-3) no subnormal operands in float32 matrix products ----------------------------------------------
_TINY32 = float(np.finfo(np.float32).tiny)


def flush_subnormals(a):
    """Set the entries of a float32 NumPy array with ``|a| < finfo(float32).tiny`` to zero, in place; other
    dtypes and backends unchanged. Returns ``a``. (F-3: x86 CPUs handle subnormal operands in microcode, ~100x a
    normal multiply-add; they appear once pre-activations pass about -87 (sigmoid underflows) and made a
    784-400-400-10 SS-GL step on Fashion-MNIST twice as slow after 40 epochs. The absolute change is below
    1.2e-38; float64, subnormal below 2.2e-308, is left as is.)"""
    if not isinstance(a, np.ndarray) or a.dtype != np.float32:
        return a
    small = np.less(a, _TINY32)                    # -tiny < a < tiny, in two boolean arrays (a quarter of
    np.logical_and(small, np.greater(a, -_TINY32), out=small)        # a's size each) rather than |a|
    if small.any():                # one pass when there is nothing to flush (the usual case)
        a[small] = 0.0
    return a
