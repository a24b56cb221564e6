"""Primary trend and market perspective of methodology v2, each label defined by a rule.

Primary trend (first rule that holds):

* ``Bullish`` (``sma_stack``): price above the SMA200, SMA50 above the SMA200, SMA200 higher
  than ``trend_slope_lookback`` sessions ago (v1's rule, with acceptance: price is above the
  SMA200 from the session the last two settlements are above it by more than ``acceptance_atr``
  ATR until two settle below it by as much, so a close hovering about the 200-day does not flip
  the trend every other day);
* ``Bearish`` (``sma_stack``): the mirror;
* ``Bearish`` (``breakdown``): a crash turns the trend before the averages cross. The close at
  least ``breakdown_below_sma200_pct`` below the SMA200, the SMA200 rising by at most
  ``flattening_sma200_pct`` of itself over the slope lookback (flat or flattening), the SMA50
  falling, the close below it, and either the last confirmed swing high below the one before
  (lower highs) or the close below the last confirmed swing low (structure broken: a straight
  crash leaves no swing high to be lower). On 2020-03-16 ES closed ~20 % below a still barely rising 200-day: v1 said Neutral for
  weeks; a chartist says Bearish. At least ``deep_breakdown_pct`` below the SMA200 the slope
  does not matter (a crash out of a steep bull market);
* ``Bearish`` (``crash``): the market fell into a crash (perspective rule 1 below: the close at
  least ``crash_fall_pct`` below the highest high of ``fall_window`` sessions, at most
  ``near_low_recovered`` of the fall won back) with price accepted below both the SMA200 and
  the SMA50; the trend stays Bearish by this rule until price is accepted back above the SMA50
  or the SMA200 (a rebound inside the crash does not make the trend Neutral for a day). A 28 %
  fall in four weeks through the 200-day is a bear market whatever the averages' slopes say: on
  2020-03-16 NQ closed 14 % below a 200-day still rising 1.5 % a month, its 50-day still rising
  from the rally before, and the breakdown rule alone left it Neutral;
* ``Bullish`` (``recovery``): the mirror (close that far above a flat-or-rising SMA200, rising
  SMA50 below the close, higher swing lows or the close above the last swing high);
* else ``Neutral``.

Market perspective (first rule that holds; ``PERSPECTIVES``):

1. ``crash``: the close at least ``crash_fall_pct`` below the highest high of the last
   ``fall_window`` sessions, with at most ``near_low_recovered`` of that fall recovered;
2. ``selloff``: the same with ``selloff_fall_pct``;
3. ``rebound after crash`` / ``rebound after selloff``: a fall of at least ``selloff_fall_pct``
   (the close below the recent high, or the lowest low of ``rebound_window`` sessions below the
   high before it) of which more than ``near_low_recovered`` is recovered, the close still below
   that high; "crash" when the fall was at least ``crash_fall_pct``;
4. ``breakout to new highs`` / ``breakdown to new lows``: a current breakout
   (:func:`.structure.breakouts`);
5. ``consolidation near highs`` / ``consolidation near lows``: the last ``consolidation_window``
   sessions span at most ``consolidation_max_range_atr`` ATR, the close moved at most
   ``consolidation_max_drift_atr`` ATR across them, and it is within ``near_extreme_atr`` ATR of
   the 252-session high (low);
6. ``trending higher`` (Bullish, close at or above the SMA20), ``pullback within uptrend``
   (Bullish, below it), ``trending lower``, ``rebound within downtrend`` (Bearish mirrors);
7. ``range``: none of the above (Neutral, no large fall, no breakout, no tight range at an extreme).

So a session 10 % or more below its 30-session high is always a crash, a selloff or a rebound,
never a range.
"""

from __future__ import annotations

import polars as pl

from pipeline.analysis.v2.params import V2Params

PERSPECTIVES: tuple[str, ...] = (
    "crash",
    "selloff",
    "rebound after crash",
    "rebound after selloff",
    "breakout to new highs",
    "breakdown to new lows",
    "consolidation near highs",
    "consolidation near lows",
    "trending higher",
    "pullback within uptrend",
    "trending lower",
    "rebound within downtrend",
    "range",
)
TREND_RULES: tuple[str, ...] = ("sma_stack", "breakdown", "crash", "recovery")


