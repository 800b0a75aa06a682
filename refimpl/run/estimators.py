"""scikit-learn estimators: :class:`NodeSparseClassifier` and :class:`NodeSparseRegressor`.

Each wraps one :class:`refimpl.model.NodeSparseBNN` trained by :func:`refimpl.run.train.fit`. ``fit`` standardises
``X`` (and, for regression, ``y``) with the training statistics, as ``refimpl.run.pipeline.prepare`` does, so inputs and
outputs are in the data's own units. Predictions are the Monte Carlo posterior predictive of ``eval_samples``
draws (M-1: the average of the samples' softmax probabilities; for regression the average of the samples' means),
from the generator ``default_rng([random_state, 10**6])`` of the pipeline's test metrics, so they are
reproducible and each row's prediction depends on that row alone. ``compress()`` gives the pruned NumPy-only
network (PR-2), whose :meth:`~refimpl.run.compressed.CompressedMLP.predict_raw` takes raw inputs.

scikit-learn is optional (``pip install 'refimpl[sklearn]'``, version >= 1.6 for ``validate_data`` and
``__sklearn_tags__``); ``import refimpl`` never imports it. This is not a tuned learner: defaults follow the
project's (Adam, lr 1e-3), with a batch of 128 for small tables.
"""
from __future__ import annotations

import sys
from numbers import Integral, Real

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:   # pragma: no cover - depends on the environment
    raise ImportError(f"refimpl.run.estimators needs scikit-learn >= 1.6 ({exc}); install it with "
                      "pip install 'refimpl[sklearn]'") from None

from ..data.dataset import Standardiser, train_validation_split
from .evaluate import noise_std, predict_outputs
from .metrics import predictive_probs
from ..model import NodeSparseBNN
from .prune import compress
from .train import TrainConfig, fit


