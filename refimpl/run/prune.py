"""Pruning by the median-probability rule and export of a physically smaller network. (PR-1, PR-2)

Keep hidden node (l, j) iff ``gamma_lj = sigmoid(theta_lj) > threshold`` (default 1/2: the
median-probability model). The exported network uses the weights at the variational mean (PR-1,
``NodeSparseBNN.mean_network``) and drops, for every pruned node, its incoming column and bias and its
outgoing row in the next layer (PR-2). Because a pruned node outputs ``psi(0) = 0`` in the masked
network, the compressed network computes exactly the masked full network, up to float round-off; the
export verifies this on given inputs and records the largest difference.
"""
from __future__ import annotations

import numpy as np

from .compressed import CompressedMLP
from ..stable import sigmoid


def inclusion_probabilities(model, params) -> list[np.ndarray]:
    """``gamma_l = sigmoid(theta_l)`` per hidden layer (ones for priors without indicators), on the host."""
    b = model.backend
    out = []
    for l in range(len(model.widths) - 2):
        key = f"{l}.theta"
        out.append(sigmoid(b.to_numpy(params[key])) if key in params else np.ones(model.widths[l + 1]))
    return out


def node_masks(model, params, threshold: float = 0.5) -> list[np.ndarray]:
    """Boolean keep-masks per hidden layer: ``gamma > threshold``."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold: expected a probability in [0, 1), got {threshold!r}")
    return [g > threshold for g in inclusion_probabilities(model, params)]


def masked_mean_network(model, params, masks):
    """Host weights of the full-width network at the variational mean with pruned nodes' groups zeroed."""
    b = model.backend
    layers = [(b.to_numpy(W).copy(), b.to_numpy(v).copy()) for W, v in model.mean_network(params)]
    for l, keep in enumerate(masks):
        layers[l][0][:, ~keep] = 0.0
        layers[l][1][~keep] = 0.0
    return layers


# (PR-2) export check: the dropped terms are exact zeros, so the two networks differ only by the order in which
# matrix products of different shapes add the kept terms -- a few eps per layer, relative to the outputs' size.
EXPORT_RTOL = {"float64": 1e-10, "float32": 1e-4}


def check_export(net: CompressedMLP, dense: CompressedMLP, x) -> float:
    """``max |net(x) - dense(x)|``; raises ``RuntimeError`` when it exceeds ``EXPORT_RTOL[dtype] * max(1, max|dense(x)|)``
    (PR-2): a compressed network that does not compute the masked one is never saved silently."""
    out, ref = net.predict(x), dense.predict(x)
    diff = float(np.max(np.abs(out - ref))) if out.size else 0.0
    tol = EXPORT_RTOL.get(str(ref.dtype), 1e-4) * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    if not diff <= tol:
        raise RuntimeError(f"export check: the compressed network differs from the masked full network by {diff:.3g} "
                           f"(tolerance {tol:.3g}); the export is wrong, please report it")
    return diff


def compress(model, params, threshold: float = 0.5, check_x=None, meta=None) -> CompressedMLP:
    """The compressed network (PR-2). With ``check_x`` the export verifies itself against the masked full
    network (:func:`check_export`, which raises beyond its tolerance) and stores ``max_abs_diff`` in its metadata."""
    masks = node_masks(model, params, threshold)
    full = masked_mean_network(model, params, masks)
    weights, biases = [], []
    keep_in = np.ones(model.widths[0], dtype=bool)
    for l, (W, v) in enumerate(full):
        keep_out = masks[l] if l < len(masks) else np.ones(W.shape[1], dtype=bool)
        weights.append(np.ascontiguousarray(W[np.ix_(keep_in, keep_out)]))
        biases.append(v[keep_out].copy())
        keep_in = keep_out
    info = {"widths": list(model.widths), "kept_widths": [model.widths[0]] + [int(m.sum()) for m in masks] + [model.widths[-1]],
            "threshold": threshold, "likelihood": model.likelihood, "prior": model.prior_name, **(meta or {})}
    net = CompressedMLP(weights, biases, model.activation.name, masks, info)
    if check_x is not None:
        dense = CompressedMLP([W for W, _ in full], [v for _, v in full], model.activation.name)
        net.meta["max_abs_diff"] = check_export(net, dense, check_x)
    return net


def dense_mean_network(model, params) -> CompressedMLP:
    """The unpruned network at the variational mean (the latency baseline)."""
    b = model.backend
    layers = [(b.to_numpy(W), b.to_numpy(v)) for W, v in model.mean_network(params)]
    return CompressedMLP([W for W, _ in layers], [v for _, v in layers], model.activation.name)
