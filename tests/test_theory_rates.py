"""The derived rate eps_n (T-11), its schedule, local exponent (T-12) and the reconstructed published
form (T-13, shape only): docs/theory-notes.md §3.2 and §5(d). Pure arithmetic, so examples are cheap; every
deterministic inequality is compared with relative slack 1e-10 (round-off only)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracles.gradcheck import check_grads
from refimpl.activations import SILU_LIPSCHITZ
from refimpl.schedules import theory_schedule
from theory.entropy import entropy_bound
from theory.__main__ import main as theory_main
from theory.rates import (eps_n, eps_n_published, local_exponent, ordering_threshold, rate, theory_lambda,
                          validity_threshold)
from theory.slab_mass import PRIORS, slab, slab_cost
from theory.topology import topology

SLACK = 1e-10   # round-off in sums of logs of products


def leq(a, b):
    return a <= b * (1.0 + SLACK) + 1e-12


@st.composite
def topologies(draw, max_L=4, max_k=32, B_lo=0.1, B_hi=4.0, modes=("full", "active")):
    """docs/theory-notes.md §5(a) and §5(c) ranges, with ``s_l <= k_l`` built in rather than filtered."""
    L = draw(st.integers(1, max_L))
    k = [draw(st.integers(1, max_k)) for _ in range(L)]
    s = [draw(st.integers(1, kk)) for kk in k]
    B = [draw(st.floats(B_lo, B_hi)) for _ in range(L + 1)]
    return topology([draw(st.integers(1, 6))] + k + [1], s, B, group_mode=draw(st.sampled_from(modes)))


@st.composite
def slabs(draw, priors=PRIORS, regularised=True):
    c = draw(st.one_of(st.none(), st.floats(0.5, 4.0))) if regularised else None
    return slab(draw(st.sampled_from(priors)), sigma0=draw(st.floats(0.5, 2.0)), lam_gl=draw(st.floats(0.2, 5.0)),
                s_glob=draw(st.floats(0.1, 2.0)), c=c)


lipschitz_constants = st.sampled_from([1.0, SILU_LIPSCHITZ])
sample_sizes = st.floats(1e2, 1e7)


# ---------------------------------------------------------------------------------------------
# (T-11) eps_n
# ---------------------------------------------------------------------------------------------
def test_parts_by_hand():
    """[8, 32, 32, 1], s = (6, 4), B = 1, ss-ig, n = 1000, 'full' (every number derived here, none read from the
    Rate): a = (8, 32, 32), m = (9, 33, 33), D = 6 * 9 + 4 * 33 + 1 * 33 = 219. Lambda(B + 1 = 2) with
    c_1 = 2 (8 + 1) = 18, c_2 = 2 (32 * 18 + 1) = 1154: 9 (32 * 2)(32 * 2) + (32 * 18 + 1)(32 * 2) + (32 * 1154 + 1)
    = 36864 + 36928 + 36929 = 110721. Gaussian slab cost per coordinate at B + 1 = 2: log(sqrt(2 pi)/2) + 2^2/2."""
    r = eps_n(1000, [8, 32, 32, 1], [6, 4], [1, 1, 1], "ss-ig")
    beta = math.log(math.sqrt(2 * math.pi) / 2) + 2.0
    volume, selection, slab_part = 219 * (math.log(1000) + math.log(110721)), 10 * (1 + math.log(32)), 219 * beta
    assert r.D == 219 and r.Lambda == pytest.approx(110721, rel=1e-14)
    assert r.volume == pytest.approx(volume, rel=1e-14)
    assert r.selection == pytest.approx(selection, rel=1e-14)
    assert r.betas == pytest.approx((9 * beta, 33 * beta, 33 * beta), rel=1e-14)
    assert r.slab == pytest.approx(slab_part, rel=1e-14)                  # s_l beta_l summed: 6*9 + 4*33 + 33 = 219
    assert r.eps2 == pytest.approx((volume + selection + slab_part) / 1000, rel=1e-14)


@settings(max_examples=200)
@given(topo=topologies(), sl=slabs(), lip=lipschitz_constants, n=st.floats(3.0, 1e9))
def test_decreasing_in_n_and_vanishing(topo, sl, lip, n):
    r1, r2 = rate(n, topo, sl, lipschitz=lip), rate(2.0 * n, topo, sl, lipschitz=lip)
    assert r2.eps2 < r1.eps2
    assert r2.n_r_n > r1.n_r_n                                      # n r_n grows like D log n
    assert rate(1e6 * n, topo, sl, lipschitz=lip).eps2 < 1e-4 * r1.eps2          # ~ log n / n -> 0


def _bigger(topo, what, l):
    widths, s, B = list(topo.widths), list(topo.s[:-1]), list(topo.B)
    if what == "s":
        widths[l + 1] = max(widths[l + 1], s[l] + 1)
        s[l] += 1
    elif what == "k":
        widths[l + 1] += 1
    elif what == "B":
        B[l] *= 1.7
    else:   # one more hidden layer before the output: copy the output layer's bound, s_new >= K = 1
        widths = widths[:-1] + [widths[-2], widths[-1]]
        s, B = s + [min(s[-1], widths[-2])], B[:-1] + [B[-1], B[-1]]
    return topology(widths, s, B, group_mode=topo.group_mode)


@settings(max_examples=200)
@given(topo=topologies(), sl=slabs(), lip=lipschitz_constants, n=sample_sizes, what=st.sampled_from("skBL"),
       layer=st.integers(0, 4))
def test_non_decreasing_in_s_k_B_and_L(topo, sl, lip, n, what, layer):
    """docs/theory-notes.md §3.2 'Monotonicity'; L grows by a hidden layer inserted before the output (L_psi >= 1)."""
    l = layer % (topo.L + (1 if what == "B" else 0))
    bigger = _bigger(topo, what, l)
    assert leq(rate(n, topo, sl, lipschitz=lip).eps2, rate(n, bigger, sl, lipschitz=lip).eps2)


@settings(max_examples=200)
@given(topo=topologies(modes=("full",)), sl=slabs(), n=sample_sizes, layer=st.integers(0, 3))
def test_affine_in_each_s_l_in_full_mode(topo, sl, n, layer):
    """In 'full' mode n r_n is affine in each s_l: the second difference vanishes."""
    l = layer % topo.L
    widths, s = list(topo.widths), list(topo.s[:-1])
    widths[l + 1] = max(widths[l + 1], s[l] + 2)

    def nr(ds):
        s2 = list(s); s2[l] += ds
        return rate(n, topology(widths, s2, topo.B, group_mode="full"), sl).n_r_n

    f0, f1, f2 = nr(0), nr(1), nr(2)
    assert abs(f2 - 2 * f1 + f0) <= 1e-10 * f2


@settings(max_examples=50)
@given(topo=topologies(modes=("full",), max_k=16), sigma0=st.floats(0.5, 2.0), lam=st.floats(0.2, 5.0),
       s_glob=st.floats(0.1, 2.0), n=sample_sizes, t=st.floats(1e-6, 1e3))
def test_ghs_below_gl_below_gauss_for_large_B(topo, sigma0, lam, s_glob, n, t):
    """For B >= B_0 (computed from the constants): eps^2(ss-ghs) <= eps^2(ss-gl) <= eps^2(ss-ig)."""
    B0 = max(ordering_threshold(m, M=M, sigma0=sigma0, lam_gl=lam, s_glob=s_glob) for m, M in set(zip(topo.m, topo.M)))
    assert B0 < 1e4
    big = topo.with_bounds(max(B0, 1e-3) * (1.0 + t))
    e = [rate(n, big, slab(p, sigma0=sigma0, lam_gl=lam, s_glob=s_glob)).eps2 for p in ("ss-ghs", "ss-gl", "ss-ig")]
    assert leq(e[0], e[1]) and leq(e[1], e[2])


@settings(max_examples=100)
@given(m=st.integers(1, 33), sigma0=st.floats(0.5, 2.0), lam=st.floats(0.2, 5.0), s_glob=st.floats(0.1, 2.0),
       c=st.floats(0.5, 4.0))
def test_regularised_horseshoe_loses_the_log_B_advantage(m, sigma0, lam, s_glob, c):
    """docs/theory-notes.md §7 item 4: with a finite slab width c the GHS cost grows like m B^2/(2 sigma0^2 c^2),
    so beyond B ~ sigma0 c it exceeds the group lasso's linear cost; the plain horseshoe stays below."""
    B = 1e4 * sigma0 * c
    plain, reg = slab("ss-ghs", sigma0=sigma0, s_glob=s_glob), slab("ss-ghs", sigma0=sigma0, s_glob=s_glob, c=c)
    gl = slab("ss-gl", sigma0=sigma0, lam_gl=lam)
    assert slab_cost(m, B, reg) >= m * (B + 1) ** 2 / (2 * (sigma0 * c) ** 2)
    assert slab_cost(m, B, reg) > slab_cost(m, B, gl) > slab_cost(m, B, plain)


