"""Prior mass of a box around one active group, exactly and by an analytic bound. (T-6, T-7)

Derived here (docs/theory-notes.md §4.4). One active group has ``m`` relevant coordinates with true values
``w_i`` (``|w_i| <= B``); the box is ``|theta_i - w_i| <= eta`` on those coordinates and the other
``M - m`` coordinates of the group are free. ``Phi = -log P_slab(box)``.

(T-6) exact, in log space, no sampling:
  ss-ig   w ~ N(0, sigma0^2 I):  Phi = -sum_i log P(|sigma0 Z - w_i| <= eta)            (closed form)
  ss-gl   w | tau ~ N(0, sigma0^2 tau^2 I), tau^2 ~ Gamma((M+1)/2, rate lam^2/2)
  ss-ghs  w | tau ~ N(0, u(tau)^2 I), u = sigma0 creg(s tau), tau ~ C+(0, 1),
          creg(t) = c t / sqrt(c^2 + t^2) (t itself for c = inf); s = s_glob is held fixed
  For the two mixtures ``P = int p(v) prod_i P(|u(v) Z - w_i| <= eta) dv`` over ``v = log tau``,
  by the trapezoid rule on the log integrand's support (spectrally accurate for this smooth,
  two-sided exponentially decaying integrand), refined until two resolutions agree.

(T-7) analytic upper bound ``Phi <= m log(1/eta) + cost(r)`` with the corner ``r = B + eta``:
  ss-ig   cost = m log(sigma0 sqrt(2 pi) / 2) + m r^2 / (2 sigma0^2)
  ss-gl   cost = -m log 2 - log p_m(sqrt(m) r), p_m the density of m coordinates of the slab,
          radially decreasing; for m = M the multivariate Laplace, else a Bessel-K form
  ss-ghs  cost = min_{b0 > 0} m log(sqrt(2 pi) b0) + (m r^2 / 2)(1/b0^2 + 1/(sigma0 c)^2) - log P(tau in [x, 2x]),
          x = b0 / (sigma0 s): restrict tau to [x, 2x], so u <= 2 b0 and 1/u^2 <= 1/b0^2 + 1/(sigma0 c)^2
          (docs/theory-notes.md §4.4 takes b0 = B/sigma0-ish); every b0 gives a valid bound, the minimum
          (bounded Brent on log b0, and the candidate b0 = max(r, sigma0 s)) the sharpest; for large r
          the minimiser is b0 ~ r and cost ~ (m + 1) log r (+ m r^2/(2 sigma0^2 c^2) when c < inf).
The slab cost of the rate (T-11) is ``beta = max(0, cost(B + 1))``: an upper bound on
``Phi - m log(1/eta)`` for every ``eta <= 1``, never negative.

The global horseshoe scale is a fixed hyper-parameter here; the code's local scale ``b_loc`` folds into
``s_glob`` (``s tau`` with ``tau ~ C+(0, b_loc)`` is ``(s b_loc) tau'``, ``tau' ~ C+(0, 1)``). SS-GL's ``lam``
is fixed too (the code's ``lam^2 ~ Gamma(4, 2)`` hyper-prior is outside this analysis).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import gammaln, kve, log_ndtr, logsumexp

PRIORS = ("ss-ig", "ss-gl", "ss-ghs")
_ALIASES = {"gaussian": "ss-ig", "ss-ig": "ss-ig", "ss-gl": "ss-gl", "ss-ghs": "ss-ghs"}
_LOG_2PI = math.log(2.0 * math.pi)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)     # exact to ~1e-19 on intervals with h (c + h) <= 1
_GL_W_NORM = _GL_W / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Slab:
    """A slab family with its fixed hyper-parameters; build it with :func:`slab`."""

    prior: str
    sigma0: float = 1.0
    lam_gl: float = 1.0
    s_glob: float = 1.0
    c: float = math.inf


def slab(prior: str, *, sigma0: float = 1.0, lam_gl: float = 1.0, s_glob: float = 1.0, c=None) -> Slab:
    """Validated :class:`Slab`. ``prior`` is 'ss-ig' (alias 'gaussian'), 'ss-gl' or 'ss-ghs';
    ``c=None`` (or inf) is the plain group horseshoe, a number the regularised one."""
    if isinstance(prior, Slab):
        return prior
    if prior not in _ALIASES:
        raise ValueError(f"prior: unknown {prior!r}; choose one of {PRIORS}")
    for name, v in (("sigma0", sigma0), ("lam_gl", lam_gl), ("s_glob", s_glob)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 < v < math.inf):
            raise ValueError(f"{name}: expected a finite number > 0, got {v!r}")
    c = math.inf if c is None else c
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
        raise ValueError(f"c: the slab width must be > 0 (None or inf for the plain horseshoe), got {c!r}")
    return Slab(_ALIASES[prior], float(sigma0), float(lam_gl), float(s_glob), float(c))


# ---------------------------------------------------------------------------------------------
# (T-6) exact
# ---------------------------------------------------------------------------------------------
def log_interval_prob(w, eta, scale) -> np.ndarray:
    """``log P(|scale Z - w| <= eta)``, ``Z ~ N(0, 1)``, element-wise and accurate for every size.

    Narrow intervals (``h (c + h) <= 1`` with ``c = |w|/scale``, ``h = eta/scale``) use 10-point
    Gauss-Legendre on ``phi(c + h x) / phi(c)`` (no cancellation); wide ones the log-difference of ``log_ndtr``
    reflected to the lower tail, ``log_ndtr(a) + log(-expm1(log_ndtr(b) - log_ndtr(a)))``, which
    stays finite where the naive CDF difference underflows (docs/theory-notes.md §5(c)3).
    """
    c, h = np.broadcast_arrays(np.abs(np.asarray(w, dtype=np.float64)) / scale,
                               np.asarray(eta, dtype=np.float64) / scale)
    c, h = c.ravel(), h.ravel()
    out = np.empty(c.size)
    narrow = h * (c + h) <= 1.0
    cn, hn = c[narrow], h[narrow]
    hx = hn[:, None] * _GL_X                             # exponent below is in [-1.5, 1.5]: no overflow
    out[narrow] = np.log(hn) - 0.5 * cn * cn + np.log(np.exp(-hx * (cn[:, None] + 0.5 * hx)) @ _GL_W_NORM)
    wide = ~narrow
    lo, hi = c[wide] - h[wide], c[wide] + h[wide]
    up = lo > 0.0
    a = log_ndtr(np.where(up, -lo, hi))      # reflected so that both ends lie in the lower tail
    b = log_ndtr(np.where(up, -hi, lo))
    out[wide] = a + np.log(-np.expm1(b - a))
    shape = np.broadcast_shapes(np.shape(w), np.shape(eta), np.shape(scale))
    return out.reshape(shape)


def _log_prior_and_scale(sl: Slab, v: np.ndarray, M: int):
    """``(log p(v), u(v))`` for ``v = log tau``: the mixing density and the slab std."""
    if sl.prior == "ss-gl":
        a, b = 0.5 * (M + 1), 0.5 * sl.lam_gl ** 2
        return a * math.log(b) - gammaln(a) + math.log(2.0) + 2.0 * a * v - b * np.exp(2.0 * v), sl.sigma0 * np.exp(v)
    av = np.abs(v)
    log_p = -math.log(math.pi) - (av + np.log1p(np.exp(-2.0 * av)) - math.log(2.0))    # C+(0,1) in log tau
    log_t = math.log(sl.s_glob) + v
    log_u = math.log(sl.sigma0) + log_t
    if math.isfinite(sl.c):
        log_u = log_u - 0.5 * np.logaddexp(0.0, 2.0 * (log_t - math.log(sl.c)))
    return log_p, np.exp(log_u)


def _log_trapezoid(g: np.ndarray, dv: float) -> np.ndarray:
    """``log(dv * sum exp(g))`` along the last axis (the ends are negligible by construction)."""
    return logsumexp(g, axis=-1) + math.log(dv)


def neg_log_box(w, eta: float, sl: Slab, *, M: int | None = None, rtol: float = 1e-11):
    """(T-6) ``Phi = -log P_slab(|theta_i - w_i| <= eta, i = 1..m)`` for each row of ``w`` ``(G, m)``.

    ``M`` is the full group size (SS-GL's Gamma shape ``(M+1)/2``; default ``m``). Returns
    ``(Phi, err)``, both ``(G,)``; ``err`` is an absolute error estimate (0 for the closed form).
    """
    sl = slab(sl) if isinstance(sl, str) else sl
    w = np.atleast_2d(np.asarray(w, dtype=np.float64))
    G, m = w.shape
    M = m if M is None else M
    if not (eta > 0 and math.isfinite(eta)):
        raise ValueError(f"eta: expected a finite box half-width > 0, got {eta!r}")
    if sl.prior == "ss-ig":
        return -log_interval_prob(w, eta, sl.sigma0).sum(axis=-1), np.zeros(G)

    def g(v):   # log integrand (G, len(v))
        log_p, u = _log_prior_and_scale(sl, v, M)
        return log_p + log_interval_prob(w[:, None, :], eta, u[None, :, None]).sum(axis=-1)

    coarse = np.arange(-80.0, 80.0 + 1e-9, 0.5)
    gc = g(coarse)
    keep = gc > gc.max(axis=-1, keepdims=True) - 60.0
    idx = np.nonzero(keep.any(axis=0))[0]
    lo, hi = coarse[max(idx[0] - 1, 0)], coarse[min(idx[-1] + 1, coarse.size - 1)]
    n_pts = 257
    prev = None
    while True:
        v = np.linspace(lo, hi, n_pts)
        val = _log_trapezoid(g(v), v[1] - v[0])
        if prev is not None:
            err = np.abs(val - prev)
            if np.all(err <= rtol * np.maximum(1.0, np.abs(val))) or n_pts > 2 ** 17:
                return -val, err
        prev = val
        n_pts = 2 * n_pts - 1


# ---------------------------------------------------------------------------------------------
# (T-7) analytic bound and slab cost
# ---------------------------------------------------------------------------------------------
def log_bessel_k(nu: float, z: float) -> float:
    """``log K_nu(z)`` for ``z > 0``: ``log kve - z`` where ``kve`` is finite, else the integral
    ``K_nu(z) = int_0^inf exp(-z cosh t) cosh(nu t) dt`` by the trapezoid rule in log space."""
    with np.errstate(over="ignore"):
        k = float(kve(nu, z))
    if 0.0 < k < math.inf:
        return math.log(k) - z
    top = math.asinh(nu / z) + 8.0
    t = np.linspace(0.0, top, 200_001)
    log_w = np.full(t.size, math.log(t[1]))
    log_w[[0, -1]] -= math.log(2.0)                                   # trapezoid end weights
    log_cosh = nu * t + np.log1p(np.exp(-2.0 * nu * t)) - math.log(2.0)
    return float(logsumexp(log_w - z * np.cosh(t) + log_cosh))


def log_gl_marginal(r: float, m: int, M: int, sigma0: float, lam: float) -> float:
    """(T-7) ``log p_m(w)`` at ``||w||_2 = r``: m coordinates of an SS-GL slab group of size M.

    ``p_m(r) = (2 pi sigma0^2)^{-m/2} b^a / Gamma(a) * 2 (r/(sigma0 lam))^nu K_nu(lam r / sigma0)``,
    ``a = (M+1)/2``, ``b = lam^2/2``, ``nu = a - m/2``; for ``m = M`` it is the multivariate Laplace
    ``lam^m / (sigma0^m 2^m pi^{(m-1)/2} Gamma((m+1)/2)) exp(-lam r / sigma0)`` (Kyung et al. 2010).
    """
    if m == M:
        return (m * math.log(lam / sigma0) - m * math.log(2.0) - 0.5 * (m - 1) * math.log(math.pi)
                - float(gammaln(0.5 * (m + 1))) - lam * r / sigma0)
    a, b = 0.5 * (M + 1), 0.5 * lam * lam
    nu = a - 0.5 * m
    return (-0.5 * m * (_LOG_2PI + 2.0 * math.log(sigma0)) + a * math.log(b) - float(gammaln(a)) + math.log(2.0)
            + nu * math.log(r / (sigma0 * lam)) + log_bessel_k(nu, lam * r / sigma0))


def _half_cauchy_log_prob(x: float) -> float:
    """``log P(tau in [x, 2x])`` for ``tau ~ C+(0,1)``: ``log((2/pi) arctan(x / (1 + 2 x^2)))``."""
    return math.log(2.0 / math.pi) + math.log(math.atan(x / (1.0 + 2.0 * x * x)))


def box_cost(m: int, r: float, sl: Slab, *, M: int | None = None) -> float:
    """(T-7) ``cost(r)`` with ``Phi <= m log(1/eta) + cost(B + eta)`` for every group with ``|w_i| <= B``."""
    M = m if M is None else M
    if sl.prior == "ss-ig":
        return m * math.log(sl.sigma0 * math.sqrt(2.0 * math.pi) / 2.0) + m * r * r / (2.0 * sl.sigma0 ** 2)
    if sl.prior == "ss-gl":
        return -m * math.log(2.0) - log_gl_marginal(math.sqrt(m) * r, m, M, sl.sigma0, sl.lam_gl)
    scale = sl.sigma0 * sl.s_glob
    reg = (1.0 / (sl.sigma0 * sl.c)) ** 2

    def bound(log_b0):   # valid for every b0 > 0: restrict u = sigma0 creg(s tau) to [b0 creg-shrunk, 2 b0]
        b0 = math.exp(log_b0)
        return (m * math.log(math.sqrt(2.0 * math.pi) * b0) + 0.5 * m * r * r * (1.0 / b0 ** 2 + reg)
                - _half_cauchy_log_prob(b0 / scale))

    lo, hi = math.log(min(r, scale)) - 3.0, math.log(max(r, scale)) + 3.0
    best = minimize_scalar(bound, bounds=(lo, hi), method="bounded", options=dict(xatol=1e-10))
    return min(bound(math.log(max(r, scale))), float(best.fun))


def analytic_neg_log_box(m: int, eta: float, B: float, sl: Slab, *, M: int | None = None) -> float:
    """(T-7) ``m log(1/eta) + cost(B + eta)``: an upper bound on :func:`neg_log_box` for ``|w_i| <= B``."""
    return m * math.log(1.0 / eta) + box_cost(m, B + eta, sl, M=M)


def slab_cost(m: int, B: float, sl: Slab, *, M: int | None = None) -> float:
    """(T-7) ``beta = max(0, cost(B + 1))``: the rate's per-group slab cost (valid for ``eta <= 1``).

    For ss-gl with ``m < M`` ('active' group mode) it is the envelope ``max_{m <= M' <= M} cost``: the
    Gamma shape ``(M+1)/2`` grows with the layer width, which makes the m-coordinate marginal
    heavier-tailed, so the plain cost can *decrease* when a layer is widened (e.g. m = 2, B = 3,
    lam = 2: M = 2 -> 3 lowers it by 0.78 nats). The envelope is still an upper bound and makes
    eps_n non-decreasing in every k_l.
    """
    M = m if M is None else M
    if sl.prior == "ss-gl" and M > m:
        return max(0.0, max(box_cost(m, B + 1.0, sl, M=Mp) for Mp in range(m, M + 1)))
    return max(0.0, box_cost(m, B + 1.0, sl, M=M))
