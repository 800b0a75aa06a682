"""Metric entropy of node-sparse classes in the sup-norm, and Schmidt-Hieber's edge-sparse bound. (T-5)

Derived here (docs/theory-notes.md §4.3). Class ``F(L, k, s, B)``: at most ``s_l`` active nodes in hidden
layer l, relevant entries of layer l bounded by ``B_l``, sup-norm over ``||x||_inf <= 1``. Rounding every
relevant entry to a grid of spacing ``2 eta`` inside ``[-B_l, B_l]`` (``ceil(B_l / eta)`` points) moves the
function by at most ``eta Lambda(B)`` (T-4); with ``eta = delta / Lambda(B)``:

    H(delta) = sum_{l=1..L} log C(k_l, s_l) + sum_{l=1..L+1} s_l m_l log ceil(B_l Lambda(B) / delta)          (exact count)
            <= sum_l s_l log(e k_l / s_l) + D [log 2 + log(Bbar Lambda(B)) + log(1/delta)]   (delta <= Bbar Lambda)

In 'active' group mode the choice of the active inputs of each layer is part of ``C(k_l, s_l)``.
Schmidt-Hieber (2020, Lemma 5, recalled in docs/theory-notes.md §3.3), edge sparsity ``s_edge``, weights <= 1:

    H_SH(delta) = (s_edge + 1) log(2 delta^{-1} (L+1) V^2),    V = prod_{l=0..L+1} (k_l + 1)

With ``B = 1``, ``L_psi <= 1`` and ``s_edge = D``: ``H(delta) <= H_SH(delta)`` (docs/theory-notes.md §4.3).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from .lipschitz import SparseNet, lipschitz_constant, pruned
from .topology import Topology


def _log_binom(k: int, s: int) -> float:
    return float(gammaln(k + 1) - gammaln(s + 1) - gammaln(k - s + 1))


def entropy_bound(topo: Topology, delta: float, *, lipschitz: float = 1.0) -> float:
    """(T-5) ``log N(delta, F, ||.||_inf) <= H(delta)``, the exact grid count above."""
    lam = lipschitz_constant(topo, lipschitz=lipschitz)
    support = sum(_log_binom(k, s) for k, s in zip(topo.k[:-1], topo.s[:-1]))
    grid = sum(s * m * math.log(max(1, math.ceil(B * lam / delta))) for s, m, B in zip(topo.s, topo.m, topo.B))
    return support + grid


def entropy_bound_simple(topo: Topology, delta: float, *, lipschitz: float = 1.0) -> float:
    """(T-5) ``sum_l s_l log(e k_l / s_l) + D [log 2 + log(Bbar Lambda(B)) + log(1/delta)]``, valid for
    ``delta <= Bbar Lambda(B)``, ``Bbar = max(1, max_l B_l)``."""
    lam = lipschitz_constant(topo, lipschitz=lipschitz)
    Bbar = max(1.0, max(topo.B))
    support = sum(s * math.log(math.e * k / s) for k, s in zip(topo.k[:-1], topo.s[:-1]))
    return support + topo.D * (math.log(2.0) + math.log(Bbar * lam) + math.log(1.0 / delta))


def entropy_schmidt_hieber(widths, s_edge: int, delta: float) -> float:
    """(T-5) ``(s_edge + 1) log(2 delta^{-1} (L+1) V^2)``, ``V = prod_l (k_l + 1)`` over all layers."""
    L = len(widths) - 2
    log_V = sum(math.log(k + 1) for k in widths)
    return (s_edge + 1) * (math.log(2.0 / delta) + math.log(L + 1) + 2.0 * log_V)


def round_to_grid(net: SparseNet, topo: Topology, eta: float, *, psi0: float = 0.0) -> SparseNet:
    """(T-5) The covering map ``Q_eta``: every entry of layer l moved to the nearest of the
    ``ceil(B_l / eta)`` grid points ``-B_l + eta (2 j + 1)`` clipped to ``[-B_l, B_l]``, then the masks
    re-applied (:func:`pruned`). ``|theta - Q_eta(theta)| <= eta`` on every relevant entry and
    ``Q_eta(theta)`` stays in the class."""
    W, b = [], []
    for l, (w, v) in enumerate(zip(net.W, net.b)):
        B = topo.B[l]
        n_pts = max(1, math.ceil(B / eta))

        def q(a):
            j = np.clip(np.floor((a + B) / (2.0 * eta)), 0, n_pts - 1)
            return np.clip(-B + eta * (2.0 * j + 1.0), -B, B)

        W.append(q(w))
        b.append(q(v))
    return pruned(SparseNet(tuple(W), tuple(b), net.z), psi0)
