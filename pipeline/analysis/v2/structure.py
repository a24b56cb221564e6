"""Structure facts of every session, computed causally (row D reads rows <= D only).

Each fact has one function here (or in :mod:`.statements`) whose docstring is its definition; the
note prints a fact only when it is set, and :mod:`.statements` checks every printed fact against
the bars. Prices are in the internal (adjusted) frame unless a name says ``_pct`` (a fraction of
price in the session's own front-contract frame, so that rolls do not bend percentages).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from pipeline.analysis.v2.params import V2Params


class RangeExtremes:
    """O(1) min / max / argmax / argmin over index ranges of a fixed array (sparse tables).

    >>> r = RangeExtremes(np.array([3.0, 1.0, 4.0, 1.0, 5.0]))
    >>> r.max(np.array([0, 1]), np.array([2, 3])).tolist(), r.argmin(np.array([0]), np.array([4])).tolist()
    ([4.0, 4.0], [3])

    Of equal values the latest index wins (the most recent extreme).
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=float)
        n = self.values.size
        self._max = [np.arange(n)]
        self._min = [np.arange(n)]
        width = 1
        while 2 * width <= n:
            prev_max, prev_min = self._max[-1], self._min[-1]
            left_max, right_max = prev_max[: n - 2 * width + 1], prev_max[width : n - width + 1]
            left_min, right_min = prev_min[: n - 2 * width + 1], prev_min[width : n - width + 1]
            v = self.values
            # Ties: the later index for max and min (the most recent extreme).
            self._max.append(np.where(v[right_max] >= v[left_max], right_max, left_max))
            self._min.append(np.where(v[right_min] <= v[left_min], right_min, left_min))
            width *= 2

    def _arg(self, tables: list[np.ndarray], lo: np.ndarray, hi: np.ndarray, *, is_max: bool):
        lo, hi = np.asarray(lo), np.asarray(hi)
        level = np.floor(np.log2(np.maximum(hi - lo + 1, 1))).astype(int)
        out = np.empty(lo.shape, dtype=int)
        for k in np.unique(level):
            sel = level == k
            left = tables[k][lo[sel]]
            right = tables[k][hi[sel] - (1 << k) + 1]
            lv, rv = self.values[left], self.values[right]
            better = (rv >= lv) if is_max else (rv <= lv)
            out[sel] = np.where(better, right, left)
        return out

    def argmax(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Index of the largest value in [lo, hi] (inclusive; the latest of equal values)."""
        return self._arg(self._max, lo, hi, is_max=True)

    def argmin(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self._arg(self._min, lo, hi, is_max=False)

    def max(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self.values[self.argmax(lo, hi)]

    def min(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self.values[self.argmin(lo, hi)]


def falls_and_rebounds(table: pl.DataFrame, params: V2Params) -> pl.DataFrame:
    """Per session: the fall from the recent high and the last selloff's rebound.

    * ``fall_high_index``: the highest high of the last ``fall_window`` sessions (today
      included; the latest of equal highs); ``fall_low_index``: the lowest low since it;
    * ``fall_pct``: close below that high, as a fraction of the high (front frame);
      ``fall_depth_pct``: that low below it;
    * ``fall_recovered``: the share of the fall from the high to that low that the close has
      recovered, (close - low) / (high - low) (0 at the low; null if high == low);
    * ``selloff_low_index``: the lowest low of the last ``rebound_window`` sessions;
      ``selloff_high_index``: the highest high of the ``fall_window`` sessions up to it;
      ``selloff_pct``: that low below that high as a fraction of the high; ``selloff_recovered``:
      (close - low) / (high - low), the share of that selloff won back.
    """
    n = table.height
    high = table["high"].to_numpy().astype(float)
    low = table["low"].to_numpy().astype(float)
    close = table["close"].to_numpy().astype(float)
    offset = table["offset"].to_numpy().astype(float)
    idx = np.arange(n)
    highs, lows = RangeExtremes(high), RangeExtremes(low)
    fall_high = highs.argmax(np.maximum(idx - params.fall_window + 1, 0), idx)
    fall_low = lows.argmin(fall_high, idx)
    sell_low = lows.argmin(np.maximum(idx - params.rebound_window + 1, 0), idx)
    sell_high = highs.argmax(np.maximum(sell_low - params.fall_window + 1, 0), sell_low)

    def frac_below(top: np.ndarray, value: np.ndarray) -> np.ndarray:
        return 1.0 - (value - offset) / (top - offset)

    def recovered(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        span = top - bottom
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(span > 0, (close - bottom) / span, np.nan)

    return pl.DataFrame(
        {
            "fall_high_index": fall_high,
            "fall_low_index": fall_low,
            "fall_pct": frac_below(high[fall_high], close),
            "fall_depth_pct": frac_below(high[fall_high], low[fall_low]),
            "fall_recovered": recovered(high[fall_high], low[fall_low]),
            "selloff_high_index": sell_high,
            "selloff_low_index": sell_low,
            "selloff_pct": frac_below(high[sell_high], low[sell_low]),
            "selloff_recovered": recovered(high[sell_high], low[sell_low]),
        },
        schema={
            "fall_high_index": pl.Int64,
            "fall_low_index": pl.Int64,
            "fall_pct": pl.Float64,
            "fall_depth_pct": pl.Float64,
            "fall_recovered": pl.Float64,
            "selloff_high_index": pl.Int64,
            "selloff_low_index": pl.Int64,
            "selloff_pct": pl.Float64,
            "selloff_recovered": pl.Float64,
        },
    ).with_columns(pl.col("fall_recovered", "selloff_recovered").fill_nan(None))


def breakouts(table: pl.DataFrame, params: V2Params) -> pl.DataFrame:
    """Per session: a recent breakout to new highs (or breakdown to new lows) that still holds.

    A *breakout* on session j: the close of j is above every high of the ``breakout_window``
    sessions before j, and the highest of those highs was set at least ``breakout_base_sessions``
    sessions before j (price cleared an old high, not yesterday's). It is *current* on session i
    if j is at most ``breakout_memory_sessions`` sessions before i and every close since j is above
    the high it cleared. ``breakout_index`` / ``breakout_level``: the latest current breakout and
    the high it cleared (internal frame); null when none. Breakdowns mirror (lows, closes below).
    """
    n = table.height
    high = table["high"].to_numpy().astype(float)
    low = table["low"].to_numpy().astype(float)
    close = table["close"].to_numpy().astype(float)
    idx = np.arange(n)
    w, base, memory = (
        params.breakout_window,
        params.breakout_base_sessions,
        params.breakout_memory_sessions,
    )
    columns = {}
    for kind, values, extremes in (
        ("breakout", high, RangeExtremes(high)),
        ("breakdown", low, RangeExtremes(low)),
    ):
        up = kind == "breakout"
        prior_lo, prior_hi = np.maximum(idx - w, 0), idx - 1
        valid = idx >= w
        where = np.zeros(n, dtype=int)
        where[valid] = (
            extremes.argmax(prior_lo[valid], prior_hi[valid])
            if up
            else extremes.argmin(prior_lo[valid], prior_hi[valid])
        )
        level = values[where]
        cleared = valid & ((close > level) if up else (close < level)) & (idx - where >= base)
        event_index = np.full(n, -1)
        event_level = np.full(n, np.nan)
        last, last_level, extreme_close = -1, np.nan, np.nan
        for i in range(n):
            if cleared[i]:
                last, last_level, extreme_close = i, level[i], close[i]
            elif last >= 0:
                extreme_close = min(extreme_close, close[i]) if up else max(extreme_close, close[i])
            held = (extreme_close > last_level) if up else (extreme_close < last_level)
            if last >= 0 and i - last <= memory and held:
                event_index[i], event_level[i] = last, last_level
        columns[f"{kind}_index"] = pl.Series(event_index, dtype=pl.Int64)
        columns[f"{kind}_level"] = pl.Series(event_level, dtype=pl.Float64)
    return (
        pl.DataFrame(columns)
        .with_columns(
            pl.when(pl.col(f"{k}_index") >= 0).then(pl.col(f"{k}_index")).alias(f"{k}_index")
            for k in ("breakout", "breakdown")
        )
        .with_columns(pl.col("breakout_level", "breakdown_level").fill_nan(None))
    )


def swing_runs(
    swings: pl.DataFrame, close: np.ndarray, dates: Sequence[date], params: V2Params
) -> dict[str, list]:
    """Per session: the run of higher swing lows and of lower swing highs, as DESIGN defines it.

    "Higher lows since D" on session i: the confirmed swing lows (confirm_index <= i) whose pivot
    is on or after D number at least ``structure_min_swings``; each is higher than the one before
    it; D is the pivot date of the first of them; and no close since D (to i) is below that first
    low. The run is the longest such suffix of the confirmed lows. "Lower highs since D" mirrors
    (each lower than the one before, no close above the first since D).

    Also per session the last and the previous confirmed swing high and low (prices), which the
    trend rules read.
    """
    n = close.size
    close_list = close.tolist()
    checked_low = checked_high = -1  # pivot index of the run start whose span has been checked
    k = params.structure_min_swings
    out: dict[str, list] = {
        "higher_lows_since": [None] * n,
        "higher_lows_count": [0] * n,
        "lower_highs_since": [None] * n,
        "lower_highs_count": [0] * n,
        "last_swing_high": [None] * n,
        "prev_swing_high": [None] * n,
        "last_swing_low": [None] * n,
        "prev_swing_low": [None] * n,
    }
    pivots = swings.select("kind", "pivot_index", "price", "confirm_index").rows()
    nxt = 0
    lows: list[tuple[float, int]] = []  # the current rising run: (price, pivot_index)
    highs: list[tuple[float, int]] = []  # the current falling run
    last_high = prev_high = last_low = prev_low = None
    for i in range(n):
        while nxt < len(pivots) and pivots[nxt][3] <= i:
            kind, pivot_index, price, _ = pivots[nxt]
            nxt += 1
            if kind == "low":
                prev_low, last_low = last_low, price
                if lows and price > lows[-1][0]:
                    lows.append((price, pivot_index))
                else:
                    lows = [(price, pivot_index)]
            else:
                prev_high, last_high = last_high, price
                if highs and price < highs[-1][0]:
                    highs.append((price, pivot_index))
                else:
                    highs = [(price, pivot_index)]
        # A close beyond the first swing of a run ends the run from that swing on (checked over
        # the whole span only when the first swing is new; else today's close is enough).
        while lows and (
            close_list[i] < lows[0][0]
            or (lows[0][1] != checked_low and min(close_list[lows[0][1] : i + 1]) < lows[0][0])
        ):
            lows.pop(0)
        checked_low = lows[0][1] if lows else -1
        while highs and (
            close_list[i] > highs[0][0]
            or (highs[0][1] != checked_high and max(close_list[highs[0][1] : i + 1]) > highs[0][0])
        ):
            highs.pop(0)
        checked_high = highs[0][1] if highs else -1
        if len(lows) >= k:
            out["higher_lows_since"][i] = dates[lows[0][1]]
            out["higher_lows_count"][i] = len(lows)
        if len(highs) >= k:
            out["lower_highs_since"][i] = dates[highs[0][1]]
            out["lower_highs_count"][i] = len(highs)
        out["last_swing_high"][i], out["prev_swing_high"][i] = last_high, prev_high
        out["last_swing_low"][i], out["prev_swing_low"][i] = last_low, prev_low
    return out


def sma_holds(close: np.ndarray, sma: np.ndarray, dates: Sequence[date], params: V2Params):
    """Per session: "held above the 50-day since D" and "stayed below the 50-day since D".

    Above since D on session i: every close from D to i is above that session's SMA50, the
    close before D is not (or D is the first session with an SMA50), and there are at least
    ``sma_hold_min_sessions`` such sessions. Below mirrors. Null when it does not hold.
    """
    n = close.size
    above: list[date | None] = [None] * n
    below: list[date | None] = [None] * n
    start_above = start_below = -1
    for i in range(n):
        s = sma[i]
        if not np.isfinite(s):
            start_above = start_below = -1
            continue
        if close[i] > s:
            start_above = i if start_above < 0 else start_above
            start_below = -1
        elif close[i] < s:
            start_below = i if start_below < 0 else start_below
            start_above = -1
        else:
            start_above = start_below = -1
        if start_above >= 0 and i - start_above + 1 >= params.sma_hold_min_sessions:
            above[i] = dates[start_above]
        if start_below >= 0 and i - start_below + 1 >= params.sma_hold_min_sessions:
            below[i] = dates[start_below]
    return above, below
