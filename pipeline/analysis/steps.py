"""The shared steps of every methodology's call table, each defined once.

A methodology (:mod:`pipeline.analysis.methodology`) turns a continuous series into a call table
by composing these steps with its own rules (levels, trend, perspective, statements)::

    table = with_indicators(check_series(series), p)        # SMAs, EMA, ATR, RSI, ADX, extremes
    table = ...the methodology's trend, structure and levels ...
    table = with_published_levels(table, tick=tick)         # front-contract prices, barriers
    table = with_outcomes(table, p)                          # resolution over the horizon
    table = with_base_rates(table, p)                        # state keys, point-in-time rates
    table = with_relative_strength(table, series, peers, p)  # against the peers

Every step is causal (row D reads rows <= D, outcomes only as realised labels that the base
rates read once known), so the nightly call of D equals the backfill's row D. Parameters are
:class:`pipeline.analysis.params.CoreParams` (every methodology's parameters extend it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import polars as pl

from pipeline.analysis import barriers
from pipeline.analysis import indicators as ind
from pipeline.analysis.params import CoreParams
from pipeline.analysis.prices import internal_price, published_price, tick_decimals
from pipeline.analysis.relative import relative_strength
from pipeline.analysis.scenarios import (
    UNRESOLVED,
    base_rate_probabilities,
    distance_bucket,
    geometry_key,
    resolve_barriers,
)

#: Named level kinds and the prefix of their columns in call tables and snapshot rows.
LEVEL_PREFIXES: dict[str, str] = {
    "line_in_the_sand": "line",
    "bias_defining": "bias",
    "extension": "ext",
    "deeper": "deep",
}
#: The fields of a named level in a call table and their types (prices in the internal frame
#: until :func:`with_published_levels`; score in points, touches in confirmed swings).
LEVEL_FIELD_TYPES: dict[str, pl.DataType] = {
    "low": pl.Float64(),
    "high": pl.Float64(),
    "score": pl.Float64(),
    "touches": pl.Int64(),
    "sources": pl.String(),
    "projected": pl.Boolean(),
}
#: What a continuous series must hold (pipeline.market.continuous, internal frame).
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
#: Other roots' continuous series by root name (relative strength).
Peers = Mapping[str, pl.DataFrame]
#: The rates published as three probabilities (bear and bull rounded, sideways the remainder).
SCENARIO_NAMES: tuple[str, ...] = ("bear", "sideways", "bull")


class AnalysisInputError(ValueError):
    pass


def level_columns(fields: Iterable[str]) -> list[str]:
    """``<prefix>_<field>`` for every named level (line, bias, ext, deep, in that order) and
    field.

    >>> level_columns(["low"])
    ['line_low', 'bias_low', 'ext_low', 'deep_low']
    """
    fields = list(fields)
    return [f"{prefix}_{field}" for prefix in LEVEL_PREFIXES.values() for field in fields]


def level_schema(types: Mapping[str, pl.DataType]) -> dict[str, pl.DataType]:
    """:func:`level_columns` of ``types``' fields, each with its type."""
    return {name: types[name.split("_", 1)[1]] for name in level_columns(types)}


def check_series(series: pl.DataFrame) -> pl.DataFrame:
    """``series`` if it can be analysed (columns, order, full bars), else AnalysisInputError."""
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
    return series


def with_indicators(series: pl.DataFrame, p: CoreParams) -> pl.DataFrame:
    """The indicators every call reads: SMA 20/50/200, EMA 21, Wilder ATR/RSI/ADX 14, the recent
    (``bias_high_window``), consolidation and 252-session extremes, the SMA slopes and ``warm``
    (``warmup_sessions`` sessions seen). One row is one session (every row a complete bar)."""
    windowed = windowed_indicators(p)
    return series.with_columns(*windowed[:3], *recursive_indicators(p), *windowed[3:]).with_columns(
        *slope_indicators(p)
    )


