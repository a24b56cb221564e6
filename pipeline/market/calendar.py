"""The CME equity trade-date calendar.

A CME trade date D runs from 18:00 ET on D-1 to 17:00 ET on D; a bar for D is final only after
17:00 ET on D. Dates come from pandas_market_calendars ``CME_TradeDate`` (holidays, on which
Globex may trade an abbreviated session that rolls into the next trade date, are not trade dates),
with the corrections in ``EXTRA_TRADE_DATES``. Early closes come from ``CME_Equity``.

The calendar is computed once per process for 1997-2040 (pandas_market_calendars costs ~2 s to
import, so it is imported on first use only).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import polars as pl

if TYPE_CHECKING:  # numpy loads where session numbers are needed, not for every date question
    import numpy as np

ET = ZoneInfo("America/New_York")
SESSION_END_ET = time(17, 0)
#: CME Globex reopens for the next trade date at 18:00 ET, after the one-hour maintenance break.
SESSION_OPEN_ET = time(18, 0)
CALENDAR_START = date(1997, 1, 1)
CALENDAR_END = date(2040, 12, 31)

#: Trade dates pandas_market_calendars misses. 2025-01-09 (national day of mourning for President
#: Carter): NYSE was closed, but CME equity futures traded an abbreviated session to 10:30 CT and
#: settled it as its own trade date (Yahoo's ES=F has a low-volume bar that day).
EXTRA_TRADE_DATES: frozenset[date] = frozenset({date(2025, 1, 9)})


class CalendarRangeError(ValueError):
    pass


@lru_cache(maxsize=1)
def _trade_dates() -> tuple[date, ...]:
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar("CME_TradeDate")
    days = cal.valid_days(CALENDAR_START.isoformat(), CALENDAR_END.isoformat())
    out = {d.date() for d in days} | EXTRA_TRADE_DATES
    return tuple(sorted(out))


@lru_cache(maxsize=1)
def _trade_date_set() -> frozenset[date]:
    return frozenset(_trade_dates())


@lru_cache(maxsize=1)
def _early_closes() -> frozenset[date]:
    import pandas_market_calendars as mcal

    sched = mcal.get_calendar("CME_Equity").schedule(
        CALENDAR_START.isoformat(), CALENDAR_END.isoformat()
    )
    close_et = sched["market_close"].dt.tz_convert(ET)
    early = sched.index[(close_et.dt.hour * 60 + close_et.dt.minute) < 16 * 60]
    trade = _trade_date_set()
    return frozenset(d.date() for d in early if d.date() in trade)


def _check(d: date) -> None:
    if not CALENDAR_START <= d <= CALENDAR_END:
        raise CalendarRangeError(
            f"{d} is outside the CME calendar ({CALENDAR_START}..{CALENDAR_END})"
        )


def is_trade_date(d: date) -> bool:
    """True if ``d`` is a CME equity trade date.

    >>> is_trade_date(date(2026, 2, 4)), is_trade_date(date(2026, 2, 7)), is_trade_date(date(2025, 12, 25))
    (True, False, False)
    """
    _check(d)
    return d in _trade_date_set()


def is_early_close(d: date) -> bool:
    """True if the CME equity session of trade date ``d`` closed early (e.g. the day after Thanksgiving).

    >>> is_early_close(date(2024, 11, 29)), is_early_close(date(2024, 11, 27))
    (True, False)
    """
    return d in _early_closes()


def trade_dates(start: date, end: date) -> list[date]:
    """Trade dates with ``start <= d <= end``, ascending.

    >>> trade_dates(date(2025, 12, 24), date(2025, 12, 29))
    [datetime.date(2025, 12, 24), datetime.date(2025, 12, 26), datetime.date(2025, 12, 29)]
    """
    _check(start)
    _check(end)
    days = _trade_dates()
    return list(days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)])


def trade_date_frame(start: date, end: date) -> pl.DataFrame:
    """Trade dates as a one-column frame ``session_date`` (Date)."""
    return pl.DataFrame({"session_date": trade_dates(start, end)}, schema={"session_date": pl.Date})


def previous_trade_date(d: date) -> date:
    """The last trade date strictly before ``d``.

    >>> previous_trade_date(date(2026, 1, 20))  # Monday 19 Jan 2026 is MLK day
    datetime.date(2026, 1, 16)
    """
    days = _trade_dates()
    i = bisect.bisect_left(days, d)
    if i == 0:
        raise CalendarRangeError(f"no trade date before {d}")
    return days[i - 1]


def next_trade_date(d: date) -> date:
    """The first trade date strictly after ``d``."""
    days = _trade_dates()
    i = bisect.bisect_right(days, d)
    if i >= len(days):
        raise CalendarRangeError(f"no trade date after {d}")
    return days[i]


def add_sessions(d: date, n: int) -> date:
    """The trade date ``n`` sessions after (n > 0) or before (n < 0) trade date ``d``.

    >>> add_sessions(date(2026, 2, 4), 20)
    datetime.date(2026, 3, 5)
    """
    days = _trade_dates()
    i = bisect.bisect_left(days, d)
    if i >= len(days) or days[i] != d:
        raise ValueError(f"{d} is not a CME trade date")
    j = i + n
    if not 0 <= j < len(days):
        raise CalendarRangeError(f"{n} sessions from {d} leaves the calendar")
    return days[j]


def session_end(d: date) -> datetime:
    """The moment trade date ``d`` is final: 17:00 ET on ``d`` (tz-aware).

    >>> session_end(date(2026, 7, 1)).isoformat()
    '2026-07-01T17:00:00-04:00'
    """
    return datetime.combine(d, SESSION_END_ET, tzinfo=ET)


def next_session_open(d: date) -> datetime:
    """When trading for the trade date after ``d`` begins: 18:00 ET on the calendar day before it
    (``d`` itself on Monday-Thursday, the Sunday for a Friday, the eve of a holiday's next trade
    date). Until then no price after ``d``'s settlement exists: a call as of ``d`` made earlier
    cannot have seen one (tz-aware).

    >>> next_session_open(date(2026, 2, 4)).isoformat()  # a Wednesday
    '2026-02-04T18:00:00-05:00'
    >>> next_session_open(date(2026, 2, 6)).isoformat()  # a Friday: Globex reopens on Sunday
    '2026-02-08T18:00:00-05:00'
    """
    return datetime.combine(next_trade_date(d) - timedelta(days=1), SESSION_OPEN_ET, tzinfo=ET)


def session_superseded_at(d: date) -> datetime:
    """When trade date ``d`` stops being the last completed session: the end of the next trade
    date (17:00 ET). Everything recorded before it was recorded while ``d`` was the latest
    session, so the nightly run of ``d`` (18:15 ET, or any re-run that day) saw no bar after
    ``d``; bars recorded later may carry vendor revisions made with hindsight (tz-aware).

    >>> session_superseded_at(date(2026, 2, 6)).isoformat()
    '2026-02-09T17:00:00-05:00'
    """
    return session_end(next_trade_date(d))


def session_numbers(dates: Sequence[date]) -> np.ndarray:
    """Position of each trade date in the CME calendar (int64): differences count sessions.

    >>> session_numbers([date(2025, 12, 24), date(2025, 12, 26), date(2025, 12, 29)]).tolist()
    [7298, 7299, 7300]
    """
    import numpy as np

    days = np.array(_trade_dates(), dtype="datetime64[D]")
    values = np.array(list(dates), dtype="datetime64[D]")
    index = np.searchsorted(days, values)
    missing = (index >= len(days)) | (days[np.minimum(index, len(days) - 1)] != values)
    if missing.any():
        raise ValueError(f"{values[missing][0]} is not a CME trade date")
    return index.astype(np.int64)


def last_completed_session(now: datetime) -> date:
    """The latest trade date whose session had ended at ``now`` (tz-aware).

    >>> last_completed_session(datetime(2026, 2, 4, 16, 59, tzinfo=ET))
    datetime.date(2026, 2, 3)
    >>> last_completed_session(datetime(2026, 2, 4, 17, 0, tzinfo=ET))
    datetime.date(2026, 2, 4)
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(ET)
    d = local.date()
    if d in _trade_date_set() and local >= session_end(d):
        return d
    return previous_trade_date(d)


def sessions_between(start: date, end: date) -> int:
    """Number of trade dates in (start, end]: how many sessions later ``end`` is than ``start``."""
    days = _trade_dates()
    return bisect.bisect_right(days, end) - bisect.bisect_right(days, start)


def days_ago(d: date, n: int) -> date:
    return d - timedelta(days=n)
