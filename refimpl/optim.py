"""First-order optimisers as ``(init, update)`` pairs with explicit state, in the style of
``jax.example_libraries.optimizers``. They know nothing about the model: ``params`` and ``grads`` are
flat dicts ``name -> array`` of the same layout (docs/spec.md §6), on any array-API backend.

    opt = adam(lr=cosine(1e-3, total_steps=10_000), multipliers=group_multipliers(theta=10.0))
    state = opt.init(params)
    for step in range(n_steps):                  # step is 0-based
        loss, grads, _ = model.loss_and_grad(params, x, y, noise, n_data)
        grads, norm = clip_by_global_norm(grads, 10.0)          # optional
        params, state = opt.update(step, grads, state, params)

The learning rate of parameter ``name`` at step ``t`` is ``schedule(t) * multiplier(name)``     (O-1)

Every returned array is a backend array (NumPy's 0-d results, which are NumPy scalars, are turned
back into 0-d arrays with ``xp.asarray``), so the model's input checks accept the new parameters.

**State layout.** A flat ``dict[str, array]`` of backend arrays with the dtype and shape of the
parameter: Adam holds ``"m.<name>"`` and ``"v.<name>"`` (first and second moment estimates), SGD with
momentum holds ``"buf.<name>"`` (momentum buffer), plain SGD holds nothing. The step count is not
state: the caller passes it. :func:`state_to_arrays` / :func:`state_from_arrays` move a state to
host NumPy arrays (e.g. for ``numpy.savez``) and back, bit for bit. Adam on NumPy arrays overwrites the moment
arrays of the state it is given (and returns them): keep a copy (``state_to_arrays``) to hold an old state.

What this is not: a general optimisation library. No weight decay, no AMSGrad, no dampening; the
learning-rate schedules are plain functions ``step -> lr``.
"""
from __future__ import annotations

import math
from collections import namedtuple
from numbers import Integral, Real
from typing import Callable

import numpy as np
from .backend import array_namespace

from .backend import backend_of, get_backend

Optimizer = namedtuple("Optimizer", ["init", "update"])
Optimizer.__doc__ = """``init(params) -> state``; ``update(step, grads, state, params) -> (new_params, new_state)``."""


# ---- checks ------------------------------------------------------------------------------------
def _check_real(name: str, value, low: float, high: float = math.inf, *, low_open=False, high_open=True) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name}: expected a finite number in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


def _check_step(step) -> int:
    if isinstance(step, bool) or not isinstance(step, Integral) or step < 0:
        raise ValueError(f"step: expected the 0-based step count as an integer >= 0, got {step!r}")
    return int(step)


def _check_same_keys(grads: dict, params: dict):
    if not isinstance(grads, dict) or not isinstance(params, dict):
        raise ValueError("grads, params: expected dicts name -> array (the model's layout)")
    if set(grads) != set(params):
        missing, extra = sorted(set(params) - set(grads)), sorted(set(grads) - set(params))
        raise ValueError(f"grads: keys do not match params (missing {missing}, unexpected {extra}); "
                         "pass the grads returned by the same model's loss_and_grad")


# ---- learning-rate schedules: step -> lr ---------------------------------------------------------
def constant(lr: float) -> Callable[[int], float]:
    """``lr_t = lr``."""
    lr = _check_real("lr", lr, 0.0, low_open=True)
    return lambda step: lr


def step_decay(lr: float, boundaries, factor: float = 0.1) -> Callable[[int], float]:
    """``lr_t = lr * factor ** #{b in boundaries : t >= b}`` (the rate changes *at* step ``b``).

    ``step_decay(1e-3, [1000, 2000])`` is 1e-3 for t < 1000, 1e-4 for 1000 <= t < 2000, then 1e-5.
    """
    lr = _check_real("lr", lr, 0.0, low_open=True)
    factor = _check_real("factor", factor, 0.0, low_open=True)
    bounds = list(boundaries)
    if any(isinstance(b, bool) or not isinstance(b, Integral) or b < 0 for b in bounds) or bounds != sorted(bounds):
        raise ValueError(f"boundaries: expected increasing integer steps >= 0, got {boundaries!r}")
    return lambda step: lr * factor ** sum(step >= b for b in bounds)


