"""Optimisers (O-1..O-5) against closed forms and independent recursions on quadratics
f(x) = 1/2 x^T A x - b^T x (gradient A x - b, minimiser A^{-1} b); torch when importable; the strict
backend against NumPy; checkpoints bit for bit."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import NodeSparseBNN, get_backend
from refimpl.optim import (adam, clip_by_global_norm, constant, cosine, group_multipliers, kl_weight,
                           param_group, sgd, state_from_arrays, state_to_arrays, step_decay)


def quadratic(seed=0, n=4):
    """SPD A with eigenvalues in [0.5, 4], b, start x0 and the minimiser A^{-1} b."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.linspace(0.5, 4.0, n)) @ Q.T
    b = rng.standard_normal(n)
    return A, b, 3.0 * rng.standard_normal(n), np.linalg.solve(A, b)


def run(opt, A, b, x0, n_steps):
    """Trajectory x_1..x_n of ``opt`` on the quadratic, params = {"x": x}."""
    params = {"x": x0.copy()}
    state, path = opt.init(params), []
    for t in range(n_steps):
        params, state = opt.update(t, {"x": A @ params["x"] - b}, state, params)
        path.append(params["x"])
    return np.array(path)


# ---- Adam -------------------------------------------------------------------------------------------
def test_adam_matches_independent_recursion():
    A, b, x0, _ = quadratic()
    lr, b1, b2, eps = 0.05, 0.8, 0.99, 1e-6
    got = run(adam(lr, b1, b2, eps), A, b, x0, 30)
    # Independent form (torch's): step size lr / (1 - b1^t), denominator sqrt(v) / sqrt(1 - b2^t) + eps.
    x, m, v, ref = x0.copy(), np.zeros(4), np.zeros(4), []
    for t in range(1, 31):
        g = A @ x - b
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        x = x - (lr / (1 - b1**t)) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)
        ref.append(x)
    # rtol: round-off of two algebraically equal orderings, accumulated over 30 contracting steps.
    np.testing.assert_allclose(got, np.array(ref), rtol=1e-12, atol=1e-13)


def test_adam_first_step_is_lr_times_sign():
    A, b, x0, _ = quadratic(1)
    g = A @ x0 - b
    lr, eps = 0.01, 1e-3  # a large eps makes its placement (after the bias-corrected sqrt) visible
    x1 = run(adam(lr, eps=eps), A, b, x0, 1)[0]
    # m_hat = g and v_hat = g^2 exactly in exact arithmetic; rtol: a few ulps of the divisions by 1 - b^t.
    np.testing.assert_allclose(x1, x0 - lr * g / (np.abs(g) + eps), rtol=1e-14)
    # eps inside the uncorrected sqrt(v_1) = sqrt(1 - b2)|g| would move by lr |g| / (|g| + eps / sqrt(1 - b2)):
    wrong = x0 - lr * g / (np.abs(g) + eps / math.sqrt(1 - 0.999))
    assert np.all(np.abs(x1 - wrong) > 1e-6)
    # default eps: the move is lr sign(g) up to lr eps / |g|.
    x1 = run(adam(lr), A, b, x0, 1)[0]
    assert np.all(np.abs(x1 - (x0 - lr * np.sign(g))) <= lr * 1e-8 / np.abs(g) + 1e-15)


