"""Relaxed Bernoulli indicators: the binary Concrete and its straight-through hard sample. (R-1, R-2)

With ``u ~ U(0, 1)`` (an argument: noise is never drawn here) and logit ``theta``,

    y = sigmoid((theta + log u - log(1 - u)) / temp)                                     (R-1)

``straight-through`` (default, as the authors): the forward value is ``z = 1[y > 1/2]``, which equals
``1[theta + Logistic(0, 1) > 0]`` and is therefore an *exact* Bernoulli(sigmoid(theta)) draw whatever
the temperature; the backward pass uses the surrogate ``dz/dtheta = y (1 - y) / temp``.          (R-2)

``concrete``: the forward value is ``y`` itself, and ``dz/dtheta = y (1 - y) / temp`` exactly.
"""
from __future__ import annotations

from .backend import array_namespace

from .stable import logit_noise, sigmoid

RELAXATIONS = ("straight-through", "concrete")


def relaxed_indicator(theta, u, temperature: float, relaxation: str):
    """Indicators ``z`` and the derivative ``dz/dtheta`` used by the backward pass. (R-1, R-2)

    ``theta``: logits, shape ``(k_out,)``; ``u``: uniform noise, shape ``(S, k_out)``. Returns ``(z,
    dz_dtheta)``, both ``(S, k_out)``.
    """
    xp = array_namespace(theta, u)
    logits = theta + logit_noise(u)
    y = sigmoid(logits / temperature)
    dz_dtheta = y * sigmoid(-logits / temperature) / temperature  # y (1 - y) / temp without cancellation
    if relaxation == "straight-through":
        # 1[y > 1/2] = 1[logits > 0]; testing the logits avoids rounding of y near 1/2.
        z = xp.astype(logits > 0, theta.dtype)
    elif relaxation == "concrete":
        z = y
    else:
        raise ValueError(f"relaxation: unknown {relaxation!r}; choose one of {RELAXATIONS}")
    return z, dz_dtheta
