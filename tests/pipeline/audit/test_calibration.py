"""The scoreboard's references (expanding climatology and barrier geometry), point in time; its
null test on a driftless random walk and its power on a planted trend; the calibration table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.assemble import Publication, snapshot_rows
from pipeline.analysis.calls import call_table
from pipeline.analysis.climatology import expanding_counts
from pipeline.analysis.fingerprint import input_fingerprints
from pipeline.analysis.params import METHODOLOGY_VERSION, AnalysisParams, params_hash
from pipeline.audit.calibration import (
    GROUP,
    SCORED_COLUMNS,
    calibration_table,
    geometry_key,
    reference_forecasts,
    scoreboard,
    select_calls,
)
from pipeline.audit.outcomes import resolve_outcomes
from pipeline.audit.scores import ranked_probability_score
from pipeline.market.calendar import trade_dates

PARAMS = AnalysisParams()
SESSIONS = trade_dates(date(2004, 1, 2), date(2026, 12, 31))
NAMES = ("bear", "sideways", "bull")
UNIFORM = np.full(3, 1 / 3)


# --------------------------------------------------------------------------- expanding counts


def slow_expanding_counts(
    as_of: list[int], resolved: list[int], outcome: list[int], key: list[str]
) -> list[list[int]]:
    rows = []
    for i in range(len(as_of)):
        counts = [0, 0, 0]
        for j in range(len(as_of)):
            if key[j] == key[i] and resolved[j] <= as_of[i]:
                counts[outcome[j]] += 1
        rows.append(counts)
    return rows


@st.composite
def call_histories(draw: st.DrawFn) -> tuple[list[int], list[int], list[int], list[str]]:
    n = draw(st.integers(min_value=1, max_value=40))
    as_of = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    horizons = draw(st.lists(st.integers(1, 25), min_size=n, max_size=n))
    outcome = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    key = draw(
        st.lists(st.sampled_from(["up0|down1", "up1|down1", "up2|down0"]), min_size=n, max_size=n)
    )
    return as_of, [a + h for a, h in zip(as_of, horizons, strict=True)], outcome, key


@settings(max_examples=200, deadline=None)
@given(call_histories())
def test_expanding_counts_match_a_quadratic_loop(
    history: tuple[list[int], list[int], list[int], list[str]],
) -> None:
    as_of, resolved, outcome, key = history
    fast = expanding_counts(np.array(as_of), np.array(resolved), np.array(outcome), np.array(key))
    assert fast.tolist() == slow_expanding_counts(as_of, resolved, outcome, key)


# ----------------------------------------------------------------------- reference forecasts

CLOSE, ATR = 100.0, 10.0


def scored_frame(calls: list[dict[str, Any]]) -> pl.DataFrame:
    """A scored-calls frame (SCORED_COLUMNS) from partial rows: as_of / horizon_end as session
    indices into SESSIONS, the outcome, optional probabilities, group and barriers."""
    rows = []
    for call in calls:
        p = call.get("p", (0.2, 0.4, 0.4))
        outcome = call["outcome"]
        rows.append(
            {
                "root": call.get("root", "RTY"),
                "author": call.get("author", "callbook"),
                "kind": call.get("kind", "backfill"),
                "methodology_version": "v1",
                "source": call.get("source", "demo"),
                "as_of": SESSIONS[call["as_of"]],
                "horizon_end": SESSIONS[call["horizon_end"]],
                "p_bear": p[0],
                "p_sideways": p[1],
                "p_bull": p[2],
                "outcome_ordinal": outcome,
                "rps": float(ranked_probability_score(np.array([p]), np.array([outcome]))[0]),
                "brier": 0.0,
                "log_score": 0.0,
                "close": CLOSE,
                "atr14": ATR,
                "upper_barrier": call.get("upper", 105.0),
                "lower_barrier": call.get("lower", 80.0),
            }
        )
    frame = pl.DataFrame(rows).with_columns(pl.col("outcome_ordinal").cast(pl.Int8))
    assert frame.columns == list(SCORED_COLUMNS)
    return frame


def test_geometry_key_buckets_barrier_distances_in_atr() -> None:
    # Edges 1.0 and 2.5 ATR: below 1 -> 0, [1, 2.5) -> 1, from 2.5 -> 2.
    frame = scored_frame(
        [
            {"as_of": 0, "horizon_end": 20, "outcome": 1, "upper": 105.0, "lower": 80.0},
            {"as_of": 0, "horizon_end": 20, "outcome": 1, "upper": 125.0, "lower": 90.0},
            {"as_of": 0, "horizon_end": 20, "outcome": 1, "upper": 110.0, "lower": 75.1},
        ]
    )
    assert geometry_key(frame, params=PARAMS).to_list() == ["up0|down1", "up2|down1", "up1|down1"]


# Four calls of one group. A (bull) ends on session 3; B, made on session 2, cannot know it; C is
# made on session 3 and knows it; D on session 4 knows A but not B (ends on 5) and not C.
HAND_CALLS: list[dict[str, Any]] = [
    {"as_of": 0, "horizon_end": 3, "outcome": 2},  # A, geometry up0|down1
    {"as_of": 2, "horizon_end": 5, "outcome": 0},  # B, up0|down1
    {"as_of": 3, "horizon_end": 6, "outcome": 1},  # C, up0|down1
    {"as_of": 4, "horizon_end": 7, "outcome": 1, "upper": 130.0},  # D, up2|down1
]


def test_reference_forecasts_by_hand() -> None:
    refs = reference_forecasts(scored_frame(HAND_CALLS), params=PARAMS)
    clim = refs.select("clim_bear", "clim_sideways", "clim_bull").to_numpy()
    geo = refs.select("geo_bear", "geo_sideways", "geo_bull").to_numpy()
    # Climatology: uniform prior worth 3 pseudo-calls; A's bull gives (1, 1, 1 + 1) / (3 + 1).
    after_a = np.array([0.25, 0.25, 0.5])
    np.testing.assert_allclose(clim, [UNIFORM, UNIFORM, after_a, after_a])
    # Geometry: C shares A's bucket: (0 + 20 * 0.25, 0 + 20 * 0.25, 1 + 20 * 0.5) / (1 + 20);
    # D's bucket has no known call: the climatology itself.
    np.testing.assert_allclose(geo, [UNIFORM, UNIFORM, np.array([5, 5, 11]) / 21, after_a])
    outcomes = np.array([c["outcome"] for c in HAND_CALLS])
    np.testing.assert_allclose(refs["clim_rps"], ranked_probability_score(clim, outcomes))
    np.testing.assert_allclose(refs["geo_rps"], ranked_probability_score(geo, outcomes))


REFERENCE_COLUMNS = [f"{ref}_{name}" for ref in ("clim", "geo") for name in NAMES]


@st.composite
def scored_histories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int, list[int]]:
    n = draw(st.integers(min_value=2, max_value=30))
    calls = []
    for _ in range(n):
        as_of = draw(st.integers(0, 50))
        calls.append(
            {
                "as_of": as_of,
                "horizon_end": as_of + draw(st.integers(1, 25)),
                "outcome": draw(st.integers(0, 2)),
                "upper": draw(st.sampled_from([105.0, 115.0, 130.0])),
            }
        )
    target = draw(st.integers(0, n - 1))
    scrambled = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    return calls, target, scrambled


@settings(max_examples=100, deadline=None)
@given(scored_histories())
def test_references_never_use_an_outcome_unknown_at_the_call(
    history: tuple[list[dict[str, Any]], int, list[int]],
) -> None:
    """Changing the outcome of every call whose horizon ends after call i's as-of day leaves both
    references of call i unchanged."""
    calls, target, scrambled = history
    as_of = calls[target]["as_of"]
    altered = [
        {**c, "outcome": s} if c["horizon_end"] > as_of else c
        for c, s in zip(calls, scrambled, strict=True)
    ]

    def references_of_target(rows: list[dict[str, Any]]) -> np.ndarray:
        frame = scored_frame(rows).with_row_index("call")
        refs = reference_forecasts(frame, params=PARAMS)
        return refs.filter(pl.col("call") == target).select(REFERENCE_COLUMNS).to_numpy()

    np.testing.assert_array_equal(references_of_target(calls), references_of_target(altered))


def test_a_changed_outcome_reaches_only_calls_made_after_its_horizon() -> None:
    flipped = [dict(c) for c in HAND_CALLS]
    flipped[0]["outcome"] = 0  # A: bull -> bear
    before = reference_forecasts(scored_frame(HAND_CALLS), params=PARAMS)
    after = reference_forecasts(scored_frame(flipped), params=PARAMS)
    changed = [
        not np.array_equal(b, a)
        for b, a in zip(
            before.select(REFERENCE_COLUMNS).rows(),
            after.select(REFERENCE_COLUMNS).rows(),
            strict=True,
        )
    ]
    assert changed == [False, False, True, True]


# --------------------------------------------------------------------------------- scoreboard


def test_scoreboard_by_hand_and_groups_are_never_mixed() -> None:
    model = scored_frame([{**c, "p": (0.1, 0.3, 0.6)} for c in HAND_CALLS])
    # The analyst's calls come later than the model's and would see all of them if pooled.
    analyst = scored_frame(
        [
            {"as_of": 10, "horizon_end": 30, "outcome": 2, "author": "desk", "kind": "analyst"},
            {"as_of": 40, "horizon_end": 60, "outcome": 0, "author": "desk", "kind": "analyst"},
        ]
    )
    # The same model's calls on another source's bars are a group of their own.
    elsewhere = scored_frame([{**c, "source": "yahoo", "outcome": 0} for c in HAND_CALLS])
    board = scoreboard(pl.concat([model, analyst, elsewhere]), n_boot=200)
    assert board.select("author", "kind", "source", "calls").rows() == [
        ("callbook", "backfill", "demo", 4),
        ("desk", "analyst", "demo", 2),
        ("callbook", "backfill", "yahoo", 4),
    ]
    model_row, analyst_row, _ = board.rows(named=True)

    outcomes = np.array([c["outcome"] for c in HAND_CALLS])
    rps = ranked_probability_score(np.tile([0.1, 0.3, 0.6], (4, 1)), outcomes)
    after_a = [0.25, 0.25, 0.5]
    clim_rps = ranked_probability_score(np.array([UNIFORM, UNIFORM, after_a, after_a]), outcomes)
    skill = 1 - rps.mean() / clim_rps.mean()
    assert model_row["mean_rps"] == pytest.approx(rps.mean())
    assert model_row["mean_clim_rps"] == pytest.approx(clim_rps.mean())
    assert model_row["skill_vs_climatology"] == pytest.approx(skill)
    # Four calls over a 20-session horizon: a bootstrap of them could only rotate the same calls
    # (the old zero-width interval). No interval, and the row says why.
    assert model_row["interval"] == "too few calls: 4 < 60 (3 horizons of 20 sessions)"
    assert [model_row[k] for k in ("skill_low", "skill_high", "geometry_low")] == [None] * 3
    assert model_row["effective_calls"] == 0.2  # 4 calls / H = 20
    assert model_row["climatology"] == "expanding 4"
    assert (model_row["first_as_of"], model_row["last_as_of"]) == (SESSIONS[0], SESSIONS[4])
    # The analyst's second call sees its first call's bull only, never the model's outcomes.
    analyst_clim = np.array([UNIFORM, [0.25, 0.25, 0.5]])
    analyst_rps = ranked_probability_score(np.tile([0.2, 0.4, 0.4], (2, 1)), np.array([2, 0]))
    expected = (
        1 - analyst_rps.mean() / ranked_probability_score(analyst_clim, np.array([2, 0])).mean()
    )
    assert analyst_row["skill_vs_climatology"] == pytest.approx(expected)


# ----------------------------------------------------------------- null and planted-signal tests

SYNTHETIC_SESSIONS = 5_300  # 2004-2025 on the CME calendar: >= 5,000 resolved calls after warm-up
START_LEVEL = 1_000.0
DAILY_VOL = 0.012  # 1.2 % daily returns
OPEN_GAP_VOL = 0.002  # open vs previous settlement
WICK_VOL = 0.005  # high above / low below the session's open-close body
TICK = 0.1


def random_walk_closes(rng: np.random.Generator) -> np.ndarray:
    """Driftless: iid normal simple returns, so every close is a martingale step."""
    return START_LEVEL * np.cumprod(1 + rng.normal(0.0, DAILY_VOL, SYNTHETIC_SESSIONS))


# Planted persistence the model's state can see: the expected daily return is +TREND_DRIFT while
# the closes so far satisfy the model's own Bullish rule (last close > SMA200, SMA50 > SMA200, SMA200
# higher than 21 sessions ago) and -TREND_DRIFT under the Bearish mirror, 0 otherwise. The drift
# pauses once the level has trended TREND_BAND times away from the start: unchecked, a trend that
# feeds itself runs the price to zero or to millions within 5,300 sessions.
TREND_DRIFT = 0.0015
TREND_BAND = 4.0


def trend_following_closes(rng: np.random.Generator) -> np.ndarray:
    shocks = rng.normal(0.0, DAILY_VOL, SYNTHETIC_SESSIONS)
    slow, mid, lookback = PARAMS.sma_slow, PARAMS.sma_mid, PARAMS.trend_slope_lookback
    closes = np.empty(SYNTHETIC_SESSIONS)
    prefix = np.zeros(SYNTHETIC_SESSIONS + 1)  # prefix[t] = sum of closes[:t]
    level = START_LEVEL
    for t in range(SYNTHETIC_SESSIONS):
        drift = 0.0
        if t >= slow + lookback:
            sma_slow = (prefix[t] - prefix[t - slow]) / slow
            sma_mid = (prefix[t] - prefix[t - mid]) / mid
            sma_slow_before = (prefix[t - lookback] - prefix[t - lookback - slow]) / slow
            last = closes[t - 1]
            bullish = last > sma_slow and sma_mid > sma_slow and sma_slow > sma_slow_before
            bearish = last < sma_slow and sma_mid < sma_slow and sma_slow < sma_slow_before
            if bullish and level < START_LEVEL * TREND_BAND:
                drift = TREND_DRIFT
            elif bearish and level > START_LEVEL / TREND_BAND:
                drift = -TREND_DRIFT
        level *= 1 + shocks[t] + drift
        closes[t] = level
        prefix[t + 1] = prefix[t] + level
    return closes


def synthetic_series(closes: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """A continuous-series frame (one contract, offset 0, factor 1) with OHLC on the tick."""
    previous = np.concatenate([[START_LEVEL], closes[:-1]])
    opens = previous * (1 + rng.normal(0.0, OPEN_GAP_VOL, closes.size))
    highs = np.maximum(opens, closes) * (1 + np.abs(rng.normal(0.0, WICK_VOL, closes.size)))
    lows = np.minimum(opens, closes) * (1 - np.abs(rng.normal(0.0, WICK_VOL, closes.size)))
    prices = {
        name: np.round(values / TICK) * TICK
        for name, values in (("open", opens), ("high", highs), ("low", lows), ("close", closes))
    }
    return pl.DataFrame(
        {
            "session_date": SESSIONS[: closes.size],
            "contract": "RTYH26",
            **prices,
            **{f"raw_{name}": values for name, values in prices.items()},
            "offset": 0.0,
            "factor": 1.0,
        }
    )


def scored_backfill(series: pl.DataFrame, *, params: AnalysisParams = PARAMS) -> pl.DataFrame:
    """The audit path end to end: call table -> published snapshot rows -> outcomes resolved on
    the published barriers -> scored calls."""
    table = call_table(series, tick=TICK, params=params)
    fingerprints = input_fingerprints(
        series, peers={}, methodology_version=METHODOLOGY_VERSION, params_hash=params_hash(params)
    )
    snapshots = snapshot_rows(
        table, params, Publication("RTY", "synthetic", TICK, fingerprints)
    ).with_columns(pl.format("RTY-{}", pl.col("as_of")).alias("snapshot_id"))
    outcomes = resolve_outcomes(snapshots, series, params=params)
    return (
        snapshots.drop("horizon_end")
        .join(outcomes, on="snapshot_id", how="inner")
        .with_columns(pl.lit("backfill").alias("kind"))
        .select(SCORED_COLUMNS)
    )


def geometry_skill_vs_climatology(scored: pl.DataFrame) -> float:
    refs = reference_forecasts(scored, params=PARAMS)
    return float(1 - refs["geo_rps"].mean() / refs["clim_rps"].mean())  # type: ignore[operator]


Board = tuple[pl.DataFrame, dict[str, Any]]


def board_of(make_closes: Callable[[np.random.Generator], np.ndarray], seed: int) -> Board:
    rng = np.random.default_rng(seed)
    scored = scored_backfill(synthetic_series(make_closes(rng), rng))
    board = scoreboard(scored, n_boot=2000, seed=seed)
    assert board.height == 1
    return scored, board.row(0, named=True)


@pytest.fixture(scope="module")
def random_walk_board() -> Board:
    return board_of(random_walk_closes, seed=0)


def test_null_random_walk_shows_no_skill_beyond_the_barrier_geometry(
    random_walk_board: Board,
) -> None:
    _, row = random_walk_board
    assert row["calls"] >= 5_000
    # Here -0.006 with the 90 % interval [-0.013, +0.001]. On a random walk trend, volatility and
    # consolidation carry nothing, so the model's full-state cells on top of its geometry rates are
    # estimation noise and the skill leans slightly negative: over seeds 0-29 of this construction
    # it averaged -0.004, the interval lay below 0 for 4 seeds and above 0 for none.
    assert row["geometry_low"] < 0 < row["geometry_high"]
    assert row["skill_vs_geometry"] > -0.02


def test_null_random_walk_skill_vs_climatology_is_the_geometrys(random_walk_board: Board) -> None:
    # Without drift the barrier distances are still real information: a close 0.5 ATR under the
    # upper barrier and 3 ATR above the lower one is far more likely to end bull than bear
    # (gambler's ruin), and a wide corridor is more likely to end sideways. An expanding
    # climatology ignores that, so on a random walk the model beats it by a wide margin (0.21
    # here, interval [0.18, 0.24]) - which is why the null test is run against the geometry reference instead.
    scored, row = random_walk_board
    assert row["skill_vs_climatology"] > 0.15
    assert row["skill_low"] > 0.1
    # Practically all of it is the geometry's own skill over climatology.
    assert row["skill_vs_climatology"] == pytest.approx(
        geometry_skill_vs_climatology(scored), abs=0.02
    )


def test_geometry_reference_is_the_models_own_geometry_layer() -> None:
    # With the full-state layer shrunk away entirely (a' huge) the model's probabilities are its
    # geometry rates, so the scoreboard's geometry reference must reproduce them: zero skill.
    params = AnalysisParams(state_shrinkage_strength=1e12)
    rng = np.random.default_rng(0)
    scored = scored_backfill(synthetic_series(random_walk_closes(rng), rng), params=params)
    row = scoreboard(scored, params=params, n_boot=200).row(0, named=True)
    # Published probabilities have 4 decimals: that is all the difference left.
    assert row["skill_vs_geometry"] == pytest.approx(0.0, abs=1e-4)
    assert row["skill_vs_climatology"] > 0.15


def test_planted_trend_persistence_is_detected_beyond_geometry() -> None:
    _, row = board_of(trend_following_closes, seed=0)
    assert row["calls"] >= 5_000
    # Here 0.029, interval [0.017, 0.041]; detected on each of seeds 0-11. Weaker plants are not
    # seen beyond geometry (they are beyond climatology): AR(1) returns with phi 0.3 (no state
    # variable sees the last few returns) and +-0.1 %/day drift in random regimes of ~250
    # sessions (the trend state lags them, and the barrier geometry already encodes most of the
    # trend: the orientation decides which barrier is the nearby recent extreme).
    assert row["geometry_low"] > 0
    assert row["skill_low"] > 0
    assert row["skill_vs_climatology"] > row["skill_vs_geometry"] > 0


# ------------------------------------------------------------------------- calibration table


def test_calibration_table_by_hand() -> None:
    model = scored_frame(
        [
            {"as_of": 0, "horizon_end": 20, "outcome": 2, "p": (0.1, 0.3, 0.6)},
            {"as_of": 1, "horizon_end": 21, "outcome": 1, "p": (0.15, 0.25, 0.6)},
            {"as_of": 2, "horizon_end": 22, "outcome": 0, "p": (0.5, 0.3, 0.2)},
        ]
    )
    analyst = scored_frame(
        [{"as_of": 0, "horizon_end": 20, "outcome": 0, "p": (0.2, 0.4, 0.4), "author": "desk"}]
    )
    table = calibration_table(pl.concat([model, analyst]), bins=10)
    assert table.columns[: len(GROUP)] == list(GROUP)
    rows = table.select(
        "author", "scenario", "bucket", "count", "hits", "mean_forecast", "observed_frequency"
    ).rows()
    assert rows == [
        # bear: 0.10 and 0.15 in bucket 1 (neither happened), 0.5 in bucket 5 (happened)
        ("callbook", "bear", 1, 2, 0, pytest.approx(0.125), 0.0),
        ("callbook", "bear", 5, 1, 1, pytest.approx(0.5), 1.0),
        # sideways: 0.25 in bucket 2 (happened); 0.3 and 0.3 in bucket 3 (neither)
        ("callbook", "sideways", 2, 1, 1, pytest.approx(0.25), 1.0),
        ("callbook", "sideways", 3, 2, 0, pytest.approx(0.3), 0.0),
        # bull: 0.2 in bucket 2 (no); 0.6 and 0.6 in bucket 6 (one of two)
        ("callbook", "bull", 2, 1, 0, pytest.approx(0.2), 0.0),
        ("callbook", "bull", 6, 2, 1, pytest.approx(0.6), 0.5),
        ("desk", "bear", 2, 1, 1, pytest.approx(0.2), 1.0),
        ("desk", "sideways", 4, 1, 0, pytest.approx(0.4), 0.0),
        ("desk", "bull", 4, 1, 0, pytest.approx(0.4), 0.0),
    ]
    assert calibration_table(model.clear()).height == 0


# ------------------------------------------------------- point-in-time climatology, selection


def test_stored_point_in_time_climatology_is_the_reference_where_the_call_has_one() -> None:
    # Calls A-D again; A and C carry the climatology stored with them (the model's own for C,
    # the model's call of the same day for A, an analyst call), B and D carry none.
    stored = [(0.2, 0.5, 0.3), None, (0.1, 0.6, 0.3), None]
    sources = ["model", None, "stored", None]
    frame = scored_frame(HAND_CALLS).with_columns(
        *(
            pl.Series(name, [None if s is None else s[k] for s in stored], dtype=pl.Float64)
            for k, name in enumerate(("pit_clim_bear", "pit_clim_sideways", "pit_clim_bull"))
        ),
        pl.Series("pit_clim_source", sources, dtype=pl.String),
    )
    refs = reference_forecasts(frame, params=PARAMS)
    clim = refs.select("clim_bear", "clim_sideways", "clim_bull").to_numpy()
    after_a = [0.25, 0.25, 0.5]  # D: expanding, A's bull known
    np.testing.assert_allclose(clim, [stored[0], UNIFORM, stored[2], after_a])
    assert refs["clim_basis"].to_list() == ["model", "expanding", "stored", "expanding"]
    # C's geometry shrinks A's bull toward C's own stored climatology: (0 + 20 * 0.1, ...) / 21.
    np.testing.assert_allclose(
        refs.select("geo_bear", "geo_sideways", "geo_bull").row(2), np.array([2, 12, 7]) / 21
    )
    row = scoreboard(frame, n_boot=200).row(0, named=True)
    assert row["climatology"] == "expanding 2, model 1, stored 1"
    outcomes = np.array([c["outcome"] for c in HAND_CALLS])
    assert row["mean_clim_rps"] == pytest.approx(ranked_probability_score(clim, outcomes).mean())


def test_late_and_in_sample_calls_are_left_out_unless_asked_for_and_then_kept_apart() -> None:
    calls = scored_frame(HAND_CALLS).with_columns(
        pl.Series("recorded_late", [False, True, False, None]),
        pl.Series("in_tuning_period", [True, False, False, None]),
    )
    default = select_calls(calls)
    # A is in the tuning period, B was recorded late: both out; D's tuning is undeclared: kept,
    # flagged. C is clean.
    assert default.scored.select("as_of", "flags").rows() == [
        (SESSIONS[3], ""),
        (SESSIONS[4], "tuning period undeclared"),
    ]
    assert default.left_out.select("reason", "calls").rows() == [
        ("in tuning period", 1),
        ("recorded late", 1),
    ]
    everything = select_calls(calls, include_late=True, include_tuning=True)
    assert everything.left_out.height == 0
    board = scoreboard(everything.scored, n_boot=200)
    assert board.select("flags", "calls").rows() == [
        ("in tuning period", 1),
        ("recorded late", 1),
        ("", 1),
        ("tuning period undeclared", 1),
    ]
    assert select_calls(calls, include_late=True).scored.height == 3


def test_calibration_intervals_count_overlapping_calls_once_per_horizon() -> None:
    # 60 consecutive daily calls at p_bull = 0.55 over H = 20 (fewer than 10 horizons: the
    # overlap bound): 3600 / (60 + 2 * sum_{d=1}^{19} (1 - d / 20) (60 - d)) = 3600 / 1067,
    # with sum (60 - d) = 950 and sum d (60 - d) / 20 = (11400 - 2470) / 20 = 446.5.
    model = scored_frame(
        [
            {
                "as_of": i,
                "horizon_end": i + 20,
                "outcome": 2 if i < 30 else 1,
                "p": (0.15, 0.3, 0.55),
            }
            for i in range(60)
        ]
    )
    table = calibration_table(model).filter(pl.col("scenario") == "bull")
    row = table.row(0, named=True)
    pair_weight = 60 + 2 * sum((1 - d / 20) * (60 - d) for d in range(1, 20))
    assert pair_weight == 1067
    assert (row["count"], row["hits"]) == (60, 30)
    assert row["effective_count"] == pytest.approx(3600 / 1067)
    assert row["interval_basis"] == "overlap bound"
    # Wilson 90 % at 0.5 on n = 3.374 calls: half-width z / (1 + z^2 / n) * sqrt(0.25 / n +
    # z^2 / (4 n^2)) = 0.9129 * 0.3654 = 0.3336 (on 60 independent calls it would be 0.104).
    assert (row["frequency_low"], row["frequency_high"]) == pytest.approx(
        (0.1664, 0.8336), abs=1e-3
    )
