"""Teacher networks: node-sparse MLPs with known active nodes, and data drawn from them.

This is the embedded default data (docs/spec.md §9) and the truth of the contraction experiment
(docs/theory-notes.md §5(e)), whose defaults are used here:

* inputs ``x ~ U[-1, 1]^p`` (so ``||x||_inf <= 1`` as the forward bound of docs/theory-notes.md §4.1 assumes);
* widths ``(p, k_1, ..., k_L, K)``; hidden layer l has exactly ``s_l`` active nodes, chosen uniformly
  at random and returned sorted in ``info['true_active']``;
* an active node's incoming weights *from the inputs or from active nodes of the previous layer* have
  magnitudes ``U[0.5, 1.5]`` (``weight_magnitude`` sets another range) with independent random signs, and
  its bias is ``U(-0.5, 0.5)``, so every active node matters and ``B = max |w| <= 1.5``;
* an inactive node has zero incoming weights and bias, hence outputs ``psi(0) = 0`` (silu, relu and
  tanh all have ``psi(0) = 0``); weights *from* an inactive node are zero as well, so the teacher is
  node-sparse in both group modes of docs/theory-notes.md §3.2 (``a_l = k_{l-1}`` or ``a_l = s_{l-1}``);
* the output layer (no indicators) reads the active nodes of the last hidden layer with the same
  weight distribution and has ``U(-0.5, 0.5)`` biases.

Regression: ``y = f0(x) + noise_sigma * e``, ``e ~ N(0, 1)``. Classification: ``y ~ Categorical(softmax
(f0(x)))`` with ``K = widths[-1]`` logits. Weights are stored ``(k_in, k_out)`` as in
:mod:`refimpl.network`, whose forward pass computes ``f0``.

Randomness: ``rng`` (a Generator or an int seed) spawns five independent streams -- teacher, training
inputs, training noise, test inputs, test noise. Hence for one seed the teacher and the test set do not
depend on ``n_train``, and the training set of a smaller ``n_train`` is a prefix of a larger one
(nested samples for an ``n`` sweep).
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.special import softmax

from .. import network
from ..activations import get_activation
from ..checks import check_widths
from .dataset import Dataset, as_generator

WEIGHT_MAGNITUDE = (0.5, 1.5)  # |w| ~ U[0.5, 1.5], random sign
BIAS_HALF_WIDTH = 0.5  # b ~ U(-0.5, 0.5)


def _check_count(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_active(active, widths):
    n_hidden = len(widths) - 2
    try:
        s = tuple(int(a) for a in active)
    except (TypeError, ValueError):
        raise ValueError(f"active: expected one count of active nodes per hidden layer, got {active!r}") from None
    if len(s) != n_hidden or any(not 1 <= a <= k for a, k in zip(s, widths[1:-1])) \
            or any(int(a) != a for a in active):
        raise ValueError(f"active: expected {n_hidden} integer(s) s_l with 1 <= s_l <= k_l for hidden widths "
                         f"{list(widths[1:-1])}, got {list(active)!r}")
    return s


def teacher_network(widths, active, rng, weight_magnitude=WEIGHT_MAGNITUDE):
    """A random node-sparse teacher: ``(weights, biases, true_active)``.

    ``weights[l]`` is ``(k_l, k_{l+1})`` and ``biases[l]`` is ``(k_{l+1},)`` for weight layers
    ``l = 0..L``; ``true_active[l]`` holds the sorted indices of the active nodes of hidden layer
    ``l + 1`` (int64). The distribution is described in the module docstring; ``weight_magnitude``
    ``(lo, hi)`` replaces its ``U[0.5, 1.5]`` (the same uniform draws, mapped affinely to ``[lo, hi]``).
    """
    widths = check_widths(widths)
    active = _check_active(active, widths)
    lo, hi = _check_magnitude(weight_magnitude)
    rng = as_generator("rng", rng)
    true_active = [np.sort(rng.choice(k, size=s, replace=False)).astype(np.int64)
                   for k, s in zip(widths[1:-1], active)]
    # Rows (inputs) a layer may read: all p inputs, then only the previous layer's active nodes.
    rows = [np.arange(widths[0])] + true_active
    # Columns (nodes) a layer feeds: the active nodes, then every output.
    cols = true_active + [np.arange(widths[-1])]
    weights, biases = [], []
    for k_in, k_out, r, c in zip(widths[:-1], widths[1:], rows, cols):
        w = rng.uniform(lo, hi, size=(k_in, k_out)) * rng.choice([-1.0, 1.0], size=(k_in, k_out))
        b = rng.uniform(-BIAS_HALF_WIDTH, BIAS_HALF_WIDTH, size=k_out)
        keep = np.zeros((k_in, k_out), dtype=bool)
        keep[np.ix_(r, c)] = True
        weights.append(np.where(keep, w, 0.0))
        biases.append(np.where(np.isin(np.arange(k_out), c), b, 0.0))
    return weights, biases, true_active


def teacher_outputs(x, weights, biases, activation) -> np.ndarray:
    """``f0(x)`` ``(n, K)``: the teacher's forward pass (N-1), via :func:`refimpl.network.forward`."""
    eta, _ = network.forward(x, [w[None] for w in weights], [b[None] for b in biases], get_activation(activation))
    return eta[0]


