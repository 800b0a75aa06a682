"""What every node-group prior shares: Gaussian weight factors, indicators, and the Gaussian weight KL
against a slab whose variance may carry a random multiplier.

For hidden layer l and node j, the group ``w_lj`` is the incoming column ``W_l[:, j]`` plus the bias
``b_l[j]`` (``m = k_l + 1`` numbers). The sampled weights are (P-1)

    W_l[:, j] = z_lj * t_lj * (w_mu + softplus(w_rho) eps_w)[:, j],   b_l[j] = z_lj * t_lj * (b_mu + ...)[j]

with ``z_lj`` the relaxed indicator (hidden layers of spike-and-slab priors; 1 otherwise) and ``t_lj``
the node's scale in a **non-centred** parameterisation (1 when the scales do not enter the forward pass).

The weight KL of node j, for a slab ``N(0, sigma0^2 v_j I)`` whose variance multiplier ``v_j`` is random
under q, is (KL-5)

    KL_w(j) = sum_i [ log sigma0 + E[log v_j]/2 - log sigma_i - 1/2 + (sigma_i^2 + mu_i^2) E[1/v_j] / (2 sigma0^2) ]

(``v = 1``: plain (KL-2); non-centred priors use ``v = 1``; centred ones pass ``E log v`` and ``E 1/v``).
Hidden spike-and-slab nodes contribute ``gamma_j KL_w(j)`` plus the indicator KL (KL-1) (P-2).

A subclass supplies the scales through four hooks: ``scale_param_shapes``, ``init_scale_params``,
``forward_scales`` / ``backward_scales`` (non-centred ``t``), ``weight_kl_moments`` (centred
``E log v``, ``E 1/v``) and ``scale_kl`` (the KLs of the scale factors themselves).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend import array_namespace

from ..schedules import inclusion_log_probs
from ..stable import d_log_softplus, log_softplus, sigmoid, softplus
from .common import (gaussian_sample, gaussian_sample_backward, indicators, indicators_backward,
                     gated_node_kl, init_gaussian_layer)


@dataclass(frozen=True)
class Removed:
    """What the nodes removed during training (``TrainConfig.prune_below``, :mod:`refimpl.shrink`) leave in
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


