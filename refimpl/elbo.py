"""The objective of every prior: the loss -ELBO/N of a minibatch (E-1) with every gradient, assembled from the
per-layer kernels of :mod:`refimpl.factors`, the prior's family functions, :mod:`refimpl.network` and a
likelihood. (E-1, P-1, P-2)

The loss of one minibatch of size B from a training set of size N, with S Monte Carlo samples of every
latent variable (noise supplied by the caller), is (E-1)

    loss = (1/S) sum_s (1/B) sum_i -log p(y_i | x_i, theta_s)  +  kl_weight KL(q || p) / N

and ``KL = sum_{hidden l, j} [KL_z(l, j) + gamma_lj KL_w(l, j)] + sum_{output j} KL_w(l, j) + scale KLs`` (P-2).
Its gradient is reverse mode through the likelihood (L-1, L-2), the layers (N-3), the sample (P-1, V-1), the
relaxed indicators (R-2) and the closed-form KL; the KL gradient of each Gaussian factor is the per-node
coefficients ``(c_sq, c_log)`` of :func:`factors.factor_grads`, added where the sample's gradient is formed.

Two schedules of the same kernels: :func:`loss_and_grad` (the reference, every backend: sample, network,
likelihood, then the KL, whose coefficients the reverse pass needs, then the reverse) and
:func:`loss_and_grad_fast` (NumPy training): the KL first, each layer's sample cache released as it is reversed,
``d_beta``'s memory reused as scratch, and subnormal float32 operands of the matrix products flushed to zero
(F-3). Both use the in-place kernels, so their memory is about the same (measured peaks within 7%: the flush's
two boolean arrays); sums are taken in the same order, so they differ by the flush alone (below 1.2e-38 per
entry) and are bitwise equal in float64 (``tests/test_fused.py``).
"""
from __future__ import annotations

from .backend import array_namespace
from .factors import (RhoParts, factor_grads, gate, gate_backward, gated_node_kl, indicators,
                      indicators_backward, node_weight_kl, rho_parts, sample)
from .stable import softplus
from . import network


def all_rho_parts(prior, params) -> dict:
    """:class:`factors.RhoParts` of every Gaussian factor, by ``"{l}.w"`` / ``"{l}.b"``."""
    return {f"{l}.{k}": rho_parts(params[f"{l}.{k}_rho"]) for l in range(prior.n_layers) for k in ("w", "b")}


def _add(grads, extra, scale=None):
    """``grads[k] += scale * g`` for every ``k, g`` of ``extra`` (new keys set)."""
    for k, g in extra.items():
        g = g if scale is None else scale * g
        grads[k] = grads[k] + g if k in grads else g


# ---- (P-2) the KL ------------------------------------------------------------------------------------------
def kl_terms(prior, params, parts, noise, n_data: int, kl_scale: float):
    """(P-2) ``(kl_parts, kl_grads, coefs)``: the KL parts (whole-network totals), the KL gradients of the
    indicator logits and the scale parameters (not scaled), and per layer the coefficients ``(c_sq, c_log)`` of
    the Gaussian factors' KL gradients, already times ``kl_scale``. Closed form; only an optional one-sample estimate
    (centred SS-GHS) reads ``noise``."""
    log_lams = prior.inclusion_log_probs(n_data) if prior.spike else None
    moments, moment_cache = prior.family.moments(prior, params, noise)
    kl_parts = {"kl_z": 0.0, "kl_w": 0.0} if prior.spike else {"kl_w": 0.0}
    kl_grads, d_e_log_v, d_e_inv_v, coefs = {}, [None] * prior.n_layers, [None] * prior.n_layers, []
    inv_var0 = 1.0 / (prior.sigma0 * prior.sigma0)
    for l, k_in, _ in prior.layers():
        e_log_v, e_inv_v = moments[l] if moments[l] is not None else (None, None)
        removed = prior.removed_inputs(l, k_in)                         # (SH-1)
        kl_node, sq = node_weight_kl(params[f"{l}.w_mu"], params[f"{l}.b_mu"], params[f"{l}.w_rho"],
                                     params[f"{l}.b_rho"], parts[f"{l}.w"], parts[f"{l}.b"], prior.sigma0,
                                     e_log_v, e_inv_v, removed)
        gamma = None
        if prior.has_indicators(l):
            gamma, kl_z, kl_w, kl_grads[f"{l}.theta"] = gated_node_kl(params[f"{l}.theta"], log_lams[l], kl_node)
            kl_parts["kl_z"] = kl_parts["kl_z"] + kl_z
            kl_parts["kl_w"] = kl_parts["kl_w"] + kl_w
        else:
            kl_parts["kl_w"] = kl_parts["kl_w"] + array_namespace(kl_node).sum(kl_node)
        if e_inv_v is not None:                        # dKL/dE[log v] = m/2, dKL/dE[1/v] = sq, times gamma
            half_m = 0.5 * (k_in + 1 + removed[0])
            d_e_log_v[l] = array_namespace(e_log_v).full_like(e_log_v, half_m) if gamma is None else half_m * gamma
            d_e_inv_v[l] = sq if gamma is None else gamma * sq
        c_log = kl_scale if gamma is None else kl_scale * gamma
        c_sq = c_log * inv_var0
        coefs.append((c_sq if e_inv_v is None else c_sq * e_inv_v, c_log))
    kl_grads.update(prior.family.moments_backward(prior, params, d_e_log_v, d_e_inv_v, moment_cache))
    scale_parts, scale_grads = prior.family.kl(prior, params)
    kl_parts.update(scale_parts)
    _add(kl_grads, scale_grads)
    return kl_parts, kl_grads, coefs


