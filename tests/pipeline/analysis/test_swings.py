"""Fractal swing points: hand-built pivots, confirmation dates, ties, nulls, and a slow oracle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.swings import SWING_SCHEMA, swing_points
from pipeline.market.calendar import add_sessions
from tests.pipeline.analysis.builders import sessions

K = 2
# Twelve sessions over Christmas and New Year: "two sessions later" is not "two days later".
HOLIDAY_DAYS = sessions(12, start=date(2025, 12, 22))


def bars(
    high: Sequence[float | None], low: Sequence[float | None], days: Sequence[date] | None = None
) -> pl.DataFrame:
    days = days if days is not None else sessions(len(high))
    return pl.DataFrame(
        {"session_date": days, "high": high, "low": low},
        schema={"session_date": pl.Date, "high": pl.Float64, "low": pl.Float64},
    )


def test_hand_built_pivots_with_confirmation_two_sessions_later() -> None:
    # index:  0   1   2   3   4    5   6   7   8   9  10  11
    high = [10, 11, 14, 12, 11, 11.0, 13, 13, 12, 10, 15, 16]
    low = [8, 9, 12, 10, 9, 9.5, 11, 11, 9, 7, 12, 14]
    # 2: high 14 over 10, 11 and 12, 11.   6: high 13, tied by row 7 (the first one is the pivot).
    # 4: low 9 under 12, 10 and 9.5, 11.   9: low 7 under 11, 9 and 12, 14.
    # Rows 10 and 11 (the last k) are never pivots although 16 is the highest high;
    # row 0 (first k) is never a pivot although 8 is the lowest low until row 9.
    swings = swing_points(bars(high, low, HOLIDAY_DAYS), k=K)
    assert swings.schema == pl.Schema(SWING_SCHEMA)
    d = HOLIDAY_DAYS
    assert swings.rows() == [
        ("high", 2, d[2], 14.0, 4, d[4]),
        ("low", 4, d[4], 9.0, 6, d[6]),
        ("high", 6, d[6], 13.0, 8, d[8]),
        ("low", 9, d[9], 7.0, 11, d[11]),
    ]
    # Dates by hand: 24 Dec -> 29 Dec (Christmas, weekend), 31 Dec -> 5 Jan (New Year, weekend).
    assert (d[2], d[4]) == (date(2025, 12, 24), date(2025, 12, 29))
    assert (d[6], d[8]) == (date(2025, 12, 31), date(2026, 1, 5))
    for pivot, confirm in swings.select("pivot_date", "confirm_date").rows():
        assert confirm == add_sessions(pivot, K)


def test_first_of_equal_highs_and_lows_is_the_pivot() -> None:
    high = [1.0, 2.0, 5.0, 5.0, 5.0, 2.0, 1.0]
    low = [9.0, 8.0, 3.0, 3.0, 3.0, 8.0, 9.0]
    swings = swing_points(bars(high, low), k=K)
    assert swings.select("kind", "pivot_index").rows() == [("high", 2), ("low", 2)]


def test_equal_high_inside_the_left_window_blocks_the_pivot() -> None:
    # Row 4 ties row 2 (two sessions before it): not strictly above its left neighbours; row 2
    # is at least as high as both sessions after it, so it is the pivot.
    high = [1.0, 0.0, 5.0, 2.0, 5.0, 2.0, 1.0, 0.0]
    swings = swing_points(bars(high, [0.0] * 8), k=K)
    assert swings.filter(pl.col("kind") == "high")["pivot_index"].to_list() == [2]


def test_a_null_row_is_never_a_pivot_and_blocks_pivots_within_k() -> None:
    # index:  0    1    2    3    4     5    6    7    8    9   10   11   12
    filled = [1.0, 2.0, 5.0, 3.0, 2.0, 0.0, 1.0, 4.0, 3.0, 2.0, 8.0, 1.0, 0.0]
    flat = [0.0] * len(filled)  # no swing lows at all: a pivot must be strictly below its left
    assert swing_points(bars(filled, flat), k=K)["pivot_index"].to_list() == [2, 7, 10]
    with_gap = [None if i == 5 else h for i, h in enumerate(filled)]
    gapped_low = [None if i == 5 else x for i, x in enumerate(flat)]
    # Row 7 had row 5 two sessions before it: unknown now, so row 7 cannot be confirmed as a pivot.
    assert swing_points(bars(with_gap, gapped_low), k=K)["pivot_index"].to_list() == [2, 10]
    # A high that would beat everything around it is still no pivot if it is null-adjacent.
    spike = [1.0, 2.0, 3.0, None, 9.0, 3.0, 2.0, 1.0]
    assert swing_points(bars(spike, [0.0] * 8), k=K).is_empty()


def test_last_k_rows_are_never_pivots_and_appending_rows_confirms_them() -> None:
    high = [1.0, 2.0, 3.0, 9.0, 4.0]
    low = [0.0] * 5
    assert swing_points(bars(high, low), k=K).is_empty()  # 9 sits in the last k rows
    longer = bars([*high, 3.0], [*low, 0.0])
    assert swing_points(longer, k=K).select("pivot_index", "confirm_index").rows() == [(3, 5)]


def test_empty_series_and_invalid_k() -> None:
    empty = bars([], [], [])
    assert swing_points(empty, k=K).schema == pl.Schema(SWING_SCHEMA)
    assert swing_points(empty, k=K).is_empty()
    with pytest.raises(ValueError, match="fractal k must be >= 1, got 0"):
        swing_points(bars([1.0], [0.0]), k=0)


def slow_swings(
    high: Sequence[float | None], low: Sequence[float | None], days: Sequence[date], k: int
) -> list[tuple]:
    """The definition, one session at a time."""
    out = []
    n = len(high)
    for t in range(k, n - k):
        for kind, column in (("high", high), ("low", low)):
            window = [v for v in column[t - k : t + k + 1] if v is not None]
            if len(window) < 2 * k + 1:  # a null within k sessions: no pivot
                continue
            value, left, right = window[k], window[:k], window[k + 1 :]
            if kind == "high":
                is_pivot = all(value > v for v in left) and all(value >= v for v in right)
            else:
                is_pivot = all(value < v for v in left) and all(value <= v for v in right)
            if is_pivot:
                out.append((kind, t, days[t], value, t + k, days[t + k]))
    return sorted(out, key=lambda row: (row[4], row[0]))


FORTY_DAYS = sessions(40)
price = st.one_of(st.none(), st.integers(0, 6).map(float))  # few values: many ties


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(price, price), min_size=0, max_size=40),
    st.integers(min_value=1, max_value=3),
)
def test_matches_the_slow_definition(pairs: list[tuple[float | None, float | None]], k: int):
    high = [h for h, _ in pairs]
    low = [x for _, x in pairs]
    days = FORTY_DAYS[: len(pairs)]
    assert swing_points(bars(high, low, days), k=k).rows() == slow_swings(high, low, days, k)
