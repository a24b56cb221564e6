"""The call table: every session's call, computed in one causal pass over a continuous series.

``call_table(series)`` returns one row per session with everything a snapshot holds: indicators,
primary trend, market perspective, structure facts, the named levels, the risk to the thesis, the
scenario barriers, the realised outcome (where the horizon has passed inside the series) and the
point-in-time scenario probabilities. Every value on row D depends only on rows <= D (indicators
are causal, pivots are used from their confirmation session, analogs only once their horizon has
ended), so the last row of ``call_table(series up to D)`` equals row D of ``call_table(series)``:
the nightly call and the historical backfill are the same computation.

Prices: the series is the internal forward-anchored continuous series
(:func:`pipeline.market.continuous.continuous_series`); published levels are converted to the front
contract of their own session, ``(internal - offset) / factor``, and rounded to the tick.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.analysis import indicators as ind
from pipeline.analysis.levels import Candidate, NamedLevels, Zone, cluster_zones, named_levels
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.relative import relative_strength
from pipeline.analysis.scenarios import (
    UNRESOLVED,
    base_rate_probabilities,
    distance_bucket,
    resolve_barriers,
)
from pipeline.analysis.swings import swing_points
from pipeline.report.format import tick_decimals

LEVEL_PREFIXES: dict[str, str] = {
    "line_in_the_sand": "line",
    "bias_defining": "bias",
    "extension": "ext",
    "deeper": "deep",
}
SERIES_COLUMNS = (
    "session_date",
    "contract",
    "open",
    "high",
    "low",
    "close",
    "raw_close",
    "offset",
    "factor",
)


class AnalysisInputError(ValueError):
    pass


def call_table(
    series: pl.DataFrame,
    *,
    tick: float,
    params: AnalysisParams | None = None,
    peers: Mapping[str, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Every session's call on one root (see the module docstring).

    ``series``: a continuous series sorted by session_date with columns SERIES_COLUMNS.
    ``peers``: other roots' continuous series for relative strength, by root name.
    Rows before ``warmup_sessions`` valid sessions carry indicators but no call (``has_call``
    false, levels and probabilities null).
    """
    params = params or AnalysisParams()
    check_series(series)
    table = _with_indicators(series, params)
    table = _with_trend_and_perspective(table, params)
    table = _with_structure_and_levels(table, params, tick=tick)
    table = _with_outcomes(table, params)
    table = _with_probabilities(table, params)
    for peer_root, peer_series in sorted((peers or {}).items()):
        rs = relative_strength(series, peer_series, params=params)
        table = table.join(
            rs.rename({c: f"rs_{peer_root}_{c}" for c in rs.columns if c != "session_date"}),
            on="session_date",
            how="left",
        )
    return table


def check_series(series: pl.DataFrame) -> None:
    """Raise AnalysisInputError unless ``series`` can be analysed (columns, order, full bars)."""
    missing = [c for c in SERIES_COLUMNS if c not in series.columns]
    if missing:
        raise AnalysisInputError(f"series lacks column(s) {', '.join(missing)}")
    if series.height and not series["session_date"].is_sorted():
        raise AnalysisInputError("series must be sorted by session_date")
    gaps = series.filter(pl.any_horizontal(pl.col("high", "low", "close").is_null()))
    if gaps.height:
        # Validation never loads such bars; a series built from other data may carry them.
        raise AnalysisInputError(
            f"series has no high/low/close on {gaps['session_date'][0]} "
            f"({gaps.height} session(s)): every session needs a complete bar"
        )


def _with_indicators(series: pl.DataFrame, p: AnalysisParams) -> pl.DataFrame:
    hl = ("high", "low", "close")
    return series.with_columns(
        ind.sma("close", p.sma_fast).alias("sma20"),
        ind.sma("close", p.sma_mid).alias("sma50"),
        ind.sma("close", p.sma_slow).alias("sma200"),
        ind.ema("close", p.ema_window).alias("ema21"),
        ind.wilder_atr(*hl, window=p.atr_window).alias("atr14"),
        ind.wilder_rsi("close", window=p.rsi_window).alias("rsi14"),
        ind.adx(*hl, window=p.adx_window).alias("adx14"),
        ind.rolling_high("high", p.bias_high_window).alias("recent_high"),
        ind.rolling_low("low", p.bias_high_window).alias("recent_low"),
        ind.rolling_high("high", p.consolidation_window).alias("range_high"),
        ind.rolling_low("low", p.consolidation_window).alias("range_low"),
        ind.rolling_high("high", p.extreme_window).alias("high_252"),
        ind.rolling_low("low", p.extreme_window).alias("low_252"),
    ).with_columns(
        ind.change("sma200", lookback=p.trend_slope_lookback).alias("sma200_change"),
        ind.change("sma50", lookback=p.trend_slope_lookback).alias("sma50_change"),
        (pl.int_range(pl.len()) >= p.warmup_sessions - 1).alias("warm"),
    )


