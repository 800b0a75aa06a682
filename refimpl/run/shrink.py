"""Training that gets cheaper as nodes are pruned: ``TrainConfig(prune_below=c)`` (SH-1, SH-2 in
docs/derivations.md).

At the start of every epoch, a hidden node whose inclusion probability ``gamma = sigmoid(theta)`` has
fallen below ``c`` (e.g. 1e-3) is **removed**: training continues on the network of the remaining nodes,
so the matrix products, the noise draws and the optimiser update shrink with it. A removed node stays
removed; its parameters, and the weights that read from it in the next layer, keep the values they had.

What changes in the objective (SH-1). A removed node's indicator is taken as ``z = 0`` where it would have
been 1 with probability ``gamma < c`` per step; that is the whole approximation of the likelihood term.
Its KL terms, and those of its frozen outgoing weights, are constants, except where they are coupled to
parameters that keep training; those couplings are kept exactly (:class:`refimpl.priors.record.Removed`):
the inclusion probabilities ``lambda_l`` and group sizes of the full network, the frozen entries of each
remaining group in (KL-5) for the centred priors, and the removed SS-GL scales in the KL of the shared
``lam2``. With ``gamma = 0`` the step of the smaller network therefore equals the full network's step on
the remaining parameters to round-off (``tests/test_shrink.py``); the bound of SH-2 covers ``gamma > 0``.

The state of record (checkpoints, ``FitResult``, everything downstream) stays the full network's
parameters: this module gathers the remaining parameters and optimiser moments at the start of an epoch
and scatters them back at its end.
"""
from __future__ import annotations

import math

import numpy as np

from ..priors.record import Removed
from .prune import inclusion_probabilities
from ..stable import log_softplus, softplus

WEIGHT_SUFFIXES = ("w_mu", "w_rho", "eps_w")     # arrays whose last two axes are (inputs, outputs)


def all_alive(model) -> list[np.ndarray]:
    """Every hidden node alive: one all-True mask per hidden layer."""
    return [np.ones(k, dtype=bool) for k in model.widths[1:-1]]


def update_alive(model, params, alive, threshold: float) -> list[np.ndarray]:
    """The alive masks after removing nodes with ``gamma < threshold`` (removal is permanent). A layer keeps
    at least its alive node of largest ``gamma``: the network stays connected, and that layer's emptiness is
    left for the compressed network to show."""
    out = []
    for a, g in zip(alive, inclusion_probabilities(model, params)):
        new = a & (g >= threshold)
        if not new.any():
            new = np.zeros_like(a)
            new[np.flatnonzero(a)[np.argmax(g[a])]] = True
        out.append(new)
    return out


def _layer_indices(model, alive):
    """Per weight layer ``(rows, cols)``: the kept inputs and outputs, as integer arrays."""
    n_layers = len(model.widths) - 1
    keep = [np.arange(model.widths[0])] + [np.flatnonzero(a) for a in alive] + [np.arange(model.widths[-1])]
    return [(keep[l], keep[l + 1]) for l in range(n_layers)]


def _split(key: str):
    """``(layer, suffix)`` of a parameter, noise or optimiser-state key (``"rest/m.1.w_mu"`` -> ``(1, "w_mu")``);
    ``(None, key)`` for a global array (``lam_mu``, ``eps_s``, ``log_sigma_e``)."""
    tail = key.rsplit("/", 1)[-1]
    parts = tail.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.isdigit():
            return int(part), ".".join(parts[i + 1:])
    return None, tail


def gather(model, arrays: dict, alive) -> dict:
    """The entries of the remaining nodes: parameters, noise or optimiser state of the full network ->
    those of the smaller one (weights by inputs and outputs, per-node arrays by outputs, globals as they are)."""
    index = _layer_indices(model, alive)
    out = {}
    for key, a in arrays.items():
        layer, suffix = _split(key)
        if layer is None:
            out[key] = a
            continue
        rows, cols = index[layer]
        out[key] = a[..., rows[:, None], cols] if suffix in WEIGHT_SUFFIXES else a[..., cols]
    return out


def scatter(model, full: dict, small: dict, alive) -> dict:
    """``full`` with the smaller network's entries written back (new arrays: ``full``'s are not modified)."""
    index = _layer_indices(model, alive)
    out = {}
    for key, a in full.items():
        layer, suffix = _split(key)
        if layer is None:
            out[key] = small[key]
            continue
        rows, cols = index[layer]
        new = a.copy()
        if suffix in WEIGHT_SUFFIXES:
            new[..., rows[:, None], cols] = small[key]
        else:
            new[..., cols] = small[key]
        out[key] = new
    return out


def smaller_model(model, params, alive, n_data: int):
    """The network of the remaining nodes, its prior carrying what the removed ones leave (SH-1): a
    ``NodeSparseBNN`` of the same options whose ``prior.removed`` is a :class:`Removed`."""
    from ..model import NodeSparseBNN
    widths = [model.widths[0], *[int(a.sum()) for a in alive], model.widths[-1]]
    small = NodeSparseBNN(**{**model.config, "widths": widths})
    prior, b = model.prior, model.backend
    host = {k: b.to_numpy(v) for k, v in params.items()}
    inv_2var0 = 0.5 / (prior.sigma0 * prior.sigma0)
    sq, log_sigma, scales = [], [], []
    for l, (rows, cols) in enumerate(_layer_indices(model, alive)):
        gone = np.setdiff1d(np.arange(model.widths[l]), rows)
        if gone.size:
            rho = host[f"{l}.w_rho"][np.ix_(gone, cols)]
            sigma = softplus(rho)
            sq.append(b.asarray(np.sum(sigma * sigma + host[f"{l}.w_mu"][np.ix_(gone, cols)] ** 2, axis=0) * inv_2var0))
            log_sigma.append(b.asarray(np.sum(log_softplus(rho), axis=0)))
        else:
            sq.append(0.0)
            log_sigma.append(0.0)
        removed_nodes = np.setdiff1d(np.arange(model.widths[l + 1]), cols)
        if f"{l}.tau_mu" in host and "lam_mu" in host:        # SS-GL: the shared lam2 reads every node scale
            s = softplus(host[f"{l}.tau_rho"][removed_nodes])
            scales.append((int(removed_nodes.size), float(np.sum(np.exp(host[f"{l}.tau_mu"][removed_nodes] + 0.5 * s * s)))))
        else:
            scales.append((int(removed_nodes.size), 0.0))
    small.prior.removed = Removed(log_lams=tuple(prior.inclusion_log_probs(n_data)) if prior.spike else (),
                                  fan_in=tuple(model.widths[:-1]), sq=tuple(sq), log_sigma=tuple(log_sigma),
                                  scales=tuple(scales))
    return small


def flops_fraction(model, alive) -> float:
    """Multiply-adds of the remaining network over the full one's (what a step's matrix products cost)."""
    widths = [model.widths[0], *[int(a.sum()) for a in alive], model.widths[-1]]
    full = sum(a * b for a, b in zip(model.widths[:-1], model.widths[1:]))
    return math.fsum(a * b for a, b in zip(widths[:-1], widths[1:])) / full