def test_adam_converges_to_minimiser():
    A, b, x0, x_star = quadratic(2)
    path = run(adam(cosine(0.05, 3000), b1=0.9, b2=0.999), A, b, x0, 3000)
    # tolerance: Adam's steps are ~ lr_t, which the cosine schedule brings to ~1e-8 at the end.
    np.testing.assert_allclose(path[-1], x_star, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_on_numpy_is_the_formula_bit_for_bit_and_overwrites_only_the_state(dtype):
    """The NumPy path (``optim._adam_numpy``) gives the bits of the array-API formula of (O-2), written out here,
    for 0-d and 2-d parameters, with a schedule and group multipliers; it reuses the state's arrays and leaves the
    parameters it was given untouched."""
    rng = np.random.default_rng(9)
    params = {"0.w_mu": rng.standard_normal((6, 4)).astype(dtype), "0.theta": rng.standard_normal(4).astype(dtype),
              "log_sigma_e": np.asarray(rng.standard_normal(), dtype)}
    schedule, mult, (b1, b2, eps) = cosine(0.05, 12), group_multipliers(theta=10.0), (0.8, 0.99, 1e-6)
    opt = adam(schedule, b1, b2, eps, multipliers=mult)
    state, ref_p = opt.init(params), dict(params)
    ref_m, ref_v = ({k: np.zeros_like(v) for k, v in params.items()} for _ in range(2))
    for t in range(12):
        grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
        given, held = dict(params), {k: v.copy() for k, v in params.items()}
        moments = dict(state)
        params, state = opt.update(t, grads, state, params)
        c1, c2 = 1.0 - b1 ** (t + 1), 1.0 - b2 ** (t + 1)
        for k, g in grads.items():
            ref_m[k] = b1 * ref_m[k] + (1.0 - b1) * g
            ref_v[k] = b2 * ref_v[k] + (1.0 - b2) * (g * g)
            ref_p[k] = ref_p[k] - (schedule(t) * mult(k)) * (ref_m[k] / c1) / (np.sqrt(ref_v[k] / c2) + eps)
            assert type(params[k]) is np.ndarray and params[k].dtype == dtype
            np.testing.assert_array_equal(params[k], ref_p[k], err_msg=k)
            np.testing.assert_array_equal(state[f"m.{k}"], ref_m[k], err_msg=k)
            np.testing.assert_array_equal(state[f"v.{k}"], ref_v[k], err_msg=k)
            np.testing.assert_array_equal(given[k], held[k], err_msg=k)          # the parameters given: untouched
            assert state[f"m.{k}"] is moments[f"m.{k}"] and state[f"v.{k}"] is moments[f"v.{k}"]


# ---- SGD: exact closed forms (matrix powers of the linear recursion) -----------------------------
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.7, False), (0.7, True)])
def test_sgd_matches_closed_form(momentum, nesterov):
    A, b, x0, x_star = quadratic(3)
    lr, mu, n, I = 0.1, momentum, 4, np.eye(4)
    got = run(sgd(lr, momentum=mu, nesterov=nesterov), A, b, x0, 20)
    # With e_t = x_t - x*, g_t = A e_t and the buffer buf_{t-1}, one step is linear in (e_t, buf_{t-1}):
    #   heavy ball: buf_t = mu buf_{t-1} + A e_t,  e_{t+1} = e_t - lr buf_t
    #   Nesterov:   buf_t = mu buf_{t-1} + A e_t,  e_{t+1} = e_t - lr (A e_t + mu buf_t)
    if nesterov:
        M = np.block([[I - lr * (1 + mu) * A, -lr * mu**2 * I], [A, mu * I]])
    else:
        M = np.block([[I - lr * A, -lr * mu * I], [A, mu * I]])
    z0 = np.concatenate([x0 - x_star, np.zeros(n)])
    ref = np.array([x_star + (np.linalg.matrix_power(M, t) @ z0)[:n] for t in range(1, 21)])
    # rtol: round-off of 20 matrix products vs 20 iterated steps (both contractions).
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-12)
    if mu == 0:  # plain gradient descent: x_t = x* + (I - lr A)^t (x0 - x*)
        np.testing.assert_allclose(got[-1], x_star + np.linalg.matrix_power(I - lr * A, 20) @ (x0 - x_star),
                                   rtol=1e-11)  # same round-off reason


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_converges_to_minimiser(nesterov):
    A, b, x0, x_star = quadratic(4)
    path = run(sgd(0.1, momentum=0.8, nesterov=nesterov), A, b, x0, 400)
    # linear convergence, spectral radius <= 0.9: 400 steps leave < 1e-15 of the start error (+ round-off).
    np.testing.assert_allclose(path[-1], x_star, atol=1e-10)


