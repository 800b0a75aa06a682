"""Pinned values and equality cases for theory/ (T-1..T-16): tests that catch a wrong formula, not only a broken one.

The other theory tests check inequalities ("quantity <= bound") over random inputs. Those pass when a bound is
loosened or a rate inflated. Here every expected number is obtained independently of the code under test:

* by hand: the arithmetic is written out in the test, with the intermediate values in comments;
* with mpmath at 30 digits: quadrature, root finding, numerical minimisation and differentiation;
* from refimpl's network forward pass (not part of theory/) on the worst-case networks of (T-4).

Where a bound has a known equality or near-equality case, the test evaluates it there and checks both sides.

Tolerances (relative unless stated): 1e-12 for float64 sums of a few positive terms (round-off, about 10 ulp);
1e-10 where a quadrature or an optimiser inside the code sets the accuracy (its stated tolerance is 1e-11 or
finer); looser ones carry their own reason.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

from refimpl.activations import Activation, get_activation
from refimpl.kl import kl_lognormal_gamma, kl_lognormal_invgamma
from theory.concrete import (kl_binary_concrete, kl_binary_concrete_logit, kl_logistic_quadrature,
                             log_density_binary_concrete, sample_binary_concrete)
from theory.conjugate import elbo, log_evidence, orthogonal_posterior
from theory.entropy import entropy_bound, entropy_bound_simple, entropy_schmidt_hieber, round_to_grid
from theory.hellinger import (hellinger_bc, hellinger_integral, hellinger_lower_bound, hellinger_predictive,
                              kl_regression)
from theory.lipschitz import (SparseNet, closed_form_perturbation_bound, entrywise_perturbation_bound, forward_bound,
                              lipschitz_constant, net_forward, pruned, psi_at_zero, recursive_perturbation_bound)
from theory.prior_mass import (box_half_width, c3_constant, c3_ratio, neg_log_box_mass, random_sparse_net,
                               relevant_coordinates, selection_cost)
from theory.rates import (eps_n, eps_n_published, local_exponent, ordering_threshold, rate, theory_lambda,
                          validity_threshold)
from theory.slab_mass import (analytic_neg_log_box, box_cost, log_bessel_k, log_gl_marginal, log_interval_prob,
                              neg_log_box, slab, slab_cost)
from theory.topology import topology
from theory.variational import c4_check, c4_constant_gaussian

RELU = get_activation("relu")
IDENTITY = Activation("identity", lambda a: a, lambda a: np.ones_like(a), 1.0)
ROUND = 1e-12      # float64 round-off in short sums of positive terms (about 10 ulp)
DPS = 30           # mpmath working precision (digits) for every reference value


# =============================================================================================
# independent references (mpmath)
# =============================================================================================
def mp_log_interval_prob(w, eta, sigma):
    """``log P(|sigma Z - w| <= eta)`` from the complementary error function (upper tail, ``c = |w|``: no cancellation
    of two numbers near 1) at 40 digits."""
    with mp.workdps(40):
        c, eta, sigma = abs(mp.mpf(w)), mp.mpf(eta), mp.mpf(sigma)
        return mp.log((mp.erfc((c - eta) / (sigma * mp.sqrt(2))) - mp.erfc((c + eta) / (sigma * mp.sqrt(2)))) / 2)


def mp_gl_log_density(r, m, M, sigma0, lam):
    """``log p_m`` at ``||w||_2 = r``: the SS-GL scale mixture ``int Gamma(t2; (M+1)/2, rate lam^2/2)
    N_m(w; 0, sigma0^2 t2 I) dt2`` by tanh-sinh quadrature (nothing from theory.slab_mass)."""
    with mp.workdps(DPS):
        r, sigma0, lam = mp.mpf(r), mp.mpf(sigma0), mp.mpf(lam)
        a, b = mp.mpf(M + 1) / 2, lam ** 2 / 2

        def f(t2):
            return (b ** a / mp.gamma(a) * t2 ** (a - 1) * mp.exp(-b * t2)
                    * (2 * mp.pi * sigma0 ** 2 * t2) ** (-mp.mpf(m) / 2) * mp.exp(-r ** 2 / (2 * sigma0 ** 2 * t2)))

        peak = r * sigma0 / lam          # where the two exponentials balance: splits the range for the quadrature
        return mp.log(mp.quad(f, [0, peak / 4, peak, 4 * peak, mp.inf]))


def mp_gl_cost(m, M, r, sigma0, lam):
    """(T-7) SS-GL ``cost(r) = -m log 2 - log p_m(sqrt(m) r)``."""
    with mp.workdps(DPS):
        return -m * mp.log(2) - mp_gl_log_density(mp.sqrt(m) * r, m, M, sigma0, lam)


def mp_ghs_cost(m, r, sigma0=1.0, s_glob=1.0, c=math.inf):
    """(T-7) SS-GHS ``min_{b0} m log(sqrt(2 pi) b0) + (m r^2/2)(1/b0^2 + 1/(sigma0 c)^2) - log P(tau in [x, 2x])``,
    ``x = b0/(sigma0 s)``, ``P(tau in [x, 2x]) = (2/pi)(atan 2x - atan x)`` for ``tau ~ C+(0, 1)``: the minimiser is
    located on a grid over log b0 in [-12, 12] and refined by mpmath's root finder on the derivative."""
    with mp.workdps(DPS):
        reg = 0 if math.isinf(c) else 1 / (mp.mpf(sigma0) * c) ** 2

        def g(u):
            b0 = mp.exp(u)
            x = b0 / (mp.mpf(sigma0) * s_glob)
            prob = 2 / mp.pi * (mp.atan(2 * x) - mp.atan(x))
            return m * mp.log(mp.sqrt(2 * mp.pi) * b0) + m * mp.mpf(r) ** 2 / 2 * (1 / b0 ** 2 + reg) - mp.log(prob)

        grid = [mp.mpf(u) / 100 for u in range(-1200, 1201)]
        u0 = min(grid, key=g)
        u_star = mp.findroot(lambda u: mp.diff(g, u), u0)
        return g(u_star)


def lambda_by_hand_111(B, B_prime=None, lipschitz=1.0):
    """(T-4) Lambda for widths [1, 1, 1] (one input, one hidden node, one output), theta's bound ``B`` and theta''s
    ``B_prime``: c'_1 = L_psi B' (1 + 1); sum = (1 + 1) L_psi (1 B 1) + (1 c'_1 + 1)."""
    B_prime = B if B_prime is None else B_prime
    return 2 * lipschitz * B + (2 * lipschitz * B_prime + 1)


# =============================================================================================
# (T-1) topology
# =============================================================================================
def test_topology_counts_by_hand():
    """docs/theory.md (T-1) for the contraction experiment's teacher [4, 8, 8, 1], s = (3, 2)."""
    full = topology([4, 8, 8, 1], [3, 2], 1.5)
    assert (full.L, full.k, full.s) == (2, (8, 8, 1), (3, 2, 1))
    assert (full.a, full.m, full.M) == ((4, 8, 8), (5, 9, 9), (5, 9, 9))
    assert full.D == 3 * 5 + 2 * 9 + 1 * 9 == 42                     # "D = 42 in 'full' group mode"
    act = topology([4, 8, 8, 1], [3, 2], [1.0, 2.0, 3.0], group_mode="active")
    assert (act.a, act.m, act.M) == ((4, 3, 2), (5, 4, 3), (5, 9, 9))
    assert act.D == 3 * 5 + 2 * 4 + 1 * 3 == 26
    other = act.with_bounds(0.0)                                     # B = 0 and s_l = k_l are allowed
    assert other.B == (0.0, 0.0, 0.0) and other.group_mode == "active" and other.s == act.s
    assert topology([2, 3, 1], [3], 0.0).s == (3, 1)


# =============================================================================================
# (T-2..T-4) forward and perturbation bounds
# =============================================================================================
def test_forward_bound_by_hand():
    """c_1 = |psi(0)| + L_psi B_1 (a_1 c_0 + 1), c_2 = B_2 (a_2 c_1 + 1) (no activation on the output)."""
    full = topology([2, 3, 1], [2], [1.5, 0.5])
    # c_1 = 0.3 + 2 * 1.5 * (2 * 1 + 1) = 9.3; c_2 = 0.5 * (3 * 9.3 + 1) = 14.45
    assert forward_bound(full, lipschitz=2.0, psi0=-0.3) == pytest.approx((1.0, 9.3, 14.45), rel=ROUND)
    # 'active': a_2 = s_1 = 2, c_2 = 0.5 * (2 * 9.3 + 1) = 9.8
    act = topology([2, 3, 1], [2], [1.5, 0.5], group_mode="active")
    assert forward_bound(act, lipschitz=2.0, psi0=0.3) == pytest.approx((1.0, 9.3, 9.8), rel=ROUND)


def test_recursive_bound_by_hand():
    """(T-3) on explicit matrices with L_psi = 2, psi(0) = 0.5; ``W`` is theta's, ``c'`` theta''s (roles mixed)."""
    z = (np.array([True, True]),)
    net = SparseNet((np.array([[1.0, -2.0], [0.5, 1.0]]), np.array([[1.0], [-1.0]])),
                    (np.array([0.1, -0.2]), np.array([0.3])), z)
    net_p = SparseNet((np.array([[1.1, -2.0], [0.5, 0.8]]), np.array([[1.5], [-1.0]])),
                      (np.array([0.1, -0.15]), np.array([0.3])), z)
    # ||W||_{inf->inf} is the largest column l1 norm: ||W_1|| = 3, ||W_1 - W_1'|| = 0.2, ||b_1 - b_1'|| = 0.05
    # delta_1 = 2 (3 * 0 + 0.2 * 1 + 0.05) = 0.5;  c'_1 = 0.5 + 2 (||W_1'|| = 2.8 + max|b_1'| = 0.15) = 6.4
    # delta_2 = 1 * (||W_2|| = 2 * 0.5 + ||W_2 - W_2'|| = 0.5 * 6.4 + 0) = 4.2
    assert recursive_perturbation_bound(net, net_p, lipschitz=2.0, psi0=0.5) == pytest.approx(4.2, rel=ROUND)


