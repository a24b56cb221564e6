"""Methodology v4's call table: v3's steps on the series put on its trade calendar.

1. the series on the root's trade calendar (:mod:`pipeline.analysis.sessions`): every trade
   date from the first bar to the last is a row, a missing or quarantined bar a row without a
   bar; the indicators defined on such sessions, then the last settlement carried as a flat bar
   for the rules that read one bar per session;
2. v2's structure, trend, perspective and kept levels on it
   (:func:`pipeline.analysis.v2.calls.levels_from_indicators`), v3's barriers
   (:func:`pipeline.analysis.v3.calls.with_barriers`);
3. no call on a session without a bar (its barriers are null, so ``has_call`` is false);
4. v3's forecast (:func:`pipeline.analysis.v3.calls.forecast`): outcomes resolved over
   ``horizon_sessions`` trade dates (a session without a bar settles nothing), probabilities,
   thesis, statements, the peers' readings.

So "10 sessions" is 10 trade dates in every window and every horizon. Row D depends only on
rows <= D, and the calendar rows up to D only on the bars up to D: the nightly call equals the
backfill's row.
"""

from __future__ import annotations

import polars as pl

from pipeline.analysis import steps
from pipeline.analysis.sessions import carried_bars, on_trade_calendar, with_session_indicators
from pipeline.analysis.steps import Peers
from pipeline.analysis.v2.calls import levels_from_indicators
from pipeline.analysis.v3.calls import call_table as v3_call_table
from pipeline.analysis.v3.calls import forecast, with_barriers
from pipeline.analysis.v4.params import V4Params
from pipeline.market.calendar import EQUITY, TradingCalendar

#: The columns that make a call: null on a session without a bar.
_CALL_COLUMNS: tuple[str, ...] = ("upper_barrier", "lower_barrier", "upper_internal",
                                  "lower_internal")  # fmt: skip


def call_table(
    series: pl.DataFrame,
    *,
    tick: float,
    params: V4Params | None = None,
    peers: Peers | None = None,
    calendar: TradingCalendar = EQUITY,
    limit_across_missing_bars: bool = False,
) -> pl.DataFrame:
    """Every trade date's v4 row on one root (see the module docstring): one row per trade date
    of ``calendar`` from the first bar of ``series`` to its last, ``has_bar`` false where
    the series has none (no call there). ``limit_across_missing_bars``: v5's rule (the limited
    move keeps the last call as its reference across a session without a bar)."""
    p = params or V4Params()
    table = calendar_series(steps.check_series(series), calendar)
    if table["has_bar"].all():
        # No session without a bar: every window and horizon of v4 is v3's, so the table is
        # v3's (remembered: a run that computes v3 too builds it once).
        v3_table = v3_call_table(series, tick=tick, params=p, peers=peers)
        return v3_table.with_columns(has_bar=pl.lit(True))
    table = with_session_indicators(table, p, min_bars_fraction=p.min_bars_fraction)
    table = levels_from_indicators(carried_bars(table), tick=tick, params=p)
    table = with_barriers(table, p, tick=tick)
    table = table.with_columns(
        pl.when(pl.col("has_bar")).then(pl.col(c)).alias(c) for c in _CALL_COLUMNS
    )
    return forecast(
        table, series, p, peers=peers, limit_across_missing_bars=limit_across_missing_bars
    )


def calendar_series(series: pl.DataFrame, calendar: TradingCalendar) -> pl.DataFrame:
    """``series`` on ``calendar`` (:func:`pipeline.analysis.sessions.on_trade_calendar`)."""
    if series.height == 0:
        return on_trade_calendar(series, [])
    first, last = series["session_date"][0], series["session_date"][-1]
    return on_trade_calendar(series, calendar.trade_dates(first, last))