def test_agreement_with_torch():
    torch = pytest.importorskip("torch")
    A, b, x0, _ = quadratic(5)
    At, bt = torch.tensor(A), torch.tensor(b)
    for ours, make in [(adam(0.05), lambda p: torch.optim.Adam([p], lr=0.05)),
                       (sgd(0.05, 0.9, nesterov=True), lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True)),
                       (sgd(0.05, 0.9), lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9))]:
        p = torch.tensor(x0.copy(), requires_grad=True)
        topt, ref = make(p), []
        for _ in range(25):
            topt.zero_grad()
            p.grad = (At @ p - bt).detach()
            topt.step()
            ref.append(p.detach().numpy().copy())
        # rtol: float64 round-off of different but equal orderings over 25 steps.
        np.testing.assert_allclose(run(ours, A, b, x0, 25), np.array(ref), rtol=1e-11, atol=1e-12)
    # group multipliers = torch parameter groups with their own lr
    p_theta, p_w = torch.tensor(x0[:2].copy(), requires_grad=True), torch.tensor(x0[2:].copy(), requires_grad=True)
    topt = torch.optim.Adam([{"params": [p_theta], "lr": 0.1}, {"params": [p_w], "lr": 0.01}])
    opt = adam(0.01, multipliers=group_multipliers(theta=10.0))
    params = {"0.theta": x0[:2].copy(), "0.w_mu": x0[2:].copy()}
    state = opt.init(params)
    for t in range(25):
        g = A @ np.concatenate([params["0.theta"], params["0.w_mu"]]) - b
        params, state = opt.update(t, {"0.theta": g[:2], "0.w_mu": g[2:]}, state, params)
        topt.zero_grad()
        gt = At @ torch.cat([p_theta, p_w]).detach() - bt
        p_theta.grad, p_w.grad = gt[:2].clone(), gt[2:].clone()
        topt.step()
    # rtol: as above
    np.testing.assert_allclose(params["0.theta"], p_theta.detach().numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(params["0.w_mu"], p_w.detach().numpy(), rtol=1e-11, atol=1e-12)


# ---- schedules, groups, clipping, annealing --------------------------------------------------------
def test_schedules():
    assert constant(0.3)(0) == constant(0.3)(10**6) == 0.3
    s = step_decay(1.0, [10, 20], factor=0.1)
    assert [s(t) for t in (0, 9, 10, 19, 20, 1000)] == [1.0, 1.0, 0.1, 0.1, 1.0 * 0.1**2, 1.0 * 0.1**2]
    c = cosine(2.0, 100, final=0.5)
    assert c(0) == 2.0 and c(100) == c(500) == 0.5
    assert c(50) == pytest.approx(1.25, rel=1e-15)  # cos(pi/2) = 6e-17, not 0: round-off only
    assert c(25) == pytest.approx(0.5 + 1.5 * (1 + math.sqrt(0.5)) / 2, rel=1e-15)  # round-off only
    # a schedule as lr: SGD step t moves by schedule(t) * g
    A, b, x0, _ = quadratic(6)
    path = run(sgd(s), A, b, x0, 12)
    g = A @ path[9] - b  # gradient at x_10, used by step t = 10
    np.testing.assert_allclose(path[10], path[9] - 0.1 * g, rtol=1e-15)  # identical up to one rounding


def test_group_multipliers_select_names():
    m = group_multipliers(theta=10.0, scales=3.0, weights=0.5)
    names = set()
    for prior in ("ss-ig", "gaussian", "ss-gl", "ss-ghs"):
        names |= set(NodeSparseBNN([3, 4, 5, 2], prior=prior).param_shapes())
    for name in names:
        if name.endswith(".theta"):
            assert m(name) == 10.0 and param_group(name) == "theta"
        elif any(t in name for t in ("tau_", "lam_", "s_a_", "s_b_")):
            assert m(name) == 3.0
        else:
            assert name.split(".")[-1] in ("w_mu", "w_rho", "b_mu", "b_rho", "log_sigma_e"), name
            assert m(name) == 0.5
    assert {param_group(n) for n in names} == {"theta", "scales", "weights"}
    assert param_group("lam_mu") == param_group("0.tau_b_rho") == param_group("s_b_mu") == "scales"


def test_multipliers_scale_each_group_step():
    params = {"0.theta": np.ones(3), "0.tau_mu": np.ones(3), "0.w_mu": np.ones(3)}
    grads = {k: np.full(3, 2.0) for k in params}
    opt = sgd(0.1, multipliers=group_multipliers(theta=10.0, scales=0.0, weights=1.0))
    new, _ = opt.update(0, grads, opt.init(params), params)
    np.testing.assert_array_equal(new["0.theta"], 1.0 - 0.1 * 10.0 * 2.0)
    np.testing.assert_array_equal(new["0.tau_mu"], params["0.tau_mu"])  # multiplier 0 freezes
    np.testing.assert_array_equal(new["0.w_mu"], 1.0 - 0.1 * 2.0)
    opt = adam(1e-3, multipliers=group_multipliers(theta=10.0))
    new, _ = opt.update(0, grads, opt.init(params), params)
    # first Adam step moves by lr * mult * |g| / (|g| + eps); rtol: eps / |g| = 5e-9 plus round-off
    np.testing.assert_allclose(params["0.theta"] - new["0.theta"], 1e-2, rtol=1e-8)
    np.testing.assert_allclose(params["0.w_mu"] - new["0.w_mu"], 1e-3, rtol=1e-8)


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_clip_by_global_norm(sizes, max_norm, seed):
    rng = np.random.default_rng(seed)
    grads = {f"g{i}": rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3) for i, n in enumerate(sizes)}
    flat = np.concatenate(list(grads.values()))
    clipped, norm = clip_by_global_norm(grads, max_norm)
    assert float(norm) == pytest.approx(np.linalg.norm(flat), rel=1e-13)  # round-off of the sum of squares
    out = np.concatenate(list(clipped.values()))
    if np.linalg.norm(flat) <= max_norm:
        for k in grads:  # factor exactly 1: unchanged bit for bit
            np.testing.assert_array_equal(clipped[k], grads[k])
    else:
        assert np.linalg.norm(out) == pytest.approx(max_norm, rel=1e-13)  # round-off
    # same direction: one positive factor for every array
    np.testing.assert_allclose(out, flat * (np.linalg.norm(out) / np.linalg.norm(flat)), rtol=1e-12)  # round-off