def cosine(lr: float, total_steps: int, final: float = 0.0) -> Callable[[int], float]:
    """``lr_t = final + (lr - final) (1 + cos(pi min(t, T) / T)) / 2`` with ``T = total_steps``
    (Loshchilov & Hutter 2017, Eq. 5 without restarts; equals torch ``CosineAnnealingLR(T_max=T, eta_min=final)`` up to step T, after which torch rises again and this stays at ``final``).
    Holds ``final`` for ``t >= T``."""
    lr = _check_real("lr", lr, 0.0, low_open=True)
    final = _check_real("final", final, 0.0, lr, high_open=False)
    if isinstance(total_steps, bool) or not isinstance(total_steps, Integral) or total_steps < 1:
        raise ValueError(f"total_steps: expected an integer >= 1, got {total_steps!r}")
    return lambda step: final + (lr - final) * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def _as_schedule(lr) -> Callable[[int], float]:
    return lr if callable(lr) else constant(lr)


# ---- per-group learning-rate multipliers -------------------------------------------------------
SCALE_MARKERS = ("tau_", "lam_", "s_a_", "s_b_")


def param_group(name: str) -> str:
    """``"theta"`` for names ending ``.theta`` (indicator logits), ``"scales"`` for names containing
    ``tau_``, ``lam_``, ``s_a_`` or ``s_b_`` (SS-GL / SS-GHS scale parameters), ``"weights"`` otherwise
    (``w_mu``, ``w_rho``, ``b_mu``, ``b_rho``, ``log_sigma_e``)."""
    if name.endswith(".theta"):
        return "theta"
    if any(marker in name for marker in SCALE_MARKERS):
        return "scales"
    return "weights"


def group_multipliers(theta: float = 1.0, scales: float = 1.0, weights: float = 1.0) -> Callable[[str], float]:
    """The function ``name -> multiplier`` of the group of ``name`` (:func:`param_group`). A
    multiplier 0 freezes its group."""
    table = {g: _check_real(g, v, 0.0) for g, v in (("theta", theta), ("scales", scales), ("weights", weights))}
    return lambda name: table[param_group(name)]


def _as_multipliers(multipliers) -> Callable[[str], float]:
    if multipliers is None:
        return lambda name: 1.0
    if not callable(multipliers):
        raise ValueError(f"multipliers: expected None or a function name -> float such as "
                         f"group_multipliers(theta=10.0), got {type(multipliers).__name__}")
    return multipliers


