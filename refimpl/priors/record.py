"""A prior is a record: its layout and hyper-parameters (:class:`Prior`) and the pure functions by which its
slab family differs from the others (:class:`ScaleFamily`), in the spirit of jax's ``(init, apply)`` pairs.

What every node-group prior shares, and :mod:`refimpl.elbo` computes for all of them from the record: the
Gaussian weight factors ``q(w | z = 1) = N(mu, softplus(rho)^2)``, the indicators on hidden layers of
spike-and-slab priors, the sample (P-1)

    W_l[:, j] = z_lj * t_lj * (w_mu + softplus(w_rho) eps_w)[:, j],   b_l[j] = z_lj * t_lj * (b_mu + ...)[j]

and the KL (P-2) with the node weight KL (KL-5) against a slab ``N(0, sigma0^2 v_j I)``. A family supplies
``t`` (the node scale of a **non-centred** parameterisation; 1 where absent), the moments ``E log v``,
``E 1/v`` of a **centred** slab variance (``v = 1`` where absent), and the KL of its scale factors. Every
family function takes the :class:`Prior` first (its hyper-parameters are ``prior.hyper``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..schedules import inclusion_log_probs
from .initialise import init_gaussian_layer


@dataclass(frozen=True)
class Removed:
    """What the nodes removed during training (``TrainConfig.prune_below``, :mod:`refimpl.run.shrink`) leave in
    the objective of the network that remains (SH-1, docs/derivations.md). Per weight layer l:

    * ``log_lams``: ``(log lambda_l, log(1 - lambda_l))`` of the full network's hidden layers, kept fixed;
    * ``fan_in``: the full network's ``k_in`` (group size ``m = k_in + 1``, and the SS-GL scale prior's shape);
    * ``sq``, ``log_sigma``: per remaining node, ``sum (sigma^2 + mu^2) / (2 sigma0^2)`` and ``sum log sigma``
      over the ``fan_in - k_in`` frozen weights it reads from removed inputs (0.0 where none): they stay in the
      node's (KL-5), which its ``gamma`` multiplies and whose ``E log v``, ``E 1/v`` they reach;
    * ``scales``: per layer ``(count, sum of E tau^2)`` of the removed nodes' frozen SS-GL scales, which enter
      the KL of the shared ``lam2`` (GL-3); ``None`` for other priors.
    """

    log_lams: tuple
    fan_in: tuple
    sq: tuple
    log_sigma: tuple
    scales: tuple | None = None


@dataclass(frozen=True)
class ScaleFamily:
    """The functions of one slab family; each takes the :class:`Prior` first. Per-layer lists hold ``None``
    where the family has nothing for that layer (and everywhere for the Gaussian slab)."""

    #: names of the scale KL parts, in the order ``kl`` reports them
    parts: tuple[str, ...]
    #: ``(prior) -> {name: shape}`` of the scale parameters, and ``(prior, n_samples) -> {name: shape}`` of their noise
    param_shapes: Callable
    noise_shapes: Callable
    #: ``(prior, rng) -> {name: host array}`` (I-1)
    init: Callable
    #: non-centred scales: ``(prior, params, noise) -> (t_l (S, k_out) per layer, cache)`` and
    #: ``(prior, params, noise, d_t per layer, cache) -> {name: gradient}``
    scales: Callable
    scales_backward: Callable
    #: centred slab variance: ``(prior, params, noise) -> ((E log v, E 1/v) per layer, cache)`` and
    #: ``(prior, params, d E log v, d E 1/v, cache) -> {name: gradient}``
    moments: Callable
    moments_backward: Callable
    #: ``(prior, params) -> E_q[t] (k_out,) per layer`` (PR-1)
    expected_scales: Callable
    #: ``(prior, params) -> ({part: 0-d array}, {name: gradient})``: the scale factors' own KL
    kl: Callable


def _nothing_per_layer(prior, *args):
    return [None] * prior.n_layers, None


def _no_grads(*args):
    return {}


def _none_per_layer(prior, *args):
    return [None] * prior.n_layers


NO_SCALES = ScaleFamily(parts=(), param_shapes=_no_grads, noise_shapes=_no_grads, init=_no_grads,
                        scales=_nothing_per_layer, scales_backward=_no_grads, moments=_nothing_per_layer,
                        moments_backward=_no_grads, expected_scales=_none_per_layer, kl=lambda prior, params: ({}, {}))
"""The Gaussian slab (dense BNN and SS-IG): ``t = 1``, ``v = 1``, no scale factors."""


@dataclass
class Prior:
    """One prior on a network of ``widths``: layout, shared hyper-parameters, its family and the family's
    hyper-parameters ``hyper`` (a frozen record, or ``None``). ``removed`` is set by :mod:`refimpl.run.shrink` on the
    network that remains after nodes were removed (SH-1)."""

    name: str
    widths: tuple
    spike: bool
    sigma0: float
    lam: Any
    C: float
    kappa: float
    relaxation: str
    temperature: float
    family: ScaleFamily = NO_SCALES
    hyper: Any = None
    removed: Removed | None = None
    n_layers: int = field(init=False)
    kl_parts: tuple = field(init=False)

    def __post_init__(self):
        self.widths = tuple(self.widths)
        self.n_layers = len(self.widths) - 1
        self.kl_parts = (("kl_z",) if self.spike else ()) + ("kl_w",) + self.family.parts
        if self.spike:  # fail now on a bad constant or schedule name, not at the first loss call
            inclusion_log_probs(self.widths, self.lam, 2, self.C, self.kappa)

    def layers(self):
        """``(l, k_in, k_out)`` for every weight layer."""
        return [(l, k_in, k_out) for l, (k_in, k_out) in enumerate(zip(self.widths[:-1], self.widths[1:]))]

    def has_indicators(self, l: int) -> bool:
        return self.spike and l < self.n_layers - 1

    def inclusion_log_probs(self, n_data: int):
        """``[(log lambda_l, log(1 - lambda_l))]`` of the hidden layers for training-set size N (S-1..S-3);
        a network with removed nodes keeps the full network's values (SH-1)."""
        if self.removed is not None:
            return list(self.removed.log_lams)
        return inclusion_log_probs(self.widths, self.lam, n_data, self.C, self.kappa)

    def removed_inputs(self, l: int, k_in: int):
        """``(r, sq, log_sigma)``: frozen entries per group of layer l read from removed inputs, their (KL-5)
        square sum and ``sum log sigma``, each ``(k_out,)`` (SH-1); ``(0, 0.0, 0.0)`` when nothing was removed."""
        if self.removed is None:
            return 0, 0.0, 0.0
        return self.removed.fan_in[l] - k_in, self.removed.sq[l], self.removed.log_sigma[l]

    # ---- layout (docs/spec.md §6) ---------------------------------------------------------------------
    def param_shapes(self) -> dict:
        shapes = {}
        for l, k_in, k_out in self.layers():
            shapes.update({f"{l}.w_mu": (k_in, k_out), f"{l}.w_rho": (k_in, k_out),
                           f"{l}.b_mu": (k_out,), f"{l}.b_rho": (k_out,)})
            if self.has_indicators(l):
                shapes[f"{l}.theta"] = (k_out,)
        shapes.update(self.family.param_shapes(self))
        return shapes

    def noise_shapes(self, n_samples: int) -> dict:
        shapes = {}
        for l, k_in, k_out in self.layers():
            shapes[f"{l}.eps_w"] = (n_samples, k_in, k_out)
            shapes[f"{l}.eps_b"] = (n_samples, k_out)
            if self.has_indicators(l):
                shapes[f"{l}.u"] = (n_samples, k_out)
        shapes.update(self.family.noise_shapes(self, n_samples))
        return shapes

    def init_params(self, rng, scheme: str = "fan-in") -> dict:
        """Host (NumPy) arrays of every parameter; weight and bias means by ``scheme`` (I-1)."""
        params = {}
        for l, k_in, k_out in self.layers():
            layer = init_gaussian_layer(rng, k_in, k_out, self.has_indicators(l), scheme)
            params.update({f"{l}.{k}": v for k, v in layer.items()})
        params.update(self.family.init(self, rng))
        return params