# ---------------------------------------------------------------------------------------------
# schedule, validity, C1
# ---------------------------------------------------------------------------------------------
@settings(max_examples=100)
@given(topo=topologies(), n=sample_sizes, kappa=st.floats(0.05, 1.0))
def test_schedule(topo, n, kappa):
    sched = theory_lambda(topo.widths, n, kappa, group_mode=topo.group_mode, active=topo.s[:-1])
    if topo.group_mode == "full":
        assert sched == theory_schedule(list(topo.widths), n, kappa)          # reuses (S-3)
    for (log_lam, log_1m), k, m in zip(sched, topo.k[:-1], topo.m[:-1]):
        assert log_lam == pytest.approx(-(math.log(k) + kappa * m * math.log(n)), rel=1e-14)
        assert k * math.exp(log_lam) <= 1.0                                   # k_l lambda_l <= 1
        assert log_1m == pytest.approx(math.log1p(-math.exp(log_lam)), rel=1e-12, abs=1e-300)


@settings(max_examples=100)
@given(topo=topologies(), sl=slabs(), lip=lipschitz_constants, n=sample_sizes)
def test_sieve_entropy_condition_C1(topo, sl, lip, n):
    """log N(eps_n, F, sup) <= n eps_n^2 whenever n >= 4 Bbar^2 (docs/theory.md, T-5/T-11); the drawn range
    (n >= 100, B <= 4) meets that condition."""
    r = rate(n, topo, sl, lipschitz=lip)
    assert leq(entropy_bound(topo, r.eps, lipschitz=lip), n * r.eps2)


