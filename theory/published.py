"""Published contraction and risk rates of sparse deep networks, beside the derived one. (T-17)

Four results from the literature, each behind its own name, with the assumptions of its source. They
are evaluated on a node-sparse topology only to set them beside (T-11); none of them is about node
selection, so the comparison is one of **shape** (how each moves with n, s, widths, depth, B), not of
constants. None of the four papers' texts was available here beyond their abstracts: each form below is
the one recorded in docs/theory-notes.md §3.3 (the project's reading notes), and every docstring says which
constants were dropped or reconstructed. Every function returns the **squared** rate, with a free
constant ``C`` (default 1) in front where the source has an unspecified one.

What each measures differs: Hellinger^2 of the joint density (Bai et al., and this project's T-11),
the L2(P_X) risk (Schmidt-Hieber, Chérief-Abdellatif) and the empirical L2 norm (Polson & Ročková).
For bounded regression functions with Gaussian noise these agree up to constants.

A node-sparse truth with ``s_l`` active nodes per hidden layer is an edge-sparse network with

    S = sum_{l=1..L+1} s_l (s_{l-1} + 1),   s_0 = p,  s_{L+1} = K      (weights and biases that are not 0)

which is the effective dimension D of (T-1) in 'active' group mode: :func:`edge_count`. The edge-sparse
rates are evaluated at that S; they do not pay for *which* nodes are on, only for which edges.

This project's own reconstruction of the target paper's rate (Jantre, Bhattacharya & Maiti) is
:func:`theory.rates.eps_n_published` (T-13), a reconstruction, not a transcription.
"""
from __future__ import annotations

import math

from .entropy import entropy_schmidt_hieber
from .rates import _check_n
from .topology import Topology, topology

#: Short names, in the order the tables print them, with the source each stands for.
SOURCES = {
    "schmidt-hieber": "Schmidt-Hieber (2020), Ann. Statist. 48(4), arXiv 1708.06633",
    "polson-rockova": "Polson & Ročková (2018), NeurIPS, arXiv 1803.09138",
    "cherief-abdellatif": "Chérief-Abdellatif (2020), ICML, arXiv 1908.04847",
    "bai-song-cheng": "Bai, Song & Cheng (2020), NeurIPS, arXiv 2011.07439",
}


def _count(name: str, v) -> int:
    if isinstance(v, bool) or int(v) != v or v < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
    return int(v)


def _positive(name: str, v) -> float:
    if isinstance(v, bool) or not (0.0 < float(v) < math.inf):
        raise ValueError(f"{name}: expected a finite number > 0, got {v!r}")
    return float(v)


def schmidt_hieber_2020(n, widths, s, *, F: float = 1.0, C: float = 1.0) -> float:
    """Risk of the least-squares estimator over sparse ReLU networks, Schmidt-Hieber (2020).

    Setting: ``Y = f0(X) + e``, ``e ~ N(0, 1)``, ``X`` on ``[0, 1]^d``; the class ``F(L, p, s, F)`` of ReLU
    networks with widths ``p = (p_0, ..., p_{L+1})`` (``widths`` here), at most ``s`` non-zero parameters,
    **every parameter in [-1, 1]** and ``||f||_inf <= F``. An estimator, not a posterior.

    Form used: the estimation term of the oracle inequality (Theorem 2) with the covering number at
    ``delta = 1/n`` from Lemma 5 (transcribed in docs/theory-notes.md §3.3, coded in
    :func:`theory.entropy.entropy_schmidt_hieber`):

        eps^2 = C F^2 (s + 1) log(2 n (L+1) V^2) / n,     V = prod_{l=0..L+1} (p_l + 1).

    Reconstructed: the constant ``C`` (the paper's ``C_eps``, not explicit) and the choice ``delta = 1/n``;
    Theorem 2's own ``tau_{eps,n}`` writes the logarithm as ``log(n (s+1)^L p_0 p_{L+1})`` (recalled, not
    checked), the same shape up to the width term. The approximation term ``inf ||f - f0||^2`` is 0 for a
    network truth inside the class.
    """
    n = _check_n(n)
    s = _count("s", s)
    return _positive("C", C) * _positive("F", F) ** 2 * entropy_schmidt_hieber(widths, s, 1.0 / n) / n


def polson_rockova_2018(n, p, *, alpha: float = 1.0, delta: float = 1.0, C: float = 1.0) -> float:
    """Posterior concentration of spike-and-slab deep ReLU networks (SS-DL), Polson & Ročková (2018).

    Setting: ``f0`` alpha-Hölder on ``[0, 1]^p``, bounded; ReLU networks whose depth ``L ≍ log n``, width
    ``N ≍ n^{p/(2 alpha + p)} / log n`` and sparsity ``s ≍ n^{p/(2 alpha + p)} log n`` are **set by the
    theorem as functions of n**; spike-and-slab prior with a uniform slab on [-1, 1]; empirical L2 norm.

    Form used (the abstract's near-minimax rate, as in docs/theory-notes.md §3.3), squared:

        eps^2 = C n^{-2 alpha / (2 alpha + p)} log^{2 delta} n,     delta > 1 in the theorem.

    It depends on a topology only through the input dimension ``p``: a fixed network is outside its
    statement. ``alpha`` is the smoothness the user assumes for f0 (1: Lipschitz, as a ReLU network truth
    is; a tanh network is analytic, so any alpha applies and the rate tends to ``log^{2 delta} n / n``).
    It decreases in n only for ``log n > delta (2 alpha + p) / alpha`` (the curse of dimensionality).

    Reconstructed: the constant ``C``; ``delta = 1`` (default) is the boundary of the allowed ``delta > 1``.
    """
    n = _check_n(n)
    p = _count("p", p)
    alpha, delta = _positive("alpha", alpha), float(delta)
    if not (delta >= 0.0 and math.isfinite(delta)):
        raise ValueError(f"delta: expected a finite number >= 0, got {delta!r}")
    return _positive("C", C) * n ** (-2.0 * alpha / (2.0 * alpha + p)) * math.log(n) ** (2.0 * delta)


