"""v3's statement definitions: words that split real data, one figure per concept.

* **Pullback speed.** v2 called a pullback impulsive when it lost more per session than the
  whole impulse had gained per session: a one-session dip against a twenty-session advance was
  "impulsive" nearly always (92 % of its statements). v3 compares like with like: a pullback of
  n sessions (``n >= speed_min_sessions``; a shorter one gets no speed word) is impulsive when it
  gave back more per session than the impulse gained over its own last n sessions, else
  corrective.
* **Drawdown and recovery.** One definition for every sentence that cites one: the drawdown is
  ``1 - close / peak`` with the peak the highest high of the last 252 sessions (``high_252``),
  the trough the lowest low since that peak, and the share recovered
  ``(close - trough) / (peak - trough)``; in the front contract's prices, and none where the
  peak or the close is at or below zero (no percentage of such a price means anything).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from pipeline.analysis.v2.calls import latest_extreme_index
from pipeline.analysis.v2.statements import false_statements as v2_false_statements
from pipeline.analysis.v3.params import V3Params


def pullback_speed(
    high: Sequence[float],
    low: Sequence[float],
    start: int,
    extreme: int,
    back: int,
    *,
    up: bool,
    min_sessions: int,
) -> str | None:
    """``impulsive`` | ``corrective`` | None for the pullback from ``extreme`` to ``back`` of the
    impulse from ``start`` (indices; up: a dip from a high, down mirrored).

    >>> h = [10.0, 12.0, 14.0, 16.0, 15.0, 13.0]
    >>> l = [9.0, 11.0, 13.0, 15.0, 13.0, 10.0]
    >>> # 2 sessions: 6 lost (3 a session); the impulse's last 2 gained 5 (2.5 a session)
    >>> pullback_speed(h, l, 0, 3, 5, up=True, min_sessions=2)
    'impulsive'
    >>> pullback_speed(h, l, 0, 3, 4, up=True, min_sessions=2) is None  # one session: no word
    True
    """
    sessions = back - extreme
    if sessions < min_sessions:
        return None
    toward, against = (high, low) if up else (low, high)
    sign = 1.0 if up else -1.0
    first = max(start, extreme - sessions)
    gained = sign * toward[extreme] - min(sign * against[j] for j in range(first, extreme + 1))
    lost = sign * toward[extreme] - min(sign * against[j] for j in range(extreme + 1, back + 1))
    per_session_gained = gained / max(extreme - first, 1)
    return "impulsive" if lost / sessions > per_session_gained else "corrective"


def with_pullback_speed(table: pl.DataFrame, p: V3Params) -> pl.DataFrame:
    """``pullback_speed`` under v3's definition (module docstring), from v2's pullback dates."""
    index = {d: i for i, d in enumerate(table["session_date"].to_list())}
    high, low = table["high"].to_list(), table["low"].to_list()
    rows = zip(
        table["orientation"].to_list(),
        table["pullback_start_date"].to_list(),
        table["pullback_extreme_date"].to_list(),
        table["pullback_low_date"].to_list(),
        table["pullback_depth"].to_list(),
        strict=True,
    )
    speeds: list[str | None] = []
    for orientation, start, extreme, back, depth in rows:
        if depth is None or start is None or extreme is None or back is None:
            speeds.append(None)
            continue
        speeds.append(
            pullback_speed(
                high,
                low,
                index[start],
                index[extreme],
                index[back],
                up=orientation == "up",
                min_sessions=p.speed_min_sessions,
            )
        )
    return table.with_columns(pl.Series("pullback_speed", speeds, dtype=pl.String))


def drawdown_and_recovery(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    dates: Sequence[date],
    *,
    window: int,
    offset: Sequence[float] | None = None,
    factor: Sequence[float] | None = None,
) -> dict[str, list[object]]:
    """Per session: ``drawdown_pct`` (1 - close / peak), ``drawdown_recovered`` ((close -
    trough) / (peak - trough)), ``drawdown_peak_date`` and ``drawdown_trough_date``. The peak is
    the highest high of the last ``window`` sessions (the latest of equals), the trough the lowest
    low since it (the latest of equals). Prices in the internal frame, read in each session's
    front contract (``(price - offset) / factor`` with that session's offset and factor: a roll
    between peak and today moves both alike). None where the peak or the close is <= 0.

    >>> out = drawdown_and_recovery([10.0, 20.0, 15.0, 14.0], [9.0, 18.0, 10.0, 12.0],
    ...     [9.5, 19.0, 12.0, 16.0], [date(2020, 1, d) for d in (2, 3, 6, 7)], window=252)
    >>> out["drawdown_pct"][3], out["drawdown_recovered"][3], out["drawdown_trough_date"][3]
    (0.2, 0.6, datetime.date(2020, 1, 6))
    """
    n = len(close)
    offset = offset if offset is not None else [0.0] * n
    factor = factor if factor is not None else [1.0] * n
    peaks = latest_extreme_index(list(high), window, highest=True)
    lows = _RunningMin(low)
    out: dict[str, list[object]] = {
        "drawdown_pct": [None] * n,
        "drawdown_recovered": [None] * n,
        "drawdown_peak_date": [None] * n,
        "drawdown_trough_date": [None] * n,
    }
    for i in range(n):
        peak_at = peaks[i]
        trough_at = lows.argmin(peak_at, i)
        peak = (high[peak_at] - offset[i]) / factor[i]
        trough = (low[trough_at] - offset[i]) / factor[i]
        front_close = (close[i] - offset[i]) / factor[i]
        if not (peak > 0 and front_close > 0):
            continue
        out["drawdown_pct"][i] = round(1.0 - front_close / peak, 6)
        out["drawdown_recovered"][i] = (
            round((front_close - trough) / (peak - trough), 6) if peak > trough else None
        )
        out["drawdown_peak_date"][i] = dates[peak_at]
        out["drawdown_trough_date"][i] = dates[trough_at]
    return out


def with_drawdown(table: pl.DataFrame, p: V3Params) -> pl.DataFrame:
    """:func:`drawdown_and_recovery` of the table's bars (peak window ``extreme_window``)."""
    out = drawdown_and_recovery(
        table["high"].to_list(),
        table["low"].to_list(),
        table["close"].to_list(),
        table["session_date"].to_list(),
        window=p.extreme_window,
        offset=table["offset"].to_list(),
        factor=table["factor"].to_list(),
    )
    return table.with_columns(
        pl.Series("drawdown_pct", out["drawdown_pct"], dtype=pl.Float64),
        pl.Series("drawdown_recovered", out["drawdown_recovered"], dtype=pl.Float64),
        pl.Series("drawdown_peak_date", out["drawdown_peak_date"], dtype=pl.Date),
        pl.Series("drawdown_trough_date", out["drawdown_trough_date"], dtype=pl.Date),
    )


