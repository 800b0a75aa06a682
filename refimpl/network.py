"""The feed-forward network and its reverse-mode pass, for a stack of S sampled weight sets. (N-1, N-3)

Weights are stored ``(k_in, k_out)`` as in the authors' code, so layer l computes

    a_l = h_l @ W_l + b_l,   h_{l+1} = psi(a_l)   (hidden l),   eta = a_L   (output layer, no psi).   (N-1)

Every weight array carries a leading Monte Carlo axis: ``W_l`` is ``(S, k_l, k_{l+1})`` and ``b_l`` is
``(S, k_{l+1})``; the input ``x`` is ``(B, k_0)`` and the output ``(S, B, K)``. This module knows
nothing about priors: the prior turns parameters and noise into ``(W_l, b_l)`` and back.
"""
from __future__ import annotations

from .backend import array_namespace


def forward(x, weights, biases, activation):
    """Network outputs ``eta`` ``(S, B, K)`` and the cache the backward pass needs. (N-1)"""
    h = x
    inputs, pre = [], []
    last = len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        a = h @ W + b[..., None, :]
        inputs.append(h)
        if l < last:
            pre.append(a)
            h = activation.psi(a)
        else:
            h = a
    return h, (inputs, pre, weights, activation)


def backward(d_eta, cache):
    """Reverse mode (N-3): from ``d_eta = dLoss/d eta`` ``(S, B, K)`` to ``(d_weights, d_biases)``.

    ``dW_l = h_l^T @ d_a_l``, ``db_l = sum_i d_a_l``, ``d_h_l = d_a_l @ W_l^T``,
    ``d_a_{l-1} = d_h_l * psi'(a_{l-1})``.
    """
    inputs, pre, weights, activation = cache
    xp = array_namespace(d_eta)
    n_layers = len(inputs)
    d_weights, d_biases = [None] * n_layers, [None] * n_layers
    d_a = d_eta
    for l in range(n_layers - 1, -1, -1):
        # (k_in, B) @ (S, B, k_out) broadcasts over S for the input layer, whose x has no sample axis.
        d_weights[l] = xp.matrix_transpose(inputs[l]) @ d_a
        d_biases[l] = xp.sum(d_a, axis=-2)
        if l > 0:
            d_a = (d_a @ xp.matrix_transpose(weights[l])) * activation.d_psi(pre[l - 1])
    return d_weights, d_biases

