"""Slow, obvious loops over the trade calendar: the oracles of v4's tests.

Written from the definitions in pipeline/analysis/sessions.py, not from its code: a session is a
trade date of the calendar, with or without a bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

import polars as pl

from pipeline.market.calendar import EQUITY

Values = list[float | None]


def on_calendar(series: pl.DataFrame, column: str) -> Values:
    """``column`` per trade date from the first bar to the last (None: no bar that day)."""
    by_date = dict(zip(series["session_date"].to_list(), series[column].to_list(), strict=True))
    days = EQUITY.trade_dates(series["session_date"][0], series["session_date"][-1])
    return [by_date.get(day) for day in days]


def window_statistic(values: Values, window: int, statistic: str, fraction: float) -> Values:
    """Per session: the statistic of the bars present in the last ``window`` sessions, None
    before the window-th session or with fewer than ceil(fraction * window) bars."""
    out: Values = []
    for i in range(len(values)):
        present = [v for v in values[max(0, i - window + 1) : i + 1] if v is not None]
        if i < window - 1 or len(present) < max(1, math.ceil(fraction * window)):
            out.append(None)
        elif statistic == "mean":
            out.append(sum(present) / len(present))
        else:
            out.append(max(present) if statistic == "max" else min(present))
    return out


def wilder_atr(series: pl.DataFrame, n: int) -> Values:
    """Wilder's ATR over the bars (one update per bar; the true range from the previous bar's
    close, however many sessions before)."""
    high, low, close = (series[c].to_list() for c in ("high", "low", "close"))
    ranges = [None] + [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(1, len(close))
    ]
    out: Values = [None] * len(close)
    atr = None
    for i in range(n, len(close)):
        if atr is None:
            atr = sum(r for r in ranges[1 : n + 1] if r is not None) / n
        else:
            atr = (atr * (n - 1) + ranges[i]) / n  # type: ignore[operator]
        out[i] = atr
    return out


def wilder_rsi(series: pl.DataFrame, n: int) -> Values:
    """Wilder's RSI over the bars (the move from the previous bar's close)."""
    close = series["close"].to_list()
    moves = [close[i] - close[i - 1] for i in range(1, len(close))]
    out: Values = [None] * len(close)
    gain = loss = 0.0
    for i in range(n, len(close)):
        if i == n:
            gain = sum(max(m, 0.0) for m in moves[:n]) / n
            loss = sum(max(-m, 0.0) for m in moves[:n]) / n
        else:
            move = moves[i - 1]
            gain = (gain * (n - 1) + max(move, 0.0)) / n
            loss = (loss * (n - 1) + max(-move, 0.0)) / n
        out[i] = 0.0 if gain + loss == 0 else 100.0 * gain / (gain + loss)
    return out


def breakouts(series: pl.DataFrame, days: Sequence[date], *, window: int, base: int) -> set[date]:
    """Trade dates whose close is above every high of the bars in the ``window`` trade dates
    before it, the highest of them (the latest of equal ones) set at least ``base`` trade dates
    before."""
    position = {day: i for i, day in enumerate(days)}
    bars = list(series.select("session_date", "high", "close").iter_rows())
    out = set()
    for j, (day, _, close) in enumerate(bars):
        at = position[day]
        if at < window:
            continue
        prior = [(position[d], h) for d, h, _ in bars[:j] if position[d] >= at - window]
        top = max(h for _, h in prior)
        set_at = max(p for p, h in prior if h == top)
        if close > top and at - set_at >= base:
            out.add(day)
    return out


def outcomes(
    table: pl.DataFrame, *, horizon: int, sessions: int, atr: float
) -> list[tuple[int | None, int | None]]:
    """(outcome, steps) per row: the first run of ``sessions`` closes beyond a barrier (by
    ``atr`` ATR) in the ``horizon`` sessions after the row; a session without a bar has no close.
    0 bear, 1 sideways, 2 bull; (None, None): fewer than ``horizon`` sessions after it or no
    barrier."""
    rows = list(
        table.select("close", "has_bar", "upper_internal", "lower_internal", "atr14").iter_rows()
    )
    out: list[tuple[int | None, int | None]] = []
    for i, (_, _, upper, lower, atr14) in enumerate(rows):
        if i + horizon >= len(rows) or upper is None or lower is None or atr14 is None:
            out.append((None, None))
            continue
        first = {}
        for side in ("up", "down"):
            run = 0
            for step in range(1, horizon + 1):
                close, has_bar = rows[i + step][0], rows[i + step][1]
                beyond = has_bar and (
                    close > upper + atr * atr14 if side == "up" else close < lower - atr * atr14
                )
                run = run + 1 if beyond else 0
                if run >= sessions:
                    first[side] = step
                    break
        up, down = first.get("up", horizon + 1), first.get("down", horizon + 1)
        outcome = 2 if up < down else 0 if down < up else 1
        out.append((outcome, min(up, down, horizon)))
    return out


def assert_close(got: Sequence[float | None], expected: Sequence[float | None]) -> None:
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if g is None or e is None:
            assert g is None and e is None, f"row {i}: {g} != {e}"
        else:
            assert math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-9), f"row {i}: {g} != {e}"