class _RunningMin:
    """argmin of ``values[a..b]`` (latest of equals) by a sparse table: O(1) per query."""

    def __init__(self, values: Sequence[float]) -> None:
        arr = np.asarray(values, dtype=float)
        n = len(arr)
        self.values = arr
        self.table = [np.arange(n)]
        span = 1
        while 2 * span <= n:
            prev = self.table[-1]
            left, right = prev[: n - 2 * span + 1], prev[span : n - span + 1]
            self.table.append(np.where(arr[right] <= arr[left], right, left))
            span *= 2

    def argmin(self, a: int, b: int) -> int:
        level = int(np.log2(b - a + 1))
        left, right = self.table[level][a], self.table[level][b - (1 << level) + 1]
        return int(right if self.values[right] <= self.values[left] else left)


def false_statements(table: pl.DataFrame, *, tick: float) -> pl.DataFrame:
    """v3's false statements: v2's checks of every fact v3 prints with v2's definition, and the
    pullback's speed under v3's (recomputed here from the bars, apart from
    :func:`pullback_speed`): (session_date, fact, detail), empty when all hold."""
    p = V3Params()

    def like_span(
        toward: np.ndarray, against: np.ndarray, start: int, extreme: int, back: int
    ) -> str | None:
        n = back - extreme
        if n < p.speed_min_sessions:
            return None
        first = max(start, extreme - n)
        gained = (toward[extreme] - against[first : extreme + 1].min()) / max(extreme - first, 1)
        lost = (toward[extreme] - against[extreme + 1 : back + 1].min()) / n
        return "impulsive" if lost > gained else "corrective"

    return v2_false_statements(table, tick=tick, params=p, speed_rule=like_span)
