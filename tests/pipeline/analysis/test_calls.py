"""The call table on hand-built series whose right call is obvious, warm-up, structure facts,
and the roll gap that back-adjustment must hide from the 200-day average."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.analysis.calls import call_table
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.steps import LEVEL_PREFIXES, AnalysisInputError
from pipeline.market.continuous import continuous_series
from pipeline.market.contracts import parse_contract
from tests.pipeline.analysis.builders import contract_bars, noisy_path, series_frame, sessions

RTY_TICK = 0.1
PARAMS = AnalysisParams()
WARMUP = PARAMS.warmup_sessions
LEVEL_COLUMNS = [
    f"{prefix}_{field}"
    for prefix in LEVEL_PREFIXES.values()
    for field in ("low", "high", "score", "touches", "sources", "projected")
]
PUBLISHED_PRICE_COLUMNS = [
    *(f"{prefix}_{edge}" for prefix in LEVEL_PREFIXES.values() for edge in ("low", "high")),
    "upper_barrier",
    "lower_barrier",
]
PROBABILITY_COLUMNS = ["p_bear", "p_sideways", "p_bull", "n_analogs", "state_key"]


def last_call(table: pl.DataFrame) -> dict:
    row = table.row(-1, named=True)
    assert row["has_call"]
    return row


def front(row: dict, column: str) -> float:
    """An internal-frame value of the row in the points of its own front contract."""
    return (row[column] - row["offset"]) / row["factor"]


def assert_levels_coherent(row: dict) -> None:
    """Published levels of one call, in front-contract points: ordered around price."""
    half_tick = RTY_TICK / 2 + 1e-9
    close = row["raw_close"]
    if row["orientation"] == "up":
        assert row["deep_high"] <= row["line_low"]
        assert row["line_high"] <= row["bias_low"]
        assert row["bias_high"] <= row["ext_low"]
        assert (
            row["bias_low"] - half_tick <= front(row, "recent_high") <= row["bias_high"] + half_tick
        )
        assert row["line_low"] < close
    else:
        assert row["ext_high"] <= row["bias_low"]
        assert row["bias_high"] <= row["line_low"]
        assert row["line_high"] <= row["deep_low"]
        assert (
            row["bias_low"] - half_tick <= front(row, "recent_low") <= row["bias_high"] + half_tick
        )
        assert row["line_high"] > close
    assert row["upper_barrier"] > row["lower_barrier"]


@pytest.fixture(scope="module")
def uptrend() -> pl.DataFrame:
    # 320 sessions rising 2 points a session with +-1.5 points of noise.
    closes = noisy_path([(320, 2.0)], start_level=1000.0, noise=1.5, seed=1)
    return call_table(series_frame(closes), tick=RTY_TICK)


def test_clean_uptrend_is_bullish_and_trending_higher(uptrend: pl.DataFrame) -> None:
    row = last_call(uptrend)
    assert row["primary_trend"] == "Bullish"
    assert row["perspective"] == "trending higher"
    assert row["orientation"] == "up"
    # Close ~ 1638, SMA200 ~ 1439 (the mean of the last 200 closes), ATR ~ 3: ~65 ATR above.
    assert row["well_above_sma200"] is True
    assert row["dist_sma200_atr"] > 50
    # The line in the sand is the SMA50's zone (the best support near the SMA50 below price).
    assert row["line_low"] <= row["sma50"] <= row["line_high"]
    assert "sma50" in row["line_sources"].split(",")
    assert_levels_coherent(row)
    # Not just the last day: every call of a steady rise is the same call.
    calls = uptrend.filter("has_call")
    assert calls["primary_trend"].unique().to_list() == ["Bullish"]
    assert calls["orientation"].unique().to_list() == ["up"]
    assert calls["perspective"].unique().to_list() == ["trending higher"]


def test_rows_before_warm_up_have_no_call_and_null_levels(uptrend: pl.DataFrame) -> None:
    before, after = uptrend.head(WARMUP - 1), uptrend.slice(WARMUP - 1)
    assert not before["has_call"].any()
    assert after["has_call"].all()  # the 250th session is the first with a call
    nulls = before.select(
        pl.all_horizontal(
            pl.col(LEVEL_COLUMNS + PUBLISHED_PRICE_COLUMNS + PROBABILITY_COLUMNS).is_null()
        )
    )
    assert nulls.to_series().all()
    # Indicators are there as soon as their own windows are full (SMA200 from the 200th row).
    assert before["sma200"].null_count() == PARAMS.sma_slow - 1


def test_warm_up_is_a_parameter() -> None:
    closes = noisy_path([(280, 2.0)], start_level=1000.0, noise=1.5, seed=1)
    table = call_table(
        series_frame(closes), tick=RTY_TICK, params=AnalysisParams(warmup_sessions=270)
    )
    assert table["has_call"].arg_true().to_list() == list(range(269, 280))


def test_tight_range_near_the_highs_after_an_uptrend_is_consolidation_near_highs() -> None:
    closes = noisy_path([(300, 2.0), (30, 0.0)], start_level=1000.0, noise=1.0, seed=2)
    table = call_table(series_frame(closes), tick=RTY_TICK)
    row = last_call(table)
    assert row["perspective"] == "consolidation near highs"
    assert row["consolidating"] is True
    assert row["range_atr"] <= PARAMS.consolidation_max_range_atr
    assert row["dist_high_252_atr"] <= PARAMS.near_extreme_atr
    assert row["primary_trend"] == "Bullish"
    assert row["orientation"] == "up"
    assert_levels_coherent(row)
    # While it was still rising it was trending higher.
    assert table.row(299, named=True)["perspective"] == "trending higher"


def test_breakdown_through_a_turning_sma200_is_bearish_and_trending_lower() -> None:
    closes = noisy_path([(300, 2.0), (260, -3.0)], start_level=1000.0, noise=1.5, seed=3)
    table = call_table(series_frame(closes), tick=RTY_TICK)
    row = last_call(table)
    assert row["primary_trend"] == "Bearish"
    assert row["perspective"] == "trending lower"
    assert row["orientation"] == "down"
    assert row["sma200_change"] < 0
    assert row["close"] < row["sma50"] < row["sma200"]
    assert row["well_above_sma200"] is False
    # Down: the line in the sand is resistance above price, near the SMA50.
    assert row["line_low"] <= row["sma50"] <= row["line_high"]
    assert_levels_coherent(row)
    # Bullish while rising, Neutral while price sits under a still-rising SMA200, then Bearish.
    trends = table.filter("has_call")["primary_trend"].to_list()
    assert [trend for trend, _ in itertools.groupby(trends)] == ["Bullish", "Neutral", "Bearish"]


def doji_series(closes: np.ndarray) -> pl.DataFrame:
    """Bars with open = close and a one-point range either side (no ties between sessions)."""
    return series_frame(closes, open_=closes, high=closes + 1.0, low=closes - 1.0)


def test_pullback_retracement_depth_and_speed_by_hand() -> None:
    rise = 1000.0 + 2.0 * np.arange(300)  # last high: 1598 + 1 on row 299
    drop = 1598.0 - 4.0 * np.arange(1, 7)  # 1594 ... 1574 on rows 300..305
    table = call_table(doji_series(np.concatenate([rise, drop])), tick=RTY_TICK)
    row = last_call(table)
    # The impulse: from the lowest low of the 60 sessions before the high (row 239: 1477 = 1478
    # - 1) to the high 1599, 122 points in 60 sessions. Given back: 1599 - 1573 = 26 points in
    # 6 sessions. 26 / 122 = 0.2131 <= 0.382 (shallow); 26/6 > 122/60 points a session (impulsive).
    assert row["pullback_retracement"] == round(26 / 122, 4)
    assert (row["pullback_depth"], row["pullback_speed"]) == ("shallow", "impulsive")
    assert row["primary_trend"] == "Bullish"
    assert row["perspective"] == "pullback within uptrend"  # close 1574 < SMA20 ~ 1584.6
    # On row 299, at the high itself, there is no pullback yet.
    at_high = table.row(299, named=True)
    assert (at_high["pullback_retracement"], at_high["pullback_depth"]) == (None, None)


def test_higher_lows_since_the_last_lower_low() -> None:
    # A zigzag: +4 +4 +4 -3 -3 per five sessions, troughs on rows 5, 10, 15, ... rising by 6.
    steps = np.tile([4.0, 4.0, 4.0, -3.0, -3.0], 64)[:319]
    steps[278:280] = -10.0  # rows 279 and 280 fall 10 each: trough 280 (1322) under 275 (1330)
    closes = 1000.0 + np.concatenate([[0.0], np.cumsum(steps)])
    assert (closes[275], closes[280]) == (1330.0, 1322.0)
    table = call_table(doji_series(closes), tick=RTY_TICK)
    days = table["session_date"]

    def facts(i: int) -> tuple:
        row = table.row(i, named=True)
        return row["higher_lows_since"], row["higher_lows_count"], row["lower_highs_count"]

    # Row 278: troughs 5 .. 275 (confirmed two sessions later, 275 on row 277): 55 rising lows.
    assert facts(278) == (days[5], 55, 0)
    # The lower low of row 280 (confirmed on 282) restarts the run; 285 joins on 287, 290 on 292.
    assert facts(291) == (None, 0, 0)  # two rising lows are fewer than higher_lows_min = 3
    assert facts(292) == (days[280], 3, 0)
    # Row 319: troughs 280, 285, ..., 315 (confirmed on 317) = 8 rising lows.
    assert facts(319) == (days[280], 8, 0)


def test_input_errors_name_the_problem() -> None:
    series = series_frame(np.arange(10.0) + 100)
    with pytest.raises(AnalysisInputError, match="raw_close"):
        call_table(series.drop("raw_close"), tick=RTY_TICK)
    with pytest.raises(AnalysisInputError, match="sorted by session_date"):
        call_table(series.reverse(), tick=RTY_TICK)


# ---- The roll gap --------------------------------------------------------------------------

PREMIUM = 40.0  # each quarterly contract trades 40 points above the one before it
ROLL_DAYS = sessions(340, start=date(2025, 1, 2))  # RTYH25 .. RTYM26: five calendar rolls
#: Columns that are expressed in the traded contract's own prices (or describe the contract).
RAW_FRAME_COLUMNS = {
    "contract",
    "raw_open",
    "raw_high",
    "raw_low",
    "raw_close",
    "volume",
    "open_interest",
    "offset",
    "factor",
    "is_roll",
    "roll_gap",
    "dist_sma200_pct",  # a percentage of the front contract's own price: changes with the basis
}
INTERNAL_FROM_PUBLISHED = {"upper_internal", "lower_internal"}


@pytest.fixture(scope="module")
def roll_case() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    # Integer closes: adding and removing multiples of 40 is exact, so the internal series can be
    # compared bit for bit. Up 1.5 a session for 200 sessions, then down 1 a session.
    path = np.round(noisy_path([(200, 1.5), (140, -1.0)], start_level=2000.0, noise=6.0, seed=5))
    bars, _ = contract_bars(ROLL_DAYS, path, root="RTY", premium=PREMIUM)
    rolled_series = continuous_series(bars)
    single_series = series_frame(path, days=ROLL_DAYS, contract="RTYM26")
    rolled = call_table(rolled_series, tick=RTY_TICK)
    single = call_table(single_series, tick=RTY_TICK)
    return bars, rolled, single


def test_roll_case_really_rolls(roll_case) -> None:
    bars, rolled, _ = roll_case
    rolls = rolled.filter("is_roll")
    assert rolls["contract"].to_list() == ["RTYM25", "RTYU25", "RTYZ25", "RTYH26", "RTYM26"]
    # Each roll on the expiring contract's Contract.roll_date (the Thursday 8 days before expiry).
    expiring = [parse_contract(code).previous() for code in rolls["contract"]]
    assert rolls["session_date"].to_list() == [c.roll_date for c in expiring]
    assert [c.roll_date for c in expiring] == [
        date(2025, 3, 13),
        date(2025, 6, 12),
        date(2025, 9, 11),
        date(2025, 12, 11),
        date(2026, 3, 12),
    ]
    assert rolls["roll_gap"].to_list() == [PREMIUM] * 5
    # Unadjusted, the premium would sit inside the 200-day average: it must differ.
    raw = call_table(continuous_series(bars, method="none"), tick=RTY_TICK)
    assert raw["sma200"].tail(1).item() != pytest.approx(rolled["sma200"].tail(1).item(), abs=10)


def test_roll_gap_moves_no_internal_value(roll_case) -> None:
    _, rolled, single = roll_case
    compared = [
        c
        for c in single.columns
        if c not in RAW_FRAME_COLUMNS | INTERNAL_FROM_PUBLISHED and c not in PUBLISHED_PRICE_COLUMNS
    ]
    assert {"sma200", "primary_trend", "perspective", "line_score", "p_bull"} <= set(compared)
    assert_frame_equal(rolled.select(compared), single.select(compared), check_exact=True)
    assert rolled.filter("has_call").height == len(ROLL_DAYS) - WARMUP + 1


def test_published_levels_are_the_same_levels_in_the_front_contracts_points(roll_case) -> None:
    _, rolled, single = roll_case
    # Published in the as-of front contract: the single-contract level plus that contract's
    # premium over the first one (= minus the cumulative offset).
    shifted = rolled.select(
        "session_date", *((pl.col(c) + pl.col("offset")).alias(c) for c in PUBLISHED_PRICE_COLUMNS)
    )
    assert_frame_equal(
        shifted,
        single.select("session_date", *PUBLISHED_PRICE_COLUMNS),
        check_exact=False,
        abs_tol=1e-9,
    )
    calls = rolled.filter("has_call")
    # The premium is visible in the published numbers (the last rows trade RTYM26: 5 x 40 above).
    assert calls["offset"].tail(1).item() == -5 * PREMIUM
    assert_frame_equal(
        rolled.select(INTERNAL_FROM_PUBLISHED), single.select(INTERNAL_FROM_PUBLISHED), abs_tol=1e-9
    )
    for row in calls.iter_rows(named=True):
        assert_levels_coherent(row)


def test_published_levels_sit_on_a_quarter_point_tick() -> None:
    # ES and NQ tick in quarter points: 4000.25 must not be published as 4000.2 or 4000.3.
    quarter = 0.25
    closes = noisy_path([(280, 2.0)], start_level=4000.0, noise=1.5, seed=4)
    calls = call_table(series_frame(closes), tick=quarter).filter("has_call")
    published = calls.select(PUBLISHED_PRICE_COLUMNS).to_numpy()
    assert np.isfinite(published).all()
    np.testing.assert_array_equal(published / quarter, np.round(published / quarter))
    assert (published % 1 != 0).any()  # not a test that only whole points would pass