def recursive_indicators(p: CoreParams) -> list[pl.Expr]:
    """EMA 21 and Wilder's ATR, RSI and ADX 14 (``ema21``, ``atr14``, ``rsi14``, ``adx14``):
    the indicators that update a state bar by bar (units in :mod:`.indicators`)."""
    hl = ("high", "low", "close")
    return [
        ind.ema("close", p.ema_window).alias("ema21"),
        ind.wilder_atr(*hl, window=p.atr_window).alias("atr14"),
        ind.wilder_rsi("close", window=p.rsi_window).alias("rsi14"),
        ind.adx(*hl, window=p.adx_window).alias("adx14"),
    ]


def windowed_indicators(
    p: CoreParams, *, min_bars: Callable[[int], int] | None = None
) -> list[pl.Expr]:
    """SMA 20/50/200 of the close and the recent, consolidation and 252-session extremes: a
    statistic of the last N rows. ``min_bars(N)``: the fewest non-null bars a window needs (None:
    all N, TA-Lib's rule); a window with fewer is null, and so is every window before the N-th
    row (the warm-up is N rows either way)."""

    def need(window: int) -> int | None:
        return None if min_bars is None else min_bars(window)

    def full(expr: pl.Expr, window: int) -> pl.Expr:
        if min_bars is None:
            return expr
        return pl.when(pl.int_range(pl.len()) >= window - 1).then(expr)

    return [
        full(ind.sma("close", p.sma_fast, min_samples=need(p.sma_fast)), p.sma_fast).alias("sma20"),
        full(ind.sma("close", p.sma_mid, min_samples=need(p.sma_mid)), p.sma_mid).alias("sma50"),
        full(ind.sma("close", p.sma_slow, min_samples=need(p.sma_slow)), p.sma_slow).alias(
            "sma200"
        ),
        *(
            full(extreme(column, window, min_samples=need(window)), window).alias(name)
            for name, extreme, column, window in (
                ("recent_high", ind.rolling_high, "high", p.bias_high_window),
                ("recent_low", ind.rolling_low, "low", p.bias_high_window),
                ("range_high", ind.rolling_high, "high", p.consolidation_window),
                ("range_low", ind.rolling_low, "low", p.consolidation_window),
                ("high_252", ind.rolling_high, "high", p.extreme_window),
                ("low_252", ind.rolling_low, "low", p.extreme_window),
            )
        ),
    ]


def slope_indicators(p: CoreParams) -> list[pl.Expr]:
    """The 50- and 200-day SMAs' change over ``trend_slope_lookback`` rows and ``warm``
    (``warmup_sessions`` rows seen); they read the SMAs, so they come after them."""
    return [
        ind.change("sma200", lookback=p.trend_slope_lookback).alias("sma200_change"),
        ind.change("sma50", lookback=p.trend_slope_lookback).alias("sma50_change"),
        (pl.int_range(pl.len()) >= p.warmup_sessions - 1).alias("warm"),
    ]


def with_published_levels(
    table: pl.DataFrame, *, tick: float, kept_apart: bool = False
) -> pl.DataFrame:
    """``table`` with every level edge as a price of the session's front contract rounded to the
    tick, the barriers the orientation makes of the line and bias levels
    (:mod:`pipeline.analysis.barriers`), and those barriers back in the internal frame
    (``upper_internal``, ``lower_internal``): outcome resolution and the audit use exactly the
    published numbers.

    ``kept_apart`` (v2's rule, see :func:`levels_kept_apart`): after rounding, no level edge
    lands on the close or on its neighbour level."""
    price_columns = [
        f"{prefix}_{edge}" for prefix in LEVEL_PREFIXES.values() for edge in ("low", "high")
    ]
    table = table.with_columns(
        published_price(pl.col(c), tick=tick).alias(c) for c in price_columns
    )
    if kept_apart:
        table = levels_kept_apart(table, tick=tick)
    table = table.with_columns(
        barriers.upper_barrier().alias("upper_barrier"),
        barriers.lower_barrier().alias("lower_barrier"),
    )
    return table.with_columns(
        internal_price(pl.col("upper_barrier")).alias("upper_internal"),
        internal_price(pl.col("lower_barrier")).alias("lower_internal"),
    )


