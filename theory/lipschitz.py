"""Forward and perturbation bounds of a node-sparse MLP on the box ``||x||_inf <= 1``. (T-2..T-4)

Derived here (docs/theory-notes.md §4.1-§4.2); docs/theory.md carries the proofs. Networks are stored as the
code stores them (docs/notation.md): ``x @ W_l + b_l`` with ``W_l`` ``(k_{l-1}, k_l)``, so the
operator norm ``||W||_{inf->inf}`` is the largest **column** l1 norm. ``g_l = L_psi`` for hidden
layers and ``g_{L+1} = 1`` (no activation on the output).

(T-2) forward:        c_0 = 1,  c_l = |psi(0)| + L_psi B_l (a_l c_{l-1} + 1),  c_{L+1} = B_{L+1}(a_{L+1} c_L + 1)
(T-3) recursive:      delta_l <= g_l (||W_l|| delta_{l-1} + ||W_l - W'_l|| c'_{l-1} + ||b_l - b'_l||_inf)
(T-4) entrywise:      ||f_theta - f_theta'||_inf <= sum_l eta_l (a_l c'_{l-1} + 1) g_l prod_{m>l} a_m B_m g_m
      closed form:    <= eta (L+1) (max(1, L_psi) max(1, B + eta))^L prod_l (a_l + 1)        (psi(0) = 0)
      Lambda(B):      the entrywise sum with eta_l = 1 and c' computed from B itself.

In (T-3)/(T-4) the roles are mixed: ``W`` and ``B`` belong to theta, ``c'`` to theta'.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refimpl.activations import Activation, get_activation
from refimpl.network import forward as _forward

from .topology import Topology, topology


@dataclass(frozen=True)
class SparseNet:
    """A network with node masks: ``W[l-1]`` ``(k_{l-1}, k_l)``, ``b[l-1]`` ``(k_l,)``, ``z[l-1]``
    ``(k_l,)`` bool for hidden layers ``l = 1..L`` (the output layer has no mask)."""

    W: tuple
    b: tuple
    z: tuple


def pruned(net: SparseNet, psi0: float = 0.0) -> SparseNet:
    """Zero the incoming group of every masked node (as the code does: it outputs psi(0)); when
    ``psi0 == 0`` also zero its outgoing weights, which then multiply an exact 0 and change nothing."""
    W = [w.copy() for w in net.W]
    b = [v.copy() for v in net.b]
    for l, z in enumerate(net.z):
        W[l][:, ~z] = 0.0
        b[l][~z] = 0.0
        if psi0 == 0.0:
            W[l + 1][~z, :] = 0.0
    return SparseNet(tuple(W), tuple(b), net.z)


def net_forward(net: SparseNet, x: np.ndarray, activation: Activation) -> np.ndarray:
    """``f_theta(x)`` ``(n_x, K)`` through ``refimpl.network.forward`` (masks applied by :func:`pruned`)."""
    out, _ = _forward(np.asarray(x, dtype=np.float64), [w[None] for w in net.W], [v[None] for v in net.b], activation)
    return out[0]


def psi_at_zero(activation: Activation) -> float:
    return float(activation.psi(np.zeros(1))[0])


def _op_norm(W: np.ndarray) -> float:
    """``||W||_{inf->inf}`` for ``x @ W``: the largest column l1 norm."""
    return float(np.abs(W).sum(axis=0).max()) if W.size else 0.0


def forward_bound(topo: Topology, *, lipschitz: float = 1.0, psi0: float = 0.0) -> tuple[float, ...]:
    """(T-2) ``(c_0, ..., c_L, c_{L+1})``: ``||h_l(x)||_inf <= c_l`` for every ``||x||_inf <= 1`` and every
    network of the class; ``c_{L+1}`` bounds the output (no activation)."""
    c = [1.0]
    for l in range(topo.L + 1):
        lin = topo.B[l] * (topo.a[l] * c[-1] + 1.0)
        c.append(lin if l == topo.L else abs(psi0) + lipschitz * lin)
    return tuple(c)


def recursive_perturbation_bound(net: SparseNet, net_prime: SparseNet, *, lipschitz: float = 1.0,
                                 psi0: float = 0.0) -> float:
    """(T-3) ``sup_{||x||_inf<=1} ||f_theta - f_theta'||_inf <=`` the recursion on the actual matrices.

    Pass pruned networks (:func:`pruned`) with the same masks; ``W`` is theta's, ``c'`` theta''s.
    """
    delta, c_prime = 0.0, 1.0
    last = len(net.W) - 1
    for l, (W, b, Wp, bp) in enumerate(zip(net.W, net.b, net_prime.W, net_prime.b)):
        g = 1.0 if l == last else lipschitz
        delta = g * (_op_norm(W) * delta + _op_norm(W - Wp) * c_prime + float(np.abs(b - bp).max()))
        c_prime = abs(psi0) + lipschitz * (_op_norm(Wp) * c_prime + float(np.abs(bp).max()))
    return delta


def entrywise_perturbation_bound(topo: Topology, eta, *, lipschitz: float = 1.0, psi0: float = 0.0,
                                 B_prime=None) -> float:
    """(T-4) ``||f_theta - f_theta'||_inf <= sum_l eta_l (a_l c'_{l-1} + 1) g_l prod_{m>l} a_m B_m g_m``.

    theta has ``|entries| <= B_l`` (``topo.B``), theta' differs by at most ``eta_l`` per relevant entry;
    ``c'`` is the forward bound of theta', computed from ``B_prime`` (default ``B + eta``).
    """
    L = topo.L
    etas = [float(eta)] * (L + 1) if np.ndim(eta) == 0 else [float(e) for e in eta]
    if B_prime is None:
        B_prime = [B + e for B, e in zip(topo.B, etas)]
    c_prime = forward_bound(topo.with_bounds(list(B_prime)), lipschitz=lipschitz, psi0=psi0)
    g = [lipschitz] * L + [1.0]
    total = 0.0
    for l in range(L + 1):
        tail = math.prod(topo.a[m] * topo.B[m] * g[m] for m in range(l + 1, L + 1))
        total += etas[l] * (topo.a[l] * c_prime[l] + 1.0) * g[l] * tail
    return total


def lipschitz_constant(topo: Topology, *, lipschitz: float = 1.0, psi0: float = 0.0) -> float:
    """(T-4) ``Lambda(B)``: parameter-to-function Lipschitz constant of the class (sup-norm over the
    relevant coordinates to sup-norm over ``||x||_inf <= 1``), with both roles at ``B``."""
    return entrywise_perturbation_bound(topo, 1.0, lipschitz=lipschitz, psi0=psi0, B_prime=topo.B)


def closed_form_perturbation_bound(topo: Topology, eta: float, *, lipschitz: float = 1.0) -> float:
    """(T-4) ``eta (L+1) (max(1, L_psi) max(1, max_l B_l + eta))^L prod_{l=1..L+1} (a_l + 1)``, for psi(0) = 0.
    It is >= the entrywise bound; the same holds with ``eta = ||theta - theta'||_2``."""
    Bbar = max(1.0, max(topo.B) + eta)
    return eta * (topo.L + 1) * (max(1.0, lipschitz) * Bbar) ** topo.L * math.prod(a + 1 for a in topo.a)


def equality_case(widths, B: float, eta: float) -> tuple[float, float]:
    """(T-4) The case where the entrywise bound is attained: every node active, ReLU, all weights and
    biases ``B``, perturbed to ``B + eta``, at ``x = (1, ..., 1)``. Returns ``(f_theta'(1) - f_theta(1),
    bound)``; they agree to round-off."""
    topo = topology(widths, list(widths[1:-1]), B)
    relu = get_activation("relu")

    def constant_net(value):
        W = tuple(np.full((k_in, k_out), value) for k_in, k_out in zip(widths[:-1], widths[1:]))
        bias = tuple(np.full(k, value) for k in widths[1:])
        return SparseNet(W, bias, tuple(np.ones(k, dtype=bool) for k in widths[1:-1]))

    x = np.ones((1, widths[0]))
    diff = net_forward(constant_net(B + eta), x, relu) - net_forward(constant_net(B), x, relu)
    return float(diff.max()), entrywise_perturbation_bound(topo, eta)
