"""The derived contraction rate ``eps_n`` of node-sparse BNNs, its inclusion schedule and local exponent.
(T-11..T-13)

Derived here (docs/theory-notes.md §3.2), not the paper's: the paper's theorem text was not available, so its
constants are unknown. The reconstructed published form sits apart in :func:`eps_n_published`.

(T-11)  n r_n = D [log n + log max(1, Lambda(B + 1))]      volume: entropy and prior-mass volume
              + sum_{l=1..L} s_l log(e k_l)                 selection: which nodes are on
              + sum_{l=1..L+1} s_l beta_l                   slab: cost of true weights of size B_l
        eps_n^2 = r_n + xi_n
  with D, a_l, m_l from (T-1), Lambda from (T-4) and beta_l = max(0, cost_l(B_l + 1)) from (T-7): the
  analytic bound on a group's box mass minus its volume part ``m_l log(1/eta)``, for every ``eta <= 1``.
  Its large-B behaviour: quadratic (ss-ig), linear (ss-gl), logarithmic (plain ss-ghs), and quadratic
  again with slope ``m/(2 sigma0^2 c^2)`` for the regularised horseshoe.
  Schedule: log(1/lambda_l) = log k_l + kappa m_l log n,  kappa in (0, 1].
(T-12)  d log eps_n^2 / d log n = (r_n / eps_n^2) (-1 + D / (n r_n)); with a fixed topology and
        negligible constants, -1 + 1/log n (about -0.87 at n = 2000).
(T-13)  the reconstructed published form (docs/paper-notes.md §6.5, docs/theory-notes.md §3.1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammaln

from refimpl.schedules import _log1m_exp, theory_schedule

from .lipschitz import lipschitz_constant
from .slab_mass import Slab, slab, slab_cost
from .topology import Topology, topology


@dataclass(frozen=True)
class Rate:
    """(T-11) ``eps_n^2`` and its parts. ``volume``, ``selection`` and ``slab`` are in nats: they add up
    to ``n r_n``; ``betas`` is the per-group slab cost of each layer ``l = 1..L+1``."""

    n: float
    D: int
    Lambda: float
    volume: float
    selection: float
    slab: float
    betas: tuple
    xi: float

    @property
    def n_r_n(self) -> float:
        """``volume + selection + slab`` (nats)."""
        return self.volume + self.selection + self.slab

    total = n_r_n

    @property
    def r_n(self) -> float:
        return self.n_r_n / self.n

    @property
    def eps2(self) -> float:
        """``eps_n^2 = r_n + xi_n``."""
        return self.r_n + self.xi

    @property
    def eps(self) -> float:
        return math.sqrt(self.eps2)


def _check_n(n) -> float:
    if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)) or not (1.0 < n < math.inf):
        raise ValueError(f"n: expected a sample size > 1, got {n!r}")
    return float(n)


def rate(n, topo: Topology, sl: Slab, *, lipschitz: float = 1.0, xi: float = 0.0) -> Rate:
    """(T-11) :func:`eps_n` on a validated :class:`Topology` and :class:`Slab`."""
    n = _check_n(n)
    if not (xi >= 0.0 and math.isfinite(xi)):
        raise ValueError(f"xi: the approximation error must be finite and >= 0, got {xi!r}")
    lam = lipschitz_constant(topo.with_bounds([B + 1.0 for B in topo.B]), lipschitz=lipschitz)
    volume = topo.D * (math.log(n) + math.log(max(1.0, lam)))
    selection = sum(s * (1.0 + math.log(k)) for s, k in zip(topo.s[:-1], topo.k[:-1]))
    betas = tuple(slab_cost(m, B, sl, M=M) for m, M, B in zip(topo.m, topo.M, topo.B))
    return Rate(n, topo.D, lam, volume, selection, sum(s * b for s, b in zip(topo.s, betas)), betas, float(xi))


def eps_n(n, widths, active, bounds, prior, *, group_mode: str = "full", lipschitz: float = 1.0,
          sigma0: float = 1.0, lam_gl: float = 1.0, s_glob: float = 1.0, c=None, xi: float = 0.0) -> Rate:
    """(T-11) The derived rate for ``widths = [p, k_1..k_L, K]``, ``active = [s_1..s_L]``, ``bounds``
    (one number or ``B_1..B_{L+1}``) and ``prior`` in {'ss-ig', 'ss-gl', 'ss-ghs'}.

    ``lipschitz`` is ``L_psi`` (SiLU: ``refimpl.activations.SILU_LIPSCHITZ``); ``sigma0``, ``lam_gl``,
    ``s_glob``, ``c`` are the slab hyper-parameters (``c=None``: plain horseshoe); ``xi`` is the
    approximation error ``||f_theta* - f_0||_inf^2``. Returns a :class:`Rate` (``.eps2``, ``.eps``, parts).
    """
    topo = topology(widths, active, bounds, group_mode=group_mode)
    return rate(n, topo, slab(prior, sigma0=sigma0, lam_gl=lam_gl, s_glob=s_glob, c=c), lipschitz=lipschitz, xi=xi)


def validity_threshold(topo: Topology, sl: Slab, *, lipschitz: float = 1.0, xi: float = 0.0) -> float:
    """(T-11) The sample size above which ``eps_n < 1`` (the rate is informative): the root of
    ``eps_n^2 = 1`` in ``log n`` (``eps_n^2`` decreases for ``n >= 3``); ``inf`` when ``xi >= 1``."""
    if xi >= 1.0:
        return math.inf
    f = lambda log_n: math.log(rate(math.exp(log_n), topo, sl, lipschitz=lipschitz, xi=xi).eps2)
    lo, hi = math.log(3.0), math.log(10.0)
    if f(lo) < 0.0:
        return 3.0
    while f(hi) >= 0.0:
        lo, hi = hi, 2.0 * hi
    return math.exp(brentq(f, lo, hi, xtol=1e-12, rtol=1e-12))


def theory_lambda(widths, n, kappa: float = 0.1, *, group_mode: str = "full", active=None) -> list[tuple[float, float]]:
    """(T-11) ``[(log lambda_l, log(1 - lambda_l))]``, ``log(1/lambda_l) = log k_l + kappa m_l log n``.

    In 'full' mode ``m_l = k_{l-1} + 1`` and this is ``refimpl.schedules.theory_schedule`` (S-3); in
    'active' mode ``m_l = s_{l-1} + 1`` (``active`` required), the group size the C3 bound charges.
    """
    if not (0.0 < kappa <= 1.0):
        raise ValueError(f"kappa: expected a number in (0, 1], got {kappa!r}")
    if group_mode == "full":
        return theory_schedule(list(widths), n, kappa)
    topo = topology(widths, active, 0.0, group_mode=group_mode)
    out = []
    for k, m in zip(topo.k[:-1], topo.m[:-1]):
        log_lam = -(math.log(k) + kappa * m * math.log(n))
        out.append((log_lam, _log1m_exp(log_lam)))
    return out


def local_exponent(n, widths=None, active=None, bounds=None, prior: str = "ss-ig", *, delta: float = 0.0, **kw):
    """(T-12) The predicted local log-log slope ``d log eps_n^2 / d log n``.

    With only ``n``: the fixed-topology shape ``eps_n^2 ∝ log^{1+2 delta} n / n``, slope
    ``-1 + (1 + 2 delta)/log n`` (``delta = 0``: -0.868 at n = 2000). With a topology (and the keywords
    of :func:`eps_n`): the exact slope of the derived rate, ``(r_n/eps_n^2)(-1 + D/(n r_n))``.
    ``n`` may be an array; the result then has its shape.
    """
    if widths is None:
        out = -1.0 + (1.0 + 2.0 * delta) / np.log(np.asarray(n, dtype=np.float64))
        return float(out) if np.ndim(out) == 0 else out

    def one(nn):
        r = eps_n(float(nn), widths, active, bounds, prior, **kw)
        return (r.r_n / r.eps2) * (-1.0 + r.D / r.n_r_n)

    arr = np.asarray(n, dtype=np.float64)
    out = np.vectorize(one)(arr)
    return float(out) if np.ndim(out) == 0 else out


# ---------------------------------------------------------------------------------------------
# (T-13) the reconstructed published form: shape only
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishedRate:
    """(T-13) ``n eps_n^2 = C sum_l s_l (k_{l-1} + 1) vartheta_l``; ``terms`` are the layer summands."""

    n: float
    terms: tuple

    @property
    def eps2(self) -> float:
        return sum(self.terms) / self.n

    @property
    def eps(self) -> float:
        return math.sqrt(self.eps2)


def _slab_term_published(m: int, B: float, sl: Slab) -> float:
    """Per-coordinate slab term R_slab of docs/paper-notes.md §6.5 (its table, transcribed)."""
    if sl.prior == "ss-ig":
        return B * B / (2.0 * sl.sigma0 ** 2) + math.log(sl.sigma0 * math.sqrt(2.0 * math.pi))
    if sl.prior == "ss-gl":
        return (sl.lam_gl * B / (sl.sigma0 * math.sqrt(m)) + math.log(2.0 * sl.sigma0 / sl.lam_gl)
                + (m - 1) / (2.0 * m) * math.log(math.pi) + float(gammaln(0.5 * (m + 1))) / m)
    out = (m + 1) / m * math.log1p(math.sqrt(m) * B / (sl.sigma0 * sl.s_glob))
    return out + (B * B / (2.0 * (sl.sigma0 * sl.c) ** 2) if math.isfinite(sl.c) else 0.0)


def eps_n_published(n, widths, active, bounds, prior, *, C: float = 1.0, sigma0: float = 1.0, lam_gl: float = 1.0,
                    s_glob: float = 1.0, c=None) -> PublishedRate:
    """(T-13) RECONSTRUCTED, NOT THE PAPER'S TEXT: the shape recalled in docs/theory-notes.md §3.1 with the slab
    terms of docs/paper-notes.md §6.5 and a free constant ``C`` (to be transcribed from the PDF):

        n eps_n^2 = C sum_{l=1..L+1} s_l (k_{l-1}+1) vartheta_l,
        vartheta_l = log n + log(L+1) + sum_{m=0..L} log(k_m+1) + sum_{m != l} log max(1, B_m) + R_slab(l).

    Only its shape (decrease in n, growth in s, k, B, exponent) is tested.
    """
    n = _check_n(n)
    topo = topology(widths, active, bounds, group_mode="full")
    sl = slab(prior, sigma0=sigma0, lam_gl=lam_gl, s_glob=s_glob, c=c)
    common = math.log(n) + math.log(topo.L + 1) + sum(math.log(k + 1) for k in topo.widths[:-1])
    log_Bbar = [math.log(max(1.0, B)) for B in topo.B]
    terms = []
    for l, (s, M, B) in enumerate(zip(topo.s, topo.M, topo.B)):
        vartheta = common + sum(log_Bbar) - log_Bbar[l] + _slab_term_published(M, B, sl)
        terms.append(C * s * M * vartheta)
    return PublishedRate(n, tuple(terms))


# ---------------------------------------------------------------------------------------------
# the slab ordering for large B
# ---------------------------------------------------------------------------------------------
def ordering_threshold(m: int, *, M: int | None = None, sigma0: float = 1.0, lam_gl: float = 1.0,
                       s_glob: float = 1.0, B_max: float = 1e9) -> float:
    """(T-11) ``B_0`` with ``beta(ss-ghs) <= beta(ss-gl) <= beta(ss-ig)`` for every ``B >= B_0``
    (plain horseshoe): the last crossing of the two differences, located on a geometric grid and
    refined by root finding. Both differences are convex in B beyond ``max(1, sigma0 s_glob)``
    (quadratic minus linear; linear minus ``(m+1) log B``), so they do not cross again."""
    sls = [slab(p, sigma0=sigma0, lam_gl=lam_gl, s_glob=s_glob) for p in ("ss-ghs", "ss-gl", "ss-ig")]

    def diff(i, B):
        return slab_cost(m, B, sls[i + 1], M=M) - slab_cost(m, B, sls[i], M=M)

    grid = np.geomspace(1e-3, B_max, 121)
    B0 = 0.0
    for i in (0, 1):
        vals = np.array([diff(i, B) for B in grid])
        bad = np.nonzero(vals < 0.0)[0]
        if bad.size == 0:
            continue
        j = bad[-1]
        if j == grid.size - 1:
            return math.inf
        B0 = max(B0, brentq(lambda B: diff(i, B), grid[j], grid[j + 1], xtol=1e-12, rtol=1e-12))
    return B0
