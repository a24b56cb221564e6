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

A call whose horizon is not over yet has a *status so far* (:func:`call_progress`), computed by
the same machinery on the sessions elapsed: how many of the horizon, whether a barrier was
touched (intraday) or accepted (then the scenario is settled, though it is scored only once the
horizon is over), the line and the risk rule so far, MFE/MAE so far. It is never a score: no RPS
exists until the call is resolved.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from pipeline.analysis import barriers
from pipeline.analysis import indicators as ind
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.scenarios import (
    UNRESOLVED,
    first_acceptance,
    scenario_outcome,
    sessions_ahead,
)
from pipeline.analysis.sessions import on_trade_calendar
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


#: An open call's status so far (one row per call whose horizon is not over).
PROGRESS_SCHEMA: dict[str, Any] = {
    "snapshot_id": pl.String(),
    "through_session": pl.Date(),  # the last session of the series the status was read on
    "sessions_elapsed": pl.Int64(),  # sessions after as_of so far (< horizon_sessions)
    "horizon_sessions": pl.Int64(),
    "status": pl.String(),  # bull | bear (settled: acceptance beyond a barrier) | open
    "settled_session": pl.Date(),  # the session the settled scenario's acceptance completed
    "upper_touch_step": pl.Int64(),  # first session (after as_of) whose high reached the upper barrier
    "lower_touch_step": pl.Int64(),  # first session whose low reached the lower barrier
    "upper_accept_step": pl.Int64(),  # acceptance above the upper barrier completed (null: not yet)
    "lower_accept_step": pl.Int64(),  # acceptance below the lower barrier completed
    "line_break_step": pl.Int64(),  # acceptance beyond the line in the sand (null: held so far)
    "risk_trigger_step": pl.Int64(),  # the risk rule fired (null: not so far)
    "close_so_far": pl.Float64(),  # settlement of through_session, as-of front contract points
    "mfe_atr": pl.Float64(),  # maximum favourable excursion so far, ATR of as_of
    "mae_atr": pl.Float64(),  # maximum adverse excursion so far
}


@dataclass(frozen=True)
class _Assessment:
    """Everything the rules say about the located calls over the sessions seen (pure arrays)."""

    located: pl.DataFrame  # the calls, with session_index, offset_d, factor_d
    dates: pl.Series  # the series' session dates
    horizon: int
    elapsed: np.ndarray  # sessions seen after as_of, at most the horizon
    close_d: np.ndarray
    last_close: np.ndarray  # the last settlement seen by the horizon's end (internal series)
    first_up: np.ndarray  # acceptance steps (horizon + 1: none so far)
    first_down: np.ndarray
    touch_up: np.ndarray  # intraday touch steps (horizon + 1: none so far)
    touch_down: np.ndarray
    resolvable: np.ndarray
    line_break: np.ndarray
    bias_accept: np.ndarray
    risk_step: np.ndarray
    mfe: np.ndarray
    mae: np.ndarray
    trend: np.ndarray
    atr: np.ndarray