def test_entrywise_bound_and_lambda_by_hand():
    """(T-4) with per-layer B and eta, L_psi = 2, psi(0) = 0.25, 'active' mode: a = (2, 2, 1), g = (2, 2, 1)."""
    topo = topology([2, 3, 2, 1], [2, 1], [1.5, 0.5, 2.0], group_mode="active")
    # c' from B + eta = (1.6, 0.7, 2.3): c'_1 = 0.25 + 2 * 1.6 * 3 = 9.85,
    # c'_2 = 0.25 + 2 * 0.7 * (2 * 9.85 + 1) = 29.23
    # l = 1: 0.1 * (2 * 1 + 1) * 2 * (2 * 0.5 * 2) * (1 * 2.0 * 1) = 2.4
    # l = 2: 0.2 * (2 * 9.85 + 1) * 2 * (1 * 2.0 * 1) = 16.56;   l = 3: 0.3 * (1 * 29.23 + 1) = 9.069
    got = entrywise_perturbation_bound(topo, [0.1, 0.2, 0.3], lipschitz=2.0, psi0=0.25)
    assert got == pytest.approx(2.4 + 16.56 + 9.069, rel=ROUND)
    # Lambda(B): eta = 1 and c from B itself: c_1 = 0.25 + 2 * 1.5 * 3 = 9.25, c_2 = 0.25 + 2 * 0.5 * 19.5 = 19.75
    # 1 * 3 * 2 * 4 + 1 * 19.5 * 2 * 2 + 1 * 20.75 = 24 + 78 + 20.75
    assert lipschitz_constant(topo, lipschitz=2.0, psi0=0.25) == pytest.approx(122.75, rel=ROUND)
    # a scalar eta means the same eta in every layer; B_prime overrides B + eta
    assert entrywise_perturbation_bound(topo, 0.2, lipschitz=2.0, psi0=0.25) == pytest.approx(
        entrywise_perturbation_bound(topo, [0.2, 0.2, 0.2], lipschitz=2.0, psi0=0.25), rel=ROUND)
    assert entrywise_perturbation_bound(topo, 1.0, lipschitz=2.0, psi0=0.25, B_prime=topo.B) == pytest.approx(
        122.75, rel=ROUND)
    # widths [1, 1, 1], L_psi = 1: Lambda(B, B') = 2 B + 2 B' + 1
    assert lipschitz_constant(topology([1, 1, 1], [1], 3.0)) == pytest.approx(lambda_by_hand_111(3.0), rel=ROUND)


def test_closed_form_bound_by_hand():
    """eta (L+1) (max(1, L_psi) max(1, max_l B_l + eta))^L prod_l (a_l + 1)."""
    assert closed_form_perturbation_bound(topology([2, 3, 1], [2], 1.0), 0.5) == pytest.approx(
        0.5 * 2 * 1.5 * (3 * 4), rel=ROUND)                          # = 18 >= the entrywise 11.75
    assert closed_form_perturbation_bound(topology([2, 3, 1], [2], 0.5), 0.1, lipschitz=2.0) == pytest.approx(
        0.1 * 2 * (2.0 * 1.0) * (3 * 4), rel=ROUND)                  # max(1, 0.6) = 1
    assert closed_form_perturbation_bound(topology([2, 3, 4, 1], [2, 2], [3.0, 1.0, 2.0]), 0.5,
                                          lipschitz=0.5) == pytest.approx(0.5 * 3 * 3.5 ** 2 * (3 * 4 * 5), rel=ROUND)


def constant_net(widths, active, B, eta):
    """The worst case of (T-4): the first ``s_l`` nodes of hidden layer l active, every relevant weight and bias
    of layer l equal to ``B_l + eta_l`` (relevant rows: all inputs for layer 1, the active nodes after), every
    other entry 0. With ReLU at ``x = 1`` every pre-activation is positive and each step of (T-3) is an equality."""
    s = list(active) + [widths[-1]]
    W, b, z = [], [], []
    for l in range(len(widths) - 1):
        rows = widths[0] if l == 0 else s[l - 1]
        w = np.zeros((widths[l], widths[l + 1]))
        w[:rows, :s[l]] = B[l] + eta[l]
        v = np.zeros(widths[l + 1])
        v[:s[l]] = B[l] + eta[l]
        W.append(w)
        b.append(v)
        if l < len(widths) - 2:
            z.append(np.arange(widths[l + 1]) < s[l])
    return SparseNet(tuple(W), tuple(b), tuple(z))


@pytest.mark.parametrize("widths,active,B,eta", [
    ([3, 4, 5, 2], [2, 3], [0.5, 1.5, 2.0], [0.1, 0.05, 0.3]),
    ([2, 3, 1], [3], [1.0, 1.0], [0.5, 0.5]),
    ([1, 6, 2, 3, 1], [2, 2, 1], [20.0, 0.3, 1.0, 4.0], [1e-3, 0.2, 0.0, 0.7]),
])
def test_worst_case_attains_the_recursive_entrywise_and_forward_bounds(widths, active, B, eta):
    """Two-sided (T-2..T-4): on the worst case, f_theta'(1) - f_theta(1) from refimpl's forward pass equals the
    recursive and the entrywise bounds ('active' mode: a_l = s_{l-1}), and every hidden output of theta' equals c_l."""
    topo = topology(widths, active, B, group_mode="active")
    net, net_p = constant_net(widths, active, B, [0.0] * len(B)), constant_net(widths, active, B, eta)
    x = np.ones((1, widths[0]))
    diff = net_forward(net_p, x, RELU) - net_forward(net, x, RELU)
    bound = entrywise_perturbation_bound(topo, eta)
    # f and f' are at most ~1/eta_min times the difference: round-off 1e-16 x 1e3 x a few terms
    assert np.all(diff == pytest.approx(bound, rel=1e-11))
    assert recursive_perturbation_bound(net, net_p) == pytest.approx(bound, rel=1e-11)
    c = forward_bound(topo.with_bounds([b + e for b, e in zip(B, eta)]))
    h = x
    for l, (W, v) in enumerate(zip(net_p.W, net_p.b)):
        h = h @ W + v
        h = np.maximum(h, 0.0) if l < topo.L else h
        on = (list(active) + [widths[-1]])[l]
        assert np.all(h[0, :on] == pytest.approx(c[l + 1], rel=ROUND))


def test_pruned_and_psi_at_zero():
    """``pruned`` zeroes a masked node's incoming group, and its outgoing weights only when psi(0) = 0."""
    net = SparseNet((np.ones((2, 3)), np.ones((3, 1))), (np.ones(3), np.ones(1)), (np.array([True, False, True]),))
    p0, p1 = pruned(net), pruned(net, psi0=0.5)
    for p in (p0, p1):
        assert np.all(p.W[0][:, 1] == 0.0) and p.b[0][1] == 0.0 and np.all(p.W[0][:, [0, 2]] == 1.0)
        assert p.b[1][0] == 1.0 and np.all(net.W[0] == 1.0)         # the input is not modified
    assert p0.W[1][:, 0].tolist() == [1.0, 0.0, 1.0] and p1.W[1][:, 0].tolist() == [1.0, 1.0, 1.0]
    assert psi_at_zero(RELU) == 0.0 and psi_at_zero(get_activation("silu")) == 0.0
    softplus = Activation("softplus", lambda a: np.logaddexp(0.0, a), None, 1.0)
    assert psi_at_zero(softplus) == pytest.approx(math.log(2.0), rel=ROUND)


# =============================================================================================
# (T-5) entropy
# =============================================================================================
def test_entropy_bounds_by_hand():
    """widths [2, 3, 1], s_1 = 2, B = (1, 0.5), 'full': a = (2, 3), m = (3, 4), D = 2 * 3 + 1 * 4 = 10;
    Lambda(B) = (2 + 1) * (3 * 0.5) + (3 * 3 + 1) = 14.5 with c_1 = 3."""
    topo = topology([2, 3, 1], [2], [1.0, 0.5])
    assert lipschitz_constant(topo) == pytest.approx(14.5, rel=ROUND)
    # log C(3, 2) + s_1 m_1 log ceil(1 * 14.5 / 0.3 = 48.3) + s_2 m_2 log ceil(0.5 * 14.5 / 0.3 = 24.2)
    assert entropy_bound(topo, 0.3) == pytest.approx(math.log(3) + 6 * math.log(49) + 4 * math.log(25), rel=ROUND)
    # s_1 log(e k_1 / s_1) + D [log 2 + log(Bbar Lambda) + log(1 / delta)], Bbar = max(1, 1, 0.5) = 1
    simple = 2 * math.log(3 * math.e / 2) + 10 * (math.log(2) + math.log(14.5) + math.log(1 / 0.3))
    assert entropy_bound_simple(topo, 0.3) == pytest.approx(simple, rel=ROUND)
    # Bbar = 2 when B_1 = 2: Lambda = 3 * 1.5 + (3 * c_1 + 1), c_1 = 2 * 3 = 6, so Lambda = 23.5
    big = topology([2, 3, 1], [2], [2.0, 0.5])
    simple_big = 2 * math.log(3 * math.e / 2) + 10 * (math.log(2) + math.log(2 * 23.5) + math.log(1 / 0.3))
    assert entropy_bound_simple(big, 0.3) == pytest.approx(simple_big, rel=ROUND)
    # a layer with B = 0 has one grid point (log 1 = 0): Lambda = 3 * 0 + 10 = 10, ceil(10 / 0.3) = 34
    zero = topology([2, 3, 1], [2], [1.0, 0.0])
    assert entropy_bound(zero, 0.3) == pytest.approx(math.log(3) + 6 * math.log(34), rel=ROUND)
    # L_psi = 2 doubles c_1 and the hidden layer's slope: Lambda = 3 * 2 * 1.5 + (3 * 6 + 1) = 28
    assert entropy_bound(topo, 0.3, lipschitz=2.0) == pytest.approx(
        math.log(3) + 6 * math.log(math.ceil(28 / 0.3)) + 4 * math.log(math.ceil(14 / 0.3)), rel=ROUND)
    assert entropy_bound_simple(topo, 0.3, lipschitz=2.0) == pytest.approx(
        2 * math.log(3 * math.e / 2) + 10 * (math.log(2) + math.log(28) + math.log(1 / 0.3)), rel=ROUND)
    # two hidden layers [2, 3, 4, 1], s = (2, 1), B = 1, 'full': a = (2, 3, 4), m = (3, 4, 5), D = 6 + 4 + 5 = 15;
    # c_1 = 3, c_2 = 3 * 3 + 1 = 10; Lambda = 3 * (3 * 4) + (3 * 3 + 1) * 4 + (4 * 10 + 1) = 36 + 40 + 41 = 117
    deep = topology([2, 3, 4, 1], [2, 1], 1.0)
    assert entropy_bound(deep, 0.5) == pytest.approx(math.log(3) + math.log(4) + 15 * math.log(234), rel=ROUND)
    assert entropy_bound_simple(deep, 0.5) == pytest.approx(
        2 * math.log(3 * math.e / 2) + math.log(4 * math.e) + 15 * (math.log(2) + math.log(117) + math.log(2)),
        rel=ROUND)
    # Schmidt-Hieber: (s_edge + 1) log(2 delta^-1 (L + 1) V^2), V = (2 + 1)(3 + 1)(1 + 1) = 24
    assert entropy_schmidt_hieber([2, 3, 1], 10, 0.3) == pytest.approx(11 * math.log(2 / 0.3 * 2 * 24 ** 2), rel=ROUND)