def _seed(random_state) -> int:
    """An integer seed for ``TrainConfig``: the int itself, one drawn from a Generator or RandomState, or fresh
    OS entropy for ``None`` (then the fit is not reproducible)."""
    if isinstance(random_state, Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    raise ValueError(f"random_state: expected an integer >= 0, a numpy Generator or RandomState, or None, got "
                     f"{random_state!r}")


class _NodeSparseEstimator(BaseEstimator):
    """Shared hyper-parameters and mechanics; see the two public classes."""

    _likelihood = None

    def __init__(self, hidden=(50,), prior="ss-gl", activation="silu", epochs=100, batch_size=128, lr=1e-3,
                 lr_mult_theta=1.0, theta_init=None, train_samples=1, eval_samples=10, val_fraction=0.0,
                 patience=None, dtype="float64", model_kw=None, train_kw=None, random_state=0, verbose=False):
        self.hidden = hidden
        self.prior = prior
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_mult_theta = lr_mult_theta
        self.theta_init = theta_init
        self.train_samples = train_samples
        self.eval_samples = eval_samples
        self.val_fraction = val_fraction
        self.patience = patience
        self.dtype = dtype
        self.model_kw = model_kw
        self.train_kw = train_kw
        self.random_state = random_state
        self.verbose = verbose

    # ---- fitting -----------------------------------------------------------------------------------
    def _fit(self, X, targets, n_out: int, y_scale: float):
        """Standardise ``X``, build and train the network on ``targets`` (labels 0..K-1 or standardised values)."""
        vf = self.val_fraction
        if isinstance(vf, bool) or not isinstance(vf, Real) or not 0.0 <= vf < 1.0:
            raise ValueError(f"val_fraction: expected a number in [0, 1) (0: no validation hold-out), got "
                             f"{self.val_fraction!r}")
        if X.shape[0] < 2:   # the prior's inclusion schedules (S-2, S-3) depend on log N
            raise ValueError(f"X: got {X.shape[0]} sample; fitting needs at least 2 samples")
        hidden = (self.hidden,) if isinstance(self.hidden, Integral) else tuple(self.hidden)
        self.seed_ = _seed(self.random_state)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             lr_mult_theta=self.lr_mult_theta, theta_init=self.theta_init,
                             train_samples=self.train_samples, eval_samples=self.eval_samples, patience=self.patience,
                             seed=self.seed_, **(self.train_kw or {}))
        model = NodeSparseBNN([X.shape[1], *hidden, n_out], prior=self.prior, likelihood=self._likelihood,
                              activation=self.activation, dtype=self.dtype, **(self.model_kw or {}))
        sx = Standardiser.fit(X)
        z = ((X - sx.mean) / sx.std).astype(self.dtype)
        if self.val_fraction:
            z, targets, z_val, t_val = train_validation_split(z, targets, self.val_fraction, self.seed_)
        else:
            z_val = t_val = None
        result = fit(model, z, targets, z_val, t_val, config, y_scale=y_scale, log=sys.stderr if self.verbose else None)
        if result.interrupted:
            raise KeyboardInterrupt("fit: interrupted by a signal; the estimator keeps its previous state, call fit "
                                    "again")
        self.x_mean_, self.x_std_ = sx.mean, sx.std
        self.model_config_ = model.config
        self.params_ = {k: model.backend.to_numpy(v) for k, v in result.best_params.items()}
        self.history_ = result.history
        return self

    def _model(self):
        """The trained ``NodeSparseBNN`` and its selected parameters (rebuilt on demand, so the estimator pickles
        and ``predict`` leaves its state untouched)."""
        model = NodeSparseBNN(**self.model_config_)
        return model, {k: model.backend.asarray(v) for k, v in self.params_.items()}

    def _outputs(self, X) -> np.ndarray:
        """Network outputs ``(S, B, K)`` of ``eval_samples`` posterior draws for raw inputs ``X``."""
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        model, params = self._model()
        z = ((X - self.x_mean_) / self.x_std_).astype(self.model_config_["dtype"])
        rng = np.random.default_rng([self.seed_, 10**6])
        return np.asarray(predict_outputs(model, params, z, self.eval_samples, rng), dtype=np.float64)

    def _meta(self) -> dict:
        return {"x_mean": self.x_mean_.tolist(), "x_std": self.x_std_.tolist(), "y_mean": None, "y_std": None}

    def compress(self, threshold: float = 0.5):
        """The pruned network at the variational mean, :class:`refimpl.run.compressed.CompressedMLP` (PR-2), with the
        standardisation in ``meta["stats"]`` (so ``predict_raw`` takes raw ``X``) and, for a classifier, the labels
        in ``meta["classes"]``. Its export check runs on 64 standard-normal inputs."""
        check_is_fitted(self, "params_")
        model, params = self._model()
        check_x = np.random.default_rng(0).standard_normal((64, model.widths[0])).astype(self.model_config_["dtype"])
        meta = {"stats": self._meta(), "classes": getattr(self, "classes_", np.array([])).tolist() or None}
        return compress(model, params, threshold, check_x=check_x, meta=meta)


