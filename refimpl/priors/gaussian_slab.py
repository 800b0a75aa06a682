"""Gaussian slabs: the dense Gaussian BNN (``prior="gaussian"``) and spike-and-slab with a Gaussian
slab on node groups (``prior="ss-ig"``, the predecessor paper's SS-IG).

Prior, for hidden layer l and node j with group ``w_lj`` = incoming column plus bias (``m = k_l + 1``):

    ss-ig:     z_lj ~ Bernoulli(lambda_l),   w_lj | z_lj ~ z_lj N(0, sigma0^2 I_m) + (1 - z_lj) delta_0
    gaussian:  w_lj ~ N(0, sigma0^2 I_m)      (no indicators)
    output layer (both): N(0, sigma0^2 I), no indicator.

Variational family: ``q(z_lj) = Bernoulli(sigmoid(theta_lj))`` and ``q(w | z = 1) = N(mu, softplus(rho)^2)``
element-wise. Forward sample (P-1): ``W = z * (w_mu + softplus(w_rho) eps_w)``, ``b = z * (b_mu + softplus(b_rho) eps_b)``.

KL (P-2): ``sum_{hidden l,j} [KL_z(l,j) + gamma_lj KL_w(l,j)] + sum_{output} KL_w``, where ``KL_w`` is
(KL-2) summed over the group; the spike-and-slab factorisation is exact because spike matches spike.
Reported parts: ``kl_z`` (indicators) and ``kl_w`` (weights).
"""
from __future__ import annotations

from array_api_compat import array_namespace

from ..schedules import inclusion_log_probs
from ..stable import sigmoid
from .common import (gaussian_sample, gaussian_sample_backward, group_sum, indicators,
                     indicators_backward, init_gaussian_layer, kl_gaussian_rho, kl_indicators)


