"""A compressed (pruned) network: a plain dense MLP saved as ``.npz``, loadable and runnable with
NumPy alone. This file imports nothing but NumPy and the standard library, so it can be copied next
to the ``.npz`` and used without refimpl.

File layout: ``W{l}`` ``(k'_l, k'_{l+1})`` and ``b{l}`` ``(k'_{l+1},)`` for every layer, ``mask{l}``
(boolean, full width) for every hidden layer, and ``meta`` (JSON bytes: activation, original and
kept widths, likelihood, source metadata, the export check).
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib

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
        if not np.all(np.isfinite(h)):
            bad = np.argwhere(~np.isfinite(h))[0].tolist()
            raise ValueError(f"x: contains NaN or infinite values (the first at row, column {bad}); remove or impute "
                             "them before predicting")
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ W + b
            if l < len(self.weights) - 1:
                h = psi(h)
        return h

    def predict_raw(self, x):
        """Outputs for inputs in the data's original units: ``x`` is standardised with ``meta["stats"]``
        (``(x - x_mean) / x_std``, the training statistics) and regression means are returned in the target's
        units (``y_mean + y_std * eta``), shape ``(B, K)``. Classification returns logits; the label of class ``k``
        is ``meta["classes"][k]`` where the data had labels of its own (``refimpl.data.tabular``), else ``k``."""
        stats = self.meta.get("stats")
        if not isinstance(stats, dict) or "x_mean" not in stats or "x_std" not in stats:
            raise ValueError("meta['stats']: this network carries no input statistics (x_mean, x_std); export it "
                             "with `python -m refimpl prune` or an estimator's compress(), or standardise x yourself "
                             "and call predict")
        x = np.asarray(x, dtype=np.float64)
        x_mean, x_std = np.asarray(stats["x_mean"], dtype=np.float64), np.asarray(stats["x_std"], dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != x_mean.shape[0]:
            raise ValueError(f"x: expected shape (batch, {x_mean.shape[0]}), got {x.shape}")
        eta = self.predict((x - x_mean) / x_std)
        if stats.get("y_std") is None:
            return eta
        return stats["y_mean"] + stats["y_std"] * np.asarray(eta, dtype=np.float64)

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
        """The network saved at ``path``. A missing file is a ``FileNotFoundError``; a directory, a file that is
        not such an archive, a truncated one or one without its arrays is a ``ValueError`` naming ``path``."""
        fix = "export it again with `python -m refimpl prune --out RUN` (or CompressedMLP.save)"
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a directory; pass the compressed network file, e.g. RUN/compressed.npz")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: file not found; check the path, or {fix}")
        try:
            z = np.load(path, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            with z:
                meta = json.loads(bytes(z["meta"]).decode())
                n = meta["n_layers"]
                weights = [z[f"W{l}"] for l in range(n)]
                biases = [z[f"b{l}"] for l in range(n)]
                masks = [z[f"mask{l}"] for l in range(n - 1) if f"mask{l}" in z.files]
                activation = meta["activation"]
        except KeyError as exc:
            raise ValueError(f"{path}: lacks an entry of a compressed network ({exc}; expected meta, W<l>, b<l>); "
                             f"{fix}") from None
        except (ValueError, OSError, EOFError, TypeError, AttributeError, zipfile.BadZipFile, zlib.error) as exc:
            why = "not an .npz archive" if "pickle" in str(exc) else f"{type(exc).__name__}: {str(exc)[:100]}"
            raise ValueError(f"{path}: is not a readable compressed network ({why}); the file is truncated, damaged "
                             f"or of another kind; {fix}") from None
        shapes = [(W.shape, b.shape) for W, b in zip(weights, biases)]
        if (n < 1 or any(len(w) != 2 or bs != (w[1],) for w, bs in shapes)
                or any(a[0][1] != b[0][0] for a, b in zip(shapes, shapes[1:]))):
            raise ValueError(f"{path}: layer shapes {shapes} do not chain into an MLP; the file is damaged; {fix}")
        return cls(weights, biases, activation, masks, meta)
