"""Prior inclusion probabilities ``lambda_l`` of the hidden-layer indicators ``z_lj ~ Bernoulli(lambda_l)``.

Layers are indexed as the parameters: weight layer ``l = 0..L-1`` feeds hidden layer ``l + 1`` of width
``k_{l+1}``, whose node groups have ``m = k_l + 1`` numbers. Schedules return ``(log lambda_l,
log(1 - lambda_l))`` as Python floats so that tiny probabilities never underflow. (S-1..S-3)

* ``constant``: a number in (0, 1), or one number per hidden layer.                              (S-1)
* ``paper``: the authors' formula (docs/paper-notes.md §2.4, read from their MLP scripts, written there for
  L = 2 and generalised here term by term), ``C = 1e-9``:                                           (S-2)
      u_j = (L+1)^2 [log n + log(L+1) + log(k_j + 1) + log k_{j+1}],   j = 0..L,   U = sum_j u_j
      v_l = (k_l + 1)^2 + sum_{m=0..L} log(k_m + 1) + L + log k_{l+1} + log n + log U
      -log lambda_l = log k_{l+1} + C (k_l + 1) v_l
  For 784-400-400-10 and n = 60000 it gives lambda = (1.541e-3, 2.344e-3), the notes' values.
* ``theory``: ``log(1/lambda_l) = log k_{l+1} + kappa (k_l + 1) log n`` (docs/theory-notes.md §3.2).  (S-3)
"""
from __future__ import annotations

import math
from numbers import Real

SCHEDULES = ("constant", "paper", "theory")


def _log1m_exp(log_p: float) -> float:
    """``log(1 - e^{log_p})`` for ``log_p < 0``, accurate for tiny and for near-one probabilities."""
    return math.log(-math.expm1(log_p)) if log_p > -math.log(2.0) else math.log1p(-math.exp(log_p))


def constant_schedule(widths, lam) -> list[tuple[float, float]]:
    """(S-1) ``lambda_l = lam`` (or ``lam[l]``) for every hidden layer."""
    n_hidden = len(widths) - 2
    values = [lam] * n_hidden if isinstance(lam, Real) else list(lam)
    if len(values) != n_hidden:
        raise ValueError(f"lam: expected one number or {n_hidden} numbers (one per hidden layer), got {len(values)}")
    for v in values:
        if not (isinstance(v, Real) and 0.0 < float(v) < 1.0):
            raise ValueError(f"lam: inclusion probabilities must lie in (0, 1), got {v!r}")
    return [(math.log(v), math.log1p(-v)) for v in map(float, values)]


def paper_schedule(widths, n: int, C: float = 1e-9) -> list[tuple[float, float]]:
    """(S-2) The authors' layer-wise inclusion probabilities for training-set size ``n``."""
    k = list(widths)
    L = len(k) - 2
    log_n = math.log(n)
    U = sum((L + 1) ** 2 * (log_n + math.log(L + 1) + math.log(k[j] + 1) + math.log(k[j + 1])) for j in range(L + 1))
    sum_log = sum(math.log(k[m] + 1) for m in range(L + 1))
    out = []
    for l in range(L):
        v = (k[l] + 1) ** 2 + sum_log + L + math.log(k[l + 1]) + log_n + math.log(U)
        log_lam = -(math.log(k[l + 1]) + C * (k[l] + 1) * v)
        out.append((log_lam, _log1m_exp(log_lam)))
    return out


def theory_schedule(widths, n: int, kappa: float = 0.1) -> list[tuple[float, float]]:
    """(S-3) ``log(1/lambda_l) = log k_{l+1} + kappa (k_l + 1) log n``."""
    out = []
    for l in range(len(widths) - 2):
        log_lam = -(math.log(widths[l + 1]) + kappa * (widths[l] + 1) * math.log(n))
        out.append((log_lam, _log1m_exp(log_lam)))
    return out


def inclusion_log_probs(widths, lam, n: int, C: float = 1e-9, kappa: float = 0.1):
    """``[(log lambda_l, log(1 - lambda_l))]`` for each hidden layer from the spec ``lam``.

    ``lam`` is a number or a sequence (constant schedule) or a schedule name ``"paper"``/``"theory"``;
    ``n`` is the training-set size N used by the ELBO.
    """
    if isinstance(lam, str):
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"n_data: the {lam!r} schedule needs the training-set size N >= 2, got {n!r}")
        if lam == "paper":
            return paper_schedule(widths, n, C)
        if lam == "theory":
            return theory_schedule(widths, n, kappa)
        raise ValueError(f"lam: unknown schedule {lam!r}; use a number in (0, 1), a list of them, 'paper' or 'theory'")
    return constant_schedule(widths, lam)