def _assess(
    calls: pl.DataFrame,
    series: pl.DataFrame,
    params: AnalysisParams,
    *,
    complete: bool,
    trade_dates: Sequence[date] | None = None,
) -> _Assessment | None:
    """Apply the resolution rules to the calls of ONE root: those whose horizon is complete in
    ``series`` (``complete``) or those whose horizon is not over yet (the sessions seen so far).
    None when no call qualifies. ``trade_dates``: see :func:`resolve_outcomes`."""
    missing = [c for c in CALL_COLUMNS if c not in calls.columns]
    if missing:
        raise ResolutionError(f"calls lack column(s) {', '.join(missing)}")
    if calls.height == 0 or series.height == 0:
        return None
    if calls["root"].n_unique() != 1:
        raise ResolutionError("resolve_outcomes takes the calls of one root at a time")
    horizons = calls["horizon_sessions"].unique().to_list()
    if len(horizons) != 1:
        raise ResolutionError(f"calls mix horizons {sorted(horizons)}: resolve them separately")
    horizon = int(horizons[0])
    if trade_dates is not None:  # a session without a bar has no prices: NaN below
        series = on_trade_calendar(series, trade_dates)

    hlc = ("close", "high", "low")
    indexed = series.with_row_index("session_index").with_columns(
        ind.sma("close", params.sma_mid).alias("sma50")
    )
    done = pl.col("session_index") + horizon < series.height
    located = calls.join(
        indexed.select(
            pl.col("session_date").alias("as_of"),
            "session_index",
            pl.col("offset").alias("offset_d"),
            pl.col("factor").alias("factor_d"),
        ),
        on="as_of",
        how="inner",
    ).filter(done if complete else ~done)
    if located.height == 0:
        return None

    def internal(column: str | pl.Expr) -> np.ndarray:
        price = pl.col(column) if isinstance(column, str) else column
        frame = located.select((price * pl.col("factor_d") + pl.col("offset_d")).fill_null(np.nan))
        return frame.to_series().to_numpy().astype(float)

    at = located["session_index"].to_numpy().astype(np.int64)
    close, high, low = (indexed[c].fill_null(np.nan).to_numpy().astype(float) for c in hlc)
    last_settlement = indexed["close"].forward_fill().to_numpy().astype(float)
    sma50 = indexed["sma50"].fill_null(np.nan).to_numpy().astype(float)
    atr = located["atr14"].to_numpy().astype(float) * located["factor_d"].to_numpy()
    threshold = params.acceptance_atr * atr
    n_sessions = params.acceptance_sessions
    elapsed = np.minimum(series.height - 1 - at, horizon)

    # Past the last session the matrices hold NaN: no comparison is true there, so every step
    # below is "none so far" (horizon + 1) unless it happened within the sessions seen.
    closes = sessions_ahead(close, at, horizon=horizon)

    def accepted(beyond: np.ndarray) -> np.ndarray:
        return first_acceptance(beyond, sessions=n_sessions)

    upper, lower = internal("upper_barrier"), internal("lower_barrier")
    first_up = accepted(closes > (upper + threshold)[:, None])
    first_down = accepted(closes < (lower - threshold)[:, None])
    resolvable = np.isfinite(upper) & np.isfinite(lower) & np.isfinite(atr) & (atr > 0)

    up = (located["orientation"] == "up").to_numpy()
    line_edge = internal(barriers.line_trigger())
    bias_edge = internal(barriers.bias_trigger())
    below_line = closes < (line_edge - threshold)[:, None]
    above_line = closes > (line_edge + threshold)[:, None]
    line_break = accepted(np.where(up[:, None], below_line, above_line))
    beyond_bias = np.where(
        up[:, None],
        closes > (bias_edge + threshold)[:, None],
        closes < (bias_edge - threshold)[:, None],
    )
    bias_accept = accepted(beyond_bias)

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

    trend = located["primary_trend"].to_numpy()
    direction = np.where(trend == "Bullish", 1.0, np.where(trend == "Bearish", -1.0, 0.0))
    direction = np.where(direction == 0.0, np.where(up, 1.0, -1.0), direction)
    close_d = close[at]
    highs, lows = (
        sessions_ahead(high, at, horizon=horizon),
        sessions_ahead(low, at, horizon=horizon),
    )
    touch_up = first_acceptance(highs >= upper[:, None], sessions=1)
    touch_down = first_acceptance(lows <= lower[:, None], sessions=1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an open call may have seen no session
        max_up = (np.nanmax(highs, axis=1) - close_d) / atr
        max_down = (close_d - np.nanmin(lows, axis=1)) / atr
    mfe = np.maximum(np.where(direction > 0, max_up, max_down), 0.0)
    mae = np.maximum(np.where(direction > 0, max_down, max_up), 0.0)
    return _Assessment(
        located=located,
        dates=indexed["session_date"],
        horizon=horizon,
        elapsed=elapsed,
        close_d=close_d,
        last_close=last_settlement[at + elapsed],
        first_up=first_up,
        first_down=first_down,
        touch_up=touch_up,
        touch_down=touch_down,
        resolvable=resolvable,
        line_break=line_break,
        bias_accept=bias_accept,
        risk_step=risk_step,
        mfe=mfe,
        mae=mae,
        trend=trend,
        atr=atr,
    )


def _step_or_null(step: np.ndarray, limit: np.ndarray | int) -> pl.Series:
    return pl.Series(np.where(step <= limit, step, -1)).replace(-1, None)


def resolve_outcomes(
    calls: pl.DataFrame,
    series: pl.DataFrame,
    *,
    params: AnalysisParams | None = None,
    trade_dates: Sequence[date] | None = None,
) -> pl.DataFrame:
    """Outcomes (OUTCOME_SCHEMA) of the ``calls`` of ONE root whose horizon has passed in ``series``.

    ``series``: the root's continuous series (session_date, high, low, close, offset, factor),
    sorted. Calls whose as-of session is not in the series, or whose horizon extends past its
    last session, are left out (not yet resolvable: see :func:`call_progress`). The acceptance
    threshold is ``acceptance_atr`` times the call's own ATR.

    ``trade_dates`` (the root's trade calendar over the series; for the calls of a methodology
    that counts sessions on it, ``Methodology.on_trade_calendar``, v4 on): the horizon counts
    trade dates, a session without a bar counting as one and settling nothing (no close, no
    touch); ``close_at_horizon`` is the last settlement by the horizon's end. None (v1-v3, as
    they were stored and verified): the horizon counts the series' rows.
    """
    params = params or AnalysisParams()
    a = _assess(calls, series, params, complete=True, trade_dates=trade_dates)
    if a is None:
        return pl.DataFrame(schema=OUTCOME_SCHEMA)
    horizon, located = a.horizon, a.located
    at = located["session_index"].to_numpy().astype(np.int64)
    outcome, steps = scenario_outcome(a.first_up, a.first_down, a.resolvable, horizon=horizon)
    line_broken = a.line_break <= horizon
    risk_triggered = a.risk_step <= horizon
    close_h = a.last_close
    move = close_h - a.close_d
    trend = a.trend
    trend_correct = np.where(
        trend == "Bullish",
        move > 0,
        np.where(trend == "Bearish", move < 0, np.abs(move) < params.neutral_band_atr * a.atr),
    )

    probs = located.select("p_bear", "p_sideways", "p_bull").to_numpy().astype(float)
    keep = outcome != UNRESOLVED
    resolved_at = at + np.maximum(steps, 0)
    out = pl.DataFrame(
        {
            "snapshot_id": located["snapshot_id"],
            "resolved_session": a.dates.gather(resolved_at),
            "horizon_end": a.dates.gather(at + horizon),
            "outcome": [SCENARIOS[o] if o >= 0 else None for o in outcome],
            "outcome_ordinal": outcome.astype(np.int8),
            "steps": steps,
            "close_at_horizon": np.round(
                (close_h - located["offset_d"].to_numpy()) / located["factor_d"].to_numpy(), 6
            ),
            "mfe_atr": np.round(a.mfe, 4),
            "mae_atr": np.round(a.mae, 4),
            "line_held": ~line_broken,
            "line_break_step": _step_or_null(a.line_break, horizon),
            "bias_accepted": a.bias_accept <= horizon,
            "risk_triggered": risk_triggered,
            "risk_trigger_step": _step_or_null(a.risk_step, horizon),
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


def call_progress(
    calls: pl.DataFrame,
    series: pl.DataFrame,
    *,
    params: AnalysisParams | None = None,
    trade_dates: Sequence[date] | None = None,
) -> pl.DataFrame:
    """The status so far (PROGRESS_SCHEMA) of the ``calls`` of ONE root whose horizon is not over
    in ``series``: the complement of :func:`resolve_outcomes`, by the same rules on the sessions
    seen. Calls whose as-of session is not in the series are left out.

    ``status`` is ``bull`` or ``bear`` once acceptance beyond that barrier came first (settled:
    later sessions cannot change it, the scores wait for the horizon's end), else ``open`` (if
    the horizon ended now it would be sideways). No score is computed. ``trade_dates``: as for
    :func:`resolve_outcomes`.
    """
    params = params or AnalysisParams()
    a = _assess(calls, series, params, complete=False, trade_dates=trade_dates)
    if a is None:
        return pl.DataFrame(schema=PROGRESS_SCHEMA)
    located, elapsed = a.located, a.elapsed
    at = located["session_index"].to_numpy().astype(np.int64)
    first = np.minimum(a.first_up, a.first_down)
    settled = a.resolvable & (first <= elapsed)
    status = np.where(settled, np.where(a.first_up < a.first_down, "bull", "bear"), "open").tolist()
    seen = elapsed > 0
    return pl.DataFrame(
        {
            "snapshot_id": located["snapshot_id"],
            "through_session": a.dates.gather(at + elapsed),
            "sessions_elapsed": elapsed,
            "horizon_sessions": np.full(located.height, a.horizon),
            "status": status,
            "settled_session": [
                day if done else None
                for day, done in zip(
                    a.dates.gather(at + np.where(settled, first, 0)), settled, strict=True
                )
            ],
            "upper_touch_step": _step_or_null(a.touch_up, elapsed),
            "lower_touch_step": _step_or_null(a.touch_down, elapsed),
            "upper_accept_step": _step_or_null(a.first_up, elapsed),
            "lower_accept_step": _step_or_null(a.first_down, elapsed),
            "line_break_step": _step_or_null(a.line_break, elapsed),
            "risk_trigger_step": _step_or_null(a.risk_step, elapsed),
            "close_so_far": np.round(
                (a.last_close - located["offset_d"].to_numpy()) / located["factor_d"].to_numpy(),
                6,
            ),
            "mfe_atr": [
                float(v) if ok else None for v, ok in zip(np.round(a.mfe, 4), seen, strict=True)
            ],
            "mae_atr": [
                float(v) if ok else None for v, ok in zip(np.round(a.mae, 4), seen, strict=True)
            ],
        }
    ).cast(pl.Schema(PROGRESS_SCHEMA))


def describe_progress(row: dict[str, Any]) -> str:
    """One line for an open call's status so far (no score).

    >>> from datetime import date
    >>> describe_progress({"status": "open", "sessions_elapsed": 13, "horizon_sessions": 20,
    ...     "upper_touch_step": 5, "lower_touch_step": None, "line_break_step": None,
    ...     "risk_trigger_step": None, "mfe_atr": 1.25, "mae_atr": 0.4,
    ...     "through_session": date(2026, 2, 24), "settled_session": None})
    'sideways so far, 13 of 20 sessions (to 2026-02-24): upper barrier touched on session 5, not accepted; line in the sand held; MFE 1.2 ATR, MAE 0.4 ATR; not scored until the horizon ends'
    """
    elapsed, horizon = row["sessions_elapsed"], row["horizon_sessions"]
    through = row["through_session"]
    if elapsed == 0:
        return f"no session after the call yet (series to {through}); {horizon} to go"
    if row["status"] in ("bull", "bear"):
        head = (
            f"{row['status']}: settled on {row['settled_session']} (acceptance beyond the "
            f"{'upper' if row['status'] == 'bull' else 'lower'} barrier), {elapsed} of "
            f"{horizon} sessions elapsed (to {through})"
        )
    else:
        head = f"sideways so far, {elapsed} of {horizon} sessions (to {through})"
    touches = [
        f"{side} barrier touched on session {row[f'{side}_touch_step']}"
        + ("" if row["status"] in ("bull", "bear") else ", not accepted")
        for side in ("upper", "lower")
        if row.get(f"{side}_touch_step") is not None
    ]
    facts = [*touches] or ["no barrier touched"]
    facts.append(
        "line in the sand held"
        if row.get("line_break_step") is None
        else f"line in the sand broken on session {row['line_break_step']}"
    )
    if row.get("risk_trigger_step") is not None:
        facts.append(f"risk rule triggered on session {row['risk_trigger_step']}")
    if row.get("mfe_atr") is not None:
        facts.append(f"MFE {row['mfe_atr']:.1f} ATR, MAE {row['mae_atr']:.1f} ATR")
    return f"{head}: {'; '.join(facts)}; not scored until the horizon ends"
