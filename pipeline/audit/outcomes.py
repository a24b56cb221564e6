"""Outcome resolution: what the market did after each call, once its horizon has passed.

A call made after session D is resolved on the ``horizon`` sessions after D of the continuous
series as known now, by the same first-touch-with-acceptance rule that made its probabilities
(:mod:`pipeline.analysis.scenarios`). The call's published prices are in the D front contract's
points; on the series they sit at ``price * factor(D) + offset(D)``, so a roll inside the horizon
needs no special case. Everything here is a pure function of the calls and the series.

Per call: the realised scenario and the session it was settled on; maximum favourable and adverse
excursion in ATR of D (favourable = the call's direction: up for Bullish, down for Bearish, the
orientation for Neutral); whether the line in the sand held (no acceptance beyond it); whether the
bias-defining level was accepted; whether the risk to the thesis triggered; whether the primary
trend was right over the horizon; and the ranked probability, Brier and log scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pipeline.analysis import indicators as ind
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.scenarios import (
    UNRESOLVED,
    first_acceptance,
    scenario_outcome,
    sessions_ahead,
)
from pipeline.analysis.snapshot import SCENARIOS
from pipeline.audit.scores import brier_score, log_score, ranked_probability_score

#: What a call row needs (wide snapshot rows as stored).
CALL_COLUMNS: tuple[str, ...] = (
    "snapshot_id", "root", "as_of", "primary_trend", "orientation", "atr14", "close",
    "upper_barrier", "lower_barrier", "line_low", "line_high", "bias_low", "bias_high",
    "risk_rule", "risk_level", "p_bear", "p_sideways", "p_bull", "horizon_sessions",
)  # fmt: skip

OUTCOME_SCHEMA: dict[str, Any] = {
    "snapshot_id": pl.String(),
    "resolved_session": pl.Date(),  # the session the outcome was settled on
    "horizon_end": pl.Date(),  # the last session of the horizon
    "outcome": pl.String(),  # bear | sideways | bull
    "outcome_ordinal": pl.Int8(),
    "steps": pl.Int64(),  # sessions after as_of until resolution
    "close_at_horizon": pl.Float64(),  # settlement at horizon end, as-of front contract points
    "mfe_atr": pl.Float64(),  # maximum favourable excursion in ATR of as_of
    "mae_atr": pl.Float64(),  # maximum adverse excursion in ATR of as_of
    "line_held": pl.Boolean(),
    "line_break_step": pl.Int64(),  # sessions after as_of when the line broke; null if it held
    "bias_accepted": pl.Boolean(),
    "risk_triggered": pl.Boolean(),
    "risk_trigger_step": pl.Int64(),  # sessions after as_of when the risk rule fired; null if not
    "trend_correct": pl.Boolean(),
    "rps": pl.Float64(),  # ranked probability score (lower is better)
    "brier": pl.Float64(),
    "log_score": pl.Float64(),
}


class ResolutionError(ValueError):
    pass


def resolve_outcomes(
    calls: pl.DataFrame, series: pl.DataFrame, *, params: AnalysisParams | None = None
) -> pl.DataFrame:
    """Outcomes (OUTCOME_SCHEMA) of the ``calls`` of ONE root whose horizon has passed in ``series``.

    ``series``: the root's continuous series (session_date, high, low, close, offset, factor),
    sorted. Calls whose as-of session is not in the series, or whose horizon extends past its
    last session, are left out (not yet resolvable). The acceptance threshold is
    ``acceptance_atr`` times the call's own ATR.
    """
    params = params or AnalysisParams()
    missing = [c for c in CALL_COLUMNS if c not in calls.columns]
    if missing:
        raise ResolutionError(f"calls lack column(s) {', '.join(missing)}")
    if calls.height == 0 or series.height == 0:
        return pl.DataFrame(schema=OUTCOME_SCHEMA)
    if calls["root"].n_unique() != 1:
        raise ResolutionError("resolve_outcomes takes the calls of one root at a time")
    horizons = calls["horizon_sessions"].unique().to_list()
    if len(horizons) != 1:
        raise ResolutionError(f"calls mix horizons {sorted(horizons)}: resolve them separately")
    horizon = int(horizons[0])

    indexed = series.with_row_index("session_index").with_columns(
        ind.sma("close", params.sma_mid).alias("sma50")
    )
    located = calls.join(
        indexed.select(
            pl.col("session_date").alias("as_of"),
            "session_index",
            pl.col("offset").alias("offset_d"),
            pl.col("factor").alias("factor_d"),
        ),
        on="as_of",
        how="inner",
    ).filter(pl.col("session_index") + horizon < series.height)
    if located.height == 0:
        return pl.DataFrame(schema=OUTCOME_SCHEMA)

    def internal(column: str) -> np.ndarray:
        frame = located.select(
            (pl.col(column) * pl.col("factor_d") + pl.col("offset_d")).fill_null(np.nan)
        )
        return frame.to_series().to_numpy().astype(float)

    at = located["session_index"].to_numpy().astype(np.int64)
    close = indexed["close"].to_numpy().astype(float)
    high = indexed["high"].to_numpy().astype(float)
    low = indexed["low"].to_numpy().astype(float)
    sma50 = indexed["sma50"].fill_null(np.nan).to_numpy().astype(float)
    atr = located["atr14"].to_numpy().astype(float) * located["factor_d"].to_numpy()
    threshold = params.acceptance_atr * atr
    n_sessions = params.acceptance_sessions

    closes = sessions_ahead(close, at, horizon=horizon)

    def accepted(beyond: np.ndarray) -> np.ndarray:
        return first_acceptance(beyond, sessions=n_sessions)

    upper, lower = internal("upper_barrier"), internal("lower_barrier")
    first_up = accepted(closes > (upper + threshold)[:, None])
    first_down = accepted(closes < (lower - threshold)[:, None])
    resolvable = np.isfinite(upper) & np.isfinite(lower) & np.isfinite(atr) & (atr > 0)
    outcome, steps = scenario_outcome(first_up, first_down, resolvable, horizon=horizon)

    up = (located["orientation"] == "up").to_numpy()
    line_edge = np.where(up, internal("line_low"), internal("line_high"))
    bias_edge = np.where(up, internal("bias_high"), internal("bias_low"))
    below_line = closes < (line_edge - threshold)[:, None]
    above_line = closes > (line_edge + threshold)[:, None]
    line_break = accepted(np.where(up[:, None], below_line, above_line))
    line_broken = line_break <= horizon
    beyond_bias = np.where(
        up[:, None],
        closes > (bias_edge + threshold)[:, None],
        closes < (bias_edge - threshold)[:, None],
    )
    bias_accepted = accepted(beyond_bias) <= horizon

    risk_rule = located["risk_rule"].to_numpy()
    own_sma50 = sessions_ahead(sma50, at, horizon=horizon)
    risk_level = internal("risk_level")
    risk_beyond = np.select(
        [
            (risk_rule == "accept_below_sma50")[:, None],
            (risk_rule == "accept_above_sma50")[:, None],
            (risk_rule == "accept_below_line")[:, None],
            (risk_rule == "accept_above_line")[:, None],
        ],
        [
            closes < own_sma50 - threshold[:, None],
            closes > own_sma50 + threshold[:, None],
            closes < (risk_level - threshold)[:, None],
            closes > (risk_level + threshold)[:, None],
        ],
        default=False,
    )
    risk_step = accepted(risk_beyond)
    risk_triggered = risk_step <= horizon

    trend = located["primary_trend"].to_numpy()
    direction = np.where(trend == "Bullish", 1.0, np.where(trend == "Bearish", -1.0, 0.0))
    direction = np.where(direction == 0.0, np.where(up, 1.0, -1.0), direction)
    close_d = close[at]
    highs, lows = (
        sessions_ahead(high, at, horizon=horizon),
        sessions_ahead(low, at, horizon=horizon),
    )
    max_up = (np.nanmax(highs, axis=1) - close_d) / atr
    max_down = (close_d - np.nanmin(lows, axis=1)) / atr
    mfe = np.maximum(np.where(direction > 0, max_up, max_down), 0.0)
    mae = np.maximum(np.where(direction > 0, max_down, max_up), 0.0)
    close_h = closes[:, -1]
    move = close_h - close_d
    trend_correct = np.where(
        trend == "Bullish",
        move > 0,
        np.where(trend == "Bearish", move < 0, np.abs(move) < params.neutral_band_atr * atr),
    )

    probs = located.select("p_bear", "p_sideways", "p_bull").to_numpy().astype(float)
    keep = outcome != UNRESOLVED
    dates = indexed["session_date"]
    resolved_at = at + np.maximum(steps, 0)
    out = pl.DataFrame(
        {
            "snapshot_id": located["snapshot_id"],
            "resolved_session": dates.gather(resolved_at),
            "horizon_end": dates.gather(at + horizon),
            "outcome": [SCENARIOS[o] if o >= 0 else None for o in outcome],
            "outcome_ordinal": outcome.astype(np.int8),
            "steps": steps,
            "close_at_horizon": np.round(
                (close_h - located["offset_d"].to_numpy()) / located["factor_d"].to_numpy(), 6
            ),
            "mfe_atr": np.round(mfe, 4),
            "mae_atr": np.round(mae, 4),
            "line_held": ~line_broken,
            "line_break_step": pl.Series(np.where(line_broken, line_break, -1)).replace(-1, None),
            "bias_accepted": bias_accepted,
            "risk_triggered": risk_triggered,
            "risk_trigger_step": pl.Series(np.where(risk_triggered, risk_step, -1)).replace(
                -1, None
            ),
            "trend_correct": trend_correct,
        }
    ).filter(pl.Series(keep))
    kept = probs[keep]
    realised = outcome[keep]
    return (
        out.with_columns(
            pl.Series("rps", np.round(ranked_probability_score(kept, realised), 6)),
            pl.Series("brier", np.round(brier_score(kept, realised), 6)),
            pl.Series("log_score", np.round(log_score(kept, realised), 6)),
        )
        .select(list(OUTCOME_SCHEMA))
        .cast(pl.Schema(OUTCOME_SCHEMA))
    )