def test_round_to_grid_by_hand():
    """B = 1, eta = 0.3: ceil(1/0.3) = 4 points -1 + 0.3 (2 j + 1) = -0.7, -0.1, 0.5, 1.1 -> clipped to 1."""
    values = np.array([-1.0, -0.45, 0.0, 0.25, 0.95, 1.0])
    z = (np.array([True, True, True, False, True, True]),)
    net = SparseNet((values[None, :], values[:, None]), (values.copy(), np.array([0.25])), z)
    q = round_to_grid(net, topology([1, 6, 1], [5], 1.0), 0.3)
    expected = np.array([-0.7, -0.7, -0.1, 0.0, 1.0, 1.0])           # node 3 is masked: zeroed by pruned()
    np.testing.assert_allclose(q.W[0][0], expected, rtol=0, atol=ROUND)
    np.testing.assert_allclose(q.b[0], expected, rtol=0, atol=ROUND)
    np.testing.assert_allclose(q.W[1][:, 0], expected, rtol=0, atol=ROUND)
    assert q.b[1][0] == pytest.approx(0.5, abs=ROUND)
    kept = round_to_grid(net, topology([1, 6, 1], [5], 1.0), 0.3, psi0=0.5)    # psi(0) != 0: outgoing weights stay
    assert kept.W[1][3, 0] == pytest.approx(0.5, abs=ROUND) and kept.W[0][0, 3] == 0.0
    # two-sided on a fine sweep of [-B, B]: exactly ceil(B/eta) values, and the largest move is eta, attained at
    # a = -B (min(eta, 2B) when a single clipped point is left)
    for B, eta, largest in [(1.0, 0.3, 0.3), (2.5, 0.7, 0.7), (0.4, 1.0, 0.8), (1.0, 0.25, 0.25)]:   # B/eta = 4: a = B
        # lands exactly on the last cell's upper edge
        a = np.linspace(-B, B, 20001)
        sweep = SparseNet((a[None, :],), (np.zeros(a.size),), ())
        qa = round_to_grid(sweep, topology([1, a.size, 1], [a.size], B), eta).W[0][0]
        assert np.unique(np.round(qa, 12)).size == math.ceil(B / eta)
        assert np.max(np.abs(qa - a)) == pytest.approx(largest, rel=ROUND)
        assert np.all(np.abs(qa) <= B)


# =============================================================================================
# (T-6, T-7) box mass of one group, the analytic bound and the slab cost
# =============================================================================================
def test_box_mass_gaussian_slab_against_erf():
    """(T-6) ss-ig: Phi = -sum_i log P(|sigma0 Z - w_i| <= eta), the reference from mpmath's erf."""
    w, eta, sigma0 = np.array([[0.0, 1.3, -2.7, 6.0]]), 0.05, 0.8
    phi, err = neg_log_box(w, eta, slab("ss-ig", sigma0=sigma0))
    ref = -sum(mp_log_interval_prob(v, eta, sigma0) for v in w[0])
    assert phi[0] == pytest.approx(float(ref), rel=1e-12) and err[0] == 0.0     # closed form: no error estimate
    assert neg_log_box(w, eta, "ss-gl")[0][0] == neg_log_box(w, eta, slab("ss-gl"))[0][0]    # a prior name: defaults
    for bad in (0.0, -0.1, math.inf):
        with pytest.raises(ValueError, match="eta: expected a finite box half-width > 0"):
            neg_log_box(w, bad, slab("ss-gl"))


def test_log_interval_prob_against_erf_to_round_off():
    """log P(|scale Z - w| <= eta) on both branches and at their border h (c + h) = 1 (h = eta/scale, c = |w|/scale),
    to 3e-15 absolute: the Gauss-Legendre rule is exact to ~1e-19 on the narrow branch and the reflected log_ndtr
    difference loses nothing on the wide one (10-point Gauss-Legendre at h (c + h) = 1.96 would be off by 3e-13).
    Broadcasting: w and eta arrays give the broadcast shape; float32 inputs are computed in float64."""
    cases = [(0.0, 1.4, 1.0), (0.0, 0.99, 1.0), (1.5, 0.7, 1.0), (-2.0, 0.3, 0.5), (9.0, 1e-6, 1.0), (0.4, 0.6, 0.8),
             (3.0, 2.0, 1.5)]
    for w, eta, scale in cases:
        got = float(log_interval_prob(np.array([w]), eta, scale)[0])
        assert got == pytest.approx(float(mp_log_interval_prob(w, eta, scale)), abs=3e-15, rel=3e-15)
    etas = np.array([0.05, 0.5, 2.0])
    grid = log_interval_prob(0.7, etas, 1.2)
    assert grid.shape == (3,)
    for e, g in zip(etas, grid):
        assert g == pytest.approx(float(mp_log_interval_prob(0.7, e, 1.2)), abs=3e-15, rel=3e-15)
    w32 = np.array([0.3, -1.7], dtype=np.float32)
    got32 = log_interval_prob(w32, np.float32(0.1), 1.0)
    assert got32.dtype == np.float64
    np.testing.assert_array_equal(got32, log_interval_prob(w32.astype(np.float64), float(np.float32(0.1)), 1.0))


@pytest.mark.parametrize("m,r,sigma0", [(3, 1.7, 0.8), (1, 1.0, 1.0), (5, 0.2, 2.0)])
def test_gaussian_slab_cost_by_hand(m, r, sigma0):
    """(T-7) ss-ig cost(r) = m log(sigma0 sqrt(2 pi) / 2) + m r^2 / (2 sigma0^2); beta = max(0, cost(B + 1))."""
    sl = slab("ss-ig", sigma0=sigma0)
    cost = m * math.log(sigma0 * math.sqrt(2 * math.pi) / 2) + m * r * r / (2 * sigma0 ** 2)
    assert box_cost(m, r, sl) == pytest.approx(cost, rel=ROUND)
    assert analytic_neg_log_box(m, 0.01, r - 0.01, sl) == pytest.approx(m * math.log(100) + cost, rel=ROUND)
    B = r - 1.0                         # cost(B + 1) = cost(r); at m = 1, r = 1, sigma0 = 1 it is 0.726 < 1
    assert slab_cost(m, B, sl) == pytest.approx(max(0.0, cost), rel=ROUND)


@pytest.mark.parametrize("m,M,r,sigma0,lam", [(2, 2, 1.3, 0.7, 2.0), (2, 5, 1.3, 0.7, 2.0), (3, 9, 2.5, 1.0, 1.0),
                                             (1, 1, 0.8, 1.5, 0.5)])
def test_group_lasso_cost_against_quadrature(m, M, r, sigma0, lam):
    """(T-7) ss-gl cost(r) = -m log 2 - log p_m(sqrt(m) r), p_m from the scale mixture by mpmath quadrature."""
    sl = slab("ss-gl", sigma0=sigma0, lam_gl=lam)
    assert box_cost(m, r, sl, M=M) == pytest.approx(float(mp_gl_cost(m, M, r, sigma0, lam)), rel=1e-10)
    assert log_gl_marginal(r, m, M, sigma0, lam) == pytest.approx(float(mp_gl_log_density(r, m, M, sigma0, lam)),
                                                                  rel=1e-10)


def test_group_lasso_slab_cost_envelope():
    """(T-7) 'active' mode (m < M): beta is max over M' in [m, M] of cost(m, M'). The docstring's example: m = 2,
    B = 3, lam = 2, widening M = 2 -> 3 lowers the plain cost by 0.78 nats; the envelope keeps the M = 2 value."""
    sl = slab("ss-gl", lam_gl=2.0)
    c2, c3 = float(mp_gl_cost(2, 2, 4.0, 1.0, 2.0)), float(mp_gl_cost(2, 3, 4.0, 1.0, 2.0))
    assert c2 - c3 == pytest.approx(0.78, abs=0.005)                  # printed to two decimals
    assert slab_cost(2, 3.0, sl, M=3) == pytest.approx(c2, rel=1e-10)
    assert slab_cost(2, 3.0, sl, M=2) == pytest.approx(c2, rel=1e-10)


@pytest.mark.parametrize("m,r,sigma0,s_glob,c", [(1, 1.5, 1.0, 1.0, math.inf), (4, 3.0, 0.7, 0.3, math.inf),
                                                 (3, 2.0, 1.0, 1.0, 1.5), (2, 0.05, 1.0, 2.0, math.inf)])
def test_horseshoe_cost_against_mpmath_minimum(m, r, sigma0, s_glob, c):
    """(T-7) ss-ghs: the code's bounded Brent minimum against mpmath's minimiser. Two-sided: every b0 gives a
    valid bound, so the code cannot go below the true minimum (round-off aside), and Brent's xatol = 1e-10 on
    log b0 puts it within ~1e-18 of it."""
    sl = slab("ss-ghs", sigma0=sigma0, s_glob=s_glob, c=None if math.isinf(c) else c)
    ref = float(mp_ghs_cost(m, r, sigma0, s_glob, c))
    got = box_cost(m, r, sl)
    assert ref - ROUND * abs(ref) <= got <= ref + 1e-10 * max(1.0, abs(ref))


def test_half_cauchy_interval_probability_through_the_horseshoe_cost():
    """P(tau in [x, 2x]) = (2/pi)(atan 2x - atan x) enters cost(r) as -log P: at b0 = r = sigma0 s = 1 the bound is
    m log sqrt(2 pi) + m/2 - log P(tau in [1, 2]) and the minimum is at most that (a factor 2 in P moves it by
    log 2)."""
    sl = slab("ss-ghs")
    at_one = 2 * math.log(math.sqrt(2 * math.pi)) + 1.0 - math.log(2 / math.pi * (math.atan(2.0) - math.atan(1.0)))
    got = box_cost(2, 1.0, sl)
    assert got <= at_one * (1 + ROUND) and got == pytest.approx(float(mp_ghs_cost(2, 1.0)), rel=1e-10)


@pytest.mark.parametrize("nu,z", [(1.5, 2.0), (0.5, 1e-3), (400.0, 0.05), (120.0, 1e-3), (60.0, 1e-3), (3.0, 800.0)])
def test_log_bessel_k_against_mpmath(nu, z):
    """log K_nu(z), including the integral fallback where scipy's kve overflows (nu = 400, z = 0.05: K ~ e^3470;
    nu = 120, z = 1e-3: K ~ e^1365, its peak at t = asinh(nu / z) = 12.4).
    The fallback's 200001-point trapezoid is spectrally accurate (even, decaying integrand): 1e-10 relative."""
    with mp.workdps(DPS):
        ref = float(mp.log(mp.besselk(nu, z)))
    assert log_bessel_k(nu, z) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("m,B,sigma0", [(3, 2.0, 1.0), (1, 0.5, 0.6), (4, 4.0, 2.0)])
def test_gaussian_box_bound_is_tight_for_small_eta(m, B, sigma0):
    """Two-sided (T-7), ss-ig, w at the corner B: the density on [B - eta, B + eta] lies between phi((B + eta)/sigma0)
    and phi((B - eta)/sigma0), so 0 <= bound - Phi <= m ((B + eta)^2 - (B - eta)^2) / (2 sigma0^2)
    = 2 m B eta / sigma0^2."""
    sl, eta = slab("ss-ig", sigma0=sigma0), 1e-4
    phi = float(neg_log_box(np.full((1, m), B), eta, sl)[0][0])
    gap = analytic_neg_log_box(m, eta, B, sl) - phi
    assert -ROUND * phi <= gap <= 2 * m * B * eta / sigma0 ** 2 * (1 + 1e-6)    # 1e-6: Phi's round-off over the gap


@pytest.mark.parametrize("m,B,sigma0,lam", [(2, 1.0, 1.0, 1.0), (3, 2.0, 0.7, 2.0)])
def test_group_lasso_box_bound_is_tight_for_small_eta(m, B, sigma0, lam):
    """Two-sided (T-7), ss-gl with m = M (multivariate Laplace, density ~ exp(-lam ||w|| / sigma0)), w at the corner:
    on the box ||w||_2 lies in sqrt(m) [B - eta, B + eta], so 0 <= bound - Phi <= lam 2 sqrt(m) eta / sigma0."""
    sl, eta = slab("ss-gl", sigma0=sigma0, lam_gl=lam), 1e-4
    phi, err = neg_log_box(np.full((1, m), B), eta, sl)
    gap = analytic_neg_log_box(m, eta, B, sl) - float(phi[0])
    # 10 x the quadrature's error estimate (as in test_exact_box_mass_below_analytic_bound) on both sides
    assert -10 * err[0] <= gap <= lam * 2 * math.sqrt(m) * eta / sigma0 + 10 * err[0]


