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

import polars as pl

from pipeline.analysis import steps
from pipeline.analysis.levels import Candidate, NamedLevels, Zone, cluster_zones, named_levels
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.steps import Peers
from pipeline.analysis.swings import swing_points


def call_table(
    series: pl.DataFrame,
    *,
    tick: float,
    params: AnalysisParams | None = None,
    peers: Peers | None = None,
) -> pl.DataFrame:
    """Every session's call on one root (see the module docstring).

    ``series``: a continuous series sorted by session_date with columns SERIES_COLUMNS.
    ``peers``: other roots' continuous series for relative strength, by root name.
    Rows before ``warmup_sessions`` valid sessions carry indicators but no call (``has_call``
    false, levels and probabilities null).
    """
    params = params or AnalysisParams()
    table = steps.with_indicators(steps.check_series(series), params)
    table = _with_trend_and_perspective(table, params)
    table = steps.with_published_levels(_with_structure_and_levels(table, params), tick=tick)
    table = steps.with_outcomes(table, params)
    table = steps.with_base_rates(table, params)
    return steps.with_relative_strength(table, series, peers or {}, params)


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


def _with_structure_and_levels(table: pl.DataFrame, p: AnalysisParams) -> pl.DataFrame:
    """v1's zones and named levels (internal frame), its swing runs and pullback character."""
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

    return pl.concat([table, pl.DataFrame(out, schema=_LOOP_COLUMNS)], how="horizontal")


_LOOP_COLUMNS: dict[str, pl.DataType] = {
    **steps.level_schema(steps.LEVEL_FIELD_TYPES),
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
