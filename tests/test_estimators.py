"""The scikit-learn estimators (refimpl/run/estimators.py): scikit-learn's own estimator checks, and the estimators
against the model, the trainer and the compressed export they wrap.

Every check of ``parametrize_with_checks`` applies and passes; none is marked as an expected failure. Checks that
scikit-learn itself skips here: the data-frame checks without pandas, and the array-API input check without the
environment variable ``SCIPY_ARRAY_API=1`` (with it, it passes). The sample-weight checks are not generated, since
``fit`` takes no ``sample_weight``."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from refimpl.run.estimators import NodeSparseClassifier, NodeSparseRegressor  # noqa: E402

# Small budgets so that the ~50 checks per estimator run in seconds. They still have to learn: the checks ask
# for training accuracy > 0.83 on three blobs and R^2 > 0.5 on make_regression (no `poor_score` tag is set).
SMALL = dict(hidden=(8,), epochs=20, batch_size=32, lr=0.03, eval_samples=4)


@parametrize_with_checks([NodeSparseClassifier(**SMALL), NodeSparseRegressor(**SMALL)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- the estimators against the layers they wrap

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from scipy.special import expit  # noqa: E402

from refimpl.run.evaluate import predict_outputs  # noqa: E402
from refimpl.run.metrics import predictive_probs  # noqa: E402
from refimpl.model import NodeSparseBNN  # noqa: E402
from refimpl.run.train import TrainConfig, fit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(hidden=(6,), epochs=3, batch_size=32, random_state=5)


def raw_data(n=120, seed=1):
    """Features on very different scales and offsets, a target in large units: standardisation matters."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)) * [1.0, 100.0, 0.01] + [0.0, 5000.0, -3.0]
    y = 1000.0 + 50.0 * x[:, 0] + 0.5 * (x[:, 1] - 5000.0) + rng.standard_normal(n)
    return x, y


def by_hand(x, targets, n_out, likelihood):
    """The estimator's documented steps with the lower-level API: standardise x with the training mean and
    population std, train NodeSparseBNN with refimpl.run.train.fit, draw 10 posterior samples from
    default_rng([5, 10**6])."""
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    model = NodeSparseBNN([3, 6, n_out], prior="ss-gl", likelihood=likelihood)
    result = fit(model, z, targets, None, None, TrainConfig(epochs=3, batch_size=32, lr=1e-3, seed=5), log=None)
    rng = np.random.default_rng([5, 10**6])
    return model, result.best_params, predict_outputs(model, result.best_params, z, 10, rng)


def test_regressor_is_the_documented_pipeline():
    x, y = raw_data()
    est = NodeSparseRegressor(**TINY).fit(x, y)
    _, _, out = by_hand(x, (y - y.mean()) / y.std(), 1, "gaussian")
    # the same operations in the same order: bit-identical
    np.testing.assert_array_equal(est.predict(x), y.mean() + y.std() * out[..., 0].mean(axis=0))
    assert est.n_features_in_ == 3 and (est.y_mean_, est.y_std_) == (y.mean(), y.std())


def test_classifier_maps_any_labels_and_is_the_documented_pipeline():
    x, y = raw_data()
    codes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))            # 0, 1, 2 by target tercile
    labels = np.array(["zebra", "ant", "moth"])[codes]                  # sorted: ant, moth, zebra
    est = NodeSparseClassifier(**TINY).fit(x, labels)
    assert est.classes_.tolist() == ["ant", "moth", "zebra"]
    sorted_codes = np.searchsorted(["ant", "moth", "zebra"], labels)
    _, _, out = by_hand(x, sorted_codes, 3, "categorical")
    probs = predictive_probs(out)
    np.testing.assert_array_equal(est.predict_proba(x), probs)
    assert est.predict(x).tolist() == [["ant", "moth", "zebra"][k] for k in probs.argmax(axis=1)]


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_compress_predicts_raw_inputs_in_original_units(kind):
    """predict_raw of the export = the masked mean network, computed here by hand, on standardised raw inputs."""
    x, y = raw_data()
    target = y if kind == "regressor" else np.where(y > np.median(y), 7, 3)
    cls = NodeSparseRegressor if kind == "regressor" else NodeSparseClassifier
    est = cls(hidden=(6,), epochs=10, batch_size=32, lr=0.03, lr_mult_theta=10, random_state=2)
    est.fit(x, target)
    gamma = np.sort(expit(est.params_["0.theta"]))
    threshold = float(gamma[2:4].mean())                               # between the 3rd and 4th: 3 nodes kept
    assert gamma[2] < threshold < gamma[3], gamma                      # precondition: distinct probabilities
    keep = expit(est.params_["0.theta"]) > threshold
    net = est.compress(threshold)
    assert net.widths == [3, 3, 1 if kind == "regressor" else 2]
    model = NodeSparseBNN(**est.model_config_)
    (W0, b0), (W1, b1) = [(np.asarray(W), np.asarray(b)) for W, b in model.mean_network(est.params_)]
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    a = z @ W0 + b0
    h = a * expit(a) * keep                                            # silu; pruned nodes output 0
    eta = h @ W1 + b1
    # tolerance: the export drops exact zeros, so only the summation order differs (a few eps of |eta| ~ 1-10)
    if kind == "regressor":
        np.testing.assert_allclose(net.predict_raw(x), y.mean() + y.std() * eta, rtol=1e-12, atol=1e-9)
        assert net.meta["classes"] is None
    else:
        np.testing.assert_allclose(net.predict_raw(x), eta, rtol=1e-12, atol=1e-12)
        assert net.meta["classes"] == [3, 7]


def test_validation_split_and_patience():
    x, y = raw_data()
    est = NodeSparseRegressor(hidden=(6,), epochs=4, batch_size=32, val_fraction=0.25, patience=2).fit(x, y)
    assert all("val_rmse" in r for r in est.history_) and 1 <= len(est.history_) <= 4


def test_random_state_forms_and_errors():
    x, y = raw_data(n=40)
    a = NodeSparseRegressor(hidden=(4,), epochs=1, random_state=np.random.default_rng(0)).fit(x, y)
    assert 0 <= a.seed_ < 2**31
    NodeSparseRegressor(hidden=(4,), epochs=1, random_state=None).fit(x, y)
    with pytest.raises(ValueError, match="random_state: expected an integer >= 0"):
        NodeSparseRegressor(random_state=-1).fit(x, y)
    with pytest.raises(ValueError, match=r"val_fraction: expected a number in \[0, 1\)"):
        NodeSparseRegressor(val_fraction=1.0).fit(x, y)
    with pytest.raises(ValueError, match="X: got 1 sample; fitting needs at least 2"):
        NodeSparseRegressor().fit(x[:1], y[:1])
    with pytest.raises(ValueError, match="y: a classifier needs at least 2 classes, got 1 class"):
        NodeSparseClassifier().fit(x, np.zeros(40, dtype=int))


def test_sklearn_stays_optional():
    """import refimpl (and the CLI) never imports scikit-learn; without it, refimpl.run.estimators says how to install."""
    code = ("import sys, refimpl, refimpl.run.cli, refimpl.run.pipeline, refimpl.data, refimpl.run.compressed; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr + proc.stdout
    code = "import sys; sys.modules['sklearn'] = None; import refimpl.run.estimators"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "pip install 'refimpl[sklearn]'" in proc.stderr
