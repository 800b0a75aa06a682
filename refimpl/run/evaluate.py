"""Monte Carlo predictions and the metrics of docs/spec.md §7 for a trained model, and the same metrics of one
deterministic network (the compressed one).

Each evaluation draws one set of S posterior samples (indicators, scales, weights) and applies every
sample to every input, as the authors do: ``outputs[s]`` is the network of sample s.
"""
from __future__ import annotations

import math

import numpy as np

from .metrics import classification_metrics, gaussian_test_loglik, rmse


def predict_outputs(model, params, x, n_samples: int, rng, batch_size: int = 4096) -> np.ndarray:
    """Host array ``(S, B, K)`` of network outputs for ``n_samples`` posterior samples."""
    noise = model.sample_noise(rng, n_samples)
    x = np.asarray(x, dtype=model.backend.dtype_name)
    chunks = [model.backend.to_numpy(model.predict(params, x[i:i + batch_size], noise))
              for i in range(0, x.shape[0], batch_size)]
    return np.concatenate(chunks, axis=1)


def noise_std(model, params) -> float:
    """The Gaussian likelihood's ``sigma_e`` (learned point estimate or fixed), standardised units."""
    if model.learn_sigma_e:
        return float(np.exp(model.backend.to_numpy(params["log_sigma_e"])))
    return math.exp(model.log_sigma_e)


def evaluate(model, params, x, y, n_samples: int, rng, batch_size: int = 4096, y_scale: float = 1.0,
             average: str = "probs") -> dict:
    """Classification: ``accuracy``, ``nll``, ``ece``, ``brier`` of the predictive. Regression: ``rmse``
    and ``test_ll`` in original units (``y_scale`` undoes the standardisation) and ``nll = -test_ll``."""
    outputs = predict_outputs(model, params, x, n_samples, rng, batch_size)
    if model.likelihood == "categorical":
        return classification_metrics(outputs, y, average=average)
    ll = gaussian_test_loglik(outputs, y, noise_std(model, params), y_scale)
    return {"rmse": rmse(outputs, y, y_scale), "test_ll": ll, "nll": -ll}


def network_metrics(net, x, y, likelihood: str, y_scale: float = 1.0) -> dict:
    """Metrics of one deterministic network ``net`` (anything with ``predict(x) -> (B, K)``, e.g. the compressed
    median-probability model at the variational mean, PR-2) on standardised ``x``, ``y``: ``accuracy``, ``nll``,
    ``ece`` of its softmax (``likelihood="categorical"``, M-1..M-3 with S = 1) or ``rmse`` in original units
    (``"gaussian"``, M-5). No random numbers are drawn."""
    out = np.asarray(net.predict(x), dtype=np.float64)[None]
    if likelihood == "categorical":
        m = classification_metrics(out, y)
        return {k: m[k] for k in ("accuracy", "nll", "ece")}
    return {"rmse": rmse(out, y, y_scale)}
