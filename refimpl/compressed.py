"""A compressed (pruned) network: a plain dense MLP saved as ``.npz``, loadable and runnable with
NumPy alone. This file imports nothing but NumPy and the standard library, so it can be copied next
to the ``.npz`` and used without refimpl.

File layout: ``W{l}`` ``(k'_l, k'_{l+1})`` and ``b{l}`` ``(k'_{l+1},)`` for every layer, ``mask{l}``
(boolean, full width) for every hidden layer, and ``meta`` (JSON bytes: activation, original and
kept widths, likelihood, source metadata, the export check).
"""
from __future__ import annotations

import json

import numpy as np


def _silu(a):
    return 0.5 * a * (1.0 + np.tanh(0.5 * a))   # = a sigmoid(a); no exp overflow for very negative a


ACTIVATIONS = {"silu": _silu, "relu": lambda a: np.maximum(a, 0.0), "tanh": np.tanh}


class CompressedMLP:
    """A dense MLP ``eta = W_L psi(... psi(x W_0 + b_0) ...) + b_L`` with explicit weights."""

    def __init__(self, weights, biases, activation: str, masks=None, meta=None):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: unknown {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.weights = [np.asarray(W) for W in weights]
        self.biases = [np.asarray(b) for b in biases]
        self.activation = activation
        self.masks = [np.asarray(m, dtype=bool) for m in (masks or [])]
        self.meta = dict(meta or {})

    @property
    def widths(self) -> list[int]:
        return [self.weights[0].shape[0]] + [W.shape[1] for W in self.weights]

    def predict(self, x):
        """Outputs ``(B, K)``: regression means or logits."""
        psi = ACTIVATIONS[self.activation]
        h = np.asarray(x, dtype=self.weights[0].dtype)
        if h.ndim != 2 or h.shape[1] != self.weights[0].shape[0]:
            raise ValueError(f"x: expected shape (batch, {self.weights[0].shape[0]}), got {h.shape}")
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ W + b
            if l < len(self.weights) - 1:
                h = psi(h)
        return h

    def save(self, path: str):
        arrays = {f"W{l}": W for l, W in enumerate(self.weights)}
        arrays.update({f"b{l}": b for l, b in enumerate(self.biases)})
        arrays.update({f"mask{l}": m for l, m in enumerate(self.masks)})
        meta = {**self.meta, "activation": self.activation, "n_layers": len(self.weights)}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str) -> "CompressedMLP":
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            n = meta["n_layers"]
            weights = [z[f"W{l}"] for l in range(n)]
            biases = [z[f"b{l}"] for l in range(n)]
            masks = [z[f"mask{l}"] for l in range(n - 1) if f"mask{l}" in z.files]
        return cls(weights, biases, meta["activation"], masks, meta)