class NodePrior:
    """Base of the node-group priors; see the module docstring for the maths and the hooks."""

    scale_parts: tuple[str, ...] = ()
    #: Set by :mod:`refimpl.shrink` on the network that remains after nodes were removed; ``None`` otherwise.
    removed: Removed | None = None

    def __init__(self, widths, spike: bool, *, sigma0=1.0, lam="paper", C=1e-9, kappa=0.1,
                 relaxation="straight-through", temperature=0.5, backend=None):
        self.backend = backend
        self.widths = tuple(widths)
        self.n_layers = len(self.widths) - 1
        self.spike = spike
        self.sigma0 = float(sigma0)
        self.lam, self.C, self.kappa = lam, C, kappa
        self.relaxation, self.temperature = relaxation, float(temperature)
        self.kl_parts = (("kl_z",) if spike else ()) + ("kl_w",) + self.scale_parts
        if spike:  # fail now on a bad constant or schedule name, not at the first loss call
            inclusion_log_probs(self.widths, lam, 2, C, kappa)

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

    def has_indicators(self, l: int) -> bool:
        return self.spike and l < self.n_layers - 1

    def layers(self):
        """``(l, k_in, k_out)`` for every weight layer."""
        return [(l, k_in, k_out) for l, (k_in, k_out) in enumerate(zip(self.widths[:-1], self.widths[1:]))]

    # ---- hooks (defaults: no scales) ---------------------------------------------------------------
    def scale_param_shapes(self) -> dict:
        return {}

    def scale_noise_shapes(self, n_samples: int) -> dict:
        return {}

    def init_scale_params(self, rng) -> dict:
        return {}

    def forward_scales(self, params, noise):
        """Non-centred node scales ``t_l`` ``(S, k_out)`` per layer (``None`` where absent), and a cache."""
        return [None] * self.n_layers, None

    def backward_scales(self, params, noise, d_scales, cache) -> dict:
        return {}

    def weight_kl_moments(self, params, noise):
        """Per layer ``(E log v, E 1/v)`` of shape ``(k_out,)``, or ``None`` for ``v = 1``, and a cache."""
        return [None] * self.n_layers, None

    def weight_kl_moments_backward(self, params, d_e_log_v, d_e_inv_v, cache) -> dict:
        return {}

    def expected_scales(self, params):
        """Per layer ``E_q[t]`` ``(k_out,)`` of the non-centred node scales (``None`` where absent). (PR-1)"""
        return [None] * self.n_layers

    def scale_kl(self, params):
        """The scale factors' KL parts ``{name: 0-d array}`` and their gradients."""
        return {}, {}

    # ---- layout ------------------------------------------------------------------------------------
    def param_shapes(self) -> dict:
        shapes = {}
        for l, k_in, k_out in self.layers():
            shapes.update({f"{l}.w_mu": (k_in, k_out), f"{l}.w_rho": (k_in, k_out),
                           f"{l}.b_mu": (k_out,), f"{l}.b_rho": (k_out,)})
            if self.has_indicators(l):
                shapes[f"{l}.theta"] = (k_out,)
        shapes.update(self.scale_param_shapes())
        return shapes

    def noise_shapes(self, n_samples: int) -> dict:
        shapes = {}
        for l, k_in, k_out in self.layers():
            shapes[f"{l}.eps_w"] = (n_samples, k_in, k_out)
            shapes[f"{l}.eps_b"] = (n_samples, k_out)
            if self.has_indicators(l):
                shapes[f"{l}.u"] = (n_samples, k_out)
        shapes.update(self.scale_noise_shapes(n_samples))
        return shapes

    def init_params(self, rng, scheme: str = "fan-in") -> dict:
        """Host (NumPy) arrays of every parameter; weight and bias means by ``scheme`` (I-1)."""
        params = {}
        for l, k_in, k_out in self.layers():
            layer = init_gaussian_layer(rng, k_in, k_out, self.has_indicators(l), scheme)
            params.update({f"{l}.{k}": v for k, v in layer.items()})
        params.update(self.init_scale_params(rng))
        return params

    # ---- (P-1) forward sample and its reverse --------------------------------------------------------
    def weights(self, params, noise):
        """Sampled ``(W_l (S, k_l, k_{l+1}), b_l (S, k_{l+1}))`` for every layer and the cache. (P-1)"""
        scales, scale_cache = self.forward_scales(params, noise)
        Ws, bs, cache = [], [], []
        for l in range(self.n_layers):
            beta_w = gaussian_sample(params[f"{l}.w_mu"], params[f"{l}.w_rho"], noise[f"{l}.eps_w"])
            beta_b = gaussian_sample(params[f"{l}.b_mu"], params[f"{l}.b_rho"], noise[f"{l}.eps_b"])
            z = dz = None
            if self.has_indicators(l):
                z, dz = indicators(params[f"{l}.theta"], noise[f"{l}.u"], self.relaxation, self.temperature)
            mult = _product(z, scales[l])
            Ws.append(beta_w if mult is None else mult[:, None, :] * beta_w)
            bs.append(beta_b if mult is None else mult * beta_b)
            cache.append((beta_w, beta_b, z, dz, scales[l], mult))
        return Ws, bs, (cache, scale_cache)

    def weights_backward(self, params, noise, d_Ws, d_bs, cache) -> dict:
        """Reverse of (P-1). With ``g_j = sum_i dW_ij beta_ij + db_j beta_bj``: ``d_z = t g``,
        ``d_t = z g`` and ``d_beta = z t dW``."""
        layer_cache, scale_cache = cache
        grads, d_scales = {}, [None] * self.n_layers
        for l in range(self.n_layers):
            beta_w, beta_b, z, dz, t, mult = layer_cache[l]
            d_W, d_b = d_Ws[l], d_bs[l]
            if mult is not None:
                xp = array_namespace(d_W)
                g = xp.sum(d_W * beta_w, axis=1) + d_b * beta_b  # (S, k_out)
                if z is not None:
                    grads[f"{l}.theta"] = indicators_backward(g if t is None else g * t, dz)
                if t is not None:
                    d_scales[l] = g if z is None else g * z
                d_W, d_b = mult[:, None, :] * d_W, mult * d_b
            grads[f"{l}.w_mu"], grads[f"{l}.w_rho"] = gaussian_sample_backward(d_W, params[f"{l}.w_rho"], noise[f"{l}.eps_w"])
            grads[f"{l}.b_mu"], grads[f"{l}.b_rho"] = gaussian_sample_backward(d_b, params[f"{l}.b_rho"], noise[f"{l}.eps_b"])
        grads.update(self.backward_scales(params, noise, d_scales, scale_cache))
        return grads

    # ---- (P-2) closed-form KL ----------------------------------------------------------------------
    def kl(self, params, noise, n_data: int):
        """(P-2) The KL parts (0-d arrays, whole-network totals) and their gradients. Closed form; only
        an optional one-sample estimate (centred SS-GHS) reads ``noise``."""
        log_lams = self.inclusion_log_probs(n_data) if self.spike else None
        moments, moment_cache = self.weight_kl_moments(params, noise)
        parts = {"kl_z": 0.0, "kl_w": 0.0} if self.spike else {"kl_w": 0.0}
        grads, d_e_log_v, d_e_inv_v = {}, [None] * self.n_layers, [None] * self.n_layers
        for l, k_in, _ in self.layers():
            e_log_v, e_inv_v = moments[l] if moments[l] is not None else (None, None)
            kl_node, d_w, d_b, d_elv, d_eiv = _node_weight_kl(params, l, k_in + 1, self.sigma0, e_log_v, e_inv_v,
                                                              self.removed_inputs(l, k_in))
            xp = array_namespace(kl_node)
            if self.has_indicators(l):
                gamma, kl_z, kl_w, grads[f"{l}.theta"] = gated_node_kl(params[f"{l}.theta"], log_lams[l], kl_node)
                parts["kl_z"] = parts["kl_z"] + kl_z
                parts["kl_w"] = parts["kl_w"] + kl_w
                d_w, d_b = [gamma * g for g in d_w], [gamma * g for g in d_b]
                d_elv = None if d_elv is None else gamma * d_elv
                d_eiv = None if d_eiv is None else gamma * d_eiv
            else:
                parts["kl_w"] = parts["kl_w"] + xp.sum(kl_node)
            grads[f"{l}.w_mu"], grads[f"{l}.w_rho"] = d_w
            grads[f"{l}.b_mu"], grads[f"{l}.b_rho"] = d_b
            d_e_log_v[l], d_e_inv_v[l] = d_elv, d_eiv
        grads.update(self.weight_kl_moments_backward(params, d_e_log_v, d_e_inv_v, moment_cache))
        scale_parts, scale_grads = self.scale_kl(params)
        parts.update(scale_parts)
        for k, g in scale_grads.items():
            grads[k] = grads[k] + g if k in grads else g
        return parts, grads