# =============================================================================================
# (T-8, T-9) the network box, selection cost and C3
# =============================================================================================
def test_relevant_coordinates_by_hand():
    """(T-8) rows: every input for layer 1, the active nodes of the previous layer in 'active' mode; columns: the
    active nodes; the bias last."""
    W1, W2, W3 = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2) + 10, np.array([[20.0], [21.0]])
    net = SparseNet((W1, W2, W3), (np.array([-1.0, -2.0, -3.0]), np.array([-4.0, -5.0]), np.array([-6.0])),
                    (np.array([True, False, True]), np.array([False, True])))
    act = relevant_coordinates(net, topology([2, 3, 2, 1], [2, 1], 30.0, group_mode="active"))
    np.testing.assert_array_equal(act[0], [[0.0, 3.0, -1.0], [2.0, 5.0, -3.0]])
    np.testing.assert_array_equal(act[1], [[11.0, 15.0, -5.0]])
    np.testing.assert_array_equal(act[2], [[21.0, -6.0]])
    full = relevant_coordinates(net, topology([2, 3, 2, 1], [2, 1], 30.0))
    np.testing.assert_array_equal(full[1], [[11.0, 13.0, 15.0, -5.0]])
    np.testing.assert_array_equal(full[2], [[20.0, 21.0, -6.0]])


def test_selection_cost_by_hand():
    """(T-8) sum_l s_l log(1/lambda_l) + (k_l - s_l) log(1/(1 - lambda_l)),
    log(1/lambda_l) = log k_l + kappa m_l log n."""
    n, kappa = 1000.0, 0.1
    with mp.workdps(DPS):
        def cost(k, s, m):
            log_inv = mp.log(k) + kappa * m * mp.log(n)
            return s * log_inv - (k - s) * mp.log(1 - mp.exp(-log_inv))
        active = float(cost(8, 3, 5) + cost(8, 2, 4))           # 'active': m = (p + 1, s_1 + 1) = (5, 4)
        full = float(cost(8, 3, 5) + cost(8, 2, 9))             # 'full':   m = (p + 1, k_1 + 1) = (5, 9)
    assert selection_cost(topology([4, 8, 8, 1], [3, 2], 1.0, group_mode="active"), n, kappa) == pytest.approx(
        active, rel=ROUND)
    assert selection_cost(topology([4, 8, 8, 1], [3, 2], 1.0), n, kappa) == pytest.approx(full, rel=ROUND)


def test_box_half_width_by_hand():
    """(T-8) eta = min(1, eps sigma_e sqrt 2 / Lambda(B + 1)); [1, 1, 1]: Lambda(B + 1) = 4 B + 5."""
    topo = topology([1, 1, 1], [1], 20.0)
    assert box_half_width(0.5, topo, sigma_e=0.8) == pytest.approx(0.5 * 0.8 * math.sqrt(2) / 85, rel=ROUND)
    assert box_half_width(0.5, topo, sigma_e=0.8, lipschitz=0.5) == pytest.approx(
        0.5 * 0.8 * math.sqrt(2) / lambda_by_hand_111(21.0, lipschitz=0.5), rel=ROUND)
    assert box_half_width(1e3, topo) == 1.0
    assert box_half_width(0.5, topo) == pytest.approx(0.5 * math.sqrt(2) / 85, rel=ROUND)          # sigma_e = 1


@pytest.mark.parametrize("B,eps,sigma_e", [(20.0, 0.5, 0.8), (50.0, 0.05, 2.0)])
def test_box_containment_worst_case(B, eps, sigma_e):
    """Two-sided (T-8): theta* at the corner (every entry B), theta = theta* + eta on every coordinate, ReLU, x = 1.
    Then f_theta - f_theta* = eta Lambda(B, B + eta) = eta (4 B + 1 + 2 eta) exactly, which must not exceed
    eps sigma_e sqrt 2 = eta (4 B + 5) and comes within (4 B + 1)/(4 B + 5) >= 0.95 of it for B >= 20: random
    perturbations reach 0.18 at most, so only this case sees a box that is too wide by a constant factor."""
    topo = topology([1, 1, 1], [1], B)
    eta = box_half_width(eps, topo, sigma_e=sigma_e)
    star = constant_net([1, 1, 1], [1], [B, B], [0.0, 0.0])
    moved = constant_net([1, 1, 1], [1], [B, B], [eta, eta])
    diff = float((net_forward(moved, np.ones((1, 1)), RELU) - net_forward(star, np.ones((1, 1)), RELU))[0, 0])
    radius = eps * sigma_e * math.sqrt(2)
    assert diff == pytest.approx(eta * (4 * B + 1 + 2 * eta), rel=1e-10)   # f ~ 2 B^2 against diff ~ 4 B eta
    assert 0.95 * radius <= diff <= radius * (1 + ROUND)


def test_c3_constant_by_hand():
    """(T-9) C_3 = max(1, 1/2 + kappa) + log+(1/(sigma_e sqrt 2)) / log n."""
    assert c3_constant(0.1, 0.5, 1000.0) == pytest.approx(1 + math.log(math.sqrt(2)) / math.log(1000), rel=ROUND)
    assert c3_constant(0.8, 1.0, 50.0) == pytest.approx(1.3, rel=ROUND)          # sigma_e sqrt 2 > 1: no log term
    assert c3_constant(0.3, 2.0, 50.0) == pytest.approx(1.0, rel=ROUND)


@pytest.mark.parametrize("kappa,sigma_e,lip", [(0.3, 0.6, 1.0), (None, None, None), (0.9, 0.5, 0.5)])
def test_c3_ratio_by_hand(kappa, sigma_e, lip):
    """(T-9) the whole chain for ss-ig on [2, 3, 1], s_1 = 2, B = 0.5, 'active' (a = (2, 2), m = (3, 3), D = 9),
    n = 5000, sigma0 = 1: Lambda(B + 1 = 1.5) = (2 + 1) L (2 * 1.5) + (2 c_1 + 1) with c_1 = 1.5 L (2 + 1), i.e.
    18 L + 1 (19 for L_psi = 1). ``None``: the defaults kappa = 0.1, sigma_e = 1, L_psi = 1, exact = True."""
    topo = topology([2, 3, 1], [2], 0.5, group_mode="active")
    theta = [np.array([[0.5, -0.2, 0.1], [0.0, 0.3, -0.5]]), np.array([[0.4, -0.4, 0.25]])]
    n = 5000.0
    kw = {} if kappa is None else dict(kappa=kappa, sigma_e=sigma_e, lipschitz=lip)
    kappa, sigma_e, lip = (0.1, 1.0, 1.0) if kappa is None else (kappa, sigma_e, lip)
    lam = 18 * lip + 1
    beta = 3 * (math.log(math.sqrt(2 * math.pi) / 2) + 1.5 ** 2 / 2)       # per group, m = 3, B + 1 = 1.5
    n_eps2 = 9 * (math.log(n) + math.log(lam)) + 2 * (1 + math.log(3)) + 3 * beta
    eta = min(1.0, math.sqrt(n_eps2 / n) * sigma_e * math.sqrt(2) / lam)
    with mp.workdps(DPS):
        log_inv = mp.log(3) + kappa * 3 * mp.log(n)
        selection = float(2 * log_inv - mp.log(1 - mp.exp(-log_inv)))
        phi = -float(sum(mp_log_interval_prob(v, eta, 1.0) for w in theta for v in w.ravel()))
    analytic = 3 * (3 * math.log(1 / eta) + 3 * math.log(math.sqrt(2 * math.pi) / 2) + 3 * (0.5 + eta) ** 2 / 2)
    res = c3_ratio(n, topo, slab("ss-ig"), theta, **kw)
    assert res.rate.n * res.rate.eps2 == pytest.approx(n_eps2, rel=ROUND)
    assert res.mass.eta == pytest.approx(eta, rel=ROUND)
    assert res.R == pytest.approx((selection + phi) / n_eps2, rel=1e-12)
    assert res.R_analytic == pytest.approx((selection + analytic) / n_eps2, rel=ROUND)
    C3 = max(1.0, 0.5 + kappa) + max(0.0, math.log(1 / (sigma_e * math.sqrt(2)))) / math.log(n)
    assert res.constant == pytest.approx(C3, rel=ROUND)
    assert res.R <= res.R_analytic <= C3
    mass = neg_log_box_mass(theta, topo, slab("ss-ig"), eta, n=n, kappa=kappa, exact=False)
    assert math.isnan(mass.slab) and mass.total_analytic == pytest.approx(selection + analytic, rel=ROUND)
    exact = neg_log_box_mass(theta, topo, slab("ss-ig"), eta, n=n, kappa=kappa)
    assert exact.total == pytest.approx(selection + phi, rel=1e-12) and exact.slab_err == 0.0
    fast = c3_ratio(n, topo, slab("ss-ig"), theta, exact=False, **kw)
    assert math.isnan(fast.R) and fast.R_analytic == pytest.approx(res.R_analytic, rel=ROUND)


def test_box_mass_of_a_network_with_wider_groups():
    """(T-8) ss-gl in 'active' mode: each group's exact Phi uses the full group size M (Gamma shape (M + 1)/2), here
    M = (3, 4) against m = (3, 3); the sum over groups against neg_log_box group by group, and the analytic part
    against m log(1/eta) + cost(B + eta) with the mpmath cost."""
    topo = topology([2, 3, 1], [2], 0.5, group_mode="active")
    theta = [np.array([[0.5, -0.2, 0.1], [0.0, 0.3, -0.5]]), np.array([[0.4, -0.4, 0.25]])]
    sl, eta = slab("ss-gl", lam_gl=1.5), 0.05
    mass = neg_log_box_mass(theta, topo, sl, eta, n=100.0, kappa=0.5)
    phi = [neg_log_box(w, eta, sl, M=M) for w, M in zip(theta, (3, 4))]
    assert mass.slab == pytest.approx(sum(float(p[0].sum()) for p in phi), rel=1e-12)
    assert mass.slab_err == pytest.approx(sum(float(p[1].sum()) for p in phi), rel=1e-12, abs=1e-300)
    analytic = 2 * (3 * math.log(1 / eta) + float(mp_gl_cost(3, 3, 0.55, 1.0, 1.5))) + \
        3 * math.log(1 / eta) + float(mp_gl_cost(3, 4, 0.55, 1.0, 1.5))
    assert mass.slab_analytic == pytest.approx(analytic, rel=1e-10)
    # M = 4 differs from M = 3 for the output group: the Gamma shape matters
    assert abs(float(phi[1][0][0]) - float(neg_log_box(theta[1], eta, sl, M=3)[0][0])) > 1e-3