def accepted_side(level: str, p: V2Params) -> pl.Expr:
    """+1 while price is accepted above ``level`` (a column), -1 while accepted below: it turns
    on the session the last two settlements are beyond that session's level by more than
    ``acceptance_atr`` ATR (each day its own level and ATR) and holds until the other side is
    accepted; before the first acceptance, the side of the close (0 on the level)."""
    margin = p.acceptance_atr * pl.col("atr14")
    beyond = (pl.col("close") - pl.col(level)) / margin
    above = (beyond > 1) & (beyond.shift(1) > 1)
    below = (beyond < -1) & (beyond.shift(1) < -1)
    event = pl.when(above).then(1).when(below).then(-1).otherwise(None)
    first = (pl.col("close") - pl.col(level)).sign()
    return event.forward_fill().fill_null(first).cast(pl.Int8)


def crashing(p: V2Params) -> pl.Expr:
    """The crash of perspective rule 1: the close at least ``crash_fall_pct`` below the highest
    high of ``fall_window`` sessions (``fall_pct``), at most ``near_low_recovered`` of the fall
    won back (``fall_recovered``)."""
    recovered = pl.col("fall_recovered").fill_null(0.0)
    return (pl.col("fall_pct") >= p.crash_fall_pct) & (recovered <= p.near_low_recovered)


def with_trend(table: pl.DataFrame, p: V2Params) -> pl.DataFrame:
    """Adds primary_trend, trend_rule, dist_sma200_pct and sma200_slope_pct (see the module)."""
    table = table.with_columns(
        accepted_side("sma200", p).alias("sma200_side"),
        accepted_side("sma50", p).alias("sma50_side"),
    )
    close, sma50, sma200 = pl.col("close"), pl.col("sma50"), pl.col("sma200")
    # Percentages in the session's front-contract frame: (x - offset) / factor; the factor
    # cancels in a ratio of two prices.
    dist_pct = (close - sma200) / (sma200 - pl.col("offset"))
    slope_pct = pl.col("sma200_change") / (sma200 - pl.col("offset"))
    side = pl.col("sma200_side")
    stack_bull = (side == 1) & (sma50 > sma200) & (pl.col("sma200_change") > 0)
    stack_bear = (side == -1) & (sma50 < sma200) & (pl.col("sma200_change") < 0)
    lower_highs = (pl.col("last_swing_high") < pl.col("prev_swing_high")).fill_null(False)
    below_swing_low = (close < pl.col("last_swing_low")).fill_null(False)
    higher_lows = (pl.col("last_swing_low") > pl.col("prev_swing_low")).fill_null(False)
    above_swing_high = (close > pl.col("last_swing_high")).fill_null(False)
    breakdown = (
        (dist_pct <= -p.breakdown_below_sma200_pct)
        & ((slope_pct <= p.flattening_sma200_pct) | (dist_pct <= -p.deep_breakdown_pct))
        & (pl.col("sma50_change") < 0)
        & (close < sma50)
        & (lower_highs | below_swing_low)
    ).fill_null(False)
    recovery = (
        (dist_pct >= p.breakdown_below_sma200_pct)
        & ((slope_pct >= -p.flattening_sma200_pct) | (dist_pct >= p.deep_breakdown_pct))
        & (pl.col("sma50_change") > 0)
        & (close > sma50)
        & (higher_lows | above_swing_high)
    ).fill_null(False)
    # Bearish from a crash through both averages until price is accepted back above either.
    crash = (
        pl.when(crashing(p) & (side == -1) & (pl.col("sma50_side") == -1))
        .then(True)
        .when((side == 1) | (pl.col("sma50_side") == 1))
        .then(False)
        .otherwise(None)
        .forward_fill()
        .fill_null(False)
    )
    stack_bull, stack_bear = stack_bull.fill_null(False), stack_bear.fill_null(False)
    return table.with_columns(
        pl.when(stack_bull | recovery)
        .then(pl.lit("Bullish"))
        .when(stack_bear | breakdown | crash)
        .then(pl.lit("Bearish"))
        .otherwise(pl.lit("Neutral"))
        .alias("primary_trend"),
        pl.when(stack_bull | stack_bear)
        .then(pl.lit("sma_stack"))
        .when(breakdown)
        .then(pl.lit("breakdown"))
        .when(crash)
        .then(pl.lit("crash"))
        .when(recovery)
        .then(pl.lit("recovery"))
        .otherwise(None)
        .alias("trend_rule"),
        dist_pct.alias("dist_sma200_pct"),
        slope_pct.alias("sma200_slope_pct"),
        # The swing structure a breakdown / recovery read (null for the other rules).
        pl.when(breakdown & lower_highs)
        .then(pl.lit("lower_highs"))
        .when(breakdown)
        .then(pl.lit("below_swing_low"))
        .when(recovery & higher_lows)
        .then(pl.lit("higher_lows"))
        .when(recovery)
        .then(pl.lit("above_swing_high"))
        .otherwise(None)
        .alias("trend_structure"),
    )