# ---- optimisers ----------------------------------------------------------------------------------
def adam(lr=1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, multipliers=None) -> Optimizer:
    """Adam (Kingma & Ba 2015, Algorithm 1), as ``torch.optim.Adam`` with default settings.   (O-2)

    With ``t = step + 1``, ``g`` the gradient and ``alpha = schedule(step) * multiplier(name)``::

        m_t = b1 m_{t-1} + (1 - b1) g,          v_t = b2 v_{t-1} + (1 - b2) g^2,      m_0 = v_0 = 0
        m_hat = m_t / (1 - b1^t),               v_hat = v_t / (1 - b2^t)
        x_t = x_{t-1} - alpha m_hat / (sqrt(v_hat) + eps)

    ``eps`` is added after the square root of the *corrected* second moment (the paper and torch;
    not the paper's §2 "efficient" variant, which adds it to ``sqrt(v_t)``). The first step moves
    every coordinate by ``alpha |g| / (|g| + eps)``, i.e. about ``alpha`` in the direction ``-sign(g)``.

    On NumPy arrays (:func:`_adam_numpy`) the moments are updated **in place**: the returned state holds
    the arrays of the state passed in, overwritten (keep ``state_to_arrays(state)`` for a copy); the
    parameters passed in are never modified. The numbers are bit for bit those of the array-API formula.
    """
    schedule, mult = _as_schedule(lr), _as_multipliers(multipliers)
    b1, b2 = _check_real("b1", b1, 0.0, 1.0), _check_real("b2", b2, 0.0, 1.0)
    eps = _check_real("eps", eps, 0.0, low_open=True)

    def init(params):
        state = {}
        for k, p in params.items():
            xp = array_namespace(p)
            state[f"m.{k}"] = xp.zeros_like(p)
            state[f"v.{k}"] = xp.zeros_like(p)
        return state

    def update(step, grads, state, params):
        _check_same_keys(grads, params)
        t = _check_step(step) + 1
        base = schedule(step)
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        new_params, new_state = {}, {}
        for k, p in params.items():
            g, m, v = grads[k], state[f"m.{k}"], state[f"v.{k}"]
            if _numpy_in_place(p, g, m, v):
                new_params[k] = _adam_numpy(p, g, m, v, base * mult(k), b1, b2, c1, c2, eps)
                new_state[f"m.{k}"], new_state[f"v.{k}"] = m, v
                continue
            xp = array_namespace(p, g)
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * (g * g)
            new_params[k] = xp.asarray(p - (base * mult(k)) * (m / c1) / (xp.sqrt(v / c2) + eps))
            new_state[f"m.{k}"], new_state[f"v.{k}"] = xp.asarray(m), xp.asarray(v)
        return new_params, new_state

    return Optimizer(init, update)


def _numpy_in_place(p, g, *moments) -> bool:
    """True when :func:`_adam_numpy` applies: NumPy arrays of one dtype and shape, writeable moments."""
    return (type(p) is np.ndarray and isinstance(g, (np.ndarray, np.generic)) and g.dtype == p.dtype
            and g.shape == p.shape and all(type(a) is np.ndarray and a.dtype == p.dtype and a.shape == p.shape
                                           and a.flags.writeable for a in moments))


def _adam_numpy(p, g, m, v, alpha: float, b1: float, b2: float, c1: float, c2: float, eps: float):
    """(O-2) on NumPy arrays: ``m`` and ``v`` updated in place, the new parameters returned in a fresh array;
    one scratch array, no other temporary (the array-API formula allocates one per operation: 14). Every
    operation is the one of the array-API formula in :func:`adam`, in the same order (products commuted), so
    the result is bit for bit the same. (Processing cache-sized blocks was measured no faster inside a
    training step: the update reads ``p``, ``g``, ``m``, ``v`` from memory either way.)"""
    scratch = np.multiply(g, 1.0 - b1, out=np.empty_like(p))
    m *= b1
    m += scratch                                   # m_t = b1 m + (1 - b1) g
    np.multiply(g, g, out=scratch)
    scratch *= 1.0 - b2
    v *= b2
    v += scratch                                   # v_t = b2 v + (1 - b2) g^2
    np.divide(v, c2, out=scratch)
    np.sqrt(scratch, out=scratch)
    scratch += eps                                 # sqrt(v_hat) + eps
    step = np.divide(m, c1, out=np.empty_like(p))
    step *= alpha
    step /= scratch                                # alpha m_hat / (sqrt(v_hat) + eps)
    return np.subtract(p, step, out=step)


