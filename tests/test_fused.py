"""The fast schedule (``refimpl.elbo.loss_and_grad_fast``, ``NodeSparseBNN.loss_and_grad_fused``) equals the
reference ``loss_and_grad``: the NumPy forms of its element-wise pieces bitwise, the whole step to round-off."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from helpers import architectures, max_rel_err, problem, to_backend
from refimpl import NodeSparseBNN, elbo, network, stable
from refimpl.activations import ACTIVATIONS, value_and_derivative
from refimpl.stable import d_log_softplus, log_softplus, sigmoid, softplus

VARIANTS = [
    ("gaussian", {}),
    ("ss-ig", {}),
    ("ss-gl", dict(parameterisation="non-centred")),
    ("ss-gl", dict(parameterisation="centred", lam2_shape=3.0, lam2_rate=0.5)),
    ("ss-ghs", dict(parameterisation="centred", c=1.0)),
    ("ss-ghs", dict(parameterisation="centred", c=math.inf)),
    ("ss-ghs", dict(parameterisation="centred", c=1.7, expectation="one-sample")),
    ("ss-ghs", dict(parameterisation="non-centred", c=1.0)),
    ("ss-ghs", dict(parameterisation="non-centred", c=math.inf)),
]
IDS = [f"{p}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for p, kw in VARIANTS]
# Both schedules call the same kernels and sum in the same order, so in float64 (no flush) they agree bit for bit
# (test_fast_schedule_is_bitwise_the_reference_in_float64); the 1e-12 below is the older, looser statement, kept
# as the bound a future reordering of either schedule must still meet (a few eps times the number of summands).
RTOL = 1e-12


def _floats(dtype):
    """Arrays with every regime of the stable primitives: |x| up to 800 (beyond exp's range in float64),
    around the -30 switch of log_softplus, and exact zeros."""
    special = st.sampled_from([0.0, -0.0, -30.0, -30.5, -29.5, -745.0, -800.0, 800.0, 1e-300, -1e-300])
    values = st.one_of(st.floats(-800, 800, width=32 if dtype == np.float32 else 64), special)
    return arrays(dtype, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=values)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parts_of_rho_are_bitwise_the_stable_primitives(dtype):
    @settings(max_examples=60)
    @given(rho=_floats(dtype))
    def check(rho):
        with np.errstate(over="raise", divide="raise", invalid="raise"):   # no warning on any input
            sigma, sig = stable.softplus_and_sigmoid(rho)
            idle = stable.switch_idle(rho)
            log_sigma, d_log = stable.log_softplus_given(rho, sigma, idle), stable.d_log_softplus_given(rho, sigma, sig, idle=idle)
            s = stable.sigmoid_numpy(rho)
        for got, ref in ((sigma, softplus(rho)), (sig, sigmoid(rho)), (log_sigma, log_softplus(rho)),
                         (d_log, d_log_softplus(rho)), (s, sigmoid(rho))):
            assert got.dtype == ref.dtype
            np.testing.assert_array_equal(got, ref)

    check()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_and_derivative_are_bitwise_psi_and_d_psi(name):
    act = ACTIVATIONS[name]

    @settings(max_examples=40)
    @given(a=_floats(np.float64))
    def check(a):
        value, derivative = value_and_derivative(act, a.copy())
        np.testing.assert_array_equal(value, act.psi(a))
        np.testing.assert_array_equal(derivative, act.d_psi(a))

    check()


def test_network_forward_and_backward_are_bitwise_the_plain_pass():
    """(N-1, N-3) with the fast step's ``flush`` (a no-op in float64) against the plain pass written out here."""
    rng = np.random.default_rng(3)
    widths, S, B = [5, 7, 6, 3], 2, 9
    Ws = [rng.standard_normal((S, a, b)) for a, b in zip(widths[:-1], widths[1:])]
    bs = [rng.standard_normal((S, b)) for b in widths[1:]]
    x = rng.standard_normal((B, widths[0]))
    act = ACTIVATIONS["silu"]
    hs, pre = [x], []
    for l, (W, b) in enumerate(zip(Ws, bs)):
        a = hs[-1] @ W + b[:, None, :]
        pre.append(a)
        hs.append(act.psi(a) if l < len(Ws) - 1 else a)
    eta_f, cache_f = network.forward(x, Ws, bs, act, flush=True)
    np.testing.assert_array_equal(eta_f, hs[-1])
    d_eta = rng.standard_normal(eta_f.shape)
    d_a, ref_W, ref_b = d_eta, [None] * 3, [None] * 3
    for l in (2, 1, 0):
        ref_W[l], ref_b[l] = np.swapaxes(hs[l], -1, -2) @ d_a, np.sum(d_a, axis=-2)
        d_a = (d_a @ np.swapaxes(Ws[l], -1, -2)) * act.d_psi(pre[l - 1]) if l else None
    got_W, got_b = network.backward(d_eta, cache_f)
    for g, r in zip(got_W + got_b, ref_W + ref_b):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predictions_are_bitwise_the_reference_forward(name, dtype):
    """``network.predict`` (what ``NodeSparseBNN.predict`` runs, in place on NumPy) returns ``network.forward``'s outputs
    bit for bit, pre-activations far into both tails included (no flush in prediction)."""
    rng = np.random.default_rng(4)
    widths, S, B = [5, 7, 6, 3], 3, 11
    Ws = [(4 * rng.standard_normal((S, a, b))).astype(dtype) for a, b in zip(widths[:-1], widths[1:])]
    bs = [rng.standard_normal((S, b)).astype(dtype) for b in widths[1:]]
    x = (10 * rng.standard_normal((B, widths[0]))).astype(dtype)
    eta, _ = network.forward(x, Ws, bs, ACTIVATIONS[name])
    np.testing.assert_array_equal(network.predict(x, Ws, bs, ACTIVATIONS[name]), eta)
    model = NodeSparseBNN(widths, prior="ss-gl", likelihood="categorical", activation=name, dtype=np.dtype(dtype).name)
    params, noise = model.init_params(rng), model.sample_noise(rng, S)
    Ws, bs, _ = elbo.sample_weights(model.prior, params, noise)
    np.testing.assert_array_equal(model.predict(params, x, noise), network.forward(x, Ws, bs, model.activation)[0])


@pytest.mark.parametrize("likelihood", ["gaussian", "categorical"])
@pytest.mark.parametrize("prior,hyper", VARIANTS, ids=IDS)
def test_fused_step_equals_reference(prior, hyper, likelihood):
    @settings(max_examples=10)
    @given(arch=architectures(likelihood), relaxation=st.sampled_from(["straight-through", "concrete"]),
           activation=st.sampled_from(sorted(ACTIVATIONS)), kl_weight=st.sampled_from([1.0, 0.3]))
    def check(arch, relaxation, activation, kl_weight):
        model, params, noise, x, y, n = problem(arch, prior, likelihood, activation, relaxation, lam=0.3, **hyper)
        before = {k: v.copy() for k, v in {**params, **noise}.items()}
        loss, grads, terms = model.loss_and_grad(params, x, y, noise, n, kl_weight)
        f_loss, f_grads, f_terms = model.loss_and_grad_fused(params, x, y, noise, n, kl_weight)
        for k, v in {**params, **noise}.items():          # the in-place work never touches the inputs
            np.testing.assert_array_equal(v, before[k])
        assert list(f_grads) == list(grads) and list(f_terms) == list(terms)
        assert all(f_grads[k].shape == grads[k].shape for k in grads)
        assert abs(float(f_loss) - float(loss)) <= RTOL * max(1.0, abs(float(loss)))
        for k in terms:
            assert abs(float(f_terms[k]) - float(terms[k])) <= RTOL * max(1.0, abs(float(terms[k]))), k
        assert max_rel_err(f_grads, grads) <= RTOL

    check()


@pytest.mark.parametrize("likelihood", ["gaussian", "categorical"])
@pytest.mark.parametrize("prior,hyper", VARIANTS, ids=IDS)
def test_fast_schedule_is_bitwise_the_reference_in_float64(prior, hyper, likelihood):
    """The two schedules of refimpl/elbo.py differ only in order, memory and the float32 flush: in float64 every
    loss, term and gradient is the same bit for bit (S = 1 uses the scratch buffer, S = 3 does not)."""
    @settings(max_examples=8)
    @given(arch=architectures(likelihood), relaxation=st.sampled_from(["straight-through", "concrete"]),
           activation=st.sampled_from(sorted(ACTIVATIONS)))
    def check(arch, relaxation, activation):
        model, params, noise, x, y, n = problem(arch, prior, likelihood, activation, relaxation, lam=0.3, **hyper)
        loss, grads, terms = model.loss_and_grad(params, x, y, noise, n, 0.7)
        f_loss, f_grads, f_terms = model.loss_and_grad_fused(params, x, y, noise, n, 0.7)
        assert float(f_loss) == float(loss) and all(float(f_terms[k]) == float(terms[k]) for k in terms)
        for k in grads:
            np.testing.assert_array_equal(f_grads[k], grads[k], err_msg=k)

    check()


@pytest.mark.parametrize("prior,hyper", VARIANTS, ids=IDS)
def test_fused_step_float32(prior, hyper):
    """float32 stays float32 (no silent promotion) and agrees with the reference to float32 round-off, at
    the authors' initialisation (the only difference allowed is the fast schedule's flush of subnormals, F-3;
    the bound is the older one for a reordered sum of up to ~300 terms at eps = 1.2e-7: 1e-4 relative)."""
    rng = np.random.default_rng(7)
    model = NodeSparseBNN([30, 24, 16, 5], prior=prior, likelihood="categorical", dtype="float32", lam=0.3, **hyper)
    params, noise = model.init_params(rng), model.sample_noise(rng, 2)
    x, y = rng.standard_normal((64, 30)).astype(np.float32), rng.integers(0, 5, 64)
    loss, grads, terms = model.loss_and_grad(params, x, y, noise, 1000)
    f_loss, f_grads, f_terms = model.loss_and_grad_fused(params, x, y, noise, 1000)
    assert f_loss.dtype == np.float32 and all(v.dtype == np.float32 for v in (*f_grads.values(), *f_terms.values()))
    assert float(f_loss) == pytest.approx(float(loss), rel=1e-5)
    assert max_rel_err(f_grads, grads) <= 1e-4


def test_fused_step_below_the_log_softplus_switch():
    """rho < -30 takes the switch branch of log_softplus / d_log_softplus (sigma underflows near -745)."""
    arch = dict(widths=[4, 5, 3], batch=6, n_samples=2, seed=2)
    model, params, noise, x, y, n = problem(arch, "ss-ig", "categorical", lam=0.3)
    params["0.w_rho"][0, :3] = [-40.0, -746.0, -900.0]
    params["1.b_rho"][1] = -31.0
    loss, grads, _ = model.loss_and_grad(params, x, y, noise, n)
    f_loss, f_grads, _ = model.loss_and_grad_fused(params, x, y, noise, n)
    assert float(f_loss) == pytest.approx(float(loss), rel=1e-13)
    assert max_rel_err(f_grads, grads) <= 1e-12


def test_fused_step_checks_its_inputs_as_the_reference():
    arch = dict(widths=[3, 4, 2], batch=5, n_samples=1, seed=1)
    model, params, noise, x, y, n = problem(arch, "ss-ig", "gaussian", lam=0.3)
    with pytest.raises(ValueError, match="^kl_weight:"):
        model.loss_and_grad_fused(params, x, y, noise, n, kl_weight=1.5)
    x_nan = x.copy()
    x_nan[0, 0] = np.nan
    bad_shape = {**params, "0.w_mu": params["0.w_mu"][:, :1]}
    for args in ((params, x_nan, y, noise, n), (bad_shape, x, y, noise, n), (params, x, y, noise, 0)):
        with pytest.raises(ValueError) as ref_err:
            model.loss_and_grad(*args)
        with pytest.raises(ValueError) as fused_err:
            model.loss_and_grad_fused(*args)
        assert str(fused_err.value) == str(ref_err.value)


def test_other_backends_use_the_reference():
    arch = dict(widths=[3, 4, 2], batch=5, n_samples=2, seed=4)
    _, params, noise, x, y, n = problem(arch, "ss-gl", "categorical", lam=0.3)
    strict = NodeSparseBNN(arch["widths"], prior="ss-gl", likelihood="categorical", lam=0.3, backend="strict")
    p, z = to_backend(strict, params), to_backend(strict, noise)
    loss, grads, _ = strict.loss_and_grad(p, x, y, z, n)
    f_loss, f_grads, _ = strict.loss_and_grad_fused(p, x, y, z, n)
    assert float(strict.backend.to_numpy(f_loss)) == float(strict.backend.to_numpy(loss))
    assert all(np.array_equal(strict.backend.to_numpy(f_grads[k]), strict.backend.to_numpy(grads[k])) for k in grads)


def test_flush_subnormals_zeroes_exactly_the_subnormals_of_float32():
    """(F-3) Entries with |a| < finfo(float32).tiny become 0 (the change is below 1.2e-38 in absolute terms);
    every other entry is untouched, bitwise; float64 arrays are returned unchanged."""
    tiny = np.finfo(np.float32).tiny
    a = np.array([1.0, -2.5, tiny, -tiny, tiny / 2, -tiny / 4, 1e-45, 0.0, 3e-38, np.inf], dtype=np.float32)
    out = network.flush_subnormals(a.copy())
    keep = np.abs(a) >= tiny
    np.testing.assert_array_equal(out[keep], a[keep])
    assert np.all(out[~keep] == 0) and np.all(np.abs(a[~keep]) < tiny)      # the change is below tiny
    b = np.array([1e-310, -1e-320, 1.0])                              # float64 subnormals: left as they are
    np.testing.assert_array_equal(network.flush_subnormals(b.copy()), b)


def test_float32_step_with_underflowing_sigmoids_has_no_subnormal_operands():
    """Pre-activations far below -87 make SiLU's sigmoid underflow to subnormals in float32. The fused step
    feeds no subnormal to a matrix product (checked on the arrays the backward pass multiplies) and still
    equals the reference path to float32 round-off."""
    rng = np.random.default_rng(0)
    model = NodeSparseBNN([6, 16, 16, 3], prior="ss-ig", likelihood="categorical", dtype="float32", lam=0.5)
    params = model.init_params(rng)
    for l in range(3):
        params[f"{l}.w_mu"] = (60.0 * rng.standard_normal(params[f"{l}.w_mu"].shape)).astype(np.float32)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    noise = model.sample_noise(rng)
    tiny = np.finfo(np.float32).tiny
    Ws, bs, _ = elbo.sample_weights(model.prior, params, noise)
    _, (inputs, _, _, _) = network.forward(x, Ws, bs, ACTIVATIONS["silu"], flush=True)
    _, (raw_inputs, _, _, _) = network.forward(x, Ws, bs, ACTIVATIONS["silu"])
    n_sub = lambda arrays: sum(int(np.sum((h != 0) & (np.abs(h) < tiny))) for h in arrays)   # noqa: E731
    assert n_sub(raw_inputs[1:]) > 0                       # the fixture does produce subnormal activations
    assert n_sub(inputs[1:]) == 0
    loss, grads, _ = model.loss_and_grad(params, x, y, noise, 1000)
    f_loss, f_grads, _ = model.loss_and_grad_fused(params, x, y, noise, 1000)
    # float32: a few eps (1.2e-7) times the summands' condition; the flushed terms are below 1e-38
    assert abs(float(f_loss) - float(loss)) <= 1e-5 * abs(float(loss))
    assert max_rel_err(f_grads, grads) <= 1e-4