def levels_kept_apart(table: pl.DataFrame, *, tick: float) -> pl.DataFrame:
    """The published (tick-rounded) levels of ``table`` moved, where rounding made them touch,
    one tick apart from the published close and from each other, from the close outward:
    the line's and the bias's near edges at least a tick from the close, the deeper level's
    near edge a tick beyond the line, the extension's a tick beyond the bias. Only an edge that
    touches or crosses moves (toward its zone's far edge; a zone narrower than that becomes one
    price). Null levels stay null.

    Why: where a tick is a large part of the ATR (corn in 2004: a quarter cent of a 1.1-cent
    ATR), rounding to the nearest tick moved a line kept 0.1 ATR above the close onto the close
    (ZC 2004-12-03) and an extension onto its bias (ZC 2005-05-02). On the equity indexes the
    tick is a few hundredths of an ATR and nothing moves.

    >>> t = pl.DataFrame({"orientation": ["down"], "close": [196.25], "offset": [0.0],
    ...     "factor": [1.0], "line_low": [196.25], "line_high": [196.75], "bias_low": [189.75],
    ...     "bias_high": [190.5], "deep_low": [197.25], "deep_high": [197.5],
    ...     "ext_low": [187.75], "ext_high": [188.25]})
    >>> levels_kept_apart(t, tick=0.25).select("line_low", "line_high").row(0)
    (196.5, 196.75)
    """
    close = published_price(pl.col("close"), tick=tick)
    up = pl.col("orientation") == "up"

    def at_most(edge: str, limit: pl.Expr) -> pl.Expr:
        value = pl.col(edge)
        return pl.when(value > limit).then(limit).otherwise(value).round(tick_decimals(tick))

    def at_least(edge: str, limit: pl.Expr) -> pl.Expr:
        value = pl.col(edge)
        return pl.when(value < limit).then(limit).otherwise(value).round(tick_decimals(tick))

    col = pl.col
    # (near edge for an up call, the same for a down call), then the far edge of the same zone.
    for role, inner in (("line", None), ("bias", None), ("deep", "line"), ("ext", "bias")):
        below = role in ("line", "deep")  # below the close in an up call
        if inner is None:
            up_limit, down_limit = close - tick, close + tick
            if not below:
                up_limit, down_limit = close + tick, close - tick
        elif below:
            up_limit, down_limit = col(f"{inner}_low") - tick, col(f"{inner}_high") + tick
        else:
            up_limit, down_limit = col(f"{inner}_high") + tick, col(f"{inner}_low") - tick
        # An up call's line / deep near edge is its high, bounded above; a down call's is its low.
        near_up, near_down = (
            (f"{role}_high", f"{role}_low") if below else (f"{role}_low", f"{role}_high")
        )
        table = table.with_columns(
            pl.when(up)
            .then(at_most(near_up, up_limit) if below else at_least(near_up, up_limit))
            .otherwise(col(near_up))
            .alias(near_up)
        ).with_columns(
            pl.when(~up)
            .then(at_least(near_down, down_limit) if below else at_most(near_down, down_limit))
            .otherwise(col(near_down))
            .alias(near_down)
        )
        # The far edge follows a near edge that crossed it (a zone of one price).
        table = table.with_columns(
            pl.when(col(f"{role}_low") > col(f"{role}_high"))
            .then(pl.when(up == below).then(col(f"{role}_high")).otherwise(col(f"{role}_low")))
            .otherwise(col(f"{role}_low"))
            .alias(f"{role}_low"),
            pl.when(col(f"{role}_low") > col(f"{role}_high"))
            .then(pl.when(up == below).then(col(f"{role}_high")).otherwise(col(f"{role}_low")))
            .otherwise(col(f"{role}_high"))
            .alias(f"{role}_high"),
        )
    return table