def _with_trend_and_perspective(table: pl.DataFrame, p: AnalysisParams) -> pl.DataFrame:
    close, sma50, sma200, atr = pl.col("close"), pl.col("sma50"), pl.col("sma200"), pl.col("atr14")
    rising = pl.col("sma200_change") > 0
    falling = pl.col("sma200_change") < 0
    trend = (
        pl.when((close > sma200) & (sma50 > sma200) & rising)
        .then(pl.lit("Bullish"))
        .when((close < sma200) & (sma50 < sma200) & falling)
        .then(pl.lit("Bearish"))
        .otherwise(pl.lit("Neutral"))
    )
    table = table.with_columns(
        trend.alias("primary_trend"),
        ((close - sma200) / atr).alias("dist_sma200_atr"),
        (pl.col("raw_close") / ((sma200 - pl.col("offset")) / pl.col("factor")) - 1).alias(
            "dist_sma200_pct"
        ),
        ((close - sma50) / atr).alias("dist_sma50_atr"),
        ((pl.col("range_high") - pl.col("range_low")) / atr).alias("range_atr"),
        ((pl.col("high_252") - close) / atr).alias("dist_high_252_atr"),
        ((close - pl.col("low_252")) / atr).alias("dist_low_252_atr"),
    )
    consolidating = pl.col("range_atr") <= p.consolidation_max_range_atr
    near_high = pl.col("dist_high_252_atr") <= p.near_extreme_atr
    near_low = pl.col("dist_low_252_atr") <= p.near_extreme_atr
    t = pl.col("primary_trend")
    perspective = (
        pl.when(consolidating & near_high)
        .then(pl.lit("consolidation near highs"))
        .when(consolidating & near_low)
        .then(pl.lit("consolidation near lows"))
        .when(t == "Bullish")
        .then(
            pl.when(close >= pl.col("sma20"))
            .then(pl.lit("trending higher"))
            .otherwise(pl.lit("pullback within uptrend"))
        )
        .when(t == "Bearish")
        .then(
            pl.when(close <= pl.col("sma20"))
            .then(pl.lit("trending lower"))
            .otherwise(pl.lit("rebound within downtrend"))
        )
        .otherwise(pl.lit("range"))
    )
    orientation = (
        pl.when((t == "Bullish") | ((t == "Neutral") & (close >= sma50)))
        .then(pl.lit("up"))
        .otherwise(pl.lit("down"))
    )
    return table.with_columns(
        consolidating.alias("consolidating"),
        perspective.alias("perspective"),
        orientation.alias("orientation"),
        (pl.col("dist_sma200_atr") >= p.well_above_200_atr).alias("well_above_sma200"),
    )


@dataclass
class _Run:
    """A run of strictly rising (or falling) confirmed swing points."""

    last_price: float = math.nan
    length: int = 0
    start: object = None

    def extend(self, price: float, pivot_date: object, *, rising: bool) -> None:
        continues = self.length > 0 and (
            price > self.last_price if rising else price < self.last_price
        )
        self.length = self.length + 1 if continues else 1
        if not continues:
            self.start = pivot_date
        self.last_price = price


def _with_structure_and_levels(
    table: pl.DataFrame, p: AnalysisParams, *, tick: float
) -> pl.DataFrame:
    swings = swing_points(table, k=p.fractal_k)
    n = table.height
    cols = {
        c: table[c].to_list()
        for c in (
            "session_date",
            "high",
            "low",
            "close",
            "sma50",
            "sma200",
            "atr14",
            "recent_high",
            "recent_low",
            "orientation",
            "warm",
            "offset",
            "factor",
        )
    }
    out: dict[str, list[object]] = {name: [] for name in _LOOP_COLUMNS}

    pivots = swings.rows(named=True)
    next_pivot = 0
    visible: deque[Candidate] = deque()  # confirmed swings of the last zone_lookback sessions
    lows_run, highs_run = _Run(), _Run()
    for i in range(n):
        while next_pivot < len(pivots) and pivots[next_pivot]["confirm_index"] <= i:
            pv = pivots[next_pivot]
            next_pivot += 1
            source = "swing_high" if pv["kind"] == "high" else "swing_low"
            visible.append(Candidate(pv["price"], source, pv["pivot_index"]))
            if pv["kind"] == "low":
                lows_run.extend(pv["price"], pv["pivot_date"], rising=True)
            else:
                highs_run.extend(pv["price"], pv["pivot_date"], rising=False)
        while visible and visible[0].pivot_index <= i - p.zone_lookback:
            visible.popleft()
        atr = cols["atr14"][i]
        if not cols["warm"][i] or atr is None or not atr > 0 or cols["sma200"][i] is None:
            for values in out.values():
                values.append(None)
            continue

        close, sma50 = cols["close"][i], cols["sma50"][i]
        candidates = [
            *visible,
            Candidate(sma50, "sma50"),
            Candidate(cols["sma200"][i], "sma200"),
            Candidate(cols["recent_high"][i], "recent_high"),
            Candidate(cols["recent_low"][i], "recent_low"),
        ]
        zones = cluster_zones(candidates, atr=atr, as_of_index=i, params=p)
        levels = named_levels(
            zones,
            close=close,
            sma50=sma50,
            recent_high=cols["recent_high"][i],
            recent_low=cols["recent_low"][i],
            atr=atr,
            orientation=cols["orientation"][i],
            params=p,
        )
        _append_levels(out, levels)

        report_lows = lows_run.length >= p.higher_lows_min
        report_highs = highs_run.length >= p.higher_lows_min
        out["higher_lows_since"].append(lows_run.start if report_lows else None)
        out["higher_lows_count"].append(lows_run.length if report_lows else 0)
        out["lower_highs_since"].append(highs_run.start if report_highs else None)
        out["lower_highs_count"].append(highs_run.length if report_highs else 0)
        retracement, depth, speed = _pullback(cols, i, p)
        out["pullback_retracement"].append(retracement)
        out["pullback_depth"].append(depth)
        out["pullback_speed"].append(speed)

    table = pl.concat([table, pl.DataFrame(out, schema=_LOOP_COLUMNS)], how="horizontal")
    return published_levels(table, tick=tick)