def with_perspective(table: pl.DataFrame, p: V2Params) -> pl.DataFrame:
    """Adds perspective and perspective_rule (the rule's number in the module docstring)."""
    close, atr = pl.col("close"), pl.col("atr14")
    fall, recovered = pl.col("fall_pct"), pl.col("fall_recovered").fill_null(0.0)
    selloff, selloff_recovered = pl.col("selloff_pct"), pl.col("selloff_recovered")
    near_low = p.near_low_recovered
    table = table.with_columns(
        ((pl.col("range_high") - pl.col("range_low")) / atr).alias("range_atr"),
        ((pl.col("high_252") - close) / atr).alias("dist_high_252_atr"),
        ((close - pl.col("low_252")) / atr).alias("dist_low_252_atr"),
    )
    drift = (close - close.shift(p.consolidation_window - 1)).abs() / atr
    consolidating = (pl.col("range_atr") <= p.consolidation_max_range_atr) & (
        drift <= p.consolidation_max_drift_atr
    )
    crash = crashing(p)
    selloff_now = (fall >= p.selloff_fall_pct) & (recovered <= near_low)
    rebound_from_fall = (fall >= p.selloff_fall_pct) & (recovered > near_low)
    rebound_from_low = (
        (selloff >= p.selloff_fall_pct) & (selloff_recovered > near_low) & (selloff_recovered < 1)
    )
    depth = pl.max_horizontal(
        pl.when(rebound_from_fall).then(pl.col("fall_depth_pct")).otherwise(0.0),
        pl.when(rebound_from_low).then(selloff).otherwise(0.0),
    )
    trend = pl.col("primary_trend")
    labels = [
        (crash, "crash", 1),
        (selloff_now, "selloff", 2),
        ((rebound_from_fall | rebound_from_low) & (depth >= p.crash_fall_pct), "rebound after crash", 3),
        (rebound_from_fall | rebound_from_low, "rebound after selloff", 3),
        (pl.col("breakout_index").is_not_null(), "breakout to new highs", 4),
        (pl.col("breakdown_index").is_not_null(), "breakdown to new lows", 4),
        (consolidating & (pl.col("dist_high_252_atr") <= p.near_extreme_atr), "consolidation near highs", 5),
        (consolidating & (pl.col("dist_low_252_atr") <= p.near_extreme_atr), "consolidation near lows", 5),
        ((trend == "Bullish") & (close >= pl.col("sma20")), "trending higher", 6),
        (trend == "Bullish", "pullback within uptrend", 6),
        ((trend == "Bearish") & (close <= pl.col("sma20")), "trending lower", 6),
        (trend == "Bearish", "rebound within downtrend", 6),
    ]  # fmt: skip
    label: pl.Expr = pl.lit("range")
    rule: pl.Expr = pl.lit(7)
    for condition, name, number in reversed(labels):
        label = pl.when(condition.fill_null(False)).then(pl.lit(name)).otherwise(label)
        rule = pl.when(condition.fill_null(False)).then(pl.lit(number)).otherwise(rule)
    return table.with_columns(
        consolidating.alias("consolidating"),
        label.alias("perspective"),
        rule.cast(pl.Int8).alias("perspective_rule"),
    )
