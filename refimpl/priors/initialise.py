"""Initial values of the parameters every prior shares: the Gaussian factors' means and ``rho``, and the
indicator logits. (I-1)"""
from __future__ import annotations

import math

import numpy as np

RHO_INIT = -6.0                      # sigma = softplus(-6) = 2.48e-3, as the authors (docs/paper-notes.md §5.1)
THETA_INIT = math.log(0.99 / 0.01)   # gamma = 0.99: every node starts on, as the authors


INITS = ("fan-in", "authors")     # weight-mean initialisation schemes (I-1)


def init_bounds(k_in: int, k_out: int, scheme: str = "fan-in") -> tuple[float, float]:
    """``(weight bound, bias bound)`` of the uniform weight- and bias-mean initialisation. (I-1)

    ``"fan-in"``: Kaiming-uniform with gain sqrt 2 on the true fan-in, ``sqrt(6 / k_in)``, and PyTorch's bias
    bound ``1 / sqrt(k_in)``. ``"authors"``: the authors' code applies ``torch.nn.init.kaiming_uniform_`` to a
    ``(k_in, k_out)`` tensor, which PyTorch reads as ``(out, in)``, so its fan-in is ``k_out``: ``sqrt(6 / k_out)``
    and ``1 / sqrt(k_out)``.
    """
    if scheme not in INITS:
        raise ValueError(f"init: unknown scheme {scheme!r}; choose one of {list(INITS)}")
    fan = k_in if scheme == "fan-in" else k_out
    return math.sqrt(6.0 / fan), 1.0 / math.sqrt(fan)


def init_weight_means(rng: np.random.Generator, k_in: int, k_out: int, scheme: str = "fan-in"):
    """Uniform weight means ``(k_in, k_out)`` and bias means ``(k_out,)`` on the host, bounds by
    :func:`init_bounds`. (I-1)"""
    bound_w, bound_b = init_bounds(k_in, k_out, scheme)
    return rng.uniform(-bound_w, bound_w, size=(k_in, k_out)), rng.uniform(-bound_b, bound_b, size=(k_out,))


def init_gaussian_layer(rng, k_in: int, k_out: int, indicators: bool, scheme: str = "fan-in") -> dict:
    """Host arrays of one layer's Gaussian factors (and indicator logits when ``indicators``). (I-1)"""
    w_mu, b_mu = init_weight_means(rng, k_in, k_out, scheme)
    layer = {"w_mu": w_mu, "w_rho": np.full((k_in, k_out), RHO_INIT),
             "b_mu": b_mu, "b_rho": np.full((k_out,), RHO_INIT)}
    if indicators:
        layer["theta"] = np.full((k_out,), THETA_INIT)
    return layer