def sgd(lr, momentum: float = 0.0, nesterov: bool = False, multipliers=None) -> Optimizer:
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD`` with
    ``dampening=0, weight_decay=0``.                                                              (O-3)

    With ``alpha = schedule(step) * multiplier(name)`` and ``buf_{-1} = 0``::

        momentum = 0:   x_{t+1} = x_t - alpha g_t
        momentum mu:    buf_t = mu buf_{t-1} + g_t
                        x_{t+1} = x_t - alpha buf_t                    (heavy ball, Polyak 1964)
                        x_{t+1} = x_t - alpha (g_t + mu buf_t)         (nesterov=True; Sutskever et al. 2013)
    """
    schedule, mult = _as_schedule(lr), _as_multipliers(multipliers)
    momentum = _check_real("momentum", momentum, 0.0, 1.0)
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov: Nesterov momentum needs momentum > 0; set momentum=0.9 or nesterov=False")

    def init(params):
        if momentum == 0.0:
            return {}
        return {f"buf.{k}": array_namespace(p).zeros_like(p) for k, p in params.items()}

    def update(step, grads, state, params):
        _check_same_keys(grads, params)
        base = schedule(_check_step(step))
        new_params, new_state = {}, {}
        for k, p in params.items():
            g = grads[k]
            xp = array_namespace(p, g)
            if momentum != 0.0:
                buf = xp.asarray(momentum * state[f"buf.{k}"] + g)
                new_state[f"buf.{k}"] = buf
                g = g + momentum * buf if nesterov else buf
            new_params[k] = xp.asarray(p - (base * mult(k)) * g)
        return new_params, new_state

    return Optimizer(init, update)


def bernoulli_natural(lr, logit_cap: float = 10.0, max_step: float = 1.0) -> Optimizer:
    """Natural-gradient descent on Bernoulli logits ``theta`` (gamma = sigmoid(theta)), for the indicator
    logits of the node-selection layer.                                                            (O-6)

    The Fisher information of Bernoulli(sigmoid(theta)) in ``theta`` is ``gamma (1 - gamma)``, so the
    natural-gradient step is ``theta_{t+1} = theta_t - alpha g_t / (gamma (1 - gamma))``, which equals
    ``- alpha dL/dgamma``: every node moves in proportion to the size of its own signal (its weight KL against
    the data's pull, docs/training.md), unlike Adam, whose step is about ``alpha`` for every coordinate whose
    gradient keeps its sign.

    Two safeguards, both inactive in the range where nodes are being decided: ``1 / (gamma (1 - gamma)) = 2 + 2
    cosh(theta)`` is evaluated at ``theta`` clipped to ``[-logit_cap, logit_cap]`` (gamma within 4.5e-5 of 0 or 1
    at the default 10: the node is decided, and moves by the plain gradient times ``2 + 2 cosh(logit_cap)``), and
    each step is clipped to ``[-max_step, max_step]``. Without them a rare straight-through gradient of a far-off
    node (logistic noise that brings ``theta + L`` near 0) times ``2 + 2 cosh(theta)`` throws the node anywhere: at
    a cap of 30, float32 runs on Fashion-MNIST moved pruned nodes from about -20 to -679 or +29 in one step. Holds
    no state.
    """
    schedule = _as_schedule(lr)
    cap = _check_real("logit_cap", logit_cap, 0.0, 80.0, low_open=True, high_open=False)
    max_step = _check_real("max_step", max_step, 0.0, low_open=True)

    def init(params):
        return {}

    def update(step, grads, state, params):
        _check_same_keys(grads, params)
        base = schedule(_check_step(step))
        new_params = {}
        for k, p in params.items():
            xp = array_namespace(p, grads[k])
            fisher_inv = 2.0 + 2.0 * xp.cosh(xp.clip(p, min=-cap, max=cap))
            new_params[k] = xp.asarray(p - xp.clip(base * (grads[k] * fisher_inv), min=-max_step, max=max_step))
        return new_params, {}

    return Optimizer(init, update)


def by_group(optimizers: dict, group=None) -> Optimizer:
    """One optimiser per parameter group: ``optimizers`` maps a group name (``group(name)``, by default
    :func:`param_group`) to an :class:`Optimizer`; every parameter is updated by its group's optimiser, and the
    state is the union of theirs, each key prefixed with its group (``"theta/"``, ``"rest/"`` ...). A group
    absent from ``optimizers`` uses ``optimizers["rest"]``.

        opt = by_group({"theta": bernoulli_natural(0.1), "rest": adam(1e-3)})
    """
    group = param_group if group is None else group
    if not isinstance(optimizers, dict) or "rest" not in optimizers:
        raise ValueError("optimizers: expected a dict group -> Optimizer with a 'rest' entry for the other groups")

    def split(d):
        parts = {}
        for k, v in d.items():
            g = group(k)
            parts.setdefault(g if g in optimizers else "rest", {})[k] = v
        return parts

    def init(params):
        return {f"{g}/{k}": v for g, part in split(params).items() for k, v in optimizers[g].init(part).items()}

    def update(step, grads, state, params):
        _check_same_keys(grads, params)
        new_params, new_state = {}, {}
        for g, part in split(params).items():
            sub = {k[len(g) + 1:]: v for k, v in state.items() if k.startswith(g + "/")}
            p, s = optimizers[g].update(step, {k: grads[k] for k in part}, sub, part)
            new_params.update(p)
            new_state.update({f"{g}/{k}": v for k, v in s.items()})
        return new_params, new_state

    return Optimizer(init, update)


# ---- gradient utilities --------------------------------------------------------------------------
def clip_by_global_norm(grads: dict, max_norm: float):
    """``(clipped, norm)`` with ``norm = sqrt(sum_k sum g_k^2)`` over every array of ``grads`` and
    ``clipped_k = g_k * min(1, max_norm / norm)``: same direction, global norm at most ``max_norm``.  (O-4)

    The factor is computed as ``max_norm / max(norm, max_norm)`` on the backend (no host sync, no
    division by zero). ``norm`` is a 0-d backend array (the norm *before* clipping). The sum of
    squares is formed in the gradients' dtype.
    """
    max_norm = _check_real("max_norm", max_norm, 0.0, low_open=True)
    if not isinstance(grads, dict) or not grads:
        raise ValueError("grads: expected a non-empty dict name -> array")
    arrays = list(grads.values())
    xp = array_namespace(*arrays)
    norm = xp.sqrt(sum(xp.sum(g * g) for g in arrays))
    factor = max_norm / xp.clip(norm, min=max_norm)
    return {k: g * factor for k, g in grads.items()}, norm


def kl_weight(step: int, warmup_steps: int) -> float:
    """Linear KL annealing factor ``min(1, (step + 1) / warmup_steps)``; 1 when ``warmup_steps = 0``.  (O-5)

    Multiplies the KL term of the loss: ``nll + kl_weight * KL / N``. Off by default (docs/spec.md §7, knobs).
    """
    step = _check_step(step)
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, Integral) or warmup_steps < 0:
        raise ValueError(f"warmup_steps: expected an integer >= 0 (0 = no annealing), got {warmup_steps!r}")
    return 1.0 if warmup_steps == 0 else min(1.0, (step + 1) / warmup_steps)


# ---- checkpoints -----------------------------------------------------------------------------------
def state_to_arrays(state: dict) -> dict[str, np.ndarray]:
    """Optimiser state -> ``{key: numpy array}`` on the host (through each array's own backend's
    ``to_numpy``), ready for ``numpy.savez``. Values are copied bit for bit."""
    return {k: np.array(backend_of(v).to_numpy(v), copy=True) for k, v in state.items()}


def state_from_arrays(d, backend="numpy") -> dict:
    """``{key: numpy array}`` (e.g. an ``numpy.load``-ed npz) -> optimiser state on ``backend``
    (a name or :class:`refimpl.backend.Backend`), keeping each array's float dtype bit for bit."""
    b = get_backend(backend) if isinstance(backend, str) else backend
    out = {}
    for k in d:
        a = np.asarray(d[k])
        if a.dtype not in (np.float32, np.float64):
            raise ValueError(f"d[{k!r}]: expected a float32 or float64 array, got dtype {a.dtype}")
        out[k] = b.asarray(a, dtype=getattr(b.xp, a.dtype.name))
    return out