def _product(z, t):
    if z is None:
        return t
    return z if t is None else z * t


def _node_weight_kl(params, l: int, m: int, sigma0: float, e_log_v, e_inv_v, removed=(0, 0.0, 0.0)):
    """(KL-5) per node of layer l, ``(k_out,)``, with gradients: ``((d w_mu, d w_rho), (d b_mu, d b_rho),
    dKL/dE[log v], dKL/dE[1/v])``; the last two are ``None`` when ``v = 1``. ``removed = (r, sq, log_sigma)``:
    the ``r`` frozen entries per group read from removed inputs, their square sum and ``sum log sigma`` (SH-1);
    they belong to the group's (KL-5) like the others."""
    xp = array_namespace(params[f"{l}.w_mu"])
    inv_var0 = 1.0 / (sigma0 * sigma0)
    r, sq_sum, log_sigma_removed = removed
    m = m + r
    kl = m * (math.log(sigma0) - 0.5) - log_sigma_removed
    grads = []
    for kind in ("w", "b"):
        mu, rho = params[f"{l}.{kind}_mu"], params[f"{l}.{kind}_rho"]
        sigma = softplus(rho)
        sq = 0.5 * (sigma * sigma + mu * mu) * inv_var0
        log_sigma = log_softplus(rho)
        if kind == "w":
            sq, log_sigma = xp.sum(sq, axis=0), xp.sum(log_sigma, axis=0)
        sq_sum = sq_sum + sq
        kl = kl - log_sigma
        scale = inv_var0 if e_inv_v is None else inv_var0 * e_inv_v
        grads.append((mu * scale, sigma * sigmoid(rho) * scale - d_log_softplus(rho)))
    if e_inv_v is None:
        return kl + sq_sum, grads[0], grads[1], None, None
    kl = kl + 0.5 * m * e_log_v + sq_sum * e_inv_v
    return kl, grads[0], grads[1], xp.full_like(e_log_v, 0.5 * m), sq_sum