# =============================================================================================
# (T-11..T-13) rates
# =============================================================================================
SMALL = dict(widths=[2, 3, 1], active=[2], bounds=0.5, group_mode="active")
# [2, 3, 1], s_1 = 2, B = 0.5, 'active': a = (2, 2), m = (3, 3), M = (3, 4), D = 2 * 3 + 1 * 3 = 9,
# Lambda(B + 1 = 1.5) = 19 (test_c3_ratio_by_hand), selection = s_1 (1 + log k_1) = 2 (1 + log 3)
SMALL_K0 = 9 * math.log(19) + 2 * (1 + math.log(3))


def small_slab(prior):
    """sum_l s_l beta_l for SMALL by mpmath: beta_l = max(0, cost_l(B + 1 = 1.5)); ss-gl's output layer (m = 3 < M = 4)
    takes the envelope over M' in {3, 4}."""
    if prior == "ss-ig":                     # sigma0 = 1.3 (test_rate_by_hand_and_mpmath passes it)
        return 3 * 3 * (math.log(1.3 * math.sqrt(2 * math.pi) / 2) + 1.5 ** 2 / (2 * 1.3 ** 2))
    if prior == "ss-gl":                     # lam = 0.9: the wider layer (M' = 4) costs more, so the envelope matters
        b1 = max(0.0, float(mp_gl_cost(3, 3, 1.5, 1.0, 0.9)))
        b2 = max(0.0, float(mp_gl_cost(3, 3, 1.5, 1.0, 0.9)), float(mp_gl_cost(3, 4, 1.5, 1.0, 0.9)))
        assert float(mp_gl_cost(3, 4, 1.5, 1.0, 0.9)) > float(mp_gl_cost(3, 3, 1.5, 1.0, 0.9)) + 0.01
        return 2 * b1 + b2
    return 3 * max(0.0, float(mp_ghs_cost(3, 1.5, 1.0, 0.5)))


@pytest.mark.parametrize("prior,kw", [("ss-ig", dict(sigma0=1.3)), ("ss-gl", dict(lam_gl=0.9)),
                                      ("ss-ghs", dict(s_glob=0.5))])
def test_rate_by_hand_and_mpmath(prior, kw):
    """(T-11) n r_n = D [log n + log Lambda(B + 1)] + sum_l s_l log(e k_l) + sum_l s_l beta_l, every part from above."""
    n = 2000.0
    r = eps_n(n, **SMALL, prior=prior, **kw)
    slab_part = small_slab(prior)
    assert (r.D, r.Lambda) == (9, pytest.approx(19.0, rel=ROUND))
    assert r.volume == pytest.approx(9 * (math.log(n) + math.log(19)), rel=ROUND)
    assert r.selection == pytest.approx(2 * (1 + math.log(3)), rel=ROUND)
    assert r.slab == pytest.approx(slab_part, rel=1e-10)            # quadrature / minimiser inside the code
    assert r.eps2 == pytest.approx((9 * math.log(n) + SMALL_K0 + slab_part) / n, rel=1e-10)
    assert r.eps == pytest.approx(math.sqrt((9 * math.log(n) + SMALL_K0 + slab_part) / n), rel=1e-10)
    with_xi = eps_n(n, **SMALL, prior=prior, xi=0.01, **kw)
    assert with_xi.eps2 == pytest.approx(r.eps2 + 0.01, rel=ROUND) and with_xi.r_n == pytest.approx(r.r_n, rel=ROUND)


@pytest.mark.parametrize("prior", ["ss-gl", "ss-ghs"])
def test_rate_and_published_form_with_default_hyper_parameters(prior):
    """The defaults: sigma0 = lam = s = 1, plain horseshoe, 'full' mode, L_psi = 1, xi = 0, C = 1. [2, 3, 1], s_1 = 2,
    B = 0.5: a = (2, 3), m = M = (3, 4), D = 2 * 3 + 1 * 4 = 10, Lambda(1.5) = 3 * (3 * 1.5) + (3 * 4.5 + 1) = 28."""
    n = 300.0
    cost = (lambda m: mp_gl_cost(m, m, 1.5, 1.0, 1.0)) if prior == "ss-gl" else (lambda m: mp_ghs_cost(m, 1.5))
    slab_part = 2 * max(0.0, float(cost(3))) + max(0.0, float(cost(4)))
    r = eps_n(n, [2, 3, 1], [2], 0.5, prior)
    assert r.n_r_n == pytest.approx(10 * (math.log(n) + math.log(28)) + 2 * (1 + math.log(3)) + slab_part, rel=1e-10)
    assert r.xi == 0.0
    common = math.log(n) + math.log(2) + math.log(3) + math.log(4)
    if prior == "ss-gl":
        def R(m, B):
            return B / math.sqrt(m) + math.log(2) + (m - 1) / (2 * m) * math.log(math.pi) + math.lgamma((m + 1) / 2) / m
    else:
        def R(m, B):
            return (m + 1) / m * math.log(1 + math.sqrt(m) * B)
    pub = eps_n_published(n, [2, 3, 1], [2], 0.5, prior)
    assert pub.terms == pytest.approx((2 * 3 * (common + R(3, 0.5)), 1 * 4 * (common + R(4, 0.5))), rel=ROUND)


def test_rate_accepts_every_n_above_one_and_rejects_the_rest():
    """n in (1, inf) and xi in [0, inf) (T-11): 1.5 and 2 are valid sample sizes for the formula."""
    for n in (1.5, 2.0, np.float32(7.0), np.int64(5)):
        assert eps_n(n, [1, 1, 1], [1], 0.0, "ss-ig").n == float(n)
    for n in (1.0, math.inf, math.nan, True, "100"):
        with pytest.raises(ValueError, match="n: expected a sample size > 1"):
            eps_n(n, [1, 1, 1], [1], 0.0, "ss-ig")
    for xi in (-0.1, math.inf, math.nan):
        with pytest.raises(ValueError, match="xi: the approximation error"):
            eps_n(100, [1, 1, 1], [1], 0.0, "ss-ig", xi=xi)


def test_theory_lambda_defaults_and_kappa_range():
    """Defaults kappa = 0.1 and 'full' mode (m_l = k_{l-1} + 1): log(1/lambda_l) = log k_l + 0.1 m_l log n; kappa = 0
    is rejected (the schedule needs kappa in (0, 1]), kappa = 1 accepted."""
    sched = theory_lambda([4, 8, 8, 1], 1000.0)
    expected = [-(math.log(8) + 0.1 * m * math.log(1000)) for m in (5, 9)]
    assert [lo for lo, _ in sched] == pytest.approx(expected, rel=ROUND)
    assert theory_lambda([4, 8, 8, 1], 1000.0, 1.0)[0][0] == pytest.approx(-(math.log(8) + 5 * math.log(1000)),
                                                                           rel=ROUND)
    with pytest.raises(ValueError, match="kappa"):
        theory_lambda([4, 8, 8, 1], 1000.0, 0.0)


def test_rate_volume_uses_lambda_of_B_plus_one():
    """(T-11) with L_psi = 0.1 on [1, 1, 1], B = 0: Lambda(B + 1 = 1) = 2 * 0.1 + (2 * 0.1 + 1) = 1.4 (between 1 and
    2, so log max(1, Lambda) is log 1.4); D = 4, selection = 1 (1 + log 1) = 1, slab: m = 2 coordinates at r = 1 per
    layer, beta = 2 (log(sqrt(2 pi)/2) + 1/2) = 1.452 (ss-ig)."""
    r = eps_n(100.0, [1, 1, 1], [1], 0.0, "ss-ig", lipschitz=0.1)
    beta = 2 * (math.log(math.sqrt(2 * math.pi) / 2) + 0.5)
    assert r.Lambda == pytest.approx(1.4, rel=ROUND)
    assert r.n_r_n == pytest.approx(4 * (math.log(100) + math.log(1.4)) + 1 + 2 * beta, rel=ROUND)
    assert r.betas == pytest.approx((beta, beta), rel=ROUND)


def test_validity_threshold_against_mpmath_root():
    """(T-11) eps_n^2 = 1 <=> n = D log n + K0 (K0 the n-free part of n r_n): the root above 3 by mpmath."""
    K0 = SMALL_K0 + small_slab("ss-ig")
    with mp.workdps(DPS):
        root = float(mp.findroot(lambda n: 9 * mp.log(n) + K0 - n, 10 * K0))
    topo = topology(SMALL["widths"], SMALL["active"], SMALL["bounds"], group_mode="active")
    sl = slab("ss-ig", sigma0=1.3)
    assert validity_threshold(topo, sl) == pytest.approx(root, rel=1e-10)                # brentq xtol/rtol 1e-12
    with mp.workdps(DPS):                                  # with xi: n = (D log n + K0)/(1 - xi)
        root_xi = float(mp.findroot(lambda n: 9 * mp.log(n) + K0 - 0.75 * n, 10 * K0))
    assert validity_threshold(topo, sl, xi=0.25) == pytest.approx(root_xi, rel=1e-10)
    assert validity_threshold(topo, sl, xi=1.0) == math.inf
    K0_half = K0 - 9 * math.log(19) + 9 * math.log(10)                           # L_psi = 1/2: Lambda = 18/2 + 1
    with mp.workdps(DPS):
        root_half = float(mp.findroot(lambda n: 9 * mp.log(n) + K0_half - n, 10 * K0_half))
    assert validity_threshold(topo, sl, lipschitz=0.5) == pytest.approx(root_half, rel=1e-10)


def test_theory_lambda_active_by_hand():
    """(T-11) 'active': log(1/lambda_l) = log k_l + kappa (s_{l-1} + 1) log n, log(1 - lambda_l) = log1p(-lambda_l)."""
    sched = theory_lambda([4, 8, 8, 1], 1000.0, 0.1, group_mode="active", active=[3, 2])
    with mp.workdps(DPS):
        for (log_lam, log_1m), m in zip(sched, (5, 4)):
            ref = -(mp.log(8) + mp.mpf("0.1") * m * mp.log(1000))
            assert log_lam == pytest.approx(float(ref), rel=ROUND)
            assert log_1m == pytest.approx(float(mp.log(1 - mp.exp(ref))), rel=1e-12, abs=1e-300)


def test_local_exponent_by_hand():
    """(T-12) (r_n/eps_n^2)(-1 + D/(n r_n)), here with xi = 0.01 so that r_n / eps_n^2 < 1 matters."""
    n, xi = 2000.0, 0.01
    nr = 9 * math.log(n) + SMALL_K0 + small_slab("ss-ig")
    expected = (nr / n) / (nr / n + xi) * (-1 + 9 / nr)
    got = local_exponent(n, SMALL["widths"], SMALL["active"], SMALL["bounds"], "ss-ig", group_mode="active", xi=xi,
                         sigma0=1.3)
    assert got == pytest.approx(expected, rel=ROUND) and type(got) is float
    assert local_exponent(n, SMALL["widths"], SMALL["active"], SMALL["bounds"], group_mode="active", xi=xi,
                          sigma0=1.3) == got                                     # prior defaults to ss-ig
    arr = local_exponent(np.array([n, 4 * n]), SMALL["widths"], SMALL["active"], SMALL["bounds"], "ss-ig",
                         group_mode="active", xi=xi, sigma0=1.3)
    assert arr.shape == (2,) and arr[0] == pytest.approx(expected, rel=ROUND)
    assert local_exponent(2000.0, delta=0.25) == pytest.approx(-1 + 1.5 / math.log(2000), rel=ROUND)
    assert type(local_exponent(2000.0)) is float and local_exponent(np.array([2000.0, 10.0])).shape == (2,)


