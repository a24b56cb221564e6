"""CME trade-date calendars, one per product group.

A CME trade date D runs from 18:00 ET on D-1 to 17:00 ET on D; a bar for D is final only after
17:00 ET on D. Trade dates come from pandas_market_calendars ``CME_TradeDate`` (holidays, on which
Globex may trade an abbreviated session that rolls into the next trade date, are not trade dates),
with per-group corrections measured on the real files (``CALENDARS``): the equity, energy, metals,
rates, grains and currency groups close on the same CME holidays, but national days of mourning
did not close them alike. Early closes come from the group's own pandas_market_calendars schedule.

A root's calendar is named in the roots registry (``RootSpec.calendar``); :func:`trading_calendar`
returns it. The module-level functions (``is_trade_date``, ``trade_dates`` ...) are those of the
CME equity calendar, the calendar of the four equity-index roots and of every clock question (the
nightly's last completed session).

Each calendar is computed once per process for 1997-2040 (pandas_market_calendars costs ~2 s to
import, so it is imported on first use only).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
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
#: A session is an early close when it ends at least this many minutes before the group's usual
#: (most frequent) close.
EARLY_CLOSE_MINUTES = 60

#: 2025-01-09, national day of mourning for President Carter: NYSE was closed, pandas_market_
#: calendars drops the day, but CME settled abbreviated sessions as their own trade date in every
#: group (the real ES, YM, CL, GC, ZN and ZC files have a traded bar that day).
CARTER_MOURNING = date(2025, 1, 9)
#: 2007-01-02, national day of mourning for President Ford: CME equity and CBOT grains closed,
#: NYMEX energy and CBOT Treasuries traded and settled (the real CL and ZN files have bars with
#: their own prices and volumes; ES and ZC have none; GC's row repeats the previous settlement
#: with the previous volume: COMEX was closed).
FORD_MOURNING = date(2007, 1, 2)


class CalendarRangeError(ValueError):
    pass


@dataclass(frozen=True)
class TradingCalendar:
    """The trade dates of one CME product group.

    ``extra_trade_dates``: sessions settled although ``CME_TradeDate`` has none;
    ``schedule``: the pandas_market_calendars calendar whose early closes apply.
    """

    name: str
    description: str
    schedule: str
    extra_trade_dates: frozenset[date] = field(default_factory=frozenset)

    @cached_property
    def _dates(self) -> tuple[date, ...]:
        return tuple(sorted(set(_base_trade_dates()) | self.extra_trade_dates))

    @cached_property
    def _date_set(self) -> frozenset[date]:
        return frozenset(self._dates)

    @cached_property
    def _early(self) -> frozenset[date]:
        import pandas_market_calendars as mcal

        sched = mcal.get_calendar(self.schedule).schedule(
            CALENDAR_START.isoformat(), CALENDAR_END.isoformat()
        )
        close_et = sched["market_close"].dt.tz_convert(ET)
        minutes = close_et.dt.hour * 60 + close_et.dt.minute
        usual = int(minutes.mode()[0])
        early = sched.index[minutes <= usual - EARLY_CLOSE_MINUTES]
        return frozenset(d.date() for d in early if d.date() in self._date_set)

    def is_trade_date(self, d: date) -> bool:
        """True if ``d`` is a trade date of this calendar.

        >>> energy = trading_calendar("cme_energy")
        >>> energy.is_trade_date(date(2007, 1, 2)), EQUITY.is_trade_date(date(2007, 1, 2))
        (True, False)
        """
        _check(d)
        return d in self._date_set

    def is_early_close(self, d: date) -> bool:
        """True if the session of trade date ``d`` closed early (e.g. the day after Thanksgiving).

        >>> EQUITY.is_early_close(date(2024, 11, 29)), EQUITY.is_early_close(date(2024, 11, 27))
        (True, False)
        """
        return d in self._early

    def trade_dates(self, start: date, end: date) -> list[date]:
        """Trade dates with ``start <= d <= end``, ascending.

        >>> EQUITY.trade_dates(date(2025, 12, 24), date(2025, 12, 29))
        [datetime.date(2025, 12, 24), datetime.date(2025, 12, 26), datetime.date(2025, 12, 29)]
        """
        _check(start)
        _check(end)
        days = self._dates
        return list(days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)])

    def trade_date_frame(self, start: date, end: date) -> pl.DataFrame:
        """Trade dates as a one-column frame ``session_date`` (Date)."""
        return pl.DataFrame(
            {"session_date": self.trade_dates(start, end)}, schema={"session_date": pl.Date}
        )

    def previous_trade_date(self, d: date) -> date:
        """The last trade date strictly before ``d``.

        >>> EQUITY.previous_trade_date(date(2026, 1, 20))  # Monday 19 Jan 2026 is MLK day
        datetime.date(2026, 1, 16)
        """
        days = self._dates
        i = bisect.bisect_left(days, d)
        if i == 0:
            raise CalendarRangeError(f"no trade date before {d}")
        return days[i - 1]

    def next_trade_date(self, d: date) -> date:
        """The first trade date strictly after ``d``."""
        days = self._dates
        i = bisect.bisect_right(days, d)
        if i >= len(days):
            raise CalendarRangeError(f"no trade date after {d}")
        return days[i]

    def add_sessions(self, d: date, n: int) -> date:
        """The trade date ``n`` sessions after (n > 0) or before (n < 0) trade date ``d``.

        >>> EQUITY.add_sessions(date(2026, 2, 4), 20)
        datetime.date(2026, 3, 5)
        """
        days = self._dates
        i = bisect.bisect_left(days, d)
        if i >= len(days) or days[i] != d:
            raise ValueError(f"{d} is not a CME trade date ({self.name} calendar)")
        j = i + n
        if not 0 <= j < len(days):
            raise CalendarRangeError(f"{n} sessions from {d} leaves the calendar")
        return days[j]

    def business_days_before(self, d: date, n: int) -> date:
        """The trade date ``n`` >= 1 trade dates before ``d`` (``d`` itself need not be one).

        >>> EQUITY.business_days_before(date(2020, 4, 25), 3)  # a Saturday
        datetime.date(2020, 4, 22)
        """
        days = self._dates
        i = bisect.bisect_left(days, d) - n
        if i < 0:
            raise CalendarRangeError(f"{n} trade dates before {d} leave the calendar")
        return days[i]

    def session_numbers(self, dates: Sequence[date]) -> np.ndarray:
        """Position of each trade date in the calendar (int64): differences count sessions.

        >>> EQUITY.session_numbers([date(2025, 12, 24), date(2025, 12, 26), date(2025, 12, 29)]).tolist()
        [7298, 7299, 7300]
        """
        import numpy as np

        days = np.array(self._dates, dtype="datetime64[D]")
        values = np.array(list(dates), dtype="datetime64[D]")
        index = np.searchsorted(days, values)
        missing = (index >= len(days)) | (days[np.minimum(index, len(days) - 1)] != values)
        if missing.any():
            raise ValueError(f"{values[missing][0]} is not a CME trade date ({self.name} calendar)")
        return index.astype(np.int64)

    def sessions_between(self, start: date, end: date) -> int:
        """Number of trade dates in (start, end]: how many sessions later ``end`` is than ``start``."""
        days = self._dates
        return bisect.bisect_right(days, end) - bisect.bisect_right(days, start)

    def last_completed_session(self, now: datetime) -> date:
        """The latest trade date whose session had ended at ``now`` (tz-aware).

        >>> EQUITY.last_completed_session(datetime(2026, 2, 4, 16, 59, tzinfo=ET))
        datetime.date(2026, 2, 3)
        >>> EQUITY.last_completed_session(datetime(2026, 2, 4, 17, 0, tzinfo=ET))
        datetime.date(2026, 2, 4)
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        local = now.astimezone(ET)
        d = local.date()
        if d in self._date_set and local >= session_end(d):
            return d
        return self.previous_trade_date(d)

    def next_session_open(self, d: date) -> datetime:
        """When trading for the trade date after ``d`` begins: 18:00 ET on the calendar day before
        it (``d`` itself on Monday-Thursday, the Sunday for a Friday, the eve of a holiday's next
        trade date). Until then no price after ``d``'s settlement exists: a call as of ``d`` made
        earlier cannot have seen one (tz-aware).

        >>> EQUITY.next_session_open(date(2026, 2, 4)).isoformat()  # a Wednesday
        '2026-02-04T18:00:00-05:00'
        >>> EQUITY.next_session_open(date(2026, 2, 6)).isoformat()  # Globex reopens on Sunday
        '2026-02-08T18:00:00-05:00'
        """
        return datetime.combine(
            self.next_trade_date(d) - timedelta(days=1), SESSION_OPEN_ET, tzinfo=ET
        )

    def session_superseded_at(self, d: date) -> datetime:
        """When trade date ``d`` stops being the last completed session: the end of the next
        trade date (17:00 ET). Everything recorded before it was recorded while ``d`` was the
        latest session, so the nightly run of ``d`` (18:15 ET, or any re-run that day) saw no bar
        after ``d``; bars recorded later may carry vendor revisions made with hindsight (tz-aware).

        >>> EQUITY.session_superseded_at(date(2026, 2, 6)).isoformat()
        '2026-02-09T17:00:00-05:00'
        """
        return session_end(self.next_trade_date(d))