def test_validity_threshold():
    """eps_n < 1 exactly beyond the returned n (the worst-case constants make small n vacuous)."""
    topo = topology([8, 32, 32, 1], [6, 4], 1.0)
    n_star = validity_threshold(topo, slab("ss-gl"))
    assert rate(n_star, topo, slab("ss-gl")).eps2 == pytest.approx(1.0, rel=1e-9)
    assert rate(0.99 * n_star, topo, slab("ss-gl")).eps > 1.0 > rate(1.01 * n_star, topo, slab("ss-gl")).eps
    assert validity_threshold(topo, slab("ss-gl"), xi=1.0) == math.inf


def test_command_line_rates(capsys):
    """``python -m theory rates`` prints each prior's eps_n and parts, the table over n and the sensitivities."""
    argv = ["rates", "--widths", "4", "8", "8", "1", "--active", "3", "2", "--bounds", "1.5", "--n", "2000",
            "--activation", "tanh", "--group-mode", "active"]
    assert theory_main(argv) == 0
    out = capsys.readouterr().out
    r = eps_n(2000, [4, 8, 8, 1], [3, 2], 1.5, "ss-gl", group_mode="active")
    assert f"{r.eps:10.4g}" in out and "L+1 (copy layer L)" in out and "published*" in out
    for prior in PRIORS:
        assert prior in out
    with pytest.raises(SystemExit):
        theory_main(["rates", "--widths", "4", "8", "1", "--active", "9"])


