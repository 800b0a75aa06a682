"""Tests of the stable element-wise primitives in ``refimpl.stable`` (F-1, F-2, R-1).

Oracles: NumPy/SciPy float64 forms (``numpy.logaddexp``, ``scipy.special.expit``, ``log_expit``,
``logit``), a 50-digit ``decimal`` evaluation of each definition, and central finite differences along random
directions (``oracles.gradcheck``).
"""
from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from oracles.gradcheck import check_grads
from refimpl.backend import get_backend
from refimpl.stable import d_log_softplus, log_sigmoid, log_softplus, logit_noise, sigmoid, softplus

EPS = np.finfo(np.float64).eps


def _x_arrays(lo, hi):
    return hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(lo, hi, allow_nan=False))


X = _x_arrays(-50.0, 50.0)
X_WIDE = _x_arrays(-700.0, 700.0)
GRID = np.concatenate([np.linspace(-700.0, 700.0, 2801), [-700.0, -30.0, -0.0, 0.0, 30.0, 700.0]])


# ---- 50-digit decimal references of the definitions -------------------------------------------
def _ln1p(y: Decimal) -> Decimal:
    """``log(1 + y)`` for ``y >= 0``; the series below 1e-10 (error < y^4 / 4 relative, < 1e-40)."""
    return y - y * y / 2 + y**3 / 3 if y < Decimal("1e-10") else (1 + y).ln()


def _softplus_dec(x: float) -> Decimal:
    d = Decimal(x)
    return d + _ln1p((-d).exp()) if d > 0 else _ln1p(d.exp())


def _ref(fn, x):
    """Apply a Decimal-valued reference element-wise at 50 digits and round to float64."""
    with localcontext() as ctx:
        ctx.prec = 50
        return np.array([float(fn(float(v))) for v in np.ravel(x)]).reshape(np.shape(x))


def _softplus_ref(x):
    return _ref(_softplus_dec, x)


def _sigmoid_ref(x):
    return _ref(lambda v: 1 / (1 + (-Decimal(v)).exp()), x)


def _log_sigmoid_ref(x):
    return _ref(lambda v: -_softplus_dec(-v), x)


def _log_softplus_ref(x):
    return _ref(lambda v: _softplus_dec(v).ln(), x)


def _d_log_softplus_ref(x):
    return _ref(lambda v: 1 / (1 + (-Decimal(v)).exp()) / _softplus_dec(v), x)


# Tolerances: each function is a few correctly rounded operations (exp, log1p, +, /), so it is
# within a few ulp of the true value; 8 eps relative is round-off only.
RTOL = 8 * EPS


@given(X)
def test_softplus_matches_references(x):
    np.testing.assert_allclose(softplus(x), _softplus_ref(x), rtol=RTOL, atol=0)
    np.testing.assert_allclose(softplus(x), np.logaddexp(0.0, x), rtol=RTOL, atol=0)


@given(X)
def test_sigmoid_matches_references(x):
    np.testing.assert_allclose(sigmoid(x), _sigmoid_ref(x), rtol=RTOL, atol=0)
    np.testing.assert_allclose(sigmoid(x), sp.expit(x), rtol=RTOL, atol=0)


@given(X)
def test_log_sigmoid_matches_references(x):
    np.testing.assert_allclose(log_sigmoid(x), _log_sigmoid_ref(x), rtol=RTOL, atol=0)
    np.testing.assert_allclose(log_sigmoid(x), sp.log_expit(x), rtol=RTOL, atol=0)


# log softplus: the log of a value with relative error ~eps has absolute error ~eps (atol, which
# matters near x = log(e - 1) where the result crosses 0); below -30 the code returns x, dropping
# -e^x/2 <= 4.7e-14 against |x| >= 30, i.e. <= 1.6e-15 relative (rtol 1e-14 covers it).
@given(X)
def test_log_softplus_matches_references(x):
    np.testing.assert_allclose(log_softplus(x), _log_softplus_ref(x), rtol=1e-14, atol=4 * EPS)
    np.testing.assert_allclose(log_softplus(x), np.log(np.logaddexp(0.0, x)), rtol=1e-14, atol=4 * EPS)


# d log softplus = sigmoid / softplus; below -30 the code returns its limit 1, dropping e^x/2 <= 4.7e-14.
@given(X)
def test_d_log_softplus_matches_references(x):
    np.testing.assert_allclose(d_log_softplus(x), _d_log_softplus_ref(x), rtol=1e-13, atol=0)
    np.testing.assert_allclose(d_log_softplus(x), sp.expit(x) / np.logaddexp(0.0, x), rtol=1e-13, atol=0)