_BASE_SOURCE = "CME_TradeDate"
_base_cache: list[tuple[date, ...]] = []


def _base_trade_dates() -> tuple[date, ...]:
    if not _base_cache:
        import pandas_market_calendars as mcal

        cal = mcal.get_calendar(_BASE_SOURCE)
        days = cal.valid_days(CALENDAR_START.isoformat(), CALENDAR_END.isoformat())
        _base_cache.append(tuple(d.date() for d in days))
    return _base_cache[0]


#: Every trading calendar a root may name (``RootSpec.calendar``).
CALENDARS: dict[str, TradingCalendar] = {
    c.name: c
    for c in (
        TradingCalendar(
            "cme_equity",
            "CME equity index (CME, CBOT)",
            "CME_Equity",
            frozenset({CARTER_MOURNING}),
        ),
        TradingCalendar(
            "cme_energy",
            "NYMEX energy",
            "CMEGlobex_Energy",
            frozenset({CARTER_MOURNING, FORD_MOURNING}),
        ),
        TradingCalendar(
            "cme_metals",
            "COMEX and NYMEX metals",
            "CMEGlobex_Metals",
            frozenset({CARTER_MOURNING}),
        ),
        TradingCalendar(
            "cme_rates",
            "CBOT Treasury futures",
            "CBOT_InterestRate",
            frozenset({CARTER_MOURNING, FORD_MOURNING}),
        ),
        TradingCalendar(
            "cme_grains",
            "CBOT grains and oilseeds",
            "CBOT_Agriculture",
            frozenset({CARTER_MOURNING}),
        ),
        TradingCalendar(
            "cme_fx",
            "CME currencies (no FX file here: the 2007-01-02 session is not known)",
            "CMEGlobex_FX",
            frozenset({CARTER_MOURNING}),
        ),
    )
}
#: The CME equity calendar: the module-level functions below are its methods.
EQUITY = CALENDARS["cme_equity"]