def published_levels(table: pl.DataFrame, *, tick: float) -> pl.DataFrame:
    """``table`` with every level edge as a price of the session's front contract rounded to the
    tick, the barriers the orientation makes of the line and bias levels, and those barriers back
    in the internal frame (``upper_internal``, ``lower_internal``)."""
    decimals = tick_decimals(tick)
    price_columns = [
        f"{prefix}_{edge}" for prefix in LEVEL_PREFIXES.values() for edge in ("low", "high")
    ]
    orientation_up = pl.col("orientation") == "up"
    table = table.with_columns(
        publish(pl.col(c), tick=tick, decimals=decimals) for c in price_columns
    ).with_columns(
        pl.when(orientation_up)
        .then(pl.col("bias_high"))
        .otherwise(pl.col("line_high"))
        .alias("upper_barrier"),
        pl.when(orientation_up)
        .then(pl.col("line_low"))
        .otherwise(pl.col("bias_low"))
        .alias("lower_barrier"),
    )
    # Barriers back in the internal frame, from the published (rounded) levels, so that outcome
    # resolution and the audit use exactly the published numbers.
    return table.with_columns(
        (pl.col("upper_barrier") * pl.col("factor") + pl.col("offset")).alias("upper_internal"),
        (pl.col("lower_barrier") * pl.col("factor") + pl.col("offset")).alias("lower_internal"),
    )


def publish(internal: pl.Expr, *, tick: float, decimals: int) -> pl.Expr:
    """An internal-frame price as a price of the session's front contract, rounded to the tick."""
    front = (internal - pl.col("offset")) / pl.col("factor")
    return ((front / tick).round(0) * tick).round(decimals)


_LEVEL_FIELDS: dict[str, pl.DataType] = {
    "low": pl.Float64(),
    "high": pl.Float64(),
    "score": pl.Float64(),
    "touches": pl.Int64(),
    "sources": pl.String(),
    "projected": pl.Boolean(),
}
_LOOP_COLUMNS: dict[str, pl.DataType] = {
    **{
        f"{prefix}_{field}": dtype
        for prefix in LEVEL_PREFIXES.values()
        for field, dtype in _LEVEL_FIELDS.items()
    },
    "higher_lows_since": pl.Date(),
    "higher_lows_count": pl.Int64(),
    "lower_highs_since": pl.Date(),
    "lower_highs_count": pl.Int64(),
    "pullback_retracement": pl.Float64(),
    "pullback_depth": pl.String(),
    "pullback_speed": pl.String(),
}


def _append_levels(out: dict[str, list[object]], levels: NamedLevels) -> None:
    zones: dict[str, Zone] = {
        "line": levels.line,
        "bias": levels.bias,
        "ext": levels.extension,
        "deep": levels.deeper,
    }
    for prefix, zone in zones.items():
        out[f"{prefix}_low"].append(zone.low)
        out[f"{prefix}_high"].append(zone.high)
        out[f"{prefix}_score"].append(round(zone.score, 4))
        out[f"{prefix}_touches"].append(zone.touches)
        out[f"{prefix}_sources"].append(",".join(zone.sources))
        out[f"{prefix}_projected"].append(zone.projected)


