"""Gradient checks: finite differences along random directions (as autograd's ``test_util.check_grads``), and the
comparison of refimpl's loss and hand-written gradients with an oracle's automatic ones (``assert_matches_oracle``).

A hand-written gradient ``g`` of a scalar ``F`` is right when ``<g, d>`` is the directional derivative of ``F``
along any direction ``d``. :func:`check_grads` tests that for a few random unit directions against the central
difference ``D(h) = (F(x + h d) - F(x - h d)) / 2h``. Its error has two parts, and the tolerance is their sum:

* truncation, ``D(h) - F'_d = h^2 F'''_d / 6 + O(h^4)``. Unknown a priori, so it is measured: the same quotient at
  ``2h`` has four times that error, hence ``|D(2h) - D(h)| = 3 |h^2 F'''_d / 6| + O(h^4)`` bounds it with a factor
  3 to spare (a Richardson estimate);
* round-off: each evaluation of ``F`` is taken to be accurate to ``ulps`` units of ``eps = 2.2e-16`` of
  ``sum_i (1 + |f_i|) + sum_k |x_k g_k|``. The first sum is the magnitude of its terms ``f_i`` (``f`` may return
  an array whose sum is ``F``; the ``1 +`` covers terms that are differences of O(1) parts, such as a KL near
  ``q = p``); the second is the rounding of the arguments ``x + t d`` (relative ``eps``) carried through the
  gradient, large where ``F`` is ill-conditioned in ``x`` (``log(1 - lam)`` near ``lam = 1``). Two evaluations
  divided by ``2h`` give at most ``ulps eps (...) / h``.

No tolerance is relative to the gradient, so a wrong gradient fails once its error along ``d`` exceeds what the
finite difference cannot resolve (1e-9 to 1e-8 at ``h = 1e-5`` for the losses of the tests, whose directional
derivatives are O(1)). The directions come from a fixed seed; on failure the check is redone along each parameter
alone, and the message names those that fail.
"""
from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)

# Round-off of one evaluation of f, in ulps of the scale above. Needed beyond the truncation estimate: at most 0.5
# ulps over 9,000 directions of the tests' losses (every prior, likelihood and relaxation, h = 1e-5), 0.6 over the KL,
# log-softplus and rate checks. 8 leaves a factor 13 for other draws, BLAS summation orders and platforms.
ULPS = 8.0

# refimpl's loss and hand-written gradients against an oracle's (oracles.autograd_model, oracles.torch_model): the
# same float64 maths in another order and by other formulas; the measure is assert_matches_oracle's. Observed over
# 9,000 random draws of the tests' architectures (every variant of tests/test_gradients*.py) against autograd and
# 15,600 against PyTorch: gradients worst 1.4e-14 (autograd) and 2.0e-13 (PyTorch: a theta gradient of size 38, non-
# centred horseshoe at c = inf), 99.9th percentiles 6e-15 and 4.5e-14; the loss worst 4.9e-15. The bounds are 5x
# PyTorch's worst (70x autograd's) and 20x: room for rarer draws and another BLAS's summation order, while a wrong
# term or factor errs by orders more. (Relative to max|g_ref| alone, without the floor 1, the worst was 7.9e-12 in
# 15,000 draws, and 2.6e-9 in 30,000 of one variant: arrays that nearly cancel. The former bound 1e-8 could fail.)
ORACLE_GRAD_RTOL = 1e-12
ORACLE_LOSS_RTOL = 1e-13


def check_grads(f, params: dict, grads: dict, *, h: float = 1e-5, n_directions: int = 3, seed: int = 0,
                fixed=(), scale: dict | None = None, ulps: float = ULPS) -> float:
    """Assert that ``grads`` is the gradient of ``sum(f(params))`` at ``params``, along random directions.

    ``f``: ``dict -> float or array`` (the function is the sum of the array; ``F`` in the module docstring).
    ``params``, ``grads``: ``{name: array}`` with the same names and shapes (checked first).
    ``h``: the step along a unit direction. ``n_directions``: random directions, standard normal entries
    (seed ``seed``) normalised to unit length. ``fixed``: names left out of the directions (a parameter
    on which ``f`` is piecewise constant, e.g. straight-through logits). ``scale``: ``{name: array}``
    multiplying the direction entry-wise after normalising (a step proportional to the distance to a boundary).
    ``ulps``: the round-off of one evaluation of ``f``, in ulps of ``sum_i (1 + |f_i|) + sum_k |x_k g_k|``.

    Returns the worst ratio of error to tolerance (< 1 when it passes).
    """
    if set(grads) != set(params):
        raise AssertionError(f"gradient names differ from parameter names: missing {sorted(set(params) - set(grads))}, "
                             f"extra {sorted(set(grads) - set(params))}")
    x = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    g = {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}
    bad = [f"{k}: gradient {g[k].shape} vs parameter {x[k].shape}" for k in x if g[k].shape != x[k].shape]
    assert not bad, "gradient shapes differ from parameter shapes: " + "; ".join(bad)
    free = [k for k in x if k not in fixed]
    rng = np.random.default_rng(seed)
    worst = 0.0
    for i in range(n_directions):
        d = {k: rng.standard_normal(x[k].shape) for k in free}
        norm = np.sqrt(sum(float(np.sum(v * v)) for v in d.values()))
        d = {k: v / norm * (1.0 if scale is None or k not in scale else scale[k]) for k, v in d.items()}
        analytic, fd, tol, parts = _directional(f, x, g, d, h, ulps)
        if abs(fd - analytic) > tol:
            raise AssertionError(
                f"gradient check failed along random direction {i + 1} of {n_directions} (seed {seed}, h {h:g}): "
                f"analytic {analytic:.15g}, central difference {fd:.15g}, |difference| {abs(fd - analytic):.3g} "
                f"> tolerance {tol:.3g} ({parts}).\n" + _per_parameter(f, x, g, d, h, ulps))
        worst = max(worst, abs(fd - analytic) / tol)
    return worst


