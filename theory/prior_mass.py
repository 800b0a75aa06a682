"""Prior mass of a neighbourhood of a sparse true network, and the prior-mass condition C3. (T-8, T-9)

Derived here (docs/theory-notes.md §4.4, §2.3, §5(c)).

(T-8) Box: keep ``z = z*`` and put every relevant coordinate of every active group within ``eta`` of
theta*, with ``eta = min(1, eps sigma_e sqrt(2) / Lambda(B + 1))``. By (T-4) every theta in the box has
``||f_theta - f_theta*||_inf <= eta Lambda(B + eta) <= eps sigma_e sqrt 2``, so for Gaussian regression
``KL(l_theta*, l_theta) <= eps^2``: with xi_n = 0 the box lies in the KL neighbourhood. Its mass:

    -log Pi(box) = sum_{l=1..L} [s_l log(1/lambda_l) + (k_l - s_l) log(1/(1 - lambda_l))]     selection
                 + sum_{active groups} Phi(group)                                             slab (T-6/T-7)

(T-9) C3 ratio ``R = -log Pi(box at eps_n) / (n eps_n^2)`` with lambda_l from the (T-11) schedule.
Proved bound (docs/theory.md, T-9): with ``kappa <= 1`` and ``n >= 3``,

    R <= C_3 := max(1, 1/2 + kappa) + log+(1 / (sigma_e sqrt 2)) / log n,

because -log Pi(box) <= (1/2 + kappa) D log n + D log Lambda(B+1) + selection + slab + D log+(1/(sigma_e sqrt 2))
while n eps_n^2 >= D log n + D log Lambda(B+1) + selection + slab.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .lipschitz import SparseNet, lipschitz_constant, pruned
from .rates import Rate, rate, theory_lambda
from .slab_mass import Slab, analytic_neg_log_box, neg_log_box
from .topology import Topology


def box_half_width(eps: float, topo: Topology, *, lipschitz: float = 1.0, sigma_e: float = 1.0) -> float:
    """(T-8) ``eta = min(1, eps sigma_e sqrt(2) / Lambda(B + 1))``."""
    lam = lipschitz_constant(topo.with_bounds([B + 1.0 for B in topo.B]), lipschitz=lipschitz)
    return min(1.0, eps * sigma_e * math.sqrt(2.0) / lam)


def random_sparse_net(rng: np.random.Generator, topo: Topology, *, corner: bool = False, psi0: float = 0.0) -> SparseNet:
    """A true network of the class: ``s_l`` nodes of hidden layer l active (chosen at random), every
    entry uniform in ``[-B_l, B_l]`` (``corner=True``: ``+-B_l`` with random signs), masks applied as the
    code applies them (:func:`theory.lipschitz.pruned`; ``psi0 = 0`` also zeroes a pruned node's
    outgoing weights)."""
    W, b, z = [], [], []
    for l in range(topo.L + 1):
        k_in, k_out, B = topo.widths[l], topo.widths[l + 1], topo.B[l]
        draw = (lambda shape: B * rng.choice([-1.0, 1.0], size=shape)) if corner else \
            (lambda shape: rng.uniform(-B, B, size=shape))
        W.append(draw((k_in, k_out)))
        b.append(draw((k_out,)))
        if l < topo.L:
            mask = np.zeros(k_out, dtype=bool)
            mask[rng.choice(k_out, size=topo.s[l], replace=False)] = True
            z.append(mask)
    return pruned(SparseNet(tuple(W), tuple(b), tuple(z)), psi0)


def relevant_coordinates(net: SparseNet, topo: Topology) -> list[np.ndarray]:
    """(T-8) The relevant coordinates of each active group, layer by layer: ``(s_l, m_l)`` arrays holding
    the weights from the relevant inputs (all inputs in 'full' mode, the active ones in 'active') and
    the bias, in that order."""
    out = []
    for l in range(topo.L + 1):
        nodes = net.z[l] if l < topo.L else np.ones(topo.widths[-1], dtype=bool)
        rows = np.ones(topo.widths[l], dtype=bool) if (l == 0 or topo.group_mode == "full") else net.z[l - 1]
        W = net.W[l][np.ix_(rows, nodes)]
        out.append(np.concatenate([W.T, net.b[l][nodes][:, None]], axis=1))
    return out


@dataclass(frozen=True)
class BoxMass:
    """(T-8) ``-log Pi(box)`` split into selection and slab parts (exact and analytic bound)."""

    eta: float
    selection: float
    slab: float
    slab_err: float
    slab_analytic: float

    @property
    def total(self) -> float:
        return self.selection + self.slab

    @property
    def total_analytic(self) -> float:
        return self.selection + self.slab_analytic


def selection_cost(topo: Topology, n: float, kappa: float) -> float:
    """(T-8) ``sum_l s_l log(1/lambda_l) + (k_l - s_l) log(1/(1 - lambda_l))`` under the (T-11) schedule."""
    sched = theory_lambda(topo.widths, n, kappa, group_mode=topo.group_mode, active=topo.s[:-1])
    return sum(-s * lo - (k - s) * lo1m for (lo, lo1m), s, k in zip(sched, topo.s[:-1], topo.k[:-1]))


def neg_log_box_mass(theta_rel, topo: Topology, sl: Slab, eta: float, *, n: float, kappa: float,
                     exact: bool = True) -> BoxMass:
    """(T-8) ``-log Pi(box)`` for the relevant coordinates ``theta_rel`` (:func:`relevant_coordinates`)."""
    phi = err = 0.0
    bound = 0.0
    for w, m, M, B in zip(theta_rel, topo.m, topo.M, topo.B):
        if exact:
            p, e = neg_log_box(w, eta, sl, M=M)
            phi += float(p.sum())
            err += float(e.sum())
        bound += w.shape[0] * analytic_neg_log_box(m, eta, B, sl, M=M)
    return BoxMass(eta, selection_cost(topo, n, kappa), phi if exact else math.nan, err, bound)


def c3_constant(kappa: float, sigma_e: float, n: float) -> float:
    """(T-9) ``C_3 = max(1, 1/2 + kappa) + log+(1/(sigma_e sqrt 2)) / log n``."""
    return max(1.0, 0.5 + kappa) + max(0.0, -math.log(sigma_e * math.sqrt(2.0))) / math.log(n)


@dataclass(frozen=True)
class C3Ratio:
    """(T-9) ``R = -log Pi(box at eps_n) / (n eps_n^2)``, exact and from the analytic bound, and ``C_3``."""

    rate: Rate
    mass: BoxMass
    constant: float

    @property
    def R(self) -> float:
        return self.mass.total / (self.rate.n * self.rate.eps2)

    @property
    def R_analytic(self) -> float:
        return self.mass.total_analytic / (self.rate.n * self.rate.eps2)


def c3_ratio(n: float, topo: Topology, sl: Slab, theta_rel, *, kappa: float = 0.1, lipschitz: float = 1.0,
             sigma_e: float = 1.0, exact: bool = True) -> C3Ratio:
    """(T-9) The C3 ratio at the derived rate (xi = 0) for a true network with relevant coordinates
    ``theta_rel`` (each ``|entry| <= B_l``)."""
    r = rate(n, topo, sl, lipschitz=lipschitz)
    eta = box_half_width(r.eps, topo, lipschitz=lipschitz, sigma_e=sigma_e)
    mass = neg_log_box_mass(theta_rel, topo, sl, eta, n=n, kappa=kappa, exact=exact)
    return C3Ratio(r, mass, c3_constant(kappa, sigma_e, n))