def with_outcomes(table: pl.DataFrame, p: CoreParams) -> pl.DataFrame:
    """``outcome`` (0 bear, 1 sideways, 2 bull, null unresolved) and ``outcome_steps`` of the
    call on every row, resolved on the rows after it (the realised label the base rates count
    once its horizon has passed). A row whose ``has_bar`` is false (a session of the trade
    calendar without a bar, :mod:`pipeline.analysis.sessions`) has no close: it neither touches
    nor accepts a barrier, and still counts as one session of the horizon."""
    close = table["close"].to_numpy().astype(float)
    if "has_bar" in table.columns:
        close = np.where(table["has_bar"].to_numpy(), close, np.nan)
    upper = table["upper_internal"].fill_null(np.nan).to_numpy().astype(float)
    lower = table["lower_internal"].fill_null(np.nan).to_numpy().astype(float)
    threshold = (table["atr14"].fill_null(np.nan).to_numpy() * p.acceptance_atr).astype(float)
    outcome, steps = resolve_barriers(
        close, upper, lower, threshold, horizon=p.horizon_sessions, sessions=p.acceptance_sessions
    )
    return table.with_columns(
        pl.Series("outcome", outcome, dtype=pl.Int64),
        pl.Series("outcome_steps", steps, dtype=pl.Int64),
    )


def with_state_keys(table: pl.DataFrame, p: CoreParams) -> pl.DataFrame:
    """The analog state of every call (``state_key``: trend, barrier-distance buckets,
    volatility regime, consolidation) and its barrier-geometry part (``geometry_key``); null
    where there is no call. ``outcome`` nulls become UNRESOLVED."""
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
    return table.with_columns(
        pl.when(has_call).then(key).otherwise(None).alias("state_key"),
        pl.when(has_call)
        .then(geometry_key(up_bucket, down_bucket))
        .otherwise(None)
        .alias("geometry_key"),
        pl.col("outcome").fill_null(UNRESOLVED),
    )


def rounded_triples(frame: pl.DataFrame, prefixes: Sequence[str], decimals: int) -> pl.DataFrame:
    """Each ``<prefix>_bear`` / ``_bull`` rounded to ``decimals`` and ``<prefix>_sideways`` the
    remainder, so each published triple adds up to 1."""
    return frame.with_columns(
        pl.col(f"{x}_{k}").round(decimals) for x in prefixes for k in ("bear", "bull")
    ).with_columns(
        (1 - pl.col(f"{x}_bear") - pl.col(f"{x}_bull")).round(decimals).alias(f"{x}_sideways")
        for x in prefixes
    )


def with_base_rates(
    table: pl.DataFrame,
    p: CoreParams,
    *,
    derived: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    published: Sequence[str] = ("p", "clim"),
) -> pl.DataFrame:
    """The point-in-time base rates of every call (:func:`pipeline.analysis.scenarios.
    base_rate_probabilities` over :func:`with_state_keys`): ``p_*``, the analog counts ``n_*``,
    ``n_analogs`` and ``n_geometry``, the climatology ``clim_*``, and ``has_call``.

    ``derived`` adds columns computed from the unrounded rates; the triples named by
    ``published`` are then rounded (:func:`rounded_triples`)."""
    table = with_state_keys(table, p)
    rates = base_rate_probabilities(table.select("state_key", "geometry_key", "outcome"), params=p)
    rates = rates.drop("state_key", "geometry_key", "outcome")
    if derived is not None:
        rates = derived(rates)
    rates = rounded_triples(rates, published, p.probability_decimals)
    return pl.concat([table, rates], how="horizontal").with_columns(
        pl.col("upper_internal").is_not_null().alias("has_call")
    )


def with_relative_strength(
    table: pl.DataFrame,
    series: pl.DataFrame,
    peers: Peers,
    p: CoreParams,
    *,
    each: Callable[[pl.DataFrame, str], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """``rs_<PEER>_*`` columns (:func:`pipeline.analysis.relative.relative_strength`) for each
    peer in name order; ``each(table, peer)`` adds a methodology's own columns after each."""
    for peer_root, peer_series in sorted(peers.items()):
        rs = relative_strength(series, peer_series, params=p)
        table = table.join(
            rs.rename({c: f"rs_{peer_root}_{c}" for c in rs.columns if c != "session_date"}),
            on="session_date",
            how="left",
        )
        if each is not None:
            table = each(table, peer_root)
    return table
