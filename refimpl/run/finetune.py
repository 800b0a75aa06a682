"""The authors' second phase: fine-tuning with the node mask frozen.

After sparse training, the authors' ResNet scripts reload the selected checkpoint, freeze the indicators
(``theta.requires_grad = False``, ``z`` fixed at one sample) and train the other parameters for 100 more
epochs at lr 1e-3 (docs/paper-notes.md §5.3). Here the mask is the median-probability model's, ``m_lj = 1[gamma_lj >
1/2]`` (PR-1, the nodes the compressed network keeps), not one sample, and ``z = m`` exactly in every step and
every prediction: no indicator is sampled, ``theta`` is neither trained nor changed.

**The objective.** The variational family becomes ``q(z) = delta_m`` (a point mass) times the unchanged
``q`` of the weights and scales, and the loss stays -ELBO/N (E-1) of that family:

    loss = (1/B) sum_i -log p(y_i | x_i, w) [z = m]  +  ( sum_{l, j: m_lj = 1} KL_w(l, j) + scale KLs + kl_z ) / N

* the slab KL of the **kept** nodes only (a pruned node's ``gamma_lj KL_w(l, j)`` term has ``gamma = 0``);
* the scale factors' KLs (SS-GL, SS-GHS) as in training: the scales stay random and trained;
* ``kl_z = sum_kept -log lambda_l + sum_pruned -log(1 - lambda_l)``, the Bernoulli KL (KL-1) of the point mass:
  a constant, reported in the history, with no gradient.

**How.** :class:`FrozenMask` wraps a model and replaces, inside every loss and prediction, ``theta`` by the
saturated logits ``+-L`` (``L = 2000 max(1, temperature)``). In floating point ``sigmoid(+-L)`` is exactly 1 or 0,
the indicator sample is exactly ``m`` whatever the uniform noise (``|logit u| <= 709`` for the open-interval
draws of ``backend.uniform_open``, ``u >= 2.2e-308``; so ``|theta + logit u| / temperature >= 1291``, where ``exp``
underflows to 0 in float64 and float32), its derivative ``dz/dtheta`` is exactly 0, and the gated KL (P-2) is
exactly the sum above. So the model's own loss, gradients and predictions (reference and fused paths) compute the
frozen-mask objective without a second copy of their maths; :class:`FrozenMask` checks the exactness when it is
built. The ``theta`` gradient is set to 0 and ``lr_mult_theta`` to 0, so ``theta`` stays bit for bit as it was,
and with it the mask, ``nodes_kept``, ``flops_kept`` and the compressed network's nodes.
"""
from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from .prune import node_masks
from ..relaxation import relaxed_indicator
from ..stable import sigmoid
from .train import FitResult, TrainConfig, fit

SATURATION = 2000.0     # |theta| that makes sigmoid, the indicator sample and its derivative exact (see above)


def saturated_logits(masks, temperature: float) -> list[np.ndarray]:
    """``+L`` where a node is kept, ``-L`` where it is pruned, per hidden layer (host float64)."""
    level = SATURATION * max(1.0, float(temperature))
    return [np.where(np.asarray(m, dtype=bool), level, -level) for m in masks]