def _check_magnitude(weight_magnitude):
    try:
        lo, hi = (float(v) for v in weight_magnitude)
    except (TypeError, ValueError):
        raise ValueError(f"weight_magnitude: expected (lo, hi), got {weight_magnitude!r}") from None
    if not (0.0 <= lo <= hi < np.inf):
        raise ValueError(f"weight_magnitude: expected finite 0 <= lo <= hi, got {weight_magnitude!r}")
    return lo, hi


def _draw(n_train, n_test, widths, active, activation, rng, weight_magnitude=WEIGHT_MAGNITUDE):
    n_train, n_test = _check_count("n_train", n_train), _check_count("n_test", n_test)
    get_activation(activation)  # validates the name
    seed = int(rng) if isinstance(rng, Integral) and not isinstance(rng, bool) else None
    teacher_rng, x_train_rng, noise_train_rng, x_test_rng, noise_test_rng = as_generator("rng", rng).spawn(5)
    weights, biases, true_active = teacher_network(widths, active, teacher_rng, weight_magnitude)
    p = weights[0].shape[0]
    x_train = x_train_rng.uniform(-1.0, 1.0, size=(n_train, p))
    x_test = x_test_rng.uniform(-1.0, 1.0, size=(n_test, p))
    info = dict(true_active=true_active, teacher_widths=tuple(widths), active=tuple(len(a) for a in true_active),
                weights=weights, biases=biases, activation=activation,
                f_train=teacher_outputs(x_train, weights, biases, activation),
                f_test=teacher_outputs(x_test, weights, biases, activation),
                x_distribution="uniform[-1, 1]^p", weight_magnitude=tuple(map(float, weight_magnitude)),
                bias_half_width=BIAS_HALF_WIDTH, seed=seed)
    return x_train, x_test, noise_train_rng, noise_test_rng, info


def teacher_regression(n_train: int = 2000, n_test: int = 4000, widths=(4, 8, 8, 1), active=(3, 2),
                       noise_sigma: float = 0.5, activation: str = "tanh", rng=0,
                       weight_magnitude=WEIGHT_MAGNITUDE) -> Dataset:
    """Regression data ``y = f0(x) + noise_sigma * e`` from a node-sparse teacher ``f0``.

    Defaults are docs/theory-notes.md §5(e): p = 4, hidden widths (8, 8) (the student's) with s = (3, 2) active,
    tanh, ``sigma_e = 0.5``, 4000 test points, ``|w| ~ U[0.5, 1.5]`` (``weight_magnitude``: see
    :func:`teacher_network`). ``widths[-1]`` must be 1. ``info`` holds
    ``true_active``, ``teacher_widths``, ``noise_sigma``, ``weights``, ``biases``, ``activation`` and the
    noise-free ``f_train``, ``f_test`` ``(n,)`` (for ``||f - f0||`` metrics).
    """
    widths = check_widths(widths)
    if widths[-1] != 1:
        raise ValueError(f"widths: a regression teacher has one output, so widths[-1] must be 1, got {list(widths)}")
    if isinstance(noise_sigma, bool) or not isinstance(noise_sigma, Real) or not np.isfinite(noise_sigma) \
            or noise_sigma < 0:
        raise ValueError(f"noise_sigma: expected a finite noise standard deviation >= 0, got {noise_sigma!r}")
    x_train, x_test, noise_train_rng, noise_test_rng, info = _draw(n_train, n_test, widths, active, activation, rng,
                                                                   weight_magnitude)
    f_train, f_test = info["f_train"][:, 0], info["f_test"][:, 0]
    info.update(f_train=f_train, f_test=f_test, noise_sigma=float(noise_sigma))
    y_train = f_train + noise_sigma * noise_train_rng.standard_normal(f_train.shape[0])
    y_test = f_test + noise_sigma * noise_test_rng.standard_normal(f_test.shape[0])
    return Dataset("teacher-regression", "regression", x_train, y_train, x_test, y_test, None, info)


def _sample_labels(logits, rng):
    """Inverse-CDF draw of one label per row of ``softmax(logits)`` from one uniform per row."""
    cdf = np.cumsum(softmax(logits, axis=1), axis=1)
    u = rng.random(logits.shape[0])
    # min(): a cdf that rounds to slightly below 1 must not produce the label K.
    return np.minimum((u[:, None] >= cdf).sum(axis=1), logits.shape[1] - 1).astype(np.int64)


def teacher_classification(n_train: int = 2000, n_test: int = 4000, widths=(4, 8, 8, 3), active=(3, 2),
                           activation: str = "tanh", rng=0) -> Dataset:
    """Classification data ``y ~ Categorical(softmax(f0(x)))`` with ``K = widths[-1] >= 2`` classes.

    The teacher is drawn as for :func:`teacher_regression`; the labels are *sampled*, so even the
    teacher's Bayes accuracy is below 1 (``info['f_test']`` holds its logits ``(n_test, K)``).
    ``info['noise_sigma']`` is ``None``.
    """
    widths = check_widths(widths)
    if widths[-1] < 2:
        raise ValueError(f"widths: a classification teacher needs widths[-1] = K >= 2 classes, got {list(widths)}")
    x_train, x_test, noise_train_rng, noise_test_rng, info = _draw(n_train, n_test, widths, active, activation, rng)
    info["noise_sigma"] = None
    y_train = _sample_labels(info["f_train"], noise_train_rng)
    y_test = _sample_labels(info["f_test"], noise_test_rng)
    return Dataset("teacher-classification", "classification", x_train, y_train, x_test, y_test, widths[-1], info)
