"""A fused NumPy path for one training step: :func:`fused_loss_and_grad` returns what
``NodeSparseBNN.loss_and_grad`` returns -- the loss -ELBO/N (E-1), every gradient and the KL parts -- from
the same formulas, evaluated with fewer passes over memory. It is a speed path, not a second
formulation: read ``model.py``, ``network.py`` and ``priors/base.py`` for the maths; this module only
reorganises the element-wise work of (V-1), (P-1), (N-1), (N-3) and (KL-5).

Why it exists. In the reference path a 784-400-400-10 step at batch 1024 spends about half of its time
outside the matrix products (docs/performance.md): ``softplus(rho)`` and ``sigmoid(rho)`` of every
weight are recomputed by (V-1), its reverse and (KL-5) (four softplus and three sigmoid evaluations per
``rho`` and step); SiLU's sigmoid is computed again in the backward pass; every stable primitive
allocates several full-size temporaries, and fresh large arrays cost page faults (glibc returns them
to the system between uses). Here, and nowhere else:

1. ``sigma = softplus(rho)`` and ``sigmoid(rho)`` of each weight are computed once per step from one
   ``exp(-|rho|)`` (the sigmoid's numerator too: ``max([rho >= 0], e)``, no second ``exp``), and ``log sigma``,
   ``d log sigma / d rho`` from them, with one check of the -30 switch per ``rho`` (F-1, F-2;
   :func:`softplus_and_sigmoid`, :func:`switch_idle`, :func:`log_softplus_given`, :func:`d_log_softplus_given`,
   each bitwise equal to its function in ``stable``);
2. the activation derivative psi'(a) is computed in the forward pass from the same sigmoid, in the sigmoid's
   own array (:func:`activation_and_derivative`, bitwise equal to ``(psi(a), d_psi(a))``);
3. element-wise work writes into arrays the step owns (``out=``, in-place operators) instead of
   allocating temporaries;
4. the KL gradients of the Gaussian factors (P-2, KL-5) are added into the likelihood gradients in
   place, per node, instead of being formed as separate full-size arrays;
5. the closed-form KL is evaluated first and the forward caches are released before the gradients are
   formed, so that freed memory is reused within the step (no page faults, half the peak memory);
6. in float32, subnormal entries of the matrix products' inputs -- hidden activations and the
   back-propagated errors -- are set to zero (F-3, :func:`flush_subnormals`). x86 CPUs handle subnormal
   operands in microcode; they appear once pre-activations pass about -87 (sigmoid underflows) and made a
   784-400-400-10 SS-GL step on Fashion-MNIST twice as slow after 40 epochs. The change to any value is
   below ``finfo(float32).tiny`` = 1.2e-38 in absolute terms; float64 (subnormal below 2.2e-308) is left as is.

The node scales of SS-GL and SS-GHS, the indicators, the likelihoods and the scale KLs are the prior's
and the model's own functions, unchanged. NumPy only (``out=`` is not in the array API standard);
``NodeSparseBNN.loss_and_grad_fused`` falls back to the reference on other backends. Sums are taken in
a different order, so results equal the reference to round-off: ``tests/test_fused.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .priors.common import gated_node_kl, indicators, indicators_backward
from .stable import _LOG_SOFTPLUS_SWITCH


# ---- (F-1, F-2) every function of rho, once ---------------------------------------------------------
def softplus_and_sigmoid(rho):
    """``(softplus(rho), sigmoid(rho))``, bitwise as ``stable.softplus`` and ``stable.sigmoid``, sharing
    ``e = exp(-|rho|)``: ``softplus = max(rho, 0) + log1p(e)``, sigmoid as :func:`sigmoid_numpy`. (F-1, F-2)"""
    e = _exp_minus_abs(rho)
    sigma = np.maximum(rho, 0.0)
    sigma += np.log1p(e)
    return sigma, _sigmoid_from(rho, e)


def switch_idle(rho) -> bool:
    """True when no entry of ``rho`` is at or below the -30 switch of ``stable.log_softplus`` (the usual
    case): one pass over ``rho``, shared by :func:`log_softplus_given` and :func:`d_log_softplus_given`."""
    return float(np.min(rho, initial=np.inf)) > _LOG_SOFTPLUS_SWITCH


def log_softplus_given(rho, sigma, idle=None):
    """``stable.log_softplus(rho)`` (bitwise) from ``sigma = softplus(rho)``: ``log sigma``, ``rho`` below -30.
    ``idle``: :func:`switch_idle` of ``rho`` if known. (F-1)"""
    if switch_idle(rho) if idle is None else idle:      # the usual case: the switch is idle
        return np.log(sigma)
    above = rho > _LOG_SOFTPLUS_SWITCH
    return np.where(above, np.log(np.where(above, sigma, 1.0)), rho)   # log() never sees an underflowed 0


def d_log_softplus_given(rho, sigma, sig, out=None, idle=None):
    """``stable.d_log_softplus(rho)`` (bitwise) from ``sigma`` and ``sig = sigmoid(rho)``: ``sig / sigma``,
    1 below -30. ``idle`` as in :func:`log_softplus_given`. (F-1)"""
    if switch_idle(rho) if idle is None else idle:
        return np.divide(sig, sigma, out=out)
    above = rho > _LOG_SOFTPLUS_SWITCH
    return np.where(above, sig / np.where(above, sigma, 1.0), 1.0)


def _exp_minus_abs(x):
    e = np.abs(x)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def _sigmoid_from(x, e):
    """``stable.sigmoid``'s select-free form ``exp(min(x, 0)) / (1 + e)`` with ``e = exp(-|x|)`` given
    (overwritten: it becomes ``1 + e``). (F-2) The numerator is 1 for x >= 0 and exactly ``e`` for x < 0,
    formed without a second ``exp`` as ``max([x >= 0], e)`` (``e <= 1``; NaN stays NaN): bitwise the same."""
    num = np.greater_equal(x, 0.0, out=np.empty_like(e), casting="unsafe")     # 1.0 where x >= 0, else 0.0
    np.maximum(num, e, out=num)
    e += 1.0
    return np.divide(num, e, out=num)


def sigmoid_numpy(x):
    """(F-2) ``stable.sigmoid``, bitwise, in seven passes over memory, one ``exp`` and without a select."""
    return _sigmoid_from(x, _exp_minus_abs(x))


# ---- (F-3) no subnormal operands in float32 matrix products ----------------------------------------------
_TINY32 = float(np.finfo(np.float32).tiny)


def flush_subnormals(a):
    """Set the entries of a float32 array with ``|a| < finfo(float32).tiny`` to zero, in place; other dtypes
    unchanged. Returns ``a``. (F-3: subnormal operands cost microcode assists on x86, ~100x a normal
    multiply-add; the absolute change is below 1.2e-38.)"""
    if a.dtype != np.float32:
        return a
    small = np.less(a, _TINY32)                    # -tiny < a < tiny, in two boolean arrays (a quarter of
    np.logical_and(small, np.greater(a, -_TINY32), out=small)        # a's size each) rather than |a|
    if small.any():                # one pass when there is nothing to flush (the usual case)
        a[small] = 0.0
    return a


# ---- (N-2) activation and derivative together ----------------------------------------------------------
def activation_and_derivative(name: str, a):
    """``(psi(a), psi'(a))`` as ``activations.py`` computes them (bitwise); overwrites ``a``."""
    if name == "silu":
        e = _exp_minus_abs(a)
        s = _sigmoid_from(a, e)                           # e = 1 + exp(-|a|) now: scratch
        t = np.subtract(1.0, s, out=e)
        t *= a
        t += 1.0                                          # 1 + a (1 - s)
        a *= s                                            # a s
        s *= t                                            # s (1 + a (1 - s)), the array of the sigmoid
        return a, s
    if name == "relu":
        d = (a > 0).astype(a.dtype)
        return np.maximum(a, 0.0, out=a), d
    if name == "tanh":
        t = np.tanh(a, out=a)
        d = np.multiply(t, t)
        np.subtract(1.0, d, out=d)
        return t, d
    raise ValueError(f"activation: no fused form for {name!r}")


# ---- (N-1, N-3) the network ---------------------------------------------------------------------------
def network_forward(x, weights, biases, activation: str):
    """(N-1) outputs ``(S, B, K)`` and the cache of the reverse pass: inputs and psi'(a) per hidden layer."""
    h, inputs, d_psi = x, [], []
    last = len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        a = np.matmul(h, W)
        a += b[:, None, :]
        inputs.append(h)
        if l < last:
            h, d = activation_and_derivative(activation, a)
            h = flush_subnormals(h)                       # (F-3) h is an operand of the next products
            d_psi.append(d)
        else:
            h = a
    return h, (inputs, d_psi, weights)


def predict_forward(x, weights, biases, activation: str):
    """(N-1) outputs ``(S, B, K)`` only, for predictions: bitwise ``network.forward``'s (no flush, F-3), with no
    cache and the activation applied in place, so each layer holds one array instead of three (at 10 samples
    and 4096 rows a (S, B, 400) float32 array is 66 MB; fresh ones cost page faults)."""
    h, last = x, len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        a = np.matmul(h, W)
        a += b[..., None, :]
        if l < last:
            if activation == "silu":
                a *= sigmoid_numpy(a)                     # a sigmoid(a)
            elif activation == "relu":
                np.maximum(a, 0.0, out=a)
            elif activation == "tanh":
                np.tanh(a, out=a)
            else:
                raise ValueError(f"activation: no fused form for {activation!r}")
        h = a
    return h


def network_backward(d_eta, cache):
    """(N-3) ``dW_l = h_l^T d_a_l``, ``db_l = sum_i d_a_l``, ``d_a_{l-1} = (d_a_l W_l^T) psi'(a_{l-1})``;
    in float32 every ``d_a`` is flushed of subnormals (F-3) before it enters a product (``d_eta`` in place)."""
    inputs, d_psi, weights = cache
    n = len(inputs)
    d_Ws, d_bs = [None] * n, [None] * n
    d_a = flush_subnormals(d_eta)
    for l in range(n - 1, -1, -1):
        d_Ws[l] = np.matmul(np.swapaxes(inputs[l], -1, -2), d_a)
        d_bs[l] = np.sum(d_a, axis=-2)
        if l > 0:
            d_h = np.matmul(d_a, np.swapaxes(weights[l], -1, -2))
            d_h *= d_psi[l - 1]
            d_a = flush_subnormals(d_h)
    return d_Ws, d_bs


# ---- (V-1, P-1, KL-5) the Gaussian factors --------------------------------------------------------------
def _sum_samples(a):
    """Sum over the Monte Carlo axis S (a view for S = 1: no copy)."""
    return a[0] if a.shape[0] == 1 else np.sum(a, axis=0)


def _factor_grads(d_beta, eps, mu, rho, sigma, sig, idle, c_sq, c_log):
    """``(d_mu, d_rho)`` of one Gaussian factor: (V-1) reversed plus the (KL-5) gradient, with the
    per-node coefficients ``c_sq = kl_scale gamma E[1/v] / sigma0^2`` and ``c_log = kl_scale gamma``::

        d_mu  = sum_s d_beta + c_sq mu
        d_rho = sigmoid(rho) (sum_s d_beta eps + c_sq sigma) - c_log d log sigma / d rho

    ``d_beta`` ``(S, ...)`` is overwritten."""
    d_mu = np.multiply(mu, c_sq)
    d_mu += _sum_samples(d_beta)
    d_beta *= eps
    d_rho = np.multiply(sigma, c_sq)
    d_rho += _sum_samples(d_beta)
    d_rho *= sig
    d_log = d_log_softplus_given(rho, sigma, sig, out=d_beta[0] if d_beta.shape[0] == 1 else None, idle=idle)
    d_log *= c_log
    d_rho -= d_log
    return d_mu, d_rho


def _node_weight_kl(params, l: int, sigmas, sigma0: float, e_log_v, e_inv_v, removed=(0, 0.0, 0.0)):
    """(KL-5) per node ``(k_out,)`` and ``sum_i (sigma_i^2 + mu_i^2) / (2 sigma0^2)`` (= ``dKL/dE[1/v]``);
    ``removed = (r, sq, log_sigma)``: the group's frozen entries read from removed inputs (SH-1)."""
    mu_w, mu_b = params[f"{l}.w_mu"], params[f"{l}.b_mu"]
    (sigma_w, _, idle_w), (sigma_b, _, idle_b) = sigmas[f"{l}.w"], sigmas[f"{l}.b"]
    r, sq_removed, log_sigma_removed = removed
    m = mu_w.shape[0] + 1 + r
    sq = (np.einsum("ij,ij->j", sigma_w, sigma_w) + np.einsum("ij,ij->j", mu_w, mu_w)
          + sigma_b * sigma_b + mu_b * mu_b) * (0.5 / (sigma0 * sigma0)) + sq_removed
    log_sigma = (np.sum(log_softplus_given(params[f"{l}.w_rho"], sigma_w, idle_w), axis=0)
                 + log_softplus_given(params[f"{l}.b_rho"], sigma_b, idle_b)) + log_sigma_removed
    kl = m * (math.log(sigma0) - 0.5) - log_sigma
    if e_inv_v is None:
        return kl + sq, sq
    return kl + 0.5 * m * e_log_v + sq * e_inv_v, sq


# ---- the step -------------------------------------------------------------------------------------------
def fused_loss_and_grad(model, params, x, target, noise, n_data: int, kl_scale: float):
    """``(loss, grads, terms)`` of ``model.loss_and_grad`` for checked inputs (``target`` as returned by
    ``check_targets``, ``kl_scale = kl_weight / n_data``); see the module docstring.

    Order: the closed-form KL first (it needs only the parameters), then the likelihood pass, then every
    gradient. Arrays of the forward pass are released before the gradients are formed, so that their
    memory is reused rather than requested anew."""
    prior = model.prior
    L = prior.n_layers
    sigmas = {f"{l}.{k}": (*softplus_and_sigmoid(params[f"{l}.{k}_rho"]), switch_idle(params[f"{l}.{k}_rho"]))
              for l in range(L) for k in ("w", "b")}              # (sigma, sigmoid, switch idle) of each rho

    # (P-2) KL; the per-node coefficients of its mu/rho gradients are kept for the end
    log_lams = prior.inclusion_log_probs(n_data) if prior.spike else None
    moments, moment_cache = prior.weight_kl_moments(params, noise)
    kl_parts = {"kl_z": 0.0, "kl_w": 0.0} if prior.spike else {"kl_w": 0.0}
    kl_grads, d_e_log_v, d_e_inv_v, coefs = {}, [None] * L, [None] * L, []
    for l, k_in, _ in prior.layers():
        e_log_v, e_inv_v = moments[l] if moments[l] is not None else (None, None)
        removed = prior.removed_inputs(l, k_in)                         # (SH-1)
        kl_node, sq = _node_weight_kl(params, l, sigmas, prior.sigma0, e_log_v, e_inv_v, removed)
        gamma = None
        if prior.has_indicators(l):
            gamma, kl_z, kl_w, kl_grads[f"{l}.theta"] = gated_node_kl(params[f"{l}.theta"], log_lams[l], kl_node)
            kl_parts["kl_z"] = kl_parts["kl_z"] + kl_z
            kl_parts["kl_w"] = kl_parts["kl_w"] + kl_w
        else:
            kl_parts["kl_w"] = kl_parts["kl_w"] + np.sum(kl_node)
        if e_inv_v is not None:
            half_m = 0.5 * (k_in + 1 + removed[0])
            d_e_log_v[l] = np.full_like(e_log_v, half_m) if gamma is None else half_m * gamma
            d_e_inv_v[l] = sq if gamma is None else gamma * sq
        c_log = kl_scale if gamma is None else kl_scale * gamma
        c_sq = c_log * (1.0 / (prior.sigma0 * prior.sigma0))
        coefs.append((c_sq if e_inv_v is None else c_sq * e_inv_v, c_log))
    kl_grads.update(prior.weight_kl_moments_backward(params, d_e_log_v, d_e_inv_v, moment_cache))
    scale_parts, scale_kl_grads = prior.scale_kl(params)
    kl_parts.update(scale_parts)
    for k, g in scale_kl_grads.items():
        kl_grads[k] = kl_grads[k] + g if k in kl_grads else g

    # (P-1) forward sample, (N-1) network, likelihood, (N-3)
    scales, scale_cache = prior.forward_scales(params, noise)
    Ws, bs, layers = [], [], []
    for l in range(L):
        beta_w = np.multiply(noise[f"{l}.eps_w"], sigmas[f"{l}.w"][0])    # (V-1)
        beta_w += params[f"{l}.w_mu"]
        beta_b = params[f"{l}.b_mu"] + sigmas[f"{l}.b"][0] * noise[f"{l}.eps_b"]
        z = dz = None
        if prior.has_indicators(l):
            z, dz = indicators(params[f"{l}.theta"], noise[f"{l}.u"], prior.relaxation, prior.temperature)
        t = scales[l]
        mult = t if z is None else (z if t is None else z * t)
        Ws.append(beta_w if mult is None else np.multiply(beta_w, mult[:, None, :]))
        bs.append(beta_b if mult is None else mult * beta_b)
        layers.append((beta_w, beta_b, z, dz, t, mult))
    eta, net_cache = network_forward(x, Ws, bs, model.activation.name)
    nll, d_eta, grads = model.likelihood_terms(params, eta, target)
    d_Ws, d_bs = network_backward(d_eta, net_cache)
    del Ws, bs, net_cache

    # (P-1) reversed: indicator and scale gradients as the reference, then d_beta -> (V-1) + (KL-5)
    d_scales = [None] * L
    for l in range(L):
        beta_w, beta_b, z, dz, t, mult = layers[l]
        layers[l] = None
        d_W, d_b = d_Ws[l], d_bs[l]
        if mult is not None:
            g = np.einsum("sij,sij->sj", d_W, beta_w) + d_b * beta_b      # (S, k_out)
            if z is not None:
                grads[f"{l}.theta"] = indicators_backward(g if t is None else g * t, dz)
            if t is not None:
                d_scales[l] = g if z is None else g * z
            d_W *= mult[:, None, :]
            d_b = mult * d_b
        del beta_w
        c_sq, c_log = coefs[l]
        for kind, d_beta in (("w", d_W), ("b", d_b)):
            sigma, sig, idle = sigmas.pop(f"{l}.{kind}")
            grads[f"{l}.{kind}_mu"], grads[f"{l}.{kind}_rho"] = _factor_grads(
                d_beta, noise[f"{l}.eps_{kind}"], params[f"{l}.{kind}_mu"], params[f"{l}.{kind}_rho"], sigma, sig, idle,
                c_sq, c_log)
        d_Ws[l] = d_bs[l] = None
    for k, g in prior.backward_scales(params, noise, d_scales, scale_cache).items():
        grads[k] = grads[k] + g if k in grads else g

    # as loss_and_grad: likelihood gradients + kl_scale * KL gradients
    for k, g in kl_grads.items():
        grads[k] = grads[k] + kl_scale * g if k in grads else kl_scale * g
    kl_parts = {k: (v if model.backend.is_backend_array(v) else model.backend.asarray(v)) for k, v in kl_parts.items()}
    loss = nll + kl_scale * sum(kl_parts.values())
    return loss, {k: grads[k] for k in params}, {"nll": nll, **kl_parts}