@pytest.mark.parametrize("prior,R", [
    # docs/paper-notes.md §6.5 table, per coordinate (sigma0 = 1.2, lam = 0.7, s = 0.8, c = 2.5):
    ("ss-ig", lambda m, B: B * B / (2 * 1.44) + math.log(1.2 * math.sqrt(2 * math.pi))),
    ("ss-gl", lambda m, B: (0.7 * B / (1.2 * math.sqrt(m)) + math.log(2 * 1.2 / 0.7)
                            + (m - 1) / (2 * m) * math.log(math.pi) + math.lgamma((m + 1) / 2) / m)),
    ("ss-ghs", lambda m, B: ((m + 1) / m * math.log(1 + math.sqrt(m) * B / (1.2 * 0.8))
                             + B * B / (2 * (1.2 * 2.5) ** 2))),
])
def test_published_form_by_hand(prior, R):
    """(T-13) the reconstruction as documented: n eps^2 = C sum_l s_l (k_{l-1} + 1) vartheta_l with vartheta_l =
    log n + log(L + 1) + sum_{m <= L} log(k_m + 1) + sum_{m != l} log max(1, B_m) + R_slab(l). [2, 3, 1], s_1 = 2,
    B = (0.5, 2), n = 100, C = 1.5: common = log 100 + log 2 + log 3 + log 4; layer 1 (s = 2, M = 3, B = 0.5) gets
    log max(1, 2) from layer 2, layer 2 (s = 1, M = 4, B = 2) gets log max(1, 0.5) = 0 from layer 1."""
    common = math.log(100) + math.log(2) + math.log(3) + math.log(4)
    terms = (1.5 * 2 * 3 * (common + math.log(2) + R(3, 0.5)), 1.5 * 1 * 4 * (common + R(4, 2.0)))
    got = eps_n_published(100, [2, 3, 1], [2], [0.5, 2.0], prior, C=1.5, sigma0=1.2, lam_gl=0.7, s_glob=0.8,
                          c=2.5 if prior == "ss-ghs" else None)
    assert got.terms == pytest.approx(terms, rel=ROUND)
    assert got.eps2 == pytest.approx(sum(terms) / 100, rel=ROUND)
    assert got.eps == pytest.approx(math.sqrt(sum(terms) / 100), rel=ROUND)
    if prior == "ss-ghs":                                      # plain horseshoe: no B^2 term
        plain = eps_n_published(100, [2, 3, 1], [2], [0.5, 2.0], prior, C=1.5, sigma0=1.2, s_glob=0.8)
        assert plain.terms[1] == pytest.approx(terms[1] - 1.5 * 4 * 4.0 / (2 * 9.0), rel=ROUND)


@pytest.mark.parametrize("m,kw", [
    (3, {}), (9, dict(sigma0=0.7, lam_gl=2.0, s_glob=0.5)),
    (1, dict(lam_gl=0.05)),                      # B_0 = 198: beyond the first 121 of the grid's values
    (3, dict(sigma0=0.5, lam_gl=3.0)),           # B_0 = 0.39 < 1
    (1, dict(sigma0=0.5, lam_gl=3.0)),           # beta(gl) >= beta(ghs) everywhere: only the second pair crosses
    (3, dict(M=9, lam_gl=0.5)),                  # 'active' group of m = 3 in a layer of M = 9: ss-gl's envelope
])
def test_ordering_threshold_is_the_last_crossing(m, kw):
    """Two-sided (T-11): at B_0 one of the differences beta(gl) - beta(ghs), beta(ig) - beta(gl) is 0, just below B_0
    the ordering fails, just above it holds (1e-4 relative steps: the differences grow at least linearly there)."""
    B0 = ordering_threshold(m, **kw)
    M = kw.get("M")
    sls = [slab(p, **{k: v for k, v in kw.items() if k in ("sigma0", "lam_gl", "s_glob")})
           for p in ("ss-ghs", "ss-gl", "ss-ig")]

    def diffs(B):
        costs = [slab_cost(m, B, sl, M=M) for sl in sls]
        return costs[1] - costs[0], costs[2] - costs[1]

    assert B0 > 0.0
    assert min(abs(d) for d in diffs(B0)) <= 1e-9 * slab_cost(m, B0, sls[2])
    assert min(diffs(B0 * (1 - 1e-4))) < 0.0
    assert min(diffs(B0 * (1 + 1e-4))) > 0.0


def test_ordering_threshold_when_it_still_fails_at_B_max():
    """inf when the ordering still fails at the end of the grid: m = 3 with the defaults crosses at B = 5.88 > 2."""
    assert ordering_threshold(3, B_max=2.0) == math.inf


# =============================================================================================
# (T-10) C4
# =============================================================================================
# [1, 1, 1], full, L_psi = 1: f = w2 (w1 x + b1) + b2 with identity activation, D = 4, Lambda(B + 1) = 4 B + 5
C4_NET = SparseNet((np.array([[0.6]]), np.array([[-0.9]])), (np.array([0.3]), np.array([0.2])), (np.array([True]),))


def c4_by_hand(n, B, prior, sigma0=1.0, kappa=0.1, lip=1.0, **kw):
    """eps_n^2 and v = eps_n^2 / (4 Lambda(B + 1)^2 D) for C4_NET, and the node KL 2 kappa log n (k = s = 1, m = 2)."""
    if prior == "ss-ig":
        beta = max(0.0, 2 * (math.log(sigma0 * math.sqrt(2 * math.pi) / 2) + (B + 1) ** 2 / (2 * sigma0 ** 2)))
    else:
        beta = max(0.0, float(mp_gl_cost(2, 2, B + 1, sigma0, kw["lam_gl"])))
    lam = lambda_by_hand_111(B + 1, lipschitz=lip)
    n_eps2 = 4 * (math.log(n) + math.log(lam)) + 1.0 + 2 * beta
    return n_eps2, n_eps2 / n / (4 * lam ** 2 * 4), 2 * kappa * math.log(n)


def test_c4_constant_by_hand():
    assert c4_constant_gaussian(0.8, 0.5, 10.0, 2.0) == pytest.approx(1.3 + 0.5 + 1 / 320, rel=ROUND)
    assert c4_constant_gaussian(0.2, 1.0, 100.0, 1.0) == pytest.approx(1 + 1 / 8 + 1 / 800, rel=ROUND)


# [1, 2, 1] linear network, both hidden nodes active: f = sum_j w2_j (w1_j x + b1_j) + b2; D = 2 * 2 + 1 * 3 = 7,
# Lambda(B + 1) = 4 L (B + 1) + (2 c_1 + 1) with c_1 = 2 L (B + 1), i.e. 8 L (B + 1) + 1
C4_WIDE = SparseNet((np.array([[0.6, -0.4]]), np.array([[0.9], [0.8]])), (np.array([0.3, 0.5]), np.array([0.2])),
                    (np.array([True, True]),))


@pytest.mark.parametrize("lip,sigma_e", [(1.0, 0.7), (2.0, None)])
def test_c4_gaussian_slab_by_hand(lip, sigma_e):
    """(T-10) ss-ig on C4_WIDE: the node KL, the KL of each relevant coordinate N(theta*_i, v) against N(0, sigma0^2),
    and the likelihood term against its exact expectation. With independent N(0, v) perturbations of every relevant
    coordinate, f' - f = sum_j [w2_j (d1_j x + d2_j) + d3_j (w1_j x + b1_j) + d3_j (d1_j x + d2_j)] + d4, so over
    x ~ U[-1, 1] (E x^2 = 1/3): E (f' - f)^2 = sum_j [v (4/3 w2_j^2 + w1_j^2/3 + b1_j^2) + 4/3 v^2] + v (shared or
    correlated noise would add cross terms in w2_1 w2_2 = 0.72). ``lip = 2``: the identity declared 2-Lipschitz (a
    valid, loose bound); ``sigma_e = None``: the default 1."""
    n, B, sigma0, kappa = 500.0, 1.0, 0.8, 0.2
    topo = topology([1, 2, 1], [2], B)
    lam = 8 * lip * (B + 1) + 1
    per_coord = math.log(sigma0 * math.sqrt(2 * math.pi) / 2) + (B + 1) ** 2 / (2 * sigma0 ** 2)
    n_eps2 = 7 * (math.log(n) + math.log(lam)) + 2 * (1 + math.log(2)) + 7 * per_coord
    v = n_eps2 / n / (4 * lam ** 2 * 7)
    kl_nodes = 2 * (math.log(2) + kappa * 2 * math.log(n))               # s = k = 2, m_1 = 2: no (k - s) term
    kw = {} if sigma_e is None else dict(sigma_e=sigma_e)
    sigma_e = 1.0 if sigma_e is None else sigma_e
    res = c4_check(np.random.default_rng(3), n, topo, slab("ss-ig", sigma0=sigma0), C4_WIDE,
                   IDENTITY._replace(lipschitz=lip), kappa=kappa, n_draws=3000, n_x=20000, **kw)
    theta = [0.6, -0.4, 0.3, 0.5, 0.9, 0.8, 0.2]
    kl_groups = sum(math.log(sigma0) - 0.5 * math.log(v) + (v + t * t) / (2 * sigma0 ** 2) - 0.5 for t in theta)
    assert res.n_eps2 == pytest.approx(n_eps2, rel=ROUND)
    assert res.kl_nodes == pytest.approx(kl_nodes, rel=ROUND)
    assert res.kl_groups == pytest.approx(kl_groups, rel=ROUND)
    assert res.constant == pytest.approx(max(1.0, 0.5 + kappa) + 1 / (8 * sigma_e ** 2) + 1 / (8 * n * sigma0 ** 2),
                                         rel=ROUND)
    w1, b1, w2 = np.array([0.6, -0.4]), np.array([0.3, 0.5]), np.array([0.9, 0.8])
    e_sq = float(np.sum(v * (4 / 3 * w2 ** 2 + w1 ** 2 / 3 + b1 ** 2) + 4 / 3 * v * v) + v)
    expected = n * e_sq / (2 * sigma_e ** 2)
    # 5 standard errors of the draws, plus 5 x the spread from the 20000 inputs: the conditional expectation g(x) has
    # sd(g)/sqrt(20000) over x,
    # g(x) = n (sum_j [v (w2_j^2 (x^2 + 1) + (w1_j x + b1_j)^2) + v^2 (x^2 + 1)] + v) / (2 sigma_e^2)
    x = np.linspace(-1, 1, 200001)[:, None]
    per_node = v * (w2 ** 2 * (x * x + 1) + (w1 * x + b1) ** 2) + v * v * (x * x + 1)
    g = n * (np.sum(per_node, axis=1) + v) / (2 * sigma_e ** 2)
    tol = 5 * math.hypot(res.n_expected_kl_se, g.std() / math.sqrt(20000))
    assert abs(res.n_expected_kl - expected) <= tol and tol <= 0.2 * expected       # sharp enough to see v x 2
    assert res.ratio == pytest.approx((kl_nodes + kl_groups + res.n_expected_kl) / n_eps2, rel=ROUND)