def test_kl_weight():
    assert [kl_weight(t, 4) for t in (0, 1, 3, 4, 100)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert kl_weight(0, 0) == kl_weight(7, 0) == 1.0


# ---- backends, dtypes, the model, checkpoints ------------------------------------------------------
def model_problem(backend="numpy", dtype="float64"):
    model = NodeSparseBNN([3, 4, 1], prior="ss-gl", backend=backend, dtype=dtype)
    rng = np.random.default_rng(0)
    params = model.init_params(rng)
    x, y = rng.standard_normal((6, 3)).astype(dtype), rng.standard_normal(6).astype(dtype)
    noises = [model.sample_noise(rng) for _ in range(8)]
    return model, params, x, y, noises


def train(opt, model, params, x, y, noises, state=None, start=0, clip=None):
    state = opt.init(params) if state is None else state
    for t, noise in enumerate(noises, start=start):
        _, grads, _ = model.loss_and_grad(params, x, y, noise, n_data=50)
        if clip is not None:
            grads, _ = clip_by_global_norm(grads, clip)
        params, state = opt.update(t, grads, state, params)
    return params, state


def optimisers():
    mult = group_multipliers(theta=10.0, scales=2.0)
    return [adam(cosine(1e-2, 8), multipliers=mult), sgd(step_decay(1e-2, [4]), momentum=0.9, nesterov=True,
                                                          multipliers=mult)]


@pytest.mark.parametrize("which", [0, 1])
def test_strict_backend_identical_to_numpy(which):
    # Same gradients in (computed by the NumPy model, moved to the strict device), same numbers out:
    # the optimiser adds no backend dependence. (The model's own gradients are compared elsewhere.)
    model, params, x, y, noises = model_problem("numpy")
    strict = get_backend("strict")
    opt_np, opt_st = optimisers()[which], optimisers()[which]
    params_st = {k: strict.asarray(v) for k, v in params.items()}
    state_np, state_st = opt_np.init(params), opt_st.init(params_st)
    for t, noise in enumerate(noises):
        _, raw, _ = model.loss_and_grad(params, x, y, noise, n_data=50)
        grads, _ = clip_by_global_norm(raw, 0.5)
        grads_st, _ = clip_by_global_norm({k: strict.asarray(np.asarray(v)) for k, v in raw.items()}, 0.5)
        params, state_np = opt_np.update(t, grads, state_np, params)
        params_st, state_st = opt_st.update(t, grads_st, state_st, params_st)
        for k in params:
            np.testing.assert_array_equal(strict.to_numpy(params_st[k]), params[k], err_msg=k)
    a, b = state_to_arrays(state_np), state_to_arrays(state_st)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("backend", ["numpy", "strict"])
def test_float32_and_model_accepts_updated_params(backend):
    model, params, x, y, noises = model_problem(backend, "float32")
    for opt in optimisers():
        new, state = train(opt, model, params, x, y, noises[:2])
        for v in [*new.values(), *state.values()]:
            assert model.backend.is_backend_array(v) and v.dtype == model.backend.dtype
        model.loss_and_grad(new, x, y, noises[0], n_data=50)  # the 0-d log_sigma_e is still an array


@pytest.mark.parametrize("backend", ["numpy", "strict"])
def test_checkpoint_restores_bit_identically(backend):
    model, params, x, y, noises = model_problem(backend)
    for opt in optimisers():
        full, full_state = train(opt, model, params, x, y, noises)
        half, state = train(opt, model, params, x, y, noises[:4])
        buf = io.BytesIO()
        np.savez(buf, **state_to_arrays(state), **{f"param.{k}": model.backend.to_numpy(v) for k, v in half.items()})
        buf.seek(0)
        with np.load(buf) as f:
            loaded = {k: f[k] for k in f.files}
        state = state_from_arrays({k: v for k, v in loaded.items() if not k.startswith("param.")}, backend)
        half = {k[6:]: model.backend.asarray(v) for k, v in loaded.items() if k.startswith("param.")}
        resumed, resumed_state = train(opt, model, half, x, y, noises[4:], state=state, start=4)
        for k in full:
            np.testing.assert_array_equal(model.backend.to_numpy(resumed[k]), model.backend.to_numpy(full[k]))
        for k in full_state:
            np.testing.assert_array_equal(state_to_arrays(resumed_state)[k], state_to_arrays(full_state)[k])


def test_state_layout():
    params = {"0.w_mu": np.zeros((2, 3)), "log_sigma_e": np.zeros(())}
    assert set(adam().init(params)) == {"m.0.w_mu", "v.0.w_mu", "m.log_sigma_e", "v.log_sigma_e"}
    assert set(sgd(0.1, momentum=0.9).init(params)) == {"buf.0.w_mu", "buf.log_sigma_e"}
    assert sgd(0.1).init(params) == {}


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr"):
        adam(lr=-1.0)
    with pytest.raises(ValueError, match="b1"):
        adam(b1=1.0)
    with pytest.raises(ValueError, match="nesterov"):
        sgd(0.1, nesterov=True)
    with pytest.raises(ValueError, match="boundaries"):
        step_decay(0.1, [20, 10])
    with pytest.raises(ValueError, match="multipliers"):
        sgd(0.1, multipliers={"theta": 2.0})
    with pytest.raises(ValueError, match="theta"):
        group_multipliers(theta=-1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm({"a": np.ones(2)}, 0.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        kl_weight(0, -1)
    opt, params = sgd(0.1), {"a": np.ones(2)}
    with pytest.raises(ValueError, match="grads"):
        opt.update(0, {"b": np.ones(2)}, {}, params)
    with pytest.raises(ValueError, match="step"):
        opt.update(-1, {"a": np.ones(2)}, {}, params)
    with pytest.raises(ValueError, match="backend"):
        state_from_arrays({"m.a": np.ones(2)}, "nope")
    assert get_backend("numpy").name == "numpy"
