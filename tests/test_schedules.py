"""Tests of the prior inclusion-probability schedules in ``refimpl.schedules`` (S-1..S-3).

Oracles: the notes' numbers for the paper schedule, the theory formula written out again here, and a
50-digit ``decimal`` evaluation of ``log(1 - lambda)``.
"""
from __future__ import annotations

import math
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl.schedules import (
    constant_schedule,
    inclusion_log_probs,
    paper_schedule,
    theory_schedule,
)

MNIST = [784, 400, 400, 10]
N_MNIST = 60000

widths_st = st.lists(st.integers(1, 2000), min_size=3, max_size=6)
n_st = st.integers(2, 10**7)
kappa_st = st.floats(1e-3, 1.0, allow_nan=False)
lam_st = st.floats(1e-300, 1.0, exclude_max=True, allow_nan=False)


def _log1m_ref(log_lam: float, lam: float | None = None) -> float:
    """``log(1 - lambda)`` in 50-digit decimal arithmetic (independent of the code under test).

    ``lambda = e^{log_lam}`` exactly, or the float ``lam`` itself when given (constant schedule: going
    through the rounded ``log lam`` would add ``eps |log lam|`` relative error to the oracle).
    """
    with localcontext() as ctx:
        ctx.prec = 50
        lam = Decimal(log_lam).exp() if lam is None else Decimal(lam)
        if lam < Decimal("1e-3"):  # log(1 - lam) = -sum lam^k / k; 12 terms leave < 1e-39 relative
            return float(-sum(lam**k / k for k in range(1, 13)))
        return float((1 - lam).ln())  # |result| >= 1e-3, so 50 digits leave ~1e-47 relative


def _check_pairs(pairs, n_hidden, lam=None):
    assert len(pairs) == n_hidden
    for log_lam, log_1m_lam in pairs:
        assert isinstance(log_lam, float) and isinstance(log_1m_lam, float)
        assert log_lam < 0.0 and log_1m_lam <= 0.0
        # The two probabilities sum to one; each exp is correctly rounded to ~1 ulp, so 1e-12 is round-off.
        assert math.exp(log_lam) + math.exp(log_1m_lam) == pytest.approx(1.0, abs=1e-12)
        # log(1 - lam) is accurate to a few ulp (expm1 / log1p), also where lam underflows or is near 1.
        assert log_1m_lam == pytest.approx(_log1m_ref(log_lam, lam), rel=1e-14, abs=1e-300)


# =============================================================================================
# (S-2) paper schedule
# =============================================================================================
def test_paper_schedule_mnist_values():
    lam = [math.exp(log_lam) for log_lam, _ in paper_schedule(MNIST, N_MNIST)]
    # The notes give lambda = (1.541e-3, 2.344e-3) to 4 digits (computed independently): rtol 1e-3.
    assert lam == pytest.approx([1.541e-3, 2.344e-3], rel=1e-3)


def test_inclusion_log_probs_dispatches_paper():
    assert inclusion_log_probs(MNIST, "paper", N_MNIST) == paper_schedule(MNIST, N_MNIST, 1e-9)


@given(widths_st, n_st)
def test_paper_schedule_log_probs_consistent(widths, n):
    _check_pairs(paper_schedule(widths, n), len(widths) - 2)


# =============================================================================================
# (S-3) theory schedule
# =============================================================================================
@given(widths_st, n_st, kappa_st)
def test_theory_schedule_matches_formula(widths, n, kappa):
    pairs = theory_schedule(widths, n, kappa)
    assert len(pairs) == len(widths) - 2
    for l, (log_lam, _) in enumerate(pairs):
        expected = math.log(widths[l + 1]) + kappa * (widths[l] + 1) * math.log(n)
        # -log lam = log k_{l+1} + kappa (k_l + 1) log n: same terms, round-off only.
        assert -log_lam == pytest.approx(expected, rel=1e-13)
    assert inclusion_log_probs(widths, "theory", n, kappa=kappa) == pairs


@given(widths_st, n_st, kappa_st)
def test_theory_schedule_log_probs_consistent(widths, n, kappa):
    _check_pairs(theory_schedule(widths, n, kappa), len(widths) - 2)


def test_theory_schedule_tiny_lam_stays_in_log_space():
    # MNIST with kappa = 0.1: lambda_0 = e^{-869} underflows as a float but its log does not.
    (log_lam0, log_1m_lam0), _ = theory_schedule(MNIST, N_MNIST)
    assert log_lam0 == pytest.approx(-(math.log(400) + 0.1 * 785 * math.log(N_MNIST)), rel=1e-13)
    assert math.exp(log_lam0) == 0.0 and log_1m_lam0 == 0.0


# =============================================================================================
# (S-1) constant schedule
# =============================================================================================
@given(widths_st, lam_st)
def test_constant_schedule_scalar(widths, lam):
    pairs = constant_schedule(widths, lam)
    # log and log1p of the same float: exact up to their own rounding.
    assert pairs == [(math.log(lam), math.log1p(-lam))] * (len(widths) - 2)
    _check_pairs(pairs, len(widths) - 2, lam)
    assert inclusion_log_probs(widths, lam, 100) == pairs


def test_constant_schedule_one_per_layer():
    pairs = constant_schedule(MNIST, [0.1, 0.7])
    assert pairs == [(math.log(0.1), math.log1p(-0.1)), (math.log(0.7), math.log1p(-0.7))]
    assert inclusion_log_probs(MNIST, (0.1, 0.7), N_MNIST) == pairs


@pytest.mark.parametrize("lam", [0.0, -0.5, 1.0, 1.5, math.nan, math.inf, [0.1, 0.0], [1.0, 0.5]])
def test_constant_schedule_rejects_out_of_range(lam):
    with pytest.raises(ValueError, match="lam"):
        constant_schedule(MNIST, lam)
    with pytest.raises(ValueError, match="lam"):
        inclusion_log_probs(MNIST, lam, N_MNIST)


@pytest.mark.parametrize("lam", [[0.1], [0.1, 0.2, 0.3], []])
def test_constant_schedule_rejects_wrong_count(lam):
    with pytest.raises(ValueError, match="lam"):
        constant_schedule(MNIST, lam)


@pytest.mark.parametrize("name", ["Paper", "uniform", ""])
def test_inclusion_log_probs_rejects_unknown_schedule(name):
    with pytest.raises(ValueError, match="lam"):
        inclusion_log_probs(MNIST, name, N_MNIST)