def _min_gl_group_kl(t2, m, M, v, sigma0, lam):
    """min over (mu, log s) of sum_i E KL(N(t_i, v) || N(0, sigma0^2 tau^2)) + KL(LogNormal(mu, s^2) || Gamma((M+1)/2,
    rate lam^2/2)) with log tau^2 ~ N(mu, s^2): E log tau^2 = mu, E 1/tau^2 = exp(-mu + s^2/2) (KL-5)."""
    from scipy.optimize import minimize

    def total(x):
        mu, s = x[0], math.exp(x[1])
        weights = 0.5 * (m * (math.log(sigma0 ** 2) + mu - math.log(v) - 1) + (t2 + m * v) * math.exp(-mu + s * s / 2)
                         / sigma0 ** 2)
        return weights + float(kl_lognormal_gamma(mu, s, (M + 1) / 2, lam * lam / 2))

    best = min((minimize(total, np.array([mu0, -1.0]), method="L-BFGS-B", bounds=[(-50, 50), (-20, 3)],
                         options=dict(ftol=1e-15, gtol=1e-11)) for mu0 in (-6.0, 0.0)), key=lambda r: r.fun)
    return best.fun


def _min_ghs_group_kl(t2, m, v, sigma0, s_glob, c=math.inf):
    """The same for the group horseshoe, minimised over all three of (mu_a, mu_b, log s): log a ~ N(mu_a, s^2),
    log b ~ N(mu_b, s^2), tau^2 = a b, a ~ Gamma(1/2, rate 1), b ~ InvGamma(1/2, 1), U = log(s_glob^2 tau^2) ~
    N(mu_a + mu_b + 2 log s_glob, 2 s^2); the code minimises over two after splitting mu = mu_a + mu_b in closed
    form, which this checks. Regularised (finite c): 1/V = e^{-U} + 1/c^2 and log V = U - softplus(U - log c^2),
    whose expectation is taken with numpy's 120-point Gauss-Hermite rule (the code uses its own 48-point one)."""
    from scipy.optimize import minimize

    z, wz = np.polynomial.hermite.hermgauss(120)

    def total(x):
        mu_a, mu_b, s = x[0], x[1], math.exp(x[2])
        mean_U = mu_a + mu_b + 2 * math.log(s_glob)
        e_log_V = mean_U
        e_inv_V = math.exp(-mean_U + s * s)                                 # Var U = 2 s^2
        if math.isfinite(c):
            U = mean_U + 2 * s * z                                          # sqrt(2) x sd(U) = 2 s
            e_log_V -= float(wz @ np.logaddexp(0.0, U - 2 * math.log(c))) / math.sqrt(math.pi)
            e_inv_V += 1 / c ** 2
        weights = 0.5 * (m * (math.log(sigma0 ** 2) + e_log_V - math.log(v) - 1) + (t2 + m * v) * e_inv_V / sigma0 ** 2)
        return weights + float(kl_lognormal_gamma(mu_a, s, 0.5, 1.0) + kl_lognormal_invgamma(mu_b, s, 0.5, 1.0))

    best = min((minimize(total, np.array([mu0, mu0, -1.0]), method="L-BFGS-B", bounds=[(-50, 50), (-50, 50), (-20, 3)],
                         options=dict(ftol=1e-15, gtol=1e-11)) for mu0 in (-4.0, 0.0)), key=lambda r: r.fun)
    return best.fun


def test_c4_shrinkage_group_kls_against_an_independent_minimisation():
    """(T-10) ss-gl and ss-ghs: each group's smallest KL (the code: Nelder-Mead over 2 parameters, xatol 1e-7,
    fatol 1e-9, the horseshoe's mu split in closed form) against L-BFGS-B over the full parameter set here. Both sit at
    a smooth minimum; they agree to ~1e-15, and 1e-12 relative (2e-11 on values ~20) leaves room for the code's
    stopping rule (simplex within xatol = 1e-7, so the value within ~1e-14 of the minimum)."""
    n, B = 500.0, 1.0
    topo = topology([1, 1, 1], [1], B)
    t2 = (0.6 ** 2 + 0.3 ** 2, 0.9 ** 2 + 0.2 ** 2)                     # sum of theta*^2 per group, m = M = 2
    _, v, _ = c4_by_hand(n, B, "ss-gl", sigma0=0.8, lam_gl=1.5)
    res = c4_check(np.random.default_rng(0), n, topo, slab("ss-gl", sigma0=0.8, lam_gl=1.5), C4_NET, IDENTITY,
                   n_draws=2, n_x=2)
    assert res.constant is None
    assert res.kl_groups == pytest.approx(sum(_min_gl_group_kl(t, 2, 2, v, 0.8, 1.5) for t in t2), rel=1e-12)
    for c in (math.inf, 1.2):
        sl = slab("ss-ghs", sigma0=0.8, s_glob=0.7, c=c)
        v_ghs = rate(n, topo, sl).eps2 / (4 * 9.0 ** 2 * 4)              # Lambda(B + 1 = 2) = 4 * 1 + 5 = 9
        res = c4_check(np.random.default_rng(0), n, topo, sl, C4_NET, IDENTITY, n_draws=2, n_x=2)
        ref = sum(_min_ghs_group_kl(t, 2, v_ghs, 0.8, 0.7, c) for t in t2)
        assert res.kl_groups == pytest.approx(ref, rel=1e-12)


# =============================================================================================
# (T-14) binary Concrete, (T-15) conjugate regression, (T-16) Hellinger
# =============================================================================================
@pytest.mark.parametrize("d", [0.0, 1e-6, 0.05, 0.1999, 0.2001, 1.0, 7.5, -3.0, 40.0])
def test_concrete_kl_against_mpmath(d):
    """(T-14b) d coth(d/2) - 2 at 30 digits. Series branch (|d| < 0.2): truncation 2 x^10/93555, 6.4e-13 relative at
    x = |d|/2 = 0.1; direct branch: the cancellation in x coth x - 1 costs up to 1/(x^2/3) = 300 ulp (7e-14) at
    x = 0.1. Hence 1e-12 relative."""
    with mp.workdps(DPS):
        ref = float(mp.mpf(d) * mp.coth(mp.mpf(d) / 2) - 2) if d != 0 else 0.0
    assert float(kl_binary_concrete_logit(d)) == pytest.approx(ref, rel=1e-12, abs=1e-300)
    if abs(d) < 30:
        assert kl_logistic_quadrature(0.3 + d, 0.3) == pytest.approx(ref, rel=1e-8, abs=1e-13)    # quad's epsrel 1e-12
    if abs(d) >= 30:                    # sigmoid(0.7 + d) rounds to 1 in float64: no probability to pass
        return
    g1 = 1 / (1 + math.exp(-(0.7 + d)))
    assert float(kl_binary_concrete(g1, 1 / (1 + math.exp(-0.7)))) == pytest.approx(ref, rel=1e-8, abs=1e-13)


@pytest.mark.parametrize("gamma,t", [(0.3, 0.5), (0.9, 2.0), (0.02, 0.1)])
def test_concrete_log_density_against_the_logistic_change_of_variables(gamma, t):
    """(T-14) log p(y) at y = sigmoid(xi / t) equals log Logistic(xi; logit gamma, 1) + log t - log y - log(1 - y)
    (the Jacobian of xi = t logit y), at 30 digits."""
    xi = np.array([-30.0, -2.0, 0.0, 0.4, 5.0, 60.0])
    got = log_density_binary_concrete(xi, gamma, t)
    with mp.workdps(DPS):
        for g, x in zip(got, xi):
            zc = mp.mpf(x) - mp.log(gamma) + mp.log(1 - mp.mpf(gamma))
            log_logistic = -zc - 2 * mp.log(1 + mp.exp(-zc))
            a = mp.mpf(x) / t            # log y = -log(1 + e^{-a}), log(1 - y) = -log(1 + e^{a}): no 1 - y at 30 digits
            ref = log_logistic + mp.log(t) + mp.log(1 + mp.exp(-a)) + mp.log(1 + mp.exp(a))
            assert g == pytest.approx(float(ref), rel=1e-11, abs=1e-11)       # log terms up to ~600: round-off


def test_concrete_sampler_draws_logistic_logits():
    """(T-14) xi - logit gamma ~ Logistic(0, 1) (KS, p > 1e-6, 20000 draws) and y = sigmoid(xi / t)."""
    y, xi = sample_binary_concrete(np.random.default_rng(4), 0.2, 0.7, 20_000)
    assert y.shape == xi.shape == (20_000,)
    assert stats.kstest(xi - math.log(0.2 / 0.8), stats.logistic.cdf).pvalue > 1e-6
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-xi / 0.7)), rtol=1e-14)


def test_log_evidence_and_elbo_against_enumeration():
    """(T-15) two groups of one column each, n = 3, correlated design. The evidence by mpmath: the four inclusion
    patterns' Gaussian marginals N(y; 0, sigma^2 I + sigma0^2 X_z X_z^T), weighted by the prior. The ELBO for a
    mean-field q by enumerating z with weights gamma_1^z1 ... and E ||y - X_z w_z||^2 = ||y - X_z mu_z||^2 +
    sum_{j in z} ||X_j||^2 s_j^2 (no moment formula), minus the KL of (KL-1, KL-2)."""
    X = np.array([[1.0, 0.4], [0.5, -1.0], [-0.3, 0.8]])
    y = np.array([0.7, -1.1, 0.4])
    lam, sigma, sigma0 = 0.3, 0.8, 1.5
    gamma, mu, s = np.array([0.6, 0.25]), np.array([0.5, -0.8]), np.array([0.3, 0.6])
    with mp.workdps(DPS):
        Xm, ym = mp.matrix(X.tolist()), mp.matrix(y.tolist())
        total, expected_loglik = mp.mpf(0), mp.mpf(0)
        for z in ((0, 0), (0, 1), (1, 0), (1, 1)):
            cov = sigma ** 2 * mp.eye(3)
            prior, weight, resid, spread = mp.mpf(1), mp.mpf(1), ym.copy(), mp.mpf(0)
            for j in (0, 1):
                col = Xm[:, j]
                prior *= lam if z[j] else 1 - lam
                weight *= gamma[j] if z[j] else 1 - gamma[j]
                if z[j]:
                    cov += sigma0 ** 2 * col * col.T
                    resid -= col * mu[j]
                    spread += (col.T * col)[0] * s[j] ** 2
            quad = (ym.T * mp.inverse(cov) * ym)[0]
            total += prior * mp.exp(-quad / 2) / mp.sqrt((2 * mp.pi) ** 3 * mp.det(cov))
            sq = (resid.T * resid)[0] + spread
            expected_loglik += weight * (-mp.mpf(3) / 2 * mp.log(2 * mp.pi * sigma ** 2) - sq / (2 * sigma ** 2))
        kl = sum(g * mp.log(g / lam) + (1 - g) * mp.log((1 - g) / (1 - lam))
                 + g * (mp.log(sigma0 / sj) + (sj ** 2 + mj ** 2) / (2 * sigma0 ** 2) - mp.mpf(1) / 2)
                 for g, mj, sj in zip(gamma, mu, s))
        ref_evidence, ref_elbo = float(mp.log(total)), float(expected_loglik - kl)
    assert log_evidence(y, X, [1, 1], lam, sigma, sigma0) == pytest.approx(ref_evidence, rel=1e-12)
    assert elbo(y, X, [1, 1], gamma, mu, s, lam, sigma, sigma0) == pytest.approx(ref_elbo, rel=1e-12)