class FrozenMask:
    """``model`` with every hidden node's indicator fixed at ``z = mask`` (module docstring). It has the model's
    interface (attributes not defined here are the model's), so :func:`refimpl.run.train.fit`, ``evaluate``,
    ``compress`` and the pipeline take it as they take the model; ``params`` keep their own ``theta``."""

    def __init__(self, model, masks):
        hidden = model.widths[1:-1]
        masks = [np.asarray(m) for m in masks]
        if len(masks) != len(hidden) or any(m.shape != (k,) or m.dtype != bool for m, k in zip(masks, hidden)):
            raise ValueError(f"masks: expected one boolean keep-mask per hidden layer, shapes "
                             f"{[(k,) for k in hidden]}, got {[(m.shape, str(m.dtype)) for m in masks]}; build them "
                             "with prune.node_masks")
        self.model, self.masks = model, masks
        b = model.backend
        keys = model.param_shapes()
        self._theta = {f"{l}.theta": b.asarray(t) for l, t in
                       enumerate(saturated_logits(masks, model.prior.temperature)) if f"{l}.theta" in keys}
        if any(f"{l}.theta" not in keys and not m.all() for l, m in enumerate(masks)):
            raise ValueError(f"masks: the {model.prior_name} prior has no indicators, so every node is kept; pass "
                             "all-True masks (prune.node_masks does)")
        self._check_exact()

    def __getattr__(self, name):
        if name == "model":                 # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.model, name)

    def _check_exact(self):
        """The saturated logits give ``gamma = m``, ``z = m`` and ``dz/dtheta = 0`` exactly, at the extreme
        uniform draws of this dtype (the module docstring's claim, checked for this model's relaxation)."""
        b, prior = self.model.backend, self.model.prior
        dt = np.dtype(b.dtype_name)
        u = b.asarray(np.array([[np.finfo(dt).tiny], [np.nextafter(dt.type(1), dt.type(0))]], dtype=dt))
        for key, theta in self._theta.items():
            mask = self.masks[int(key.split(".")[0])].astype(dt)
            z, dz = relaxed_indicator(theta, u, prior.temperature, prior.relaxation)
            exact = (np.array_equal(b.to_numpy(sigmoid(theta)), mask) and np.all(b.to_numpy(dz) == 0)
                     and all(np.array_equal(row, mask) for row in b.to_numpy(z)))
            if not exact:
                raise ValueError(f"temperature: {prior.temperature!r} is too large for the frozen mask to be exact in "
                                 f"{dt}; fine-tune a model with a smaller temperature")

    def _frozen(self, params: dict) -> dict:
        return {**params, **self._theta}

    def _without_theta_gradient(self, out):
        loss, grads, terms = out
        xp = self.model.backend.xp
        return loss, {k: (xp.zeros_like(g) if k in self._theta else g) for k, g in grads.items()}, terms

    def loss_and_grad(self, params, x, y, noise, n_data: int, kl_weight: float = 1.0):
        """The model's :meth:`loss_and_grad` with ``z = mask``; the ``theta`` gradient is 0."""
        return self._without_theta_gradient(self.model.loss_and_grad(self._frozen(params), x, y, noise, n_data,
                                                                     kl_weight))

    def loss_and_grad_fused(self, params, x, y, noise, n_data: int, kl_weight: float = 1.0):
        """The model's :meth:`loss_and_grad_fused` with ``z = mask``; the ``theta`` gradient is 0."""
        return self._without_theta_gradient(self.model.loss_and_grad_fused(self._frozen(params), x, y, noise, n_data,
                                                                           kl_weight))

    def predict(self, params, x, noise):
        """Network outputs ``(S, B, K)`` with ``z = mask`` (weights and scales still sampled)."""
        return self.model.predict(self._frozen(params), x, noise)


def finetune_config(config: TrainConfig, epochs: int, lr: float | None = None) -> TrainConfig:
    """The options of the fine-tuning phase: the run's own, with ``epochs`` and (if given) ``lr``, ``theta`` frozen
    (``lr_mult_theta = 0``), a constant rate and no KL annealing (the authors' second phase: constant lr, full KL),
    and ``flops_budget = 1`` (the mask, so the FLOPs, are fixed; the selection rule is the run's); no removal
    during training (``prune_below = None``: the frozen mask already fixes every node)."""
    return replace(config, epochs=epochs, lr=config.lr if lr is None else lr, lr_mult_theta=0.0, theta_init=None,
                   rho_init=None, theta_init_sd=0.0, lr_schedule="constant", lr_decay_epochs=(), kl_anneal_epochs=0, flops_budget=1.0,
                   prune_below=None)


def finetune(model, params, x_fit, y_fit, x_val=None, y_val=None, config: TrainConfig | None = None, *,
             out_dir: str | None = None, resume: bool = False, y_scale: float = 1.0, log=sys.stderr) -> FitResult:
    """Train ``params`` further with the mask frozen at ``prune.node_masks(model, params)``, the median-probability
    model of ``params`` (module docstring). ``config`` as
    :func:`refimpl.run.train.fit` (default: ``finetune_config(TrainConfig(), 10)``); ``theta`` is frozen whatever it
    says. Returns ``fit``'s result; its parameters keep ``params``' ``theta`` exactly."""
    config = finetune_config(TrainConfig(), 10) if config is None else replace(config, lr_mult_theta=0.0,
                                                                                 theta_init=None, rho_init=None,
                                                                                 theta_init_sd=0.0)
    frozen = FrozenMask(model, node_masks(model, params))
    return fit(frozen, x_fit, y_fit, x_val, y_val, config, out_dir=out_dir, resume=resume, y_scale=y_scale,
               init_params=params, log=log)
