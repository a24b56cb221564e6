"""v3's limit on probability moves: the projection against a slow grid search, and the limit
holding on every session of a generated history."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.v3.params import V3Params
from pipeline.analysis.v3.stability import limited_move, session_causes, stable_probabilities


def triples() -> st.SearchStrategy[np.ndarray]:
    weights = st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda w: sum(w) > 0)
    return weights.map(lambda w: np.array(w) / sum(w))


def slow_limited_move(model: np.ndarray, previous: np.ndarray, cap: float) -> np.ndarray:
    """The obvious way: try every common shift on a fine grid, keep the one summing nearest 1."""
    low, high = np.clip(previous - cap, 0, 1), np.clip(previous + cap, 0, 1)
    shifts = np.linspace(-1, 1, 200_001)
    sums = np.clip(model[None, :] + shifts[:, None], low, high).sum(axis=1)
    best = shifts[np.argmin(np.abs(sums - 1.0))]
    return np.clip(model + best, low, high)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(model=triples(), previous=triples(), cap=st.sampled_from([0.05, 0.095, 0.19]))
def test_the_limited_move_is_the_nearest_shift_within_the_band(
    model: np.ndarray, previous: np.ndarray, cap: float
) -> None:
    out = limited_move(model, previous, cap)
    assert abs(out.sum() - 1.0) < 1e-12
    assert np.all(np.abs(out - previous) <= cap + 1e-9)
    np.testing.assert_allclose(out, slow_limited_move(model, previous, cap), atol=2e-5)
    if np.all(np.abs(model - previous) <= cap):
        np.testing.assert_allclose(out, model, atol=1e-12)  # nothing to limit


def test_a_session_without_a_call_restarts_the_chain() -> None:
    p = V3Params()
    model = np.array([[0.1, 0.1, 0.8], [0.8, 0.1, 0.1], [np.nan] * 3, [0.8, 0.1, 0.1]])
    out = stable_probabilities(model, [True, True, False, True], [None, None, None, None], p)
    # 0.8 -> at most 0.1 + 0.095 for bear on the second session; the fourth starts afresh.
    assert out[1, 0] == pytest_approx(0.1 + p.uncaused_move_points)
    assert np.isnan(out[2]).all()
    np.testing.assert_allclose(out[3], model[3])


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, abs=1e-9)


def test_causes_name_each_reason_a_session_may_move_more() -> None:
    frame = pl.DataFrame(
        {
            "has_call": [True, True, True, True],
            "primary_trend": ["Bullish", "Bullish", "Bullish", "Neutral"],
            "orientation": ["up", "up", "up", "up"],
            "line_low": [90.0, 90.0, 90.0, 90.0],
            "line_high": [91.0, 91.0, 91.0, 91.0],
            "bias_low": [109.0, 109.0, 109.0, 109.0],
            "bias_high": [110.0, 110.0, 110.0, 110.0],
            "upper_barrier": [110.0, 110.0, 110.0, 110.0],
            "lower_barrier": [90.0, 90.0, 90.0, 90.0],
            "upper_internal": [110.0, 110.0, 110.0, 110.0],
            "lower_internal": [90.0, 90.0, 90.0, 90.0],
            "high": [101.0, 110.5, 104.0, 104.0],  # the second session touches the upper barrier
            "low": [99.0, 100.0, 99.0, 99.0],
            "close": [100.0, 101.0, 103.5, 103.6],  # the third moves 2.5 points = 1.25 ATR
            "atr14": [2.0, 2.0, 2.0, 2.0],
        }
    )
    assert session_causes(frame, V3Params()).to_list() == [None, "barrier", "price", "regime"]
