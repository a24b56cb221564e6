"""Methodology v2's snapshot rows: v1's content columns (same names, same meanings) plus v2's own.

The hashed content of a v2 call is ``CONTENT_COLUMNS`` (v1's list, unchanged, so v1's hashes
never move) followed by ``EXTRA_COLUMNS``. Everything is rounded for publication before hashing,
exactly as v1 does, and prices are in the as-of front contract's points.

Risk to the thesis fits where price is: for an upward call, "acceptance back below the 50-day"
only while the close is above the SMA50 and the SMA50 lies above the line in the sand (the
50-day is the first thing price would lose); otherwise acceptance below the line. Mirrored for
a downward call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from pipeline.analysis.assemble import (
    CONTENT_COLUMNS,
    PEERS,
    _calls_frame,
    _decimals,
    common_columns,
    with_content_hash,
    with_horizon_end,
)
from pipeline.analysis.calls import LEVEL_PREFIXES
from pipeline.analysis.v2.calls import LEVEL_EXTRA_FIELDS
from pipeline.analysis.v2.params import METHODOLOGY_VERSION, V2Params, params_hash
from pipeline.market.calendar import EQUITY, TradingCalendar

#: v2's columns beyond v1's CONTENT_COLUMNS, in hash order. Units: ``_pct`` and ``_recovered``
#: are fractions (0.2 = 20 %), prices are front-contract points, dates CME trade dates.
EXTRA_COLUMNS: tuple[str, ...] = (
    "trend_rule",  # sma_stack | breakdown | recovery | null (Neutral)
    "trend_structure",  # lower_highs | below_swing_low | higher_lows | above_swing_high | null
    "perspective_rule",  # number of the perspective rule that fired (pipeline/analysis/v2/regime.py)
    *(f"{prefix}_{field}" for prefix in LEVEL_PREFIXES.values() for field in LEVEL_EXTRA_FIELDS),
    "above_sma50_since",  # every close since this session above its SMA50 (>= 10 sessions)
    "below_sma50_since",
    "pullback_start_date",  # the impulse's start, the extreme, the pullback's furthest point
    "pullback_extreme_date",
    "pullback_low_date",
    "impulse_erased",  # price gave back more than the whole last impulse: not a pullback
    "fall_pct",  # close below the highest high of the last 30 sessions (fraction of it)
    "fall_depth_pct",  # the lowest low since that high below it
    "fall_recovered",  # share of that fall the close has won back
    "fall_high_date",
    "fall_low_date",
    "selloff_pct",  # the 63-session low below the 30-session high before it
    "selloff_recovered",
    "selloff_high_date",
    "selloff_low_date",
    "breakout_date",  # a current breakout to new highs: its session and the high it cleared
    "breakout_level",
    "breakdown_date",
    "breakdown_level",
    "geo_bear",  # barrier-geometry base rates the probabilities were shrunk through
    "geo_sideways",
    "geo_bull",
    *(f"rs_{peer.lower()}_no_longer_lagging" for peer in PEERS),
)
#: The hashed content of a v2 snapshot, in this order.
V2_CONTENT_COLUMNS: tuple[str, ...] = (*CONTENT_COLUMNS, *EXTRA_COLUMNS)


def snapshot_rows(
    table: pl.DataFrame,
    *,
    root: str,
    source: str,
    tick: float,
    fingerprints: pl.Series,
    params: V2Params | None = None,
    sessions: Sequence[date] | None = None,
    methodology_version: str = METHODOLOGY_VERSION,
    calendar: TradingCalendar = EQUITY,
) -> pl.DataFrame:
    """Wide v2 snapshot rows (V2_CONTENT_COLUMNS + content_hash) for every call in ``table``
    (:func:`pipeline.analysis.v2.calls.call_table`'s output), on ``sessions`` if given."""
    p = params or V2Params()
    # Every row is computed on the whole table and only then cut to ``sessions``: polars rounds a
    # one-row frame's divisions differently from a long one's, and the nightly call (one session)
    # must equal the backfill's row of the same session bit for bit.
    frame = _calls_frame(table, fingerprints, None)
    decimals = _decimals(tick)
    up = pl.col("orientation") == "up"
    close, sma50 = pl.col("close"), pl.col("sma50")
    line_high_internal = pl.col("line_high") * pl.col("factor") + pl.col("offset")
    line_low_internal = pl.col("line_low") * pl.col("factor") + pl.col("offset")
    sma50_guards = (
        pl.when(up)
        .then((close > sma50) & (sma50 > line_high_internal))
        .otherwise((close < sma50) & (sma50 < line_low_internal))
    )
    risk_rule = (
        pl.when(sma50_guards & up)
        .then(pl.lit("accept_below_sma50"))
        .when(sma50_guards)
        .then(pl.lit("accept_above_sma50"))
        .when(up)
        .then(pl.lit("accept_below_line"))
        .otherwise(pl.lit("accept_above_line"))
    )
    sma50_front = ((sma50 - pl.col("offset")) / pl.col("factor") / tick).round(0) * tick
    risk_level = (
        pl.when(sma50_guards)
        .then(sma50_front.round(decimals))
        .when(up)
        .then(pl.col("line_low"))
        .otherwise(pl.col("line_high"))
    )

    def front(column: str) -> pl.Expr:
        price = (pl.col(column) - pl.col("offset")) / pl.col("factor")
        return ((price / tick).round(0) * tick).round(decimals).alias(column)

    extras = [
        pl.col("trend_rule"),
        pl.col("trend_structure"),
        pl.col("perspective_rule").cast(pl.Int32),
        *(
            pl.col(f"{prefix}_{field}")
            for prefix in LEVEL_PREFIXES.values()
            for field in LEVEL_EXTRA_FIELDS
        ),
        pl.col("above_sma50_since"),
        pl.col("below_sma50_since"),
        pl.col("pullback_start_date"),
        pl.col("pullback_extreme_date"),
        pl.col("pullback_low_date"),
        pl.col("impulse_erased"),
        *(pl.col(c).round(6) for c in ("fall_pct", "fall_depth_pct", "fall_recovered")),
        pl.col("fall_high_date"),
        pl.col("fall_low_date"),
        *(pl.col(c).round(6) for c in ("selloff_pct", "selloff_recovered")),
        pl.col("selloff_high_date"),
        pl.col("selloff_low_date"),
        pl.col("breakout_date"),
        front("breakout_level"),
        pl.col("breakdown_date"),
        front("breakdown_level"),
        *(pl.col(f"geo_{k}") for k in ("bear", "sideways", "bull")),
        *(
            (
                pl.col(f"rs_{peer}_no_longer_lagging")
                if f"rs_{peer}_no_longer_lagging" in frame.columns
                else pl.lit(None, dtype=pl.Boolean)
            ).alias(f"rs_{peer.lower()}_no_longer_lagging")
            for peer in PEERS
        ),
    ]
    out = frame.select(
        *common_columns(
            frame,
            root=root,
            source=source,
            tick=tick,
            methodology_version=methodology_version,
            params_hash=params_hash(p),
            risk_rule=risk_rule,
            risk_level=risk_level,
            horizon_sessions=p.horizon_sessions,
        ),
        *extras,
    )
    if sessions is not None:
        out = out.filter(pl.col("as_of").is_in(list(sessions)))
    return with_content_hash(
        with_horizon_end(out, p.horizon_sessions, calendar), V2_CONTENT_COLUMNS
    )