class NodeSparseClassifier(ClassifierMixin, _NodeSparseEstimator):
    """A node-sparse Bayesian MLP classifier (categorical likelihood, softmax outputs).

    Parameters
    ----------
    hidden : hidden widths, default ``(50,)``.
    prior : ``"ss-gl"`` (default), ``"ss-ig"``, ``"ss-ghs"`` or ``"gaussian"`` (dense BNN).
    activation : ``"silu"`` (default), ``"relu"``, ``"tanh"``.
    epochs, batch_size, lr, lr_mult_theta, theta_init, train_samples, patience : as :class:`refimpl.run.train.TrainConfig`
        (defaults 100, 128, 1e-3, 1, None, 1, None).
    eval_samples : posterior draws per prediction, default 10.
    val_fraction : share of the training rows held out to select the epoch with the lowest validation NLL (and for
        ``patience``); default 0: every row trains and the final epoch is kept.
    dtype : ``"float64"`` (default) or ``"float32"``.
    model_kw, train_kw : further keyword arguments of ``NodeSparseBNN`` (``sigma0``, ``lam``, ``c``, ...) and of
        ``TrainConfig`` (``optimizer``, ``clip_norm``, ``lr_schedule``, ...).
    random_state : integer seed (default 0), a numpy Generator or RandomState, or None (fresh entropy).
    verbose : print one progress line per epoch to stderr.

    Attributes: ``classes_`` (the sorted labels; output ``k`` is ``classes_[k]``), ``n_features_in_``,
    ``feature_names_in_`` (data frames), ``x_mean_``, ``x_std_``, ``params_`` (selected variational parameters),
    ``model_config_`` (``NodeSparseBNN(**model_config_)`` rebuilds the model), ``history_``, ``seed_``.

    scikit-learn's ``check_estimator`` passes in full, with no expected failures (``tests/test_estimators.py``, on
    small budgets). Not run: the sample-weight checks (``fit`` takes no ``sample_weight``), and, where scikit-learn
    skips them, the data-frame checks (without pandas) and the array-API input check (without ``SCIPY_ARRAY_API=1``).
    """

    _likelihood = "categorical"

    def fit(self, X, y):
        """Train on features ``X`` ``(n, p)`` and labels ``y`` ``(n,)`` of any kind (at least 2 classes)."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y: a classifier needs at least 2 classes, got 1 class ({self.classes_[0]!r}); check "
                             "the labels")
        return self._fit(X, codes.astype(np.int64), self.classes_.size, 1.0)

    def predict_proba(self, X) -> np.ndarray:
        """Posterior predictive class probabilities ``(n, K)`` (M-1), columns in the order of ``classes_``."""
        return predictive_probs(self._outputs(X))

    def predict(self, X) -> np.ndarray:
        """The most probable label of each row, from ``classes_``."""
        probs = self.predict_proba(X)     # first: it checks that the estimator is fitted
        return self.classes_[np.argmax(probs, axis=1)]


class NodeSparseRegressor(RegressorMixin, _NodeSparseEstimator):
    """A node-sparse Bayesian MLP regressor (Gaussian likelihood, one output, learned noise ``sigma_e``).

    The parameters are those of :class:`NodeSparseClassifier`. ``y`` is standardised inside ``fit`` and predictions
    are in its units. Extra attributes: ``y_mean_``, ``y_std_``.

    scikit-learn's ``check_estimator`` passes in full, with no expected failures (``tests/test_estimators.py``, on
    small budgets). Not run: the sample-weight checks (``fit`` takes no ``sample_weight``), and, where scikit-learn
    skips them, the data-frame checks (without pandas) and the array-API input check (without ``SCIPY_ARRAY_API=1``).
    """

    _likelihood = "gaussian"

    def fit(self, X, y):
        """Train on features ``X`` ``(n, p)`` and real targets ``y`` ``(n,)``."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        sy = Standardiser.fit(y)
        self.y_mean_, self.y_std_ = float(sy.mean), float(sy.std)
        return self._fit(X, (y - self.y_mean_) / self.y_std_, 1, self.y_std_)

    def predict(self, X, return_std: bool = False):
        """Posterior predictive mean ``(n,)`` in the units of ``y``; with ``return_std`` also its standard deviation,
        ``y_std * sqrt(var_s(mean_s) + sigma_e^2)`` over the draws (the spread of the means plus the noise)."""
        out = self._outputs(X)[..., 0]
        mean = self.y_mean_ + self.y_std_ * out.mean(axis=0)
        if not return_std:
            return mean
        model, params = self._model()
        return mean, self.y_std_ * np.sqrt(out.var(axis=0) + noise_std(model, params) ** 2)

    def _meta(self) -> dict:
        return {**super()._meta(), "y_mean": self.y_mean_, "y_std": self.y_std_}