class GaussianSlab:
    """The ``gaussian`` (``spike=False``) and ``ss-ig`` (``spike=True``) priors."""

    kl_parts_dense = ("kl_w",)
    kl_parts_spike = ("kl_z", "kl_w")

    def __init__(self, widths, spike: bool, *, sigma0=1.0, lam="paper", C=1e-9, kappa=0.1,
                 relaxation="straight-through", temperature=0.5):
        self.widths = tuple(widths)
        self.n_layers = len(self.widths) - 1
        self.spike = spike
        self.sigma0 = float(sigma0)
        self.lam, self.C, self.kappa = lam, C, kappa
        self.relaxation, self.temperature = relaxation, float(temperature)
        self.kl_parts = self.kl_parts_spike if spike else self.kl_parts_dense
        if spike:  # fail now on a bad constant or schedule name, not at the first loss call
            inclusion_log_probs(self.widths, lam, 2, C, kappa)

    def has_indicators(self, l: int) -> bool:
        return self.spike and l < self.n_layers - 1

    # ---- layout --------------------------------------------------------------------------------
    def param_shapes(self) -> dict:
        shapes = {}
        for l, (k_in, k_out) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            shapes.update({f"{l}.w_mu": (k_in, k_out), f"{l}.w_rho": (k_in, k_out),
                           f"{l}.b_mu": (k_out,), f"{l}.b_rho": (k_out,)})
            if self.has_indicators(l):
                shapes[f"{l}.theta"] = (k_out,)
        return shapes

    def noise_shapes(self, n_samples: int) -> dict:
        shapes = {}
        for l, (k_in, k_out) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            shapes[f"{l}.eps_w"] = (n_samples, k_in, k_out)
            shapes[f"{l}.eps_b"] = (n_samples, k_out)
            if self.has_indicators(l):
                shapes[f"{l}.u"] = (n_samples, k_out)
        return shapes

    def init_params(self, rng) -> dict:
        """Host (NumPy) arrays of every parameter, initialised as the authors (I-1)."""
        params = {}
        for l, (k_in, k_out) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            layer = init_gaussian_layer(rng, k_in, k_out, self.has_indicators(l))
            params.update({f"{l}.{k}": v for k, v in layer.items()})
        return params

    # ---- forward sample and its reverse ------------------------------------------------------------
    def weights(self, params, noise):
        """Sampled ``(W_l (S, k_l, k_{l+1}), b_l (S, k_{l+1}))`` for every layer and the cache. (P-1)"""
        Ws, bs, cache = [], [], []
        for l in range(self.n_layers):
            beta_w = gaussian_sample(params[f"{l}.w_mu"], params[f"{l}.w_rho"], noise[f"{l}.eps_w"])
            beta_b = gaussian_sample(params[f"{l}.b_mu"], params[f"{l}.b_rho"], noise[f"{l}.eps_b"])
            if self.has_indicators(l):
                z, dz = indicators(params[f"{l}.theta"], noise[f"{l}.u"], self.relaxation, self.temperature)
                Ws.append(z[:, None, :] * beta_w)
                bs.append(z * beta_b)
                cache.append((beta_w, beta_b, z, dz))
            else:
                Ws.append(beta_w)
                bs.append(beta_b)
                cache.append((beta_w, beta_b, None, None))
        return Ws, bs, cache

    def weights_backward(self, params, noise, d_Ws, d_bs, cache) -> dict:
        """Reverse of (P-1): ``d_beta = z dW``, ``d_z = sum_i dW_ij beta_ij + db_j beta_bj``."""
        grads = {}
        for l in range(self.n_layers):
            beta_w, beta_b, z, dz = cache[l]
            d_W, d_b = d_Ws[l], d_bs[l]
            if z is not None:
                xp = array_namespace(d_W)
                d_z = xp.sum(d_W * beta_w, axis=1) + d_b * beta_b
                grads[f"{l}.theta"] = indicators_backward(d_z, dz)
                d_W, d_b = z[:, None, :] * d_W, z * d_b
            grads[f"{l}.w_mu"], grads[f"{l}.w_rho"] = gaussian_sample_backward(d_W, params[f"{l}.w_rho"], noise[f"{l}.eps_w"])
            grads[f"{l}.b_mu"], grads[f"{l}.b_rho"] = gaussian_sample_backward(d_b, params[f"{l}.b_rho"], noise[f"{l}.eps_b"])
        return grads

    # ---- closed-form KL -------------------------------------------------------------------------
    def kl(self, params, n_data: int):
        """(P-2) The KL parts (0-d arrays, whole-network totals) and their gradients."""
        log_lams = inclusion_log_probs(self.widths, self.lam, n_data, self.C, self.kappa) if self.spike else None
        parts = {name: 0.0 for name in self.kl_parts}
        grads = {}
        for l in range(self.n_layers):
            kw, dw_mu, dw_rho = kl_gaussian_rho(params[f"{l}.w_mu"], params[f"{l}.w_rho"], self.sigma0)
            kb, db_mu, db_rho = kl_gaussian_rho(params[f"{l}.b_mu"], params[f"{l}.b_rho"], self.sigma0)
            xp = array_namespace(kw)
            kl_group = group_sum(kw, kb)  # (k_out,): KL_w of each node group
            if self.has_indicators(l):
                theta = params[f"{l}.theta"]
                gamma = sigmoid(theta)
                kl_z, d_theta = kl_indicators(theta, *log_lams[l])
                parts["kl_z"] = parts["kl_z"] + kl_z
                parts["kl_w"] = parts["kl_w"] + xp.sum(gamma * kl_group)
                grads[f"{l}.theta"] = d_theta + kl_group * gamma * sigmoid(-theta)
                dw_mu, dw_rho, db_mu, db_rho = gamma * dw_mu, gamma * dw_rho, gamma * db_mu, gamma * db_rho
            else:
                parts["kl_w"] = parts["kl_w"] + xp.sum(kl_group)
            grads.update({f"{l}.w_mu": dw_mu, f"{l}.w_rho": dw_rho, f"{l}.b_mu": db_mu, f"{l}.b_rho": db_rho})
        return parts, grads
