"""Outcome resolution: hand-built series and calls, resolved by hand; and agreement with the
outcome the call table computed internally on a demo root."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.methodology import get as get_methodology
from pipeline.audit.outcomes import (
    CALL_COLUMNS,
    OUTCOME_SCHEMA,
    PROGRESS_SCHEMA,
    ResolutionError,
    call_progress,
    describe_progress,
    resolve_outcomes,
)
from pipeline.market.calendar import trade_dates
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

# Real CME trade dates (Presidents Day 2026-02-16 is not one; the RTYH26 -> RTYM26 roll is on
# Thursday 2026-03-12).
SESSIONS = trade_dates(date(2025, 11, 3), date(2026, 6, 30))
AS_OF_INDEX = 2  # two sessions of history before the call
AS_OF = SESSIONS[AS_OF_INDEX]
HORIZON = 5
ATR = 10.0  # acceptance margin 0.1 ATR = 1.0 point
CLOSE = 100.0
UPPER, LOWER = 110.0, 90.0  # acceptance above 111, below 89
HAND_P = (0.2, 0.4, 0.4)  # p_bear, p_sideways, p_bull
BAR_HALF_RANGE = 2.0  # hand series: high = close + 2, low = close - 2 unless given

CALL_SCHEMA: dict[str, Any] = {
    "snapshot_id": pl.String(),
    "root": pl.String(),
    "as_of": pl.Date(),
    "primary_trend": pl.String(),
    "orientation": pl.String(),
    **{
        name: pl.Float64()
        for name in (
            "atr14", "close", "upper_barrier", "lower_barrier", "line_low", "line_high",
            "bias_low", "bias_high", "risk_level", "p_bear", "p_sideways", "p_bull",
        )
    },
    "risk_rule": pl.String(),
    "horizon_sessions": pl.Int64(),
}  # fmt: skip


def bullish_call(**changes: Any) -> dict[str, Any]:
    """An up-oriented call: line in the sand 90-93 below, bias-defining 106-110 above."""
    row: dict[str, Any] = {
        "snapshot_id": "call-1",
        "root": "RTY",
        "as_of": AS_OF,
        "primary_trend": "Bullish",
        "orientation": "up",
        "atr14": ATR,
        "close": CLOSE,
        "upper_barrier": UPPER,
        "lower_barrier": LOWER,
        "line_low": 90.0,
        "line_high": 93.0,
        "bias_low": 106.0,
        "bias_high": 110.0,
        "risk_rule": "accept_below_line",
        "risk_level": 90.0,
        "p_bear": HAND_P[0],
        "p_sideways": HAND_P[1],
        "p_bull": HAND_P[2],
        "horizon_sessions": HORIZON,
    }
    row.update(changes)
    return row


def bearish_call(**changes: Any) -> dict[str, Any]:
    """The mirror: line in the sand 107-110 above (upper barrier 110 = line high), bias-defining
    90-94 below (lower barrier 90 = bias low)."""
    mirrored = {
        "primary_trend": "Bearish",
        "orientation": "down",
        "line_low": 107.0,
        "line_high": 110.0,
        "bias_low": 90.0,
        "bias_high": 94.0,
        "risk_rule": "accept_above_line",
        "risk_level": 110.0,
    }
    return bullish_call(**{**mirrored, **changes})


def calls_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    assert set(CALL_SCHEMA) == set(CALL_COLUMNS)
    return pl.DataFrame(list(rows), schema=CALL_SCHEMA)


def hand_series(
    closes: list[float],
    *,
    highs: list[float] | None = None,
    lows: list[float] | None = None,
) -> pl.DataFrame:
    """A continuous-series frame (no roll) on consecutive real trade dates from SESSIONS[0]."""
    n = len(closes)
    return pl.DataFrame(
        {
            "session_date": SESSIONS[:n],
            "high": highs or [c + BAR_HALF_RANGE for c in closes],
            "low": lows or [c - BAR_HALF_RANGE for c in closes],
            "close": closes,
            "offset": [0.0] * n,
            "factor": [1.0] * n,
        },
        schema={
            "session_date": pl.Date,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "offset": pl.Float64,
            "factor": pl.Float64,
        },
    )


def after_call(path: list[float]) -> list[float]:
    """Closes: two sessions of history, the as-of session at CLOSE, then ``path``."""
    return [CLOSE, CLOSE, CLOSE, *path]


def only_row(outcomes: pl.DataFrame) -> dict[str, Any]:
    assert outcomes.height == 1
    return outcomes.row(0, named=True)


# ------------------------------------------------------------------- first touch with acceptance

# Paths of the five closes after the call, and what the rule makes of them by hand. Acceptance is
# two consecutive closes strictly beyond 111 (above) / 89 (below).
RESOLUTION_CASES = [
    # 111.5 alone is no acceptance, 111.0 is not *beyond* 110 + 0.1 ATR; 111.2, 111.3 is (step 4).
    pytest.param([111.5, 111.0, 111.2, 111.3, 104.0], "bull", 4, id="bull-after-a-false-break"),
    pytest.param([88.5, 89.0, 88.8, 88.7, 95.0], "bear", 4, id="bear-after-a-false-break"),
    # Single closes beyond each barrier, never two in a row: sideways, settled at the horizon end.
    pytest.param([111.5, 105.0, 88.5, 100.0, 111.5], "sideways", HORIZON, id="sideways"),
    # Bull accepted at step 2 comes first; the later bear acceptance does not count.
    pytest.param([111.5, 112.0, 88.0, 87.0, 100.0], "bull", 2, id="bull-first-then-bear"),
    pytest.param([88.0, 87.0, 112.0, 113.0, 100.0], "bear", 2, id="bear-first-then-bull"),
]


@pytest.mark.parametrize(("path", "outcome", "steps"), RESOLUTION_CASES)
def test_first_acceptance_decides_the_scenario(path: list[float], outcome: str, steps: int) -> None:
    row = only_row(resolve_outcomes(calls_frame(bullish_call()), hand_series(after_call(path))))
    assert row["outcome"] == outcome
    assert row["outcome_ordinal"] == {"bear": 0, "sideways": 1, "bull": 2}[outcome]
    assert row["steps"] == steps
    assert row["resolved_session"] == SESSIONS[AS_OF_INDEX + steps]
    assert row["horizon_end"] == SESSIONS[AS_OF_INDEX + HORIZON]
    assert row["close_at_horizon"] == path[-1]


def test_resolved_session_and_horizon_end_count_cme_sessions_over_a_holiday() -> None:
    # As of Thursday 2026-02-12: Friday 13, (Monday 16 is Presidents Day), Tue 17, Wed 18 ...
    start = SESSIONS.index(date(2026, 2, 10))
    series = hand_series(after_call([104.0, 111.5, 112.0, 100.0, 100.0]))
    series = series.with_columns(pl.Series("session_date", SESSIONS[start : start + series.height]))
    as_of = date(2026, 2, 12)
    row = only_row(resolve_outcomes(calls_frame(bullish_call(as_of=as_of)), series))
    assert (row["outcome"], row["steps"]) == ("bull", 3)
    assert row["resolved_session"] == date(2026, 2, 18)
    assert row["horizon_end"] == date(2026, 2, 20)


def test_bearish_call_mirrors_the_bullish_one() -> None:
    bear_path = [88.5, 89.0, 88.8, 88.7, 95.0]
    bull_path = [111.5, 111.0, 111.2, 111.3, 104.0]
    bear = only_row(
        resolve_outcomes(calls_frame(bearish_call()), hand_series(after_call(bear_path)))
    )
    bull = only_row(
        resolve_outcomes(calls_frame(bearish_call()), hand_series(after_call(bull_path)))
    )
    # The scenarios name the direction of the market, not whether the call was right.
    assert (bear["outcome"], bear["steps"]) == ("bear", 4)
    assert (bull["outcome"], bull["steps"]) == ("bull", 4)
    # Down orientation: the line in the sand is resistance (broken by acceptance above 110 + 1),
    # the bias-defining level is support (accepted below 90 - 1).
    assert (bear["line_held"], bear["line_break_step"], bear["bias_accepted"]) == (True, None, True)
    assert (bull["line_held"], bull["line_break_step"], bull["bias_accepted"]) == (False, 4, False)


def test_line_and_bias_of_a_bullish_call() -> None:
    bear = only_row(
        resolve_outcomes(
            calls_frame(bullish_call()), hand_series(after_call([88.5, 89.0, 88.8, 88.7, 95.0]))
        )
    )
    bull = only_row(
        resolve_outcomes(
            calls_frame(bullish_call()), hand_series(after_call([111.5, 112.0, 88.0, 87.0, 100.0]))
        )
    )
    assert (bear["line_held"], bear["line_break_step"], bear["bias_accepted"]) == (False, 4, False)
    # Bull first, and the line broke afterwards (88, 87 at steps 3-4): both are reported.
    assert (bull["line_held"], bull["line_break_step"], bull["bias_accepted"]) == (False, 4, True)


def test_line_in_the_sand_distinct_from_the_barrier() -> None:
    # Line in the sand 96-98 above the lower barrier 90: accepted below 96 - 1 at steps 1-2
    # (94.5, 94.0) while the bear barrier (below 89) is never accepted.
    call = bullish_call(line_low=96.0, line_high=98.0)
    row = only_row(
        resolve_outcomes(
            calls_frame(call), hand_series(after_call([94.5, 94.0, 99.0, 100.0, 101.0]))
        )
    )
    assert (row["outcome"], row["line_held"], row["line_break_step"]) == ("sideways", False, 2)


def test_calls_whose_horizon_is_not_complete_are_left_out() -> None:
    complete = hand_series(after_call([101.0] * HORIZON))
    one_short = hand_series(after_call([101.0] * (HORIZON - 1)))
    early = bullish_call(snapshot_id="early", as_of=SESSIONS[AS_OF_INDEX - 1])
    late = bullish_call(snapshot_id="late")
    absent = bullish_call(snapshot_id="absent", as_of=SESSIONS[40])  # not in the series
    # On the complete series the early call is resolvable too; the absent one never.
    resolved = resolve_outcomes(calls_frame(early, late, absent), complete)
    assert sorted(resolved["snapshot_id"].to_list()) == ["early", "late"]
    # One session short: only the early call (its horizon ends one session earlier) resolves.
    assert resolve_outcomes(calls_frame(early, late, absent), one_short)[
        "snapshot_id"
    ].to_list() == ["early"]
    empty = resolve_outcomes(calls_frame(late), one_short)
    assert empty.height == 0
    assert empty.schema == pl.Schema(OUTCOME_SCHEMA)


def test_rejects_calls_that_cannot_be_resolved_together() -> None:
    series = hand_series(after_call([101.0] * HORIZON))
    with pytest.raises(ResolutionError, match="p_bull"):
        resolve_outcomes(calls_frame(bullish_call()).drop("p_bull"), series)
    with pytest.raises(ResolutionError, match="one root"):
        resolve_outcomes(calls_frame(bullish_call(), bullish_call(root="ES")), series)
    with pytest.raises(ResolutionError, match="horizons"):
        resolve_outcomes(calls_frame(bullish_call(), bullish_call(horizon_sessions=3)), series)


# ------------------------------------------------------------------------------------ rolls


# As of Monday 2026-03-09 on RTYH26; RTYM26 is the front from Thursday 2026-03-12 (the roll).
ROLL_AS_OF = date(2026, 3, 9)
ROLL_DATES = [date(2026, 3, d) for d in (5, 6, 9, 10, 11, 12, 13, 16)]
ROLLED = [d >= date(2026, 3, 12) for d in ROLL_DATES]
# Raw settlements of the front contract: RTYH26 through the 11th, then RTYM26.
ROLL_RAW = [1990.0, 1995.0, 2000.0, 2020.0, 2040.0, 2064.0, 2066.0, 2060.0]
# Difference adjustment: the series already carries -10 from the December roll (so the as-of offset
# is not 0) and RTYM26 trades 15 points above RTYH26, so the offset becomes -25 at the roll.
ROLL_SPREAD = 15.0
DIFFERENCE_OFFSETS = [-10.0 - ROLL_SPREAD * rolled for rolled in ROLLED]
# Ratio adjustment: factor 1.25 from earlier rolls, and RTYM26 / RTYH26 = 2015 / 2000.
ROLL_RATIO = 2015.0 / 2000.0
RATIO_FACTORS = [1.25 / ROLL_RATIO if rolled else 1.25 for rolled in ROLLED]


def roll_call() -> pl.DataFrame:
    # Prices in RTYH26 points: upper 2050 (accepted above 2052), lower 1950; ATR 20.
    return calls_frame(
        bullish_call(
            as_of=ROLL_AS_OF,
            atr14=20.0,
            close=2000.0,
            upper_barrier=2050.0,
            lower_barrier=1950.0,
            line_low=1950.0,
            line_high=1960.0,
            bias_low=2030.0,
            bias_high=2050.0,
            risk_level=1950.0,
        )
    )


def roll_series(
    *,
    offsets: list[float] | None = None,
    factors: list[float] | None = None,
    to_as_of_points: Callable[[float], float] | None = None,
) -> pl.DataFrame:
    """Internal-frame series of ROLL_RAW (bars 3 points up and 4 down): raw * factor + offset, or
    with ``to_as_of_points`` the unadjusted equivalent, every RTYM26 price mapped to RTYH26 points."""
    offsets = offsets or [0.0] * len(ROLL_RAW)
    factors = factors or [1.0] * len(ROLL_RAW)

    def internal(shift: float) -> list[float]:
        prices = []
        for raw, offset, factor, rolled in zip(ROLL_RAW, offsets, factors, ROLLED, strict=True):
            if to_as_of_points is not None and rolled:
                prices.append(to_as_of_points(raw + shift))
            else:
                prices.append((raw + shift) * factor + offset)
        return prices

    return pl.DataFrame(
        {
            "session_date": ROLL_DATES,
            "high": internal(3.0),
            "low": internal(-4.0),
            "close": internal(0.0),
            "offset": offsets,
            "factor": factors,
        }
    )


def test_a_roll_inside_the_horizon_shifts_the_barriers_by_the_spread() -> None:
    # In RTYH26 points the three closes after the roll are 2049, 2051, 2045: never two above 2052.
    equivalent = resolve_outcomes(
        roll_call(), roll_series(to_as_of_points=lambda p: p - ROLL_SPREAD)
    )
    row = only_row(equivalent)
    assert (row["outcome"], row["steps"], row["close_at_horizon"]) == ("sideways", HORIZON, 2045.0)
    assert row["mfe_atr"] == (2051.0 + 3.0 - 2000.0) / 20.0
    adjusted = resolve_outcomes(roll_call(), roll_series(offsets=DIFFERENCE_OFFSETS))
    assert adjusted.equals(equivalent)


def test_a_roll_inside_the_horizon_of_a_ratio_adjusted_series() -> None:
    equivalent = resolve_outcomes(
        roll_call(), roll_series(to_as_of_points=lambda p: p / ROLL_RATIO)
    )
    adjusted = resolve_outcomes(roll_call(), roll_series(factors=RATIO_FACTORS))
    exact = ["outcome", "steps", "resolved_session", "line_held", "bias_accepted", "trend_correct"]
    assert only_row(equivalent)["outcome"] == "sideways"
    assert adjusted.select(exact).equals(equivalent.select(exact))
    for name in ("close_at_horizon", "mfe_atr", "mae_atr", "rps"):
        assert adjusted[name][0] == pytest.approx(equivalent[name][0], abs=1e-4)  # 4 decimals


def test_unadjusted_prices_across_the_roll_would_give_another_outcome() -> None:
    # The naive reading (raw settlements, no shift) sees 2064, 2066 above 2052 and calls it bull:
    # this is what shifting the barriers by the roll gap prevents.
    row = only_row(resolve_outcomes(roll_call(), roll_series()))
    assert (row["outcome"], row["steps"]) == ("bull", 4)


# ------------------------------------------------------------------------- excursions, trend

# Closes, highs and lows of the five sessions after a call at 100 (ATR 10). The as-of session's own
# high (130) and low (70) must not count.
EXCURSION_CLOSES = after_call([104.0, 107.0, 103.0, 99.0, 102.0])
EXCURSION_HIGHS = [102.0, 102.0, 130.0, 106.0, 109.5, 105.0, 101.0, 104.0]
EXCURSION_LOWS = [98.0, 98.0, 70.0, 101.0, 104.0, 96.5, 97.0, 100.0]
MAX_UP, MAX_DOWN = (109.5 - 100.0) / ATR, (100.0 - 96.5) / ATR  # 0.95, 0.35


@pytest.mark.parametrize(
    ("call", "mfe", "mae"),
    [
        pytest.param(bullish_call(), MAX_UP, MAX_DOWN, id="bullish"),
        pytest.param(bearish_call(), MAX_DOWN, MAX_UP, id="bearish"),
        pytest.param(bullish_call(primary_trend="Neutral"), MAX_UP, MAX_DOWN, id="neutral-up"),
        pytest.param(bearish_call(primary_trend="Neutral"), MAX_DOWN, MAX_UP, id="neutral-down"),
    ],
)
def test_excursions_in_atr_of_the_call(call: dict[str, Any], mfe: float, mae: float) -> None:
    series = hand_series(EXCURSION_CLOSES, highs=EXCURSION_HIGHS, lows=EXCURSION_LOWS)
    row = only_row(resolve_outcomes(calls_frame(call), series))
    assert row["mfe_atr"] == pytest.approx(mfe, abs=1e-9)
    assert row["mae_atr"] == pytest.approx(mae, abs=1e-9)


def test_adverse_excursion_is_zero_when_price_never_went_against_the_call() -> None:
    lows = [98.0, 98.0, 98.0, 100.5, 101.0, 102.0, 101.5, 101.0]
    series = hand_series(EXCURSION_CLOSES, highs=EXCURSION_HIGHS, lows=lows)
    row = only_row(resolve_outcomes(calls_frame(bullish_call()), series))
    assert (row["mfe_atr"], row["mae_atr"]) == (pytest.approx(0.95), 0.0)


@pytest.mark.parametrize(
    ("trend", "final_close", "correct"),
    [
        ("Bullish", 102.0, True),
        ("Bullish", 100.0, False),  # unchanged is not up
        ("Bullish", 98.0, False),
        ("Bearish", 98.0, True),
        ("Bearish", 102.0, False),
        ("Neutral", 109.0, True),  # |move| 9 < 1 ATR
        ("Neutral", 91.0, True),
        ("Neutral", 110.0, False),  # |move| = 1 ATR is a trend
        ("Neutral", 88.0, False),
    ],
)
def test_trend_correct_over_the_horizon(trend: str, final_close: float, correct: bool) -> None:
    series = hand_series(after_call([101.0, 102.0, 100.0, 101.0, final_close]))
    row = only_row(resolve_outcomes(calls_frame(bullish_call(primary_trend=trend)), series))
    assert row["trend_correct"] is correct


# ------------------------------------------------------------------------------- risk to thesis

# 61 sessions. The as-of session (index 55) sees SMA50 = (4 * 10 + 46 * 100) / 50 = 92.8 because
# four crash closes of 10 (indices 6-9) are still in its window; the five closes after the call are
# 99. Each day one crash close leaves the window: SMA50 = 94.58, 96.36, 98.14, 99.92, 99.90. With ATR
# 2 (margin 0.2) the close 99 is accepted below the moving SMA50 on steps 4 (99.72) and 5 (99.70):
# the risk fires at step 5. Below the as-of SMA50 (92.8 - 0.2) it never is.
RISK_AS_OF_INDEX = 55
RISK_CLOSES = [100.0] * 6 + [10.0] * 4 + [100.0] * 46 + [99.0] * HORIZON
AS_OF_SMA50 = 92.8


def risk_call(rule: str, *, mirror: bool = False) -> dict[str, Any]:
    level = 200.0 - AS_OF_SMA50 if mirror else AS_OF_SMA50
    make = bearish_call if mirror else bullish_call
    return make(
        as_of=SESSIONS[RISK_AS_OF_INDEX],
        atr14=2.0,
        close=100.0,
        upper_barrier=120.0,
        lower_barrier=80.0,
        risk_rule=rule,
        risk_level=level,
    )


def test_hand_sma50_of_the_risk_series() -> None:
    sma = np.convolve(RISK_CLOSES, np.ones(50) / 50, mode="valid")  # sma[k] ends at index k + 49
    window_end = np.arange(RISK_AS_OF_INDEX, RISK_AS_OF_INDEX + HORIZON + 1) - 49
    np.testing.assert_allclose(sma[window_end], [92.8, 94.58, 96.36, 98.14, 99.92, 99.9])


@pytest.mark.parametrize("mirror", [False, True], ids=["below-sma50", "above-sma50-mirrored"])
def test_risk_rule_uses_each_days_own_sma50(mirror: bool) -> None:
    closes = [200.0 - c for c in RISK_CLOSES] if mirror else RISK_CLOSES
    series = hand_series(closes)
    moving_rule = "accept_above_sma50" if mirror else "accept_below_sma50"
    fixed_rule = "accept_above_line" if mirror else "accept_below_line"
    moving = only_row(resolve_outcomes(calls_frame(risk_call(moving_rule, mirror=mirror)), series))
    # The same call judged against the as-of SMA50 held fixed (a level rule at 92.8).
    fixed = only_row(resolve_outcomes(calls_frame(risk_call(fixed_rule, mirror=mirror)), series))
    assert (moving["risk_triggered"], moving["risk_trigger_step"]) == (True, 5)
    assert (fixed["risk_triggered"], fixed["risk_trigger_step"]) == (False, None)
    assert moving["outcome"] == fixed["outcome"] == "sideways"


def test_level_risk_rule_fires_on_acceptance_beyond_the_risk_level() -> None:
    # Risk level 97 (margin 1): closes 95.5, 96.5, 95.8, 95.9 -> accepted below 96 at steps 3-4.
    call = bullish_call(risk_rule="accept_below_line", risk_level=97.0)
    series = hand_series(after_call([95.5, 96.5, 95.8, 95.9, 100.0]))
    row = only_row(resolve_outcomes(calls_frame(call), series))
    assert (row["risk_triggered"], row["risk_trigger_step"]) == (True, 4)


# ------------------------------------------------------------------------------------- scores

SCORE_PATHS = {
    "bear": [88.5, 88.0, 90.0, 91.0, 92.0],
    "sideways": [101.0, 102.0, 100.0, 101.0, 100.0],
    "bull": [111.5, 112.0, 110.0, 109.0, 108.0],
}
# p = (0.2, 0.4, 0.4): RPS = ((F1 - O1)^2 + (F2 - O2)^2) / 2 with F = (0.2, 0.6):
# bear O = (1, 1): (0.64 + 0.16) / 2 = 0.40; sideways O = (0, 1): (0.04 + 0.16) / 2 = 0.10;
# bull O = (0, 0): (0.04 + 0.36) / 2 = 0.20. Brier: bear 0.64 + 0.16 + 0.16 = 0.96;
# sideways 0.04 + 0.36 + 0.16 = 0.56; bull 0.04 + 0.16 + 0.36 = 0.56.
HAND_SCORES = {"bear": (0.40, 0.96, 0.2), "sideways": (0.10, 0.56, 0.4), "bull": (0.20, 0.56, 0.4)}


@pytest.mark.parametrize("scenario", ["bear", "sideways", "bull"])
def test_scores_by_hand(scenario: str) -> None:
    row = only_row(
        resolve_outcomes(
            calls_frame(bullish_call()), hand_series(after_call(SCORE_PATHS[scenario]))
        )
    )
    rps, brier, p_realised = HAND_SCORES[scenario]
    assert row["outcome"] == scenario
    assert row["rps"] == pytest.approx(rps, abs=1e-9)
    assert row["brier"] == pytest.approx(brier, abs=1e-9)
    assert row["log_score"] == pytest.approx(-math.log(p_realised), abs=1e-6)


def test_log_score_floors_a_zero_probability_at_one_percent() -> None:
    call = bullish_call(p_bear=0.0, p_sideways=0.5, p_bull=0.5)
    row = only_row(
        resolve_outcomes(calls_frame(call), hand_series(after_call(SCORE_PATHS["bear"])))
    )
    assert row["outcome"] == "bear"
    assert row["log_score"] == pytest.approx(-math.log(0.01), abs=1e-6)  # 4.6052 nats
    assert row["rps"] == pytest.approx(((0.0 - 1) ** 2 + (0.5 - 1) ** 2) / 2)


# ------------------------------------------------------------------ agreement with the call table

DEMO_CUT = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo_analysis() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    bars = demo_bars("RTY").filter(pl.col("session_date") <= DEMO_CUT)
    series = continuous_series(bars)
    analysis = analyse({"RTY": series}, "RTY", source="demo")
    snapshots = analysis.snapshots.with_columns(
        pl.format("RTY-{}", pl.col("as_of")).alias("snapshot_id")
    )
    return series, analysis.table, snapshots


def test_outcomes_from_published_barriers_equal_the_call_tables(
    demo_analysis: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    series, table, snapshots = demo_analysis
    resolved = resolve_outcomes(snapshots, series)
    internal = table.filter(pl.col("has_call") & (pl.col("outcome") >= 0)).select(
        pl.format("RTY-{}", pl.col("session_date")).alias("snapshot_id"),
        pl.col("outcome").alias("expected"),
        pl.col("outcome_steps").alias("expected_steps"),
    )
    # The demo spans rolls (offsets change inside many horizons) and all three scenarios.
    assert series["offset"].n_unique() > 40
    assert internal.height > 5000
    assert set(internal["expected"].unique().to_list()) == {0, 1, 2}
    compared = internal.join(resolved, on="snapshot_id", how="full", coalesce=True)
    assert compared.height == internal.height == resolved.height  # the same calls resolve
    mismatched = compared.filter(
        (pl.col("outcome_ordinal") != pl.col("expected"))
        | (pl.col("steps") != pl.col("expected_steps"))
    )
    assert mismatched.height == 0, mismatched.head()


# ---------------------------------------------------------------------- status so far (open)


def test_an_open_call_reports_its_status_so_far_and_no_score() -> None:
    # Three of five sessions seen: 111.5 touches and closes beyond the upper barrier once (no
    # acceptance), 108 then 109: "sideways so far, 3 of 5". High 113.5 on session 1 (111.5 + 2)
    # is the favourable excursion: (113.5 - 100) / 10 = 1.35 ATR; the adverse one is 0 (the
    # lowest low, 106, stayed above the as-of close of 100).
    call = calls_frame(bullish_call())
    series = hand_series(after_call([111.5, 108.0, 109.0]))
    assert resolve_outcomes(call, series).height == 0  # not resolvable, so never scored
    row = only_row(call_progress(call, series))
    assert set(row) == set(PROGRESS_SCHEMA)
    assert "rps" not in row
    assert row == {
        "snapshot_id": "call-1",
        "through_session": SESSIONS[AS_OF_INDEX + 3],
        "sessions_elapsed": 3,
        "horizon_sessions": HORIZON,
        "status": "open",
        "settled_session": None,
        "upper_touch_step": 1,  # high 113.5 >= 110
        "lower_touch_step": None,
        "upper_accept_step": None,
        "lower_accept_step": None,
        "line_break_step": None,
        "risk_trigger_step": None,
        "close_so_far": 109.0,
        "mfe_atr": 1.35,
        "mae_atr": 0.0,
    }
    assert describe_progress(row) == (
        f"sideways so far, 3 of 5 sessions (to {SESSIONS[AS_OF_INDEX + 3]}): upper barrier "
        "touched on session 1, not accepted; line in the sand held; MFE 1.4 ATR, MAE 0.0 ATR; "
        "not scored until the horizon ends"
    )


def test_a_settled_open_call_keeps_its_scenario_and_agrees_with_the_final_outcome() -> None:
    # Bear acceptance (88.5, 88.0 below 89) completes on session 2 of 5; the horizon is not over.
    # The status says bear, settled on session 2; once all five sessions exist the outcome is the
    # same bear on the same session, and only then is it scored.
    path = [88.5, 88.0, 95.0, 112.0, 113.0]
    call = calls_frame(bullish_call())
    early = only_row(call_progress(call, hand_series(after_call(path[:3]))))
    assert (early["status"], early["settled_session"]) == ("bear", SESSIONS[AS_OF_INDEX + 2])
    assert (early["lower_accept_step"], early["line_break_step"]) == (2, 2)
    assert early["risk_trigger_step"] == 2  # accept_below_line, the line's low is 90
    # Low 86 (88 - 2) on session 2: adverse (100 - 86) / 10 = 1.4 ATR; high 97 on session 3.
    assert (early["mfe_atr"], early["mae_atr"]) == (0.0, 1.4)
    final = only_row(resolve_outcomes(call, hand_series(after_call(path))))
    assert (final["outcome"], final["resolved_session"]) == ("bear", early["settled_session"])
    assert call_progress(call, hand_series(after_call(path))).height == 0
    assert describe_progress(early).startswith(
        f"bear: settled on {SESSIONS[AS_OF_INDEX + 2]} (acceptance beyond the lower barrier), "
        "3 of 5 sessions elapsed"
    )


def test_a_call_on_the_last_session_has_seen_nothing_yet() -> None:
    call = calls_frame(bullish_call())
    row = only_row(call_progress(call, hand_series(after_call([]))))
    assert (row["sessions_elapsed"], row["status"], row["mfe_atr"]) == (0, "open", None)
    assert describe_progress(row).startswith("no session after the call yet")
    # A call whose as-of session is not in the series has no status.
    absent = calls_frame(bullish_call(as_of=SESSIONS[40]))
    assert call_progress(absent, hand_series(after_call([]))).height == 0


def test_progress_of_every_prefix_matches_the_outcome_on_the_full_path() -> None:
    """On each hand path, the status read after k sessions is settled exactly when the final
    outcome's acceptance happened by k, with that scenario; open otherwise."""
    call = calls_frame(bullish_call())
    for case in RESOLUTION_CASES:
        path, outcome, steps = case.values
        for k in range(HORIZON):
            row = only_row(call_progress(call, hand_series(after_call(path[:k]))))
            settled = outcome != "sideways" and steps <= k
            assert row["status"] == (outcome if settled else "open"), (path, k)
            assert row["sessions_elapsed"] == k
