"""What the derived rate predicts for the contraction experiment, and slope intervals that hold at the
number of seeds used. (CE-3, CE-4)

The labels refer to the section "Contraction experiment" of ``docs/theory.md``.

(CE-3)  For seed s, b_s is the OLS slope of log(metric) on log n over the informative grid points. The
        estimate is b = mean_s b_s (the pooled OLS slope: every seed has the same grid) and the interval is
        Student's  b -+ t_{S-1, (1+level)/2} sd(b_s) / sqrt(S),  exact when the b_s are i.i.d. normal
        (every seed draws its own teacher, data and initialisation, so they are independent).
(CE-4)  The prediction is (T-11) ``eps_n`` of the experiment's own topology, reused from
        :mod:`theory.rates`, not re-derived:
          - vacuous points: ``eps_n^2 >= 1``; a squared Hellinger distance never exceeds 1, so the bound says
            nothing there and the point is kept out of the slope fit;
          - derived slope: the OLS slope of log eps_n^2 on log n over the same grid points as the fit, which
            is what the fit returns when the metric is C eps_n^2 exactly; (T-12) ``local_exponent`` at the
            points' geometric middle is reported beside it (the number ``python -m theory rates`` prints);
          - level: the ratio metric / eps_n^2, per n (geometric mean over seeds, t-interval on the log).
        Both group modes (T-1) are evaluated. The one the theorem licenses for the experiment is 'full'
        (:data:`LICENSED_MODE`): the student's prior uses the 'theory' schedule of refimpl (S-3), whose group
        sizes are the full ``k_{l-1} + 1``, and (T-11) needs the 'active' schedule for the 'active' rate.

What the theorem licenses is a bound on the level, E_Q H^2 <= C eps_n^2 for large n with an unknown C; a
slope is a prediction only if that bound is tight up to a constant, which the theorem does not say.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .rates import eps_n, local_exponent, validity_threshold
from .slab_mass import slab
from .topology import topology

GROUP_MODES = ("full", "active")
LICENSED_MODE = "full"     # the group mode of the schedule the experiment's student uses (S-3)


def loglog_slope(n, values) -> float:
    """OLS slope of ``log values`` against ``log n``."""
    x, y = np.log(np.asarray(n, dtype=np.float64)), np.log(np.asarray(values, dtype=np.float64))
    x = x - x.mean()
    return float(np.dot(x, y - y.mean()) / np.dot(x, x))


def t_interval(x, level: float = 0.95) -> dict:
    """Mean of ``x`` with Student's t interval ``mean -+ t_{S-1,(1+level)/2} sd / sqrt(S)`` (CE-3).

    With one value there is no spread to estimate: ``ci`` is ``None``."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size < 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"x: expected at least one finite value, got {x!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    out = {"mean": float(x.mean()), "ci": None, "se": None, "df": int(x.size - 1), "level": level}
    if x.size > 1:
        se = float(x.std(ddof=1) / math.sqrt(x.size))
        half = float(stats.t.ppf(0.5 + level / 2.0, x.size - 1)) * se
        out.update(ci=[out["mean"] - half, out["mean"] + half], se=se)
    return out


def seed_slopes(n, values, level: float = 0.95) -> dict:
    """(CE-3) Per-seed OLS slopes of ``log values`` on ``log n``, their mean and its t interval.

    ``values`` is ``(n_seeds, len(n))``, positive. Returns ``slope`` (the mean), ``ci``, ``se``, ``df``,
    ``level``, ``median_slope`` (the notes' statistic) and ``per_seed``."""
    n = np.asarray(n, dtype=np.float64)
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if n.ndim != 1 or n.size < 2 or len(set(n.tolist())) != n.size:
        raise ValueError(f"n: expected at least two distinct sample sizes, got {n.tolist()!r}")
    if values.shape[1] != n.size or not np.all(values > 0):
        raise ValueError(f"values: expected positive values of shape (n_seeds, {n.size}), got {values.shape}")
    per_seed = np.array([loglog_slope(n, v) for v in values])
    t = t_interval(per_seed, level)
    return {"slope": t["mean"], "ci": t["ci"], "se": t["se"], "df": t["df"], "level": level,
            "median_slope": float(np.median(per_seed)), "per_seed": per_seed.tolist()}


def derived_prediction(grid, widths, active, bounds, prior: str, *, lipschitz: float = 1.0,
                       group_mode: str = LICENSED_MODE, fit_n=None) -> dict:
    """(CE-4) What (T-11) says about a sweep over ``grid`` for one topology, prior and group mode.

    Returns ``eps2`` per n, ``vacuous`` per n (``eps_n^2 >= 1``), ``informative_n`` (the others),
    ``informative_from_n`` (``validity_threshold``), ``fit_n`` (the points of the slope fit: ``fit_n`` if
    given, else ``informative_n``), ``derived_slope`` (OLS slope of log eps_n^2 over ``fit_n``; ``None``
    with fewer than two) and ``local_slope`` (T-12 at their geometric middle ``n_mid``). The slab
    hyper-parameters are the defaults of :func:`theory.rates.eps_n`, as in ``python -m theory rates``.
    """
    grid = [int(n) for n in grid]
    eps2 = [eps_n(n, widths, active, bounds, prior, group_mode=group_mode, lipschitz=lipschitz).eps2 for n in grid]
    informative = [n for n, e in zip(grid, eps2) if e < 1.0]
    fit_n = informative if fit_n is None else [int(n) for n in fit_n]
    if not set(fit_n) <= set(grid):
        raise ValueError(f"fit_n: expected points of the grid {grid}, got {fit_n}")
    out = {"group_mode": group_mode, "n": grid, "eps2": eps2, "vacuous": [e >= 1.0 for e in eps2],
           "informative_n": informative,
           "informative_from_n": validity_threshold(topology(widths, active, bounds, group_mode=group_mode),
                                                    slab(prior), lipschitz=lipschitz),
           "fit_n": fit_n, "derived_slope": None, "local_slope": None, "n_mid": None}
    if len(fit_n) >= 2:
        kept = [eps2[grid.index(n)] for n in fit_n]
        n_mid = float(np.exp(np.mean(np.log(fit_n))))
        out.update(derived_slope=loglog_slope(fit_n, kept), n_mid=n_mid,
                   local_slope=float(local_exponent(n_mid, widths, active, bounds, prior, group_mode=group_mode,
                                                    lipschitz=lipschitz)))
    return out


def level_ratios(values, eps2, level: float = 0.95) -> dict:
    """(CE-4) ``values / eps_n^2`` per n: the geometric mean over seeds with a t interval on the log scale.

    ``values`` is ``(n_seeds, len(eps2))``. Returns lists over n: ``ratio``, ``ci`` (``None`` for one
    seed), and ``max_ratio``, the largest single ratio."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    eps2 = np.asarray(eps2, dtype=np.float64)
    if values.shape[1] != eps2.size or not np.all(values > 0) or not np.all(eps2 > 0):
        raise ValueError(f"values, eps2: expected positive values of shape (n_seeds, {eps2.size}) and "
                         f"({eps2.size},), got {values.shape}, {eps2.shape}")
    log_ratio = np.log(values / eps2)
    ts = [t_interval(col, level) for col in log_ratio.T]
    return {"ratio": [math.exp(t["mean"]) for t in ts],
            "ci": [None if t["ci"] is None else [math.exp(c) for c in t["ci"]] for t in ts],
            "max_ratio": float(np.exp(log_ratio.max())), "level": level}