def cherief_abdellatif_2020(n, L, D, S, B, *, C: float = 1.0) -> float:
    """Tempered variational posterior of sparse deep ReLU networks, Chérief-Abdellatif (2020).

    Setting: ReLU networks with ``L`` hidden layers of width ``D``, ``S`` non-zero parameters, every
    parameter bounded by ``B``; spike-and-slab prior; tempered (fractional) likelihood; L2 risk in
    expectation (an oracle inequality ``E int ||f - f0||^2 dQ <~ inf ||f* - f0||^2 + r_n``).

    Form used (docs/theory-notes.md §3.3):

        eps^2 = C [L S log(B D) + S log(n L / S)] / n

    Reconstructed: the constant ``C`` (it carries the tempering factor ``2/(alpha(1 - alpha))``) and the
    guards ``log max(1, B D)``, ``log max(1, n L / S)`` so that no term is negative outside the paper's
    regime (``B >= 1``, ``S <= n L``).
    """
    n = _check_n(n)
    L, D, S = _count("L", L), _count("D", D), _count("S", S)
    if isinstance(B, bool) or not (0.0 <= float(B) < math.inf):
        raise ValueError(f"B: expected a finite weight bound >= 0, got {B!r}")
    r = L * S * math.log(max(1.0, B * D)) + S * math.log(max(1.0, n * L / S))
    return _positive("C", C) * r / n


def bai_song_cheng_2020(n, L, N, p, s, *, delta: float = 1.0, C: float = 1.0) -> float:
    """Variational posterior contraction of sparse BNNs with spike-and-slab priors, Bai, Song & Cheng (2020).

    Setting: networks with ``L`` hidden layers of width ``N``, ``p`` inputs, ``s`` non-zero parameters
    bounded by ``B`` (absorbed in the constants), 1-Lipschitz activation; spike-and-slab prior with a
    Gaussian slab and the inclusion probability of their §3.1; mean-field spike-and-slab variational
    family; Hellinger distance, ``int d_H^2 dQ <= C eps_n^2 + C'(r_n + xi_n)``.

    Form used (docs/theory-notes.md §3.3):

        r_n = [(L+1) s log N + s log(p sqrt(n) / s)] / n,     eps^2 = C r_n log^{2 delta} n,  delta > 1.

    Reconstructed: ``C``; the guard ``log max(1, p sqrt(n)/s)`` (the paper's regime has ``s < p sqrt(n)``);
    ``delta = 1`` (default) is the boundary of the allowed range. For unequal widths take ``N`` the widest.
    """
    n = _check_n(n)
    L, N, p, s = _count("L", L), _count("N", N), _count("p", p), _count("s", s)
    delta = float(delta)
    if not (delta >= 0.0 and math.isfinite(delta)):
        raise ValueError(f"delta: expected a finite number >= 0, got {delta!r}")
    r = ((L + 1) * s * math.log(N) + s * math.log(max(1.0, p * math.sqrt(n) / s))) / n
    return _positive("C", C) * r * math.log(n) ** (2.0 * delta)


def edge_count(topo: Topology) -> int:
    """``S = sum_l s_l (s_{l-1} + 1)``: the non-zero weights and biases of a node-sparse network (T-1 'active' D)."""
    return topology(topo.widths, topo.s[:-1], topo.B, group_mode="active").D


def published_rates(n, topo: Topology, *, alpha: float = 1.0, delta: float = 1.0, F: float = 1.0) -> dict:
    """The four squared rates on one topology: ``{name: eps^2}`` in the order of :data:`SOURCES`.

    Mapping: ``L`` the number of hidden layers, ``N = D`` the widest hidden layer, ``p`` the inputs,
    ``s = S`` = :func:`edge_count`, ``B = max_l B_l``; ``F`` (Schmidt-Hieber's sup-norm bound) and the
    smoothness ``alpha`` (Polson & Ročková) are assumptions the topology does not fix.
    """
    S, width, p = edge_count(topo), max(topo.widths[1:-1]), topo.widths[0]
    return {
        "schmidt-hieber": schmidt_hieber_2020(n, topo.widths, S, F=F),
        "polson-rockova": polson_rockova_2018(n, p, alpha=alpha, delta=delta),
        "cherief-abdellatif": cherief_abdellatif_2020(n, topo.L, width, S, max(topo.B)),
        "bai-song-cheng": bai_song_cheng_2020(n, topo.L, width, p, S, delta=delta),
    }