def test_orthogonal_posterior_accepts_round_off_correlation_only():
    """(T-15) the design counts as orthogonal when every off-diagonal of X^T X is within 1e-12 max(1, max |X^T X|):
    X^T X = [[9 + 4 e^2, e], [e, 10]] (e = 2 x the off-diagonal row entry): e = 5e-12 passes (limit 1e-11), 2e-11 does
    not; with max |X^T X| = 0.61 < 1 the limit is 1e-12 itself, so 1.5e-12 is rejected."""
    y = np.array([0.3, -0.2, 0.5])
    for e, big, ok in [(5e-12, True, True), (2e-11, True, False), (1.5e-12, False, False), (5e-13, False, True)]:
        d = 3.0 if big else 0.6
        X = np.array([[d, 0.0], [0.0, d], [2 * e, 0.5]])
        if ok:
            gamma, mu, s = orthogonal_posterior(y, X, [1, 1], 0.3, 0.8, 1.5)
            assert gamma.shape == (2,) and mu.shape == s.shape == (2,)
        else:
            with pytest.raises(ValueError, match="X: the exact posterior is mean-field only"):
                orthogonal_posterior(y, X, [1, 1], 0.3, 0.8, 1.5)


def test_hellinger_utilities_by_hand_and_their_equality_cases():
    """(T-16) |f - f0| = delta everywhere: H^2 = 1 - exp(-delta^2/(8 sigma^2)), h^2 = 2 H^2, KL = delta^2/(2 sigma^2);
    there the lower bound with M = delta is an equality, and H^2 / (KL/4) = (1 - e^{-u})/u -> 1 as delta -> 0."""
    f0 = np.array([0.5, -1.0, 2.0, 0.0])
    for delta, sigma in [(0.75, 0.5), (2.0 ** -10, 1.3), (4.0, 1.0)]:      # f0 +- delta exact in binary
        f = f0 + delta * np.array([1.0, -1.0, 1.0, -1.0])
        u = delta ** 2 / (8 * sigma ** 2)
        H2 = hellinger_bc(f, f0, sigma)
        assert H2 == pytest.approx(-math.expm1(-u), rel=ROUND)
        assert hellinger_integral(f, f0, sigma) == pytest.approx(-2 * math.expm1(-u), rel=ROUND)
        assert kl_regression(f, f0, sigma) == pytest.approx(delta ** 2 / (2 * sigma ** 2), rel=ROUND)
        assert hellinger_lower_bound(f, f0, sigma, delta) == pytest.approx(H2, rel=ROUND)
        assert H2 / (kl_regression(f, f0, sigma) / 4) == pytest.approx(-math.expm1(-u) / u, rel=ROUND)
    # two levels 0 and 2: H^2 = (1 - e^{-4/(8 sigma^2)})/2; the lower bound with M = 2 is then also an equality
    f = np.array([0.0, 2.0])
    assert hellinger_bc(f, np.zeros(2), 1.0) == pytest.approx(-math.expm1(-0.5) / 2, rel=ROUND)
    assert hellinger_lower_bound(f, np.zeros(2), 1.0, 2.0) == pytest.approx(-math.expm1(-0.5) / 2, rel=ROUND)
    assert hellinger_lower_bound(f, np.zeros(2), 1.0, 4.0) == pytest.approx(-math.expm1(-2.0) / 2.0 * 0.25, rel=ROUND)
    assert hellinger_lower_bound(f, f, 1.0, 0.0) == 0.0                        # M = 0: f = f0, the factor's limit 1
    with pytest.raises(ValueError, match="M: the bound needs"):
        hellinger_lower_bound(f, np.zeros(2), 1.0, 1.9)
    with pytest.raises(ValueError, match="sigma_e"):
        hellinger_bc(f, np.zeros(2), 0.0)


def test_predictive_hellinger_against_mpmath():
    """(T-16) H^2 between the mixture (1/S) sum_s N(f_s, sigma^2) and N(f0, sigma^2), per x by mpmath quadrature of
    sqrt(mixture x N(f0)) over y. The code's trapezoid on +-12 sigma is spectrally accurate: 1e-10 absolute."""
    draws = np.array([[0.2, -1.0], [1.5, -0.2], [0.9, 0.4]])
    f0, sigma = np.array([0.5, 0.0]), 0.6
    with mp.workdps(DPS):
        def phi(y, m):
            return mp.exp(-(y - m) ** 2 / (2 * sigma ** 2)) / mp.sqrt(2 * mp.pi * sigma ** 2)
        def root(y, i):
            return mp.sqrt(sum(phi(y, d) for d in draws[:, i]) / 3 * phi(y, f0[i]))
        bc = [mp.quad(lambda y: root(y, i), [-mp.inf, f0[i], mp.inf]) for i in range(2)]
        ref = float(1 - (bc[0] + bc[1]) / 2)
    assert hellinger_predictive(draws, f0, sigma) == pytest.approx(ref, abs=1e-10)


def test_float32_inputs_are_computed_in_float64():
    """theory/ computes in float64 (T-1): float32 inputs are converted first, so each result equals the one from the
    same values given in float64 (1e-14: identical operations; float32 arithmetic would be off by ~1e-7)."""
    x32 = np.array([0.0123, 0.1999, 1.3, 7.0], dtype=np.float32)
    x64 = x32.astype(np.float64)
    f32, f0_32 = np.array([0.31, -1.2, 2.0], dtype=np.float32), np.array([0.3, -1.0, 2.2], dtype=np.float32)
    f64, f0_64 = f32.astype(np.float64), f0_32.astype(np.float64)
    g32, g64 = np.float32(0.3), 0.30000001192092896
    pairs = [
        (kl_binary_concrete_logit(x32), kl_binary_concrete_logit(x64)),
        (kl_binary_concrete(x32 / 8, np.float32(0.4)), kl_binary_concrete(x64 / 8, float(np.float32(0.4)))),
        (hellinger_bc(f32, f0_32, 0.7), hellinger_bc(f64, f0_64, 0.7)),
        (kl_regression(f32, f0_32, 0.7), kl_regression(f64, f0_64, 0.7)),
        (hellinger_lower_bound(f32, f0_32, 0.7, 0.25), hellinger_lower_bound(f64, f0_64, 0.7, 0.25)),
        (hellinger_predictive(f32[None, :], f0_32, 0.7), hellinger_predictive(f64[None, :], f0_64, 0.7)),
        (neg_log_box(x32[None, :], 0.05, slab("ss-ig"))[0], neg_log_box(x64[None, :], 0.05, slab("ss-ig"))[0]),
        (local_exponent(np.float32(2000.5)), local_exponent(2000.5)),
        (local_exponent(np.array([2000.5], dtype=np.float32), [2, 3, 1], [2], 0.5, "ss-ig"),
         local_exponent(np.array([2000.5]), [2, 3, 1], [2], 0.5, "ss-ig")),
        (elbo(np.array([0.7, -1.1]), np.array([[1.0], [0.5]]), [1], np.array([g32]), np.array([0.5]), np.array([0.3]),
              0.3, 0.8, 1.5),
         elbo(np.array([0.7, -1.1]), np.array([[1.0], [0.5]]), [1], np.array([g64]), np.array([0.5]), np.array([0.3]),
              0.3, 0.8, 1.5)),
    ]
    for got, ref in pairs:
        np.testing.assert_allclose(got, ref, rtol=1e-14, atol=0)
        assert np.asarray(got).dtype == np.float64


def test_random_sparse_net_draws_members_of_the_class():
    """The test generator itself (T-8): s_l active nodes per hidden layer, relevant entries within [-B_l, B_l] (at
    +-B_l exactly with corner=True, strictly inside otherwise), masked groups zeroed (and their outgoing weights when
    psi(0) = 0, kept otherwise), entries of both signs."""
    topo = topology([3, 6, 5, 2], [4, 2], [0.5, 2.0, 1.5])
    for corner in (False, True):
        net = random_sparse_net(np.random.default_rng(8), topo, corner=corner)
        for l, (W, b) in enumerate(zip(net.W, net.b)):
            B = topo.B[l]
            nodes = net.z[l] if l < topo.L else np.ones(topo.widths[-1], dtype=bool)
            if l < topo.L:
                assert int(net.z[l].sum()) == topo.s[l] and np.all(W[:, ~net.z[l]] == 0) and np.all(b[~net.z[l]] == 0)
            rel = np.concatenate([W[:, nodes].ravel(), b[nodes]])
            if l > 0:                                    # rows of masked inputs are zeroed (psi(0) = 0)
                rel = np.concatenate([W[net.z[l - 1]][:, nodes].ravel(), b[nodes]])
                assert np.all(W[~net.z[l - 1]] == 0)
            assert np.all(np.abs(rel) <= B) and (rel > 0).any() and (rel < 0).any()
            assert np.all(np.abs(rel) == B) if corner else np.all(np.abs(rel) < B)
    default = random_sparse_net(np.random.default_rng(8), topo)
    assert np.all(np.abs(default.b[0][default.z[0]]) < topo.B[0])                     # corner=False by default
    kept = random_sparse_net(np.random.default_rng(8), topo, psi0=0.3)
    assert np.any(kept.W[1][~kept.z[0]] != 0)                                            # psi(0) != 0: outgoing kept


@pytest.mark.parametrize("call,match", [
    (lambda: topology([2, 0, 1], [1], 1.0), "widths: expected integers >= 1"),
    (lambda: topology([2, 2.5, 1], [1], 1.0), "widths: expected integers >= 1"),
    (lambda: topology([2, True, 1], [1], 1.0), "widths: expected integers >= 1"),
    (lambda: topology([2, 3, 1], [0], 1.0), "active: expected integers >= 1"),
    (lambda: topology([2, 3, 1], [1.5], 1.0), "active: expected integers >= 1"),
    (lambda: topology([2, 3, 1], [2], math.inf), "bounds: weight bounds must be finite"),
    (lambda: topology([2, 3, 1], [2], [1.0, True]), "bounds: weight bounds must be finite"),
    (lambda: slab("ss-gl", sigma0=0.0), "sigma0: expected a finite number > 0"),
    (lambda: slab("ss-gl", sigma0=math.inf), "sigma0: expected a finite number > 0"),
    (lambda: slab("ss-gl", sigma0=True), "sigma0: expected a finite number > 0"),
    (lambda: slab("ss-gl", lam_gl="1"), "lam_gl: expected a finite number > 0"),
    (lambda: slab("ss-gl", lam_gl=0.0), "lam_gl: expected a finite number > 0"),
    (lambda: slab("ss-ghs", s_glob=-1.0), "s_glob: expected a finite number > 0"),
    (lambda: slab("ss-ghs", s_glob=math.inf), "s_glob: expected a finite number > 0"),
    (lambda: slab("ss-ghs", c=True), "c: the slab width must be > 0"),
    (lambda: slab("ss-ghs", c="2"), "c: the slab width must be > 0"),
])
def test_validation_names_the_argument(call, match):
    """Topology and slab hyper-parameters are checked at the boundary, each message naming its argument (STYLE 8)."""
    with pytest.raises(ValueError, match=match):
        call()
