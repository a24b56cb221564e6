from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.market import calendar as cal
from pipeline.market.calendar import ET


def test_known_holidays_and_weekends_are_not_trade_dates() -> None:
    for d in [
        date(2025, 12, 25),
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 4, 3),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),
        date(2026, 9, 7),
        date(2026, 11, 26),
        date(2018, 12, 5),
        date(2026, 2, 7),
        date(2026, 2, 8),
    ]:
        assert not cal.is_trade_date(d), d


def test_extra_trade_date_2025_01_09_is_kept() -> None:
    # pandas_market_calendars drops it; CME settled an abbreviated session (Yahoo ES=F has a bar).
    assert cal.is_trade_date(date(2025, 1, 9))
    assert cal.trade_dates(date(2025, 1, 8), date(2025, 1, 10)) == [
        date(2025, 1, 8),
        date(2025, 1, 9),
        date(2025, 1, 10),
    ]


def test_year_2025_has_the_expected_number_of_sessions() -> None:
    # 261 weekdays in 2025, 10 CME trade-date holidays (New Year, MLK, Presidents, Good Friday,
    # Memorial, Juneteenth, Independence, Labor, Thanksgiving, Christmas); 2025-01-09 traded.
    assert len(cal.trade_dates(date(2025, 1, 1), date(2025, 12, 31))) == 261 - 10


def test_early_closes() -> None:
    assert cal.is_early_close(date(2025, 11, 28))  # day after Thanksgiving
    assert cal.is_early_close(date(2025, 12, 24))
    assert not cal.is_early_close(date(2025, 11, 26))


def test_session_end_and_last_completed_session_across_dst() -> None:
    assert cal.session_end(date(2026, 1, 15)).utcoffset() == timedelta(hours=-5)
    assert cal.session_end(date(2026, 7, 15)).utcoffset() == timedelta(hours=-4)
    # Monday before the close -> Friday; Sunday evening (Globex open) -> Friday
    assert cal.last_completed_session(datetime(2026, 2, 9, 12, 0, tzinfo=ET)) == date(2026, 2, 6)
    assert cal.last_completed_session(datetime(2026, 2, 8, 19, 0, tzinfo=ET)) == date(2026, 2, 6)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.last_completed_session(datetime(2026, 2, 9, 12, 0))


def test_add_sessions_refuses_non_trade_dates() -> None:
    with pytest.raises(ValueError, match="not a CME trade date"):
        cal.add_sessions(date(2026, 2, 7), 1)


def test_outside_calendar_is_a_clear_error() -> None:
    with pytest.raises(cal.CalendarRangeError, match="outside the CME calendar"):
        cal.is_trade_date(date(1990, 1, 2))


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
    st.integers(min_value=-300, max_value=300),
)
def test_add_sessions_matches_a_walk_over_days(d: date, n: int) -> None:
    while not cal.is_trade_date(d):
        d += timedelta(days=1)
    expected, step, left = d, (1 if n > 0 else -1), abs(n)
    while left:
        expected += timedelta(days=step)
        if cal.is_trade_date(expected):
            left -= 1
    assert cal.add_sessions(d, n) == expected
    assert cal.sessions_between(min(d, expected), max(d, expected)) == abs(n)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2035, 12, 31)))
def test_previous_and_next_trade_date_bracket_the_day(d: date) -> None:
    prev, nxt = cal.previous_trade_date(d), cal.next_trade_date(d)
    assert prev < d < nxt
    assert cal.trade_dates(prev, nxt)[1:-1] == ([d] if cal.is_trade_date(d) else [])