def kl_and_grad(prior, params, noise, n_data: int):
    """(P-2) The KL parts and the gradient of their sum with respect to every parameter."""
    parts = all_rho_parts(prior, params)
    kl_parts, grads, coefs = kl_terms(prior, params, parts, noise, n_data, 1.0)
    for l in range(prior.n_layers):
        for kind in ("w", "b"):
            grads[f"{l}.{kind}_mu"], grads[f"{l}.{kind}_rho"] = factor_grads(
                None, None, params[f"{l}.{kind}_mu"], params[f"{l}.{kind}_rho"], parts[f"{l}.{kind}"], *coefs[l])
    return kl_parts, grads


# ---- (P-1) the sample and its reverse -----------------------------------------------------------------------
def sample_weights(prior, params, noise, parts=None):
    """(P-1) sampled ``W_l`` ``(S, k_l, k_{l+1})`` and ``b_l`` ``(S, k_{l+1})`` of every layer, and the cache of
    :func:`reverse_layer`: per layer ``(beta_w, beta_b, z, dz/dtheta, t, z t)``, and the family's scale cache.
    Without ``parts`` (prediction) only ``sigma = softplus(rho)`` is computed: the sample needs nothing else."""
    ts, scale_cache = prior.family.scales(prior, params, noise)
    Ws, bs, layers = [], [], []
    for l in range(prior.n_layers):
        beta_w, beta_b = (sample(params[f"{l}.{k}_mu"], _sigma_parts(params, parts, f"{l}.{k}"), noise[f"{l}.eps_{k}"])
                          for k in ("w", "b"))
        z = dz = None
        if prior.has_indicators(l):
            z, dz = indicators(params[f"{l}.theta"], noise[f"{l}.u"], prior.relaxation, prior.temperature)
        t = ts[l]
        mult = t if z is None else (z if t is None else z * t)
        W, b = gate(beta_w, beta_b, mult)
        Ws.append(W)
        bs.append(b)
        layers.append((beta_w, beta_b, z, dz, t, mult))
    return Ws, bs, (layers, scale_cache)


def _sigma_parts(params, parts, key) -> RhoParts:
    """``parts[key]``, or (prediction) a :class:`RhoParts` with ``sigma`` alone, formed per layer and dropped after
    the layer's sample (holding every layer's ``sigma`` at once made prediction page-fault)."""
    return parts[key] if parts is not None else RhoParts(softplus(params[f"{key}_rho"]), None, None)