def _directional(f, x, g, d, h, ulps):
    """``<g, d>``, ``D(h)``, the tolerance (truncation estimate + round-off, module docstring) and its parts."""
    def F(t):
        v = np.asarray(f({k: x[k] + t * d[k] if k in d else x[k] for k in x}), dtype=np.float64)
        return float(np.sum(v)), float(np.sum(1.0 + np.abs(v)))

    (up, m1), (down, m2), (up2, m3), (down2, m4) = F(h), F(-h), F(2 * h), F(-2 * h)
    fd, fd2 = (up - down) / (2 * h), (up2 - down2) / (4 * h)
    analytic = sum(float(np.sum(g[k] * d[k])) for k in d)
    sensitivity = sum(float(np.sum(np.abs(x[k] * g[k]))) for k in d)
    truncation, roundoff = abs(fd2 - fd), ulps * EPS * (max(m1, m2, m3, m4) + sensitivity) / h
    parts = f"truncation estimate |D(2h) - D(h)| {truncation:.3g}, round-off {roundoff:.3g}"
    return analytic, fd, truncation + roundoff, parts


def _per_parameter(f, x, g, d, h, ulps) -> str:
    """The same check along the direction restricted to each parameter in turn: which gradients are wrong."""
    lines = []
    for k in d:
        analytic, fd, tol, _ = _directional(f, x, g, {k: d[k]}, h, ulps)
        if abs(fd - analytic) > tol:
            lines.append(f"  {k}: analytic {analytic:.15g}, central difference {fd:.15g} (tolerance {tol:.3g})")
    if not lines:
        return "No parameter fails on its own: the error is spread over several."
    return "Along each parameter alone, these fail:\n" + "\n".join(lines)


def assert_matches_oracle(loss, grads: dict, ref_loss, ref_grads: dict, *, name: str = "oracle") -> None:
    """refimpl's ``loss`` and ``grads`` equal an oracle's ``ref_loss`` and ``ref_grads`` up to float64 round-off:
    ``|loss - ref| <= ORACLE_LOSS_RTOL max(1, |ref|)`` and, for each array,
    ``max|g - g_ref| <= ORACLE_GRAD_RTOL max(1, max|g_ref|)`` (relative in the inf norm; element-wise ratios mean
    nothing for entries that are zero up to round-off).

    The floor 1 is the size of the terms the loss and its gradient add up (the per-datum NLL, KL / N): an array much
    smaller than that is a difference of such terms, and its round-off is absolute. Example: the Gaussian noise
    scale's ``d/d log sigma_e = 1 - mean(r^2) / sigma_e^2``, seen at 5e-7 with an error of 6 eps, 2.6e-9 relative.
    """
    loss, ref_loss = float(loss), float(ref_loss)
    assert abs(loss - ref_loss) <= ORACLE_LOSS_RTOL * max(1.0, abs(ref_loss)), \
        f"{name}: loss {ref_loss!r} vs refimpl's {loss!r}, relative difference beyond {ORACLE_LOSS_RTOL:g}"
    if set(grads) != set(ref_grads):
        raise AssertionError(f"{name}: gradient names differ: only refimpl {sorted(set(grads) - set(ref_grads))}, "
                             f"only {name} {sorted(set(ref_grads) - set(grads))}")
    bad = []
    for k in ref_grads:
        r, g = np.asarray(ref_grads[k], dtype=np.float64), np.asarray(grads[k], dtype=np.float64)
        if g.shape != r.shape:
            bad.append(f"{k}: shape {g.shape} vs {r.shape}")
            continue
        err = float(np.max(np.abs(g - r), initial=0.0)) / max(1.0, float(np.max(np.abs(r), initial=0.0)))
        if not err <= ORACLE_GRAD_RTOL:
            bad.append(f"{k}: max|g - g_ref| / max(1, max|g_ref|) = {err:.3g}")
    assert not bad, f"{name}: gradients beyond {ORACLE_GRAD_RTOL:g}: " + "; ".join(bad)
