"""flows/outcomes.py: each call's horizon counted the way its methodology counts sessions.

v4 counts sessions on the trade calendar (a session without a bar still counts); v1-v3 count
rows of the series, as their outcomes were stored and verified. The oracle is the calendar
itself: the sessions elapsed after the as-of session are counted on ``SESSIONS`` by hand.
"""

from __future__ import annotations

import polars as pl

from flows.outcomes import by_resolution, progress_of
from tests.pipeline.audit.test_outcomes import (
    AS_OF,
    AS_OF_INDEX,
    CLOSE,
    HORIZON,
    SESSIONS,
    bullish_call,
    calls_frame,
    hand_series,
)

#: A session inside the horizon whose bar is missing (quarantined, say).
GAP = SESSIONS[AS_OF_INDEX + 2]


def two_calls() -> pl.DataFrame:
    """The same call stored by v4 and by v2."""
    calls = pl.concat([calls_frame(bullish_call(snapshot_id=f"{v}-call")) for v in ("v4", "v2")])
    return calls.with_columns(methodology_version=pl.Series(["v4", "v2"]))


def series_with_gap(rows_after_call: int) -> pl.DataFrame:
    """Flat closes (no barrier reached) through ``rows_after_call`` trade dates after the
    as-of session, the bar of GAP left out."""
    full = hand_series([CLOSE] * (AS_OF_INDEX + 1 + rows_after_call))
    return full.filter(pl.col("session_date") != GAP)


def test_v4_calls_get_the_trade_dates_and_v2_calls_none() -> None:
    series = series_with_gap(HORIZON - 2)
    groups = {
        str(g["methodology_version"][0]): dates for g, dates in by_resolution(two_calls(), series)
    }
    assert groups["v2"] is None
    v4_dates = groups["v4"]
    assert v4_dates is not None and GAP in v4_dates
    assert v4_dates == SESSIONS[: AS_OF_INDEX + 1 + HORIZON - 2]  # every trade date, GAP too


def test_an_open_v4_call_counts_the_session_without_a_bar_and_v2_does_not() -> None:
    series = series_with_gap(HORIZON - 2)  # horizon not over for either
    last = series["session_date"].max()
    by_hand = sum(1 for d in SESSIONS if AS_OF < d <= last)  # trade dates after the call
    progress = progress_of(two_calls(), series)
    elapsed = dict(zip(progress["snapshot_id"], progress["sessions_elapsed"], strict=True))
    assert elapsed == {"v4-call": by_hand, "v2-call": by_hand - 1}
    assert by_hand == HORIZON - 2