# ---------------------------------------------------------------------------------------------
# (T-12) local exponent
# ---------------------------------------------------------------------------------------------
def test_local_exponent_with_n_only():
    assert local_exponent(2000.0) == pytest.approx(-1 + 1 / math.log(2000.0), rel=1e-15)
    assert local_exponent(2000.0) == pytest.approx(-0.8684, abs=1e-4)          # docs/theory-notes.md §3.2
    ns = np.array([250.0, 16000.0])
    np.testing.assert_allclose(local_exponent(ns), -1 + 1 / np.log(ns), rtol=1e-15)
    assert local_exponent(2000.0, delta=0.5) == pytest.approx(-1 + 2 / math.log(2000.0), rel=1e-15)


@settings(max_examples=100)
@given(topo=topologies(), sl=slabs(), n=sample_sizes, xi=st.sampled_from([0.0, 1e-4, 0.1]))
def test_local_exponent_is_the_log_log_derivative(topo, sl, n, xi):
    kw = dict(group_mode=topo.group_mode, sigma0=sl.sigma0, lam_gl=sl.lam_gl, s_glob=sl.s_glob, c=sl.c, xi=xi)
    args = (topo.widths, topo.s[:-1], topo.B, sl.prior)

    def log_eps2(p):                    # log eps_n^2 as a function of log n
        return math.log(eps_n(math.exp(p["log_n"]), *args, **kw).eps2)

    # central differences in log n (check_grads: tolerance from the measured truncation and round-off)
    check_grads(log_eps2, {"log_n": math.log(n)}, {"log_n": local_exponent(n, *args, **kw)})
    assert -1.0 < local_exponent(n, *args, **kw) < 0.0


# ---------------------------------------------------------------------------------------------
# (T-13) the reconstructed published form: shape only
# ---------------------------------------------------------------------------------------------
@settings(max_examples=100)
@given(topo=topologies(modes=("full",)), prior=st.sampled_from(PRIORS), n=sample_sizes,
       what=st.sampled_from("skB"), layer=st.integers(0, 4))
def test_published_shape(topo, prior, n, what, layer):
    def pub(t, nn=n):
        return eps_n_published(nn, t.widths, t.s[:-1], t.B, prior).eps2

    assert pub(topo, 2 * n) < pub(topo)
    l = layer % (topo.L + (1 if what == "B" else 0))
    assert leq(pub(topo), pub(_bigger(topo, what, l)))
    h = 1e-4
    slope = (math.log(pub(topo, n * math.exp(h))) - math.log(pub(topo, n * math.exp(-h)))) / (2 * h)
    assert -1.0 < slope < 0.0                                   # log n / n shape: slope -1 + O(1/log n)
    assert eps_n_published(n, topo.widths, topo.s[:-1], topo.B, prior, C=2.0).eps2 == pytest.approx(2 * pub(topo))


# ---------------------------------------------------------------------------------------------
# boundary checks
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: eps_n(100, [4, 8, 1], [9], 1.0, "ss-gl"), "s_1 = 9 exceeds"),
    (lambda: eps_n(100, [4, 8, 1], [2], [1.0], "ss-gl"), "bounds: expected one number or 2"),
    (lambda: eps_n(100, [4, 8, 1], [2], -1.0, "ss-gl"), "bounds"),
    (lambda: eps_n(100, [4, 8, 1], [2], 1.0, "horseshoe"), "prior: unknown"),
    (lambda: eps_n(1, [4, 8, 1], [2], 1.0, "ss-ig"), "n: expected a sample size > 1"),
    (lambda: eps_n(100, [4, 8, 1], [2], 1.0, "ss-ig", group_mode="half"), "group_mode"),
    (lambda: eps_n(100, [4, 8, 1], [2], 1.0, "ss-ghs", c=0.0), "c: the slab width"),
    (lambda: theory_lambda([4, 8, 1], 100, 2.0), "kappa"),
])
def test_boundary_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
