"""Hand-built histories a chartist would name at a glance, and what v2 calls on their last day:
a crash, a V rebound, a breakout to new highs, a grinding uptrend over a rising 50-day.

Each path is deterministic (linear pieces, compounding falls, a sawtooth that makes swings); the
expected values are worked out from the path itself (highs, lows, closes), not read back from
the code under test.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.calls import call_table as v1_call_table
from pipeline.analysis.v2.calls import call_table
from pipeline.analysis.v2.statements import false_statements
from tests.pipeline.analysis.builders import on_quarter_grid, series_frame

WICK = 4.0  # points above / below each candle's body


def sawtooth(n: int, period: int, amplitude: float) -> np.ndarray:
    k = np.arange(n) % period
    return amplitude * (np.abs(k - period / 2) / (period / 2) * 2 - 1)


def alternating(n: int, size: float, first: int = 1) -> np.ndarray:
    return 1 + size * np.where(np.arange(n) % 2 == 0, first, -first)


UPTREND = 2000 + 2.0 * np.arange(300) + sawtooth(300, 10, 15)
CRASH = UPTREND[-1] * 0.975 ** np.arange(1, 16) * alternating(15, 0.004)  # ~31 % in 15 sessions
REBOUND = CRASH[-1] * 1.022 ** np.arange(1, 16) * alternating(15, 0.004, first=-1)
RANGE = 1950 + 50 * np.sin(np.arange(280) * 2 * np.pi / 20)  # 1900..2000, period 20
BREAKOUT = np.concatenate([RANGE, [2020.0, 2045.0, 2060.0]])
GRIND = 2000 + 1.5 * np.arange(320) + sawtooth(320, 8, 10)


def last_call(closes: np.ndarray) -> tuple[pl.DataFrame, dict]:
    series = series_frame(on_quarter_grid(closes), wick=WICK, root="ES")
    table = call_table(series, tick=0.25)
    assert false_statements(table, tick=0.25).height == 0
    return table, table.row(-1, named=True)


def test_a_crash_is_a_bearish_crash_with_the_line_above_the_close() -> None:
    table, call = last_call(np.concatenate([UPTREND, CRASH]))
    high30 = table["high"].tail(30).max()
    close = call["close"]
    assert call["fall_pct"] == pytest.approx(1 - close / high30)
    assert call["fall_pct"] > 0.30
    # 25 % below a 200-day that still rises 1.7 % a month: a breakdown, not "Neutral, range".
    assert (call["primary_trend"], call["trend_rule"]) == ("Bearish", "breakdown")
    assert call["perspective"] == "crash"
    assert call["orientation"] == "down"
    atr = call["atr14"]
    # Fifteen straight down days leave no structure within 4 ATR above: the line is projected
    # line_preferred_atr (1.5) ATR above a close of the crash, the bias below its low.
    assert call["line_projected"] and call["line_low"] > close
    assert call["line_reason"].startswith("projected beyond the close of")
    assert 0.25 <= (call["line_low"] - close) / atr <= 4
    assert call["bias_projected"] and call["bias_high"] < close
    assert call["bias_reason"].startswith("projected beyond the low of")
    assert call["below_sma50_since"] is not None
    # v1 on the same bars: not a crash (its vocabulary has none).
    v1 = v1_call_table(series_frame(on_quarter_grid(np.concatenate([UPTREND, CRASH])), wick=WICK,
                                    root="ES"), tick=0.25).row(-1, named=True)  # fmt: skip
    assert v1["perspective"] != "crash"


def test_a_v_rebound_is_a_rebound_after_the_crash() -> None:
    table, call = last_call(np.concatenate([UPTREND, CRASH, REBOUND]))
    low = table["low"].tail(63).min()
    low_at = int(table["low"].tail(63).arg_min()) + table.height - 63
    high = table["high"][max(0, low_at - 29) : low_at + 1].max()
    assert call["selloff_pct"] == pytest.approx(1 - low / high)
    assert call["selloff_recovered"] == pytest.approx((call["close"] - low) / (high - low))
    assert call["selloff_recovered"] > 0.8  # won back four fifths of the fall
    assert call["perspective"] == "rebound after crash"
    assert call["primary_trend"] == "Neutral"  # below a 200-day above, above a 50-day below
    # The rebound accepted through the downward call's line: the call turned up. Its line in
    # the sand is support below the close on the (still falling) 50-day, its bias the old
    # support the crash broke, now resistance above.
    assert call["orientation"] == "up"
    assert call["line_high"] < call["close"] and not call["line_projected"]
    assert call["line_low"] <= call["sma50"] <= call["line_high"]
    assert call["line_reason"].startswith("falling 50-day")
    assert call["bias_low"] > call["close"] and not call["bias_projected"]
    assert call["bias_reason"].startswith("broken support (swing low of")


def test_a_breakout_to_new_highs_keeps_the_old_range_top_as_the_line() -> None:
    table, call = last_call(BREAKOUT)
    range_top = on_quarter_grid(RANGE).max() + WICK
    assert call["perspective"] == "breakout to new highs"
    assert call["breakout_level"] == range_top
    assert call["breakout_date"] == table["session_date"][len(RANGE)]
    assert call["orientation"] == "up"
    # Old resistance turned support: the range's swing highs, accepted above, make the line.
    assert call["line_low"] <= range_top <= call["line_high"] + 0.25
    members = call["line_members"].split(",")
    assert members and all(m.startswith("swing_high:") and m.endswith(":flipped") for m in members)
    assert call["line_reason"].startswith("prior breakout structure (swing highs of")
    # Nothing above an all-time high: the bias level is projected beyond the recent high.
    assert call["bias_projected"] and call["bias_low"] > call["close"]
    assert call["bias_reason"].startswith("projected beyond the high of")


def test_a_grinding_uptrend_has_its_line_next_to_the_rising_50_day() -> None:
    _, call = last_call(GRIND)
    assert (call["primary_trend"], call["trend_rule"]) == ("Bullish", "sma_stack")
    assert call["perspective"] == "trending higher"
    assert call["sma50_change"] > 0 and call["sma50"] < call["close"]
    atr = call["atr14"]
    line_distance = (call["close"] - call["line_high"]) / atr
    assert 0.25 <= line_distance <= 4
    # The line sits on the rising 50-day: within 0.5 ATR of it.
    assert min(abs(call["sma50"] - call["line_low"]), abs(call["sma50"] - call["line_high"])) <= (
        0.5 * atr
    )
    assert call["higher_lows_since"] is not None and call["higher_lows_count"] >= 3
    assert call["above_sma50_since"] is not None
    # Every swing low since the first of the run is higher than the one before.
    assert call["pullback_depth"] in (None, "shallow", "moderate")
