"""v2's regime labels, each by its rule: a golden table with one row per rule, worked by hand."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from pipeline.analysis.v2.params import V2Params
from pipeline.analysis.v2.regime import PERSPECTIVES, accepted_side, with_perspective, with_trend

#: consolidation_window 1: the drift over the window is 0, so only the range decides.
P = dataclasses.replace(V2Params(), consolidation_window=1)

BASE = {
    "close": 100.0, "atr14": 2.0, "sma20": 99.0, "primary_trend": "Neutral",
    "fall_pct": 0.0, "fall_recovered": None, "fall_depth_pct": 0.0, "selloff_pct": 0.0,
    "selloff_recovered": None, "breakout_index": None, "breakdown_index": None,
    "range_high": 110.0, "range_low": 90.0, "high_252": 130.0, "low_252": 70.0,
}  # fmt: skip
#: (changes to BASE, expected perspective, rule number)
CASES = [
    ({"fall_pct": 0.25, "fall_recovered": 0.1}, "crash", 1),
    ({"fall_pct": 0.20, "fall_recovered": 0.382}, "crash", 1),  # both bounds inclusive
    ({"fall_pct": 0.12, "fall_recovered": 0.2}, "selloff", 2),
    ({"fall_pct": 0.25, "fall_recovered": 0.5, "fall_depth_pct": 0.4}, "rebound after crash", 3),
    ({"fall_pct": 0.11, "fall_recovered": 0.4, "fall_depth_pct": 0.16}, "rebound after selloff", 3),
    ({"selloff_pct": 0.3, "selloff_recovered": 0.9}, "rebound after crash", 3),
    ({"selloff_pct": 0.3, "selloff_recovered": 1.2}, "range", 7),  # above the old high: no rebound
    ({"selloff_pct": 0.09, "selloff_recovered": 0.5}, "range", 7),  # 9 % is no selloff
    ({"breakout_index": 5}, "breakout to new highs", 4),
    ({"breakdown_index": 5}, "breakdown to new lows", 4),
    ({"range_high": 103.0, "range_low": 96.0, "high_252": 104.0}, "consolidation near highs", 5),
    ({"range_high": 103.0, "range_low": 96.0, "low_252": 95.0}, "consolidation near lows", 5),
    ({"primary_trend": "Bullish"}, "trending higher", 6),
    ({"primary_trend": "Bullish", "sma20": 101.0}, "pullback within uptrend", 6),
    ({"primary_trend": "Bearish", "sma20": 101.0}, "trending lower", 6),
    ({"primary_trend": "Bearish"}, "rebound within downtrend", 6),
    ({}, "range", 7),
]


@pytest.mark.parametrize(("changes", "label", "rule"), CASES)
def test_each_perspective_by_its_rule(changes: dict, label: str, rule: int) -> None:
    frame = pl.DataFrame([{**BASE, **changes}], infer_schema_length=None).with_columns(
        pl.col("breakout_index", "breakdown_index").cast(pl.Int64),
        pl.col("fall_recovered", "selloff_recovered").cast(pl.Float64),
    )
    out = with_perspective(frame, P).row(0, named=True)
    assert (out["perspective"], out["perspective_rule"]) == (label, rule)
    assert out["perspective"] in PERSPECTIVES


def test_a_ten_percent_fall_is_never_a_range() -> None:
    rows = [
        {**BASE, "fall_pct": f, "fall_recovered": r, "fall_depth_pct": max(f, 0.1)}
        for f in (0.10, 0.15, 0.2, 0.3, 0.45)
        for r in (0.0, 0.2, 0.382, 0.5, 0.9)
    ]
    out = with_perspective(pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("breakout_index", "breakdown_index").cast(pl.Int64),
        pl.col("selloff_recovered").cast(pl.Float64),
    ), P)  # fmt: skip
    assert set(out["perspective"]) <= {
        "crash", "selloff", "rebound after crash", "rebound after selloff"
    }  # fmt: skip


def test_acceptance_side_turns_on_two_settlements_beyond_by_a_tenth_of_an_atr() -> None:
    frame = pl.DataFrame(
        {
            "close": [99.0, 100.3, 100.3, 100.05, 99.95, 99.7, 99.7],
            "level": [100.0] * 7,
            "atr14": [2.0] * 7,  # acceptance margin 0.2
        }
    )
    side = frame.select(accepted_side("level", P).alias("side"))["side"].to_list()
    # Before any acceptance: the side of each close. From the second settlement above 100.2:
    # above, through 100.05 and 99.95 (no acceptance below), until two settle below 99.8.
    assert side == [-1, 1, 1, 1, 1, 1, -1]


def test_breakdown_turns_a_crash_bearish_before_the_averages_cross() -> None:
    common = {
        "sma200": 3000.0, "sma200_change": 20.0, "sma50": 3300.0, "sma50_change": -50.0,
        "offset": 0.0, "atr14": 100.0, "last_swing_high": 3100.0, "prev_swing_high": 3400.0,
        "last_swing_low": 2600.0, "prev_swing_low": 2900.0,
        "fall_pct": 0.15, "fall_recovered": 0.0,  # a selloff, not a crash: no crash rule
    }  # fmt: skip
    closes = [2400.0, 2400.0, 2750.0, 2750.0]  # 20 % and 8 % below the SMA200
    frame = pl.DataFrame([{**common, "close": c} for c in closes])
    out = with_trend(frame, P)
    # SMA50 above SMA200: v1's rule says Neutral. 20 % below a 200-day rising 0.7 % a month,
    # under a falling 50-day, with lower highs: Bearish by the breakdown rule.
    assert out["primary_trend"].to_list() == ["Bearish", "Bearish", "Neutral", "Neutral"]
    assert out["trend_rule"].to_list() == ["breakdown", "breakdown", None, None]
    assert out["dist_sma200_pct"][0] == pytest.approx(-0.2)


def test_a_crash_through_both_averages_is_bearish_until_price_is_back_above_one() -> None:
    # The 200-day still rises 3 % a month and the close is only 12 % below it, the 50-day still
    # rises and there are no lower highs yet: neither the stack nor the breakdown rule holds.
    common = {
        "sma200": 3000.0, "sma200_change": 90.0, "sma50": 3300.0, "sma50_change": 20.0,
        "offset": 0.0, "atr14": 100.0, "last_swing_high": 3400.0, "prev_swing_high": 3300.0,
        "last_swing_low": 2400.0, "prev_swing_low": 2500.0,  # no recovery structure either
    }  # fmt: skip
    # (close, fall from the 30-session high, share of that fall won back)
    days = [
        (2640.0, 0.22, 0.0),  # below both averages (no acceptance yet: the close's side)
        (2640.0, 0.22, 0.0),  # accepted below both
        (2700.0, 0.18, 0.25),  # rebound inside the crash: no longer 20 % down, still Bearish
        (3350.0, 0.05, 0.9),  # one close above both averages: not accepted, still Bearish
        (3350.0, 0.05, 0.9),  # accepted above both: the crash rule lets go, the stack holds
    ]
    frame = pl.DataFrame(
        [{**common, "close": c, "fall_pct": f, "fall_recovered": r} for c, f, r in days]
    )
    out = with_trend(frame, P)
    assert out["sma200_side"].to_list() == [-1, -1, -1, -1, 1]
    assert out["sma50_side"].to_list() == [-1, -1, -1, -1, 1]
    assert out["primary_trend"].to_list() == ["Bearish"] * 4 + ["Bullish"]
    assert out["trend_rule"].to_list() == ["crash"] * 4 + ["sma_stack"]
