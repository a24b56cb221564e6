"""Which backfill dates need the bars as known then: against a slow obvious rule, with peers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.market.as_known import bars_known_at, sessions_needing_own_bars
from pipeline.market.calendar import ET, trade_dates

DAYS = trade_dates(date(2026, 1, 5), date(2026, 3, 31))


def slow_rule(sessions: list[date], versions: list[tuple[date, datetime]]) -> list[date]:
    """D needs its own bars iff some superseded version of a bar of a session <= D was replaced
    after the moment D's bars are read (the end of the session after D)."""
    return sorted(
        {
            d
            for d in sessions
            if any(s <= d and replaced > bars_known_at(d) for s, replaced in versions)
        }
    )


@st.composite
def revisions(draw: st.DrawFn) -> tuple[list[date], list[tuple[date, datetime]]]:
    sessions = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=30))
    versions = []
    for _ in range(draw(st.integers(0, 6))):
        session = draw(st.sampled_from(DAYS))
        hours_later = draw(st.integers(0, 24 * 15))
        start = datetime.combine(session, datetime.min.time(), tzinfo=ET).astimezone(UTC)
        versions.append((session, start + timedelta(hours=hours_later)))
    return sessions, versions


@settings(max_examples=200, deadline=None)
@given(revisions())
def test_matches_the_slow_rule(case: tuple[list[date], list[tuple[date, datetime]]]) -> None:
    sessions, versions = case
    frame = pl.DataFrame(
        {"session_date": [s for s, _ in versions], "superseded_at": [r for _, r in versions]},
        schema={"session_date": pl.Date, "superseded_at": pl.Datetime("us", "UTC")},
    )
    assert sessions_needing_own_bars(sessions, frame) == slow_rule(sessions, versions)


def test_a_peer_revision_reaches_the_roots_calls_by_hand() -> None:
    # An ES bar of Friday 6 Feb revised on Tuesday 10 Feb at 09:00 ET; RTY's calls read ES. The
    # call of 6 Feb reads its bars at 17:00 ET on Monday 9, before the revision: it needs its
    # own. Monday 9's call reads at 17:00 ET Tuesday 10, after it; 5 Feb predates the session.
    es = pl.DataFrame(
        {
            "session_date": [date(2026, 2, 6)],
            "superseded_at": [datetime(2026, 2, 10, 9, 0, tzinfo=ET)],
        }
    )
    rty = pl.DataFrame(schema={"session_date": pl.Date, "superseded_at": pl.Datetime("us", "UTC")})
    days = [date(2026, 2, 5), date(2026, 2, 6), date(2026, 2, 9), date(2026, 2, 10)]
    assert sessions_needing_own_bars(days, pl.concat([rty, es.cast(rty.schema)])) == [
        date(2026, 2, 6)
    ]
    assert sessions_needing_own_bars(days, rty) == []


def test_bars_are_read_at_the_end_of_the_next_session() -> None:
    assert bars_known_at(date(2026, 2, 6)) == datetime(2026, 2, 9, 17, 0, tzinfo=ET)
    # Before a holiday: Wednesday 24 Dec 2025 is read at the end of Friday 26 Dec.
    assert bars_known_at(date(2025, 12, 24)) == datetime(2025, 12, 26, 17, 0, tzinfo=ET)