def _pullback(
    cols: Mapping[str, list], i: int, p: AnalysisParams
) -> tuple[float | None, str | None, str | None]:
    """Retracement of the last impulse toward the orientation, its depth and its speed.

    Up: the recent high is the highest high of ``bias_high_window`` sessions (its latest session);
    the impulse is the rise to it from the lowest low since price last traded at that high (at most
    ``impulse_lookback`` sessions back); the pullback is the lowest low since the high. Down mirrors.
    All three are None while price sits at the extreme (no pullback yet). A retracement above 1
    means the pullback erased the whole impulse.
    """
    up = cols["orientation"][i] == "up"
    toward, against = ("high", "low") if up else ("low", "high")
    sign = 1.0 if up else -1.0
    first = max(0, i - p.bias_high_window + 1)
    window = [sign * x for x in cols[toward][first : i + 1]]
    extreme = max(window)
    e_idx = first + len(window) - 1 - window[::-1].index(extreme)
    if e_idx == i:
        return None, None, None
    start_idx, start_value = e_idx, sign * cols[against][e_idx]
    for j in range(e_idx - 1, max(-1, e_idx - p.impulse_lookback - 1), -1):
        if sign * cols[toward][j] >= extreme:
            break
        if sign * cols[against][j] < start_value:
            start_idx, start_value = j, sign * cols[against][j]
    after = [sign * x for x in cols[against][e_idx + 1 : i + 1]]
    back = min(after)
    b_idx = e_idx + 1 + after.index(back)
    impulse = extreme - start_value
    if not impulse > 0:
        return None, None, None
    given_back = extreme - back
    retracement = given_back / impulse
    depth = (
        "shallow"
        if retracement <= p.shallow_retracement
        else "deep"
        if retracement > p.deep_retracement
        else "moderate"
    )
    impulse_speed = impulse / max(e_idx - start_idx, 1)
    pullback_speed = given_back / max(b_idx - e_idx, 1)
    speed = "impulsive" if pullback_speed > impulse_speed else "corrective"
    return round(retracement, 4), depth, speed


def _with_outcomes(table: pl.DataFrame, p: AnalysisParams) -> pl.DataFrame:
    close = table["close"].to_numpy().astype(float)
    upper = table["upper_internal"].fill_null(np.nan).to_numpy().astype(float)
    lower = table["lower_internal"].fill_null(np.nan).to_numpy().astype(float)
    threshold = (table["atr14"].fill_null(np.nan).to_numpy() * p.acceptance_atr).astype(float)
    outcome, steps = resolve_barriers(
        close,
        upper,
        lower,
        threshold,
        horizon=p.horizon_sessions,
        sessions=p.acceptance_sessions,
    )
    return table.with_columns(
        pl.Series("outcome", outcome, dtype=pl.Int64),
        pl.Series("outcome_steps", steps, dtype=pl.Int64),
    )


def _with_probabilities(table: pl.DataFrame, p: AnalysisParams) -> pl.DataFrame:
    atr = pl.col("atr14")
    vol = atr / pl.col("close").abs()
    edges = p.analog_distance_edges_atr
    up_bucket = distance_bucket((pl.col("upper_internal") - pl.col("close")) / atr, edges)
    down_bucket = distance_bucket((pl.col("close") - pl.col("lower_internal")) / atr, edges)
    vol_high = vol > vol.rolling_median(p.analog_vol_window, min_samples=1)
    has_call = pl.col("upper_internal").is_not_null()
    key = pl.format(
        "{}|up{}|down{}|vol{}|cons{}",
        pl.col("primary_trend"),
        up_bucket,
        down_bucket,
        pl.when(vol_high).then(pl.lit("high")).otherwise(pl.lit("low")),
        pl.col("consolidating").cast(pl.Int8),
    )
    geometry = pl.format("up{}|down{}", up_bucket, down_bucket)
    table = table.with_columns(
        pl.when(has_call).then(key).otherwise(None).alias("state_key"),
        pl.when(has_call).then(geometry).otherwise(None).alias("geometry_key"),
        pl.col("outcome").fill_null(UNRESOLVED),
    )
    probs = base_rate_probabilities(table.select("state_key", "geometry_key", "outcome"), params=p)
    decimals = p.probability_decimals
    # Rounded so that the published three add up to 1: sideways takes the rounding remainder.
    extra = (
        probs.drop("state_key", "geometry_key", "outcome")
        .with_columns(pl.col("p_bear", "p_bull", "clim_bear", "clim_bull").round(decimals))
        .with_columns(
            (1 - pl.col("p_bear") - pl.col("p_bull")).round(decimals).alias("p_sideways"),
            (1 - pl.col("clim_bear") - pl.col("clim_bull")).round(decimals).alias("clim_sideways"),
        )
    )
    return pl.concat([table, extra], how="horizontal").with_columns(
        pl.col("upper_internal").is_not_null().alias("has_call")
    )