@given(X)
def test_d_log_softplus_matches_finite_differences(x):
    # check_grads: d_log_softplus is the gradient of sum(log_softplus(x)) (element-wise), along random directions;
    # tolerance from the measured truncation and the round-off of f. Across the switch at -30, f jumps by
    # <= 4.7e-14 against |f| >= 30 there: 7 ulps of the 8 the check allows, before its factor (1 + |f|) / |f|.
    check_grads(lambda p: log_softplus(p["x"]), {"x": x}, {"x": d_log_softplus(x)})


# ---- finite everywhere in |x| <= 700 (RuntimeWarnings are errors in this test suite) ----------
def _check_finite_and_ranges(x):
    sp_, sg, ls, lsp, dlsp = softplus(x), sigmoid(x), log_sigmoid(x), log_softplus(x), d_log_softplus(x)
    for v in (sp_, sg, ls, lsp, dlsp):
        assert np.all(np.isfinite(v))
    assert np.all(sp_ >= 0.0) and np.all(sp_ >= x)
    assert np.all((sg >= 0.0) & (sg <= 1.0))
    assert np.all(ls <= 0.0)
    assert np.all((dlsp > 0.0) & (dlsp <= 1.0))


@given(X_WIDE)
def test_finite_for_large_arguments(x):
    _check_finite_and_ranges(x)


def test_finite_on_grid_and_endpoints():
    _check_finite_and_ranges(GRID)
    # At the ends the exact values are known to round-off: softplus(700) = 700, log_sigmoid(-700) = -700.
    assert softplus(np.array([700.0]))[0] == 700.0
    assert log_sigmoid(np.array([-700.0]))[0] == -700.0
    assert log_softplus(np.array([-700.0]))[0] == -700.0


# ---- identities ------------------------------------------------------------------------------
@given(X)
def test_identities(x):
    # softplus(x) - softplus(-x) = x and sigmoid(x) + sigmoid(-x) = 1: a few ulp of max(|x|, 1).
    np.testing.assert_allclose(softplus(x) - softplus(-x), x, rtol=0, atol=4 * EPS * 51)
    np.testing.assert_allclose(sigmoid(x) + sigmoid(-x), 1.0, rtol=0, atol=4 * EPS)


# ---- logit noise (R-1) -------------------------------------------------------------------------
@given(hnp.arrays(np.float64, st.integers(1, 8),
                  elements=st.floats(1e-300, 1.0, exclude_max=True, allow_nan=False)))
def test_logit_noise_matches_scipy_logit(u):
    # log u - log1p(-u) subtracts two logs each within ~eps of their own size: error a few eps times them.
    tol = 4 * EPS * (np.abs(np.log(u)) + np.abs(np.log1p(-u)))
    assert np.all(np.abs(logit_noise(u) - sp.logit(u)) <= tol + 4 * EPS * np.abs(sp.logit(u)))


# ---- strict array-API backend against NumPy ----------------------------------------------------
@pytest.mark.parametrize("fn", [softplus, sigmoid, log_sigmoid, log_softplus, d_log_softplus])
def test_strict_backend_matches_numpy(fn):
    b = get_backend("strict")
    out = fn(b.asarray(GRID))
    assert b.is_backend_array(out)
    # Same float64 operations on both backends: round-off only.
    np.testing.assert_allclose(b.to_numpy(out), fn(GRID), rtol=1e-12, atol=0)


def test_strict_backend_logit_noise_matches_numpy():
    b = get_backend("strict")
    u = np.random.default_rng(3).uniform(1e-12, 1.0, 50)
    out = logit_noise(b.asarray(u))
    assert b.is_backend_array(out)
    # Same float64 operations on both backends: round-off only.
    np.testing.assert_allclose(b.to_numpy(out), logit_noise(u), rtol=1e-12, atol=0)


def test_decimal_reference_sanity():
    # The oracle itself: softplus(0) = log 2, sigmoid(0) = 1/2 exactly.
    assert _softplus_ref(np.array([0.0]))[0] == math.log(2.0)
    assert _sigmoid_ref(np.array([0.0]))[0] == 0.5


# ---- the memoised namespace lookup the primitives use -------------------------------------------
def test_memoised_namespace_is_array_api_compats_and_refuses_mixed_libraries():
    import array_api_compat

    from refimpl import backend

    strict = get_backend("strict").asarray(np.zeros(2))
    cases = [(np.zeros(2),), (np.float32(1.0),), (strict,), (np.zeros(2), np.ones((2, 2), np.float32))]
    for _ in range(2):              # the second pass is served from the cache
        for args in cases:
            assert backend.array_namespace(*args) is array_api_compat.array_namespace(*args)
    assert backend.array_namespace(strict) is not backend.array_namespace(np.zeros(2))
    before = dict(backend._NAMESPACES)
    for _ in range(2):              # a refused mix raises every time and is not remembered
        with pytest.raises(TypeError):
            backend.array_namespace(np.zeros(2), strict)
    assert backend._NAMESPACES == before