def trading_calendar(name: str) -> TradingCalendar:
    """The calendar named ``name``; a clear error naming the known ones otherwise.

    >>> trading_calendar("cme_rates").description
    'CBOT Treasury futures'
    """
    try:
        return CALENDARS[name]
    except KeyError:
        raise ValueError(
            f"unknown trading calendar {name!r}; known: {', '.join(CALENDARS)}"
        ) from None


def _check(d: date) -> None:
    if not CALENDAR_START <= d <= CALENDAR_END:
        raise CalendarRangeError(
            f"{d} is outside the CME calendar ({CALENDAR_START}..{CALENDAR_END})"
        )


def session_end(d: date) -> datetime:
    """The moment trade date ``d`` is final: 17:00 ET on ``d`` (tz-aware).

    >>> session_end(date(2026, 7, 1)).isoformat()
    '2026-07-01T17:00:00-04:00'
    """
    return datetime.combine(d, SESSION_END_ET, tzinfo=ET)


#: The CME equity calendar's methods (see ``TradingCalendar``), the clock's calendar.
is_trade_date = EQUITY.is_trade_date
is_early_close = EQUITY.is_early_close
trade_dates = EQUITY.trade_dates
trade_date_frame = EQUITY.trade_date_frame
previous_trade_date = EQUITY.previous_trade_date
next_trade_date = EQUITY.next_trade_date
add_sessions = EQUITY.add_sessions
session_numbers = EQUITY.session_numbers
sessions_between = EQUITY.sessions_between
last_completed_session = EQUITY.last_completed_session
next_session_open = EQUITY.next_session_open
session_superseded_at = EQUITY.session_superseded_at


def days_ago(d: date, n: int) -> date:
    return d - timedelta(days=n)