def reverse_layer(l, params, parts, noise, d_W, d_b, layers, coefs, grads, d_scales, scratch: bool = False):
    """(P-1) reversed for layer l, then (V-1) reversed with the (KL-5) gradient added (:func:`factors.factor_grads`):
    writes the gradients of ``theta``, ``w_mu`` ... into ``grads`` and ``d t_l`` into ``d_scales``. ``d_W`` and
    ``d_b`` are overwritten and the layer's cache ``layers[l]`` released; ``scratch``: let the kernels reuse ``d_beta``'s
    memory (NumPy, S = 1)."""
    beta_w, beta_b, z, dz, t, mult = layers[l]
    layers[l] = None
    g, d_W, d_b = gate_backward(d_W, d_b, beta_w, beta_b, mult)     # g_j = sum_i dW_ij beta_ij + db_j beta_bj
    if z is not None:
        grads[f"{l}.theta"] = indicators_backward(g if t is None else g * t, dz)
    if t is not None:
        d_scales[l] = g if z is None else g * z
    del beta_w                       # its memory is reused by the gradients below
    for kind, d_beta in (("w", d_W), ("b", d_b)):
        grads[f"{l}.{kind}_mu"], grads[f"{l}.{kind}_rho"] = factor_grads(
            d_beta, noise[f"{l}.eps_{kind}"], params[f"{l}.{kind}_mu"], params[f"{l}.{kind}_rho"],
            parts[f"{l}.{kind}"], *coefs[l], scratch=d_beta[0] if scratch and d_beta.shape[0] == 1 else None)


def _finish(prior, params, noise, grads, kl_grads, kl_parts, nll, d_scales, scale_cache, kl_scale):
    """The scale gradients of the sample, ``kl_scale`` times the KL gradients, the loss; in ``params``' order."""
    _add(grads, prior.family.scales_backward(prior, params, noise, d_scales, scale_cache))
    _add(grads, kl_grads, kl_scale)
    loss = nll + kl_scale * sum(kl_parts.values())
    return loss, {k: grads[k] for k in params}, {"nll": nll, **kl_parts}


# ---- the two schedules ------------------------------------------------------------------------------------
def loss_and_grad(prior, activation, likelihood, params, x, target, noise, n_data: int, kl_scale: float):
    """``(loss, grads, terms)`` (E-1) of checked inputs, ``kl_scale = kl_weight / n_data``, in the order of the
    maths: sample, network, likelihood ``(params, eta, target) -> (nll, d_eta, grads)``, the KL (its per-node
    coefficients enter the reverse pass), the reverse. Every backend."""
    parts = all_rho_parts(prior, params)
    Ws, bs, (layers, scale_cache) = sample_weights(prior, params, noise, parts)
    eta, net_cache = network.forward(x, Ws, bs, activation)
    nll, d_eta, grads = likelihood(params, eta, target)
    d_Ws, d_bs = network.backward(d_eta, net_cache)
    kl_parts, kl_grads, coefs = kl_terms(prior, params, parts, noise, n_data, kl_scale)
    d_scales = [None] * prior.n_layers
    for l in range(prior.n_layers):
        reverse_layer(l, params, parts, noise, d_Ws[l], d_bs[l], layers, coefs, grads, d_scales)
    return _finish(prior, params, noise, grads, kl_grads, kl_parts, nll, d_scales, scale_cache, kl_scale)


def loss_and_grad_fast(prior, activation, likelihood, params, x, target, noise, n_data: int, kl_scale: float):
    """:func:`loss_and_grad` for NumPy training: the KL first (it needs only the parameters); the forward
    pass's arrays released before the gradients are formed and each layer's cache as soon as it is reversed;
    scratch buffers; float32 products without subnormal operands (F-3)."""
    parts = all_rho_parts(prior, params)
    kl_parts, kl_grads, coefs = kl_terms(prior, params, parts, noise, n_data, kl_scale)
    Ws, bs, (layers, scale_cache) = sample_weights(prior, params, noise, parts)
    eta, net_cache = network.forward(x, Ws, bs, activation, flush=True)
    nll, d_eta, grads = likelihood(params, eta, target)
    d_Ws, d_bs = network.backward(d_eta, net_cache)
    del Ws, bs, net_cache, eta, d_eta
    d_scales = [None] * prior.n_layers
    for l in range(prior.n_layers):
        reverse_layer(l, params, parts, noise, d_Ws[l], d_bs[l], layers, coefs, grads, d_scales, scratch=True)
        d_Ws[l] = d_bs[l] = None
        parts.pop(f"{l}.w"), parts.pop(f"{l}.b")
    return _finish(prior, params, noise, grads, kl_grads, kl_parts, nll, d_scales, scale_cache, kl_scale)
