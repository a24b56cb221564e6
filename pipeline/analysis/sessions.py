"""Sessions are the trade calendar's sessions: a series with a row for every trade date.

A continuous series holds the bars that passed validation; a quarantined bar (an OHLC violation)
or a bar the source never delivered leaves a hole, and a window counted in rows then silently
spans more trade dates than it says ("10 sessions" over 13). :func:`on_trade_calendar` gives
every trade date between the first and the last bar its row: a session without a bar keeps its
place with null prices and volume and ``has_bar`` false.

What each indicator does with a session without a bar, by definition
(:func:`with_session_indicators`):

- windows count sessions (trade dates) and take their statistic over the bars present in them,
  with at least ``ceil(min_bars_fraction * N)`` bars (else null), from the N-th session on:
  SMA 20/50/200 and the recent, consolidation and 252-session extremes;
- the recursive indicators (EMA 21, Wilder ATR, RSI and ADX 14) update once per bar: they are
  computed on the bars present, so a close-to-close change (true range, RSI move, directional
  movement) spans the gap from the last close, and a session without a bar carries the last
  value, without an update;
- the SMA slopes and ``warm`` count sessions.

For the rules that read a bar of every session (swings, breakouts, falls, the kept levels),
:func:`carried_bars` gives a session without a bar the last settlement as a flat bar (open, high,
low and close at the last close): no new high, no new low, no move. It counts as a session
(a swing needs k sessions each side; a breakout's base is N trade dates) and never makes a
pivot that a real bar would not. No call is made on it (``has_bar`` false), and an outcome never
settles on it (:func:`pipeline.analysis.steps.with_outcomes`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date

import polars as pl

from pipeline.analysis import steps
from pipeline.analysis.params import CoreParams

#: The bar's own columns: null on a session without a bar until :func:`carried_bars`.
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
#: What a flat carried bar takes from the last bar (the contract it was priced in).
CARRIED_COLUMNS: tuple[str, ...] = ("contract", "raw_close", "offset", "factor")


def on_trade_calendar(series: pl.DataFrame, trade_dates: Sequence[date]) -> pl.DataFrame:
    """``series`` with one row per trade date from its first to its last bar: a trade date
    without a bar is a row of nulls (every column but ``session_date``) and ``has_bar`` false.

    ``trade_dates``: the root's trade calendar (any superset of the range, ascending; e.g.
    ``TradingCalendar.trade_dates(first, last)``). A bar on a date that is not a trade date is
    kept (it was settled: the calendar is wrong, not the bar). Causal: the rows up to D do not
    depend on bars after D.

    >>> days = [date(2024, 11, d) for d in (4, 5, 6, 7, 8)]
    >>> bars = pl.DataFrame({"session_date": [days[0], days[3]], "close": [1.0, 2.0]})
    >>> on_trade_calendar(bars, days).rows()
    [(datetime.date(2024, 11, 4), 1.0, True), (datetime.date(2024, 11, 5), None, False), (datetime.date(2024, 11, 6), None, False), (datetime.date(2024, 11, 7), 2.0, True)]
    """
    if series.height == 0:
        return series.with_columns(pl.lit(True).alias("has_bar"))
    first, last = series["session_date"][0], series["session_date"][-1]
    calendar = pl.DataFrame(
        {"session_date": [d for d in trade_dates if first <= d <= last]},
        schema={"session_date": pl.Date},
    )
    dates = pl.concat([calendar, series.select("session_date")]).unique().sort("session_date")
    return dates.join(
        series.with_columns(pl.lit(True).alias("has_bar")), on="session_date", how="left"
    ).with_columns(pl.col("has_bar").fill_null(False))


def min_bars(fraction: float) -> Callable[[int], int]:
    """The fewest bars a window of N sessions needs: ``ceil(fraction * N)``, at least 1.

    >>> [min_bars(0.5)(n) for n in (1, 10, 15, 200)]
    [1, 5, 8, 100]
    """
    return lambda window: max(1, math.ceil(fraction * window))


def with_session_indicators(
    table: pl.DataFrame, p: CoreParams, *, min_bars_fraction: float
) -> pl.DataFrame:
    """The indicators of :func:`pipeline.analysis.steps.with_indicators` on a series on its
    trade calendar (:func:`on_trade_calendar`), each defined for a session without a bar as the
    module docstring says. On a series without a missing session every column equals
    ``with_indicators``'. Units: those of :mod:`pipeline.analysis.indicators`.

    No bar on 6 Nov: the 3-session SMA of 6 Nov is the mean of the two bars in its window (10,
    12); ATR(2) is seeded on 7 Nov with the true ranges 3 and 5, the second from the last close
    (12, on 5 Nov) across the gap: (3 + 5) / 2 = 4, then (4 + 3) / 2 = 3.5.

    >>> days = [date(2024, 11, d) for d in (4, 5, 6, 7, 8)]
    >>> bars = pl.DataFrame({"session_date": [days[0], days[1], days[3], days[4]],
    ...     "open": [10.0, 11, 13, 14], "high": [11.0, 13, 17, 15], "low": [9.0, 10, 12, 13],
    ...     "close": [10.0, 12, 16, 14]})
    >>> p = CoreParams(sma_fast=3, atr_window=2)
    >>> table = with_session_indicators(on_trade_calendar(bars, days), p, min_bars_fraction=0.5)
    >>> table.select("has_bar", "sma20", "atr14").rows()
    [(True, None, None), (True, None, None), (False, 11.0, None), (True, 14.0, 4.0), (True, 15.0, 3.5)]
    """
    bars = table.filter(pl.col("has_bar"))
    recursive = steps.recursive_indicators(p)
    names = [e.meta.output_name() for e in recursive]
    per_bar = bars.select("session_date", *recursive)
    windowed = steps.windowed_indicators(p, min_bars=min_bars(min_bars_fraction))
    order = [  # with_indicators' column order
        *table.columns,
        *(e.meta.output_name() for e in windowed[:3]),
        *names,
        *(e.meta.output_name() for e in windowed[3:]),
    ]
    return (
        table.with_columns(*windowed)
        .join(per_bar, on="session_date", how="left")
        .select(order)
        .with_columns(pl.col(names).forward_fill())
        .with_columns(*steps.slope_indicators(p))
    )


def carried_bars(table: pl.DataFrame) -> pl.DataFrame:
    """A session without a bar given the last settlement as a flat bar (open = high = low = close
    = the last close, priced in the last bar's contract); ``has_bar`` stays false. Bars are
    unchanged.

    >>> t = pl.DataFrame({"open": [1.0, None], "high": [3.0, None], "low": [0.5, None],
    ...     "close": [2.0, None], "contract": ["H", None], "raw_close": [2.0, None],
    ...     "offset": [0.0, None], "factor": [1.0, None], "has_bar": [True, False]})
    >>> carried_bars(t).row(1)
    (2.0, 2.0, 2.0, 2.0, 'H', 2.0, 0.0, 1.0, False)
    """
    last_close = pl.col("close").forward_fill()
    carried = [c for c in CARRIED_COLUMNS if c in table.columns]
    return table.with_columns(
        *(
            pl.when(pl.col("has_bar")).then(pl.col(c)).otherwise(last_close).alias(c)
            for c in PRICE_COLUMNS
            if c in table.columns
        ),
        *(pl.col(c).forward_fill() for c in carried),
    )
