"""Predictive metrics on host NumPy arrays of network outputs, and the structure counts of a pruned
network (docs/spec.md §7; docs/paper-notes.md §5.5).

Network outputs are ``(S, B, K)``: ``S`` Monte Carlo samples (axis 0), ``B`` data points, ``K``
logits (classification) or means (regression), as returned by ``NodeSparseBNN.predict`` and moved
to the host with ``backend.to_numpy``.

* classification: :func:`predictive_probs` (the average over samples, of probabilities by default,
  of logits as the authors optionally), then :func:`accuracy`, :func:`nll`, :func:`ece`,
  :func:`brier` on the predictive probabilities ``(B, K)``; :func:`classification_metrics` all at
  once, with the NLL computed in log space from the logits.
* regression (standardised targets ``y_std = (y_orig - mu_y) / y_scale``): :func:`rmse` and
  :func:`gaussian_test_loglik` in original units.
* structure: :func:`node_density`, :func:`params_kept`, :func:`flops_kept`. Fractions are fractions
  *kept* (never "sparsity").

Everything here runs on the host in float64; nothing is differentiated.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from scipy.special import log_softmax, logsumexp

AVERAGES = ("probs", "logits")


# ---- boundary checks -----------------------------------------------------------------------------
class NonFiniteError(ValueError):
    """An input of a metric holds NaN or infinite values (the training loop reads it as divergence)."""


def _float_array(name: str, a, ndim=None) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected real numbers, got dtype {a.dtype}")
    if ndim is not None and a.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(f"{name}: expected {ndim} axes, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: is empty (shape {a.shape}); metrics need at least one sample and data point")
    if not np.all(np.isfinite(a)):
        raise NonFiniteError(f"{name}: contains NaN or infinite values")
    return a.astype(np.float64, copy=False)


def _outputs(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"{name}: expected network outputs of shape (S, B, K), got shape {a.shape}; "
                         "add a leading sample axis with a[None] for a single sample")
    return _float_array(name, a)


def _labels(y, batch: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise ValueError(f"y: expected integer class labels, got dtype {y.dtype}; cast with y.astype(int)")
    if y.shape != (batch,):
        raise ValueError(f"y: expected shape ({batch},) to match the predictions, got {y.shape}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y: labels must lie in [0, {n_classes - 1}] ({n_classes} classes), got range [{y.min()}, {y.max()}]")
    return y


def _probs(probs) -> np.ndarray:
    p = _float_array("probs", probs, ndim=2)
    if p.shape[1] < 2:
        raise ValueError(f"probs: expected (B, K) class probabilities with K >= 2, got shape {p.shape}")
    # tolerance: float32 probabilities summed over K classes carry round-off ~ K * 6e-8
    if p.min() < 0 or p.max() > 1 or np.max(np.abs(p.sum(axis=1) - 1.0)) > 1e-5:
        raise ValueError("probs: each row must be a probability vector (entries in [0, 1] summing to 1); "
                         "pass predictive_probs(logits), not logits")
    return p


# ---- classification ----------------------------------------------------------------------------------
def predictive_log_probs(logits, average: str = "probs") -> np.ndarray:
    """Log predictive probabilities ``(B, K)`` from logits ``(S, B, K)``, in log space.     (M-1)

    ``average="probs"`` (default, docs/spec.md §7): ``log p_ik = logsumexp_s log_softmax(logits_s)_ik - log S``,
    the log of the Monte Carlo average of the S softmax outputs.
    ``average="logits"`` (the authors' option, docs/paper-notes.md §5.5): ``log_softmax((1/S) sum_s logits_s)``.
    """
    f = _outputs("logits", logits)
    if average == "probs":
        return logsumexp(log_softmax(f, axis=2), axis=0) - math.log(f.shape[0])
    if average == "logits":
        return log_softmax(f.mean(axis=0), axis=1)
    raise ValueError(f"average: unknown {average!r}; choose one of {AVERAGES}")


def predictive_probs(logits, average: str = "probs") -> np.ndarray:
    """Predictive class probabilities ``(B, K)``: ``exp`` of :func:`predictive_log_probs` (M-1)."""
    return np.exp(predictive_log_probs(logits, average))


def accuracy(probs, y) -> float:
    """``(1/B) sum_i 1[argmax_k p_ik = y_i]`` (ties go to the smallest class index)."""
    p = _probs(probs)
    y = _labels(y, *p.shape)
    return float(np.mean(np.argmax(p, axis=1) == y))


def nll(probs, y) -> float:
    """``-(1/B) sum_i log p_{i, y_i}`` of the predictive (``inf`` if some ``p_{i, y_i} = 0``).  (M-2)

    For predictions so confident that probabilities underflow, use :func:`classification_metrics`,
    which takes the log from :func:`predictive_log_probs` instead of from ``probs``."""
    p = _probs(probs)
    y = _labels(y, *p.shape)
    with np.errstate(divide="ignore"):  # log 0 = -inf is the honest answer
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def ece(probs, y, n_bins: int = 15) -> float:
    """Expected calibration error of the top label, equal-width bins (Guo et al. 2017, Eq. 3).   (M-3)

    With confidence ``c_i = max_k p_ik``, prediction ``yhat_i = argmax_k p_ik`` and bins
    ``I_m = ((m-1)/M, m/M]``, ``m = 1..M`` (a confidence of exactly 0 goes to the first bin)::

        ECE = sum_m (|B_m| / B) | acc(B_m) - conf(B_m) |,
        acc(B_m) = mean_{i in B_m} 1[yhat_i = y_i],   conf(B_m) = mean_{i in B_m} c_i.
    """
    p = _probs(probs)
    y = _labels(y, *p.shape)
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"n_bins: expected an integer >= 1, got {n_bins!r}")
    conf, correct = p.max(axis=1), (np.argmax(p, axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # searchsorted(side="left") puts c = edges[m] into bin m-1: upper edges are inclusive
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, correct, n_bins) - np.bincount(bins, conf, n_bins))  # |B_m| |acc - conf|
    return float(np.sum(gap[count > 0]) / len(y))


def brier(probs, y) -> float:
    """Multi-class Brier score ``(1/B) sum_i sum_k (p_ik - 1[y_i = k])^2`` (Brier 1950), in [0, 2]. (M-4)"""
    p = _probs(probs)
    y = _labels(y, *p.shape)
    onehot = np.arange(p.shape[1])[None, :] == y[:, None]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def classification_metrics(logits, y, average: str = "probs", n_bins: int = 15) -> dict:
    """``accuracy``, ``nll``, ``ece``, ``brier`` of the predictive (M-1) of logits ``(S, B, K)``;
    the NLL is ``-(1/B) sum_i log p_{i, y_i}`` with the log taken in log space (no underflow)."""
    log_p = predictive_log_probs(logits, average)
    p = np.exp(log_p)
    y = _labels(y, *p.shape)
    return {"accuracy": accuracy(p, y), "nll": float(-np.mean(log_p[np.arange(len(y)), y])),
            "ece": ece(p, y, n_bins), "brier": brier(p, y)}


# ---- regression ----------------------------------------------------------------------------------------
def _regression_inputs(means, y, y_scale):
    m = _outputs("means", means)
    S, B, K = m.shape
    y = _float_array("y", y)
    if y.ndim == 1 and K == 1:
        y = y[:, None]
    if y.shape != (B, K):
        raise ValueError(f"y: expected shape ({B},) or ({B}, {K}) to match means (S, B, K) = {m.shape}, got {y.shape}")
    s = _float_array("y_scale", y_scale)
    if s.shape not in ((), (K,)) or np.any(s <= 0):
        raise ValueError(f"y_scale: expected a positive number or {K} positive numbers (the std used to "
                         f"standardise y), got {y_scale!r}")
    return m, y, s


def rmse(means, y, y_scale=1.0) -> float:
    """Root mean squared error of the predictive mean, in original units.                 (M-5)

    ``means`` ``(S, B, K)`` and ``y`` ``(B, K)`` (or ``(B,)`` for K = 1) are in standardised units,
    ``y_orig = mu_y + y_scale * y_std``; the predictive mean is ``mbar_ik = (1/S) sum_s means_sik``, so
    ``mu_y`` cancels and  ``RMSE = sqrt( (1/(B K)) sum_ik y_scale_k^2 (y_ik - mbar_ik)^2 )``.
    ``y_scale`` is a number or one per output ``(K,)``.
    """
    m, y, s = _regression_inputs(means, y, y_scale)
    return float(np.sqrt(np.mean((s * (y - m.mean(axis=0))) ** 2)))


def gaussian_test_loglik(means, y, sigma_e, y_scale=1.0) -> float:
    """Average test log-likelihood of the mixture predictive, in original units.          (M-6)

    The predictive of ``y_i`` is the mixture ``(1/S) sum_s N(mu_y + y_scale means_si, (y_scale sigma_e)^2)``
    in original units. A change of variables ``y_orig = mu_y + y_scale y_std`` gives
    ``N(y_orig; mu_y + y_scale m, (y_scale sigma_e)^2) = N(y_std; m, sigma_e^2) / y_scale``, so ::

        LL = (1/B) sum_i [ logsumexp_s sum_k log N(y_ik; means_sik, sigma_e_k^2) - log S ] - sum_k log y_scale_k

    computed with log-sum-exp over the samples. ``y`` is in standardised units, ``sigma_e`` (a number
    or ``(K,)``) is the likelihood noise std in standardised units; for K > 1 the outputs of one
    sample are independent, so the mixture is over the joint density of the K outputs.
    """
    m, y, s = _regression_inputs(means, y, y_scale)
    sig = _float_array("sigma_e", sigma_e)
    if sig.shape not in ((), (m.shape[2],)) or np.any(sig <= 0):
        raise ValueError(f"sigma_e: expected a positive number or {m.shape[2]} positive numbers, got {sigma_e!r}")
    z = (y[None] - m) / sig
    log_n = np.sum(-0.5 * z * z - np.log(sig) - 0.5 * math.log(2 * math.pi), axis=2)  # (S, B)
    per_point = logsumexp(log_n, axis=0) - math.log(m.shape[0]) - np.sum(np.log(s) * np.ones(m.shape[2]))
    return float(np.mean(per_point))


# ---- structure of the pruned network -------------------------------------------------------------
def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold: expected a number in [0, 1) (keep node iff gamma > threshold), got {threshold!r}")
    return float(threshold)


def nodes_kept(gammas, threshold: float = 0.5) -> list[int]:
    """``s_l = #{j : gamma_lj > threshold}`` for each hidden layer (median-probability rule, docs/spec.md §7).
    ``gammas`` is a sequence of inclusion probabilities ``(k_l,)``, one per hidden layer."""
    threshold = _check_threshold(threshold)
    out = []
    for l, g in enumerate(gammas):
        g = _float_array(f"gammas[{l}]", g, ndim=1)
        if g.min() < 0 or g.max() > 1:
            raise ValueError(f"gammas[{l}]: inclusion probabilities must lie in [0, 1]; pass sigmoid(theta), not theta")
        out.append(int(np.sum(g > threshold)))
    return out


def node_density(gammas, threshold: float = 0.5) -> list[float]:
    """Fraction of nodes kept per hidden layer, ``s_l / k_l`` (docs/paper-notes.md §5.5 "node density")."""
    counts = nodes_kept(gammas, threshold)
    return [c / np.asarray(g).shape[0] for c, g in zip(counts, gammas)]


def _structure(widths, kept_counts):
    w = [int(k) for k in widths]
    if len(w) < 3 or any(k < 1 for k in w):
        raise ValueError(f"widths: expected [input, hidden..., output] with every width >= 1, got {widths!r}")
    s = list(kept_counts)
    if len(s) != len(w) - 2:
        raise ValueError(f"kept_counts: expected {len(w) - 2} counts (one per hidden layer), got {len(s)}")
    for l, (c, k) in enumerate(zip(s, w[1:-1])):
        if isinstance(c, bool) or not isinstance(c, Integral) or not 0 <= c <= k:
            raise ValueError(f"kept_counts[{l}]: expected an integer in [0, {k}] (layer width), got {c!r}")
    return w, [int(c) for c in s]


def _summary(kept: int, total: int) -> dict:
    return {"kept": kept, "total": total, "fraction_kept": kept / total}


def params_kept(widths, kept_counts) -> dict:
    """Weights and biases kept by node pruning (docs/paper-notes.md §5.5, as the authors count). (M-7)

    With ``widths = [k_0, ..., k_L, K]`` and ``s_l`` nodes kept in hidden layer l, every kept node keeps
    all ``k_{l-1} + 1`` incoming numbers (including weights from pruned nodes of the layer below) and the
    output layer is counted whole::

        kept  = sum_{l=1..L} (k_{l-1} + 1) s_l + (k_L + 1) K,    total = sum_{l=0..L} (k_l + 1) k_{l+1}

    Returns ``{"kept", "total", "fraction_kept"}``. 784-400-400-10 with s = (68, 40): 73,430 of 478,410.
    """
    w, s = _structure(widths, kept_counts)
    kept = sum((w[l - 1] + 1) * s[l - 1] for l in range(1, len(w) - 1)) + (w[-2] + 1) * w[-1]
    total = sum((w[l] + 1) * w[l + 1] for l in range(len(w) - 1))
    return _summary(kept, total)


def flops_kept(widths, kept_counts) -> dict:
    """Multiply-adds (bias included) of one forward pass of the pruned MLP, using pruned input
    widths (docs/paper-notes.md §5.5)::                                                         (M-8)

        kept = (k_0 + 1) s_1 + (s_1 + 1) s_2 + ... + (s_L + 1) K,   total = same with s_l = k_l

    Returns ``{"kept", "total", "fraction_kept"}``. 784-400-400-10 with s = (68, 40): 56,550 of 478,410.
    """
    w, s = _structure(widths, kept_counts)
    sizes = [w[0], *s, w[-1]]
    kept = sum((sizes[l] + 1) * sizes[l + 1] for l in range(len(sizes) - 1))
    total = sum((w[l] + 1) * w[l + 1] for l in range(len(w) - 1))
    return _summary(kept, total)
