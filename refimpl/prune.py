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
from .stable import sigmoid


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


def compress(model, params, threshold: float = 0.5, check_x=None, meta=None) -> CompressedMLP:
    """The compressed network (PR-2). With ``check_x`` the export verifies itself against the masked full
    network and stores ``max_abs_diff`` in its metadata."""
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
        net.meta["max_abs_diff"] = float(np.max(np.abs(net.predict(check_x) - dense.predict(check_x))))
    return net


def dense_mean_network(model, params) -> CompressedMLP:
    """The unpruned network at the variational mean (the latency baseline)."""
    b = model.backend
    layers = [(b.to_numpy(W), b.to_numpy(v)) for W, v in model.mean_network(params)]
    return CompressedMLP([W for W, _ in layers], [v for _, v in layers], model.activation.name)
