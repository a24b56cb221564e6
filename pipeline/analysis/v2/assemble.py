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

import polars as pl

from pipeline.analysis.assemble import (
    CONTENT_COLUMNS,
    PEERS,
    Publication,
    assemble_rows,
    common_columns,
    risk_to_the_thesis,
)
from pipeline.analysis.prices import internal_price, published_price
from pipeline.analysis.steps import level_columns
from pipeline.analysis.v2.calls import LEVEL_EXTRA_FIELDS
from pipeline.analysis.v2.params import V2Params, params_hash

#: v2's columns beyond v1's CONTENT_COLUMNS, in hash order. Units: ``_pct`` and ``_recovered``
#: are fractions (0.2 = 20 %), prices are front-contract points, dates CME trade dates.
EXTRA_COLUMNS: tuple[str, ...] = (
    "trend_rule",  # sma_stack | breakdown | recovery | null (Neutral)
    "trend_structure",  # lower_highs | below_swing_low | higher_lows | above_swing_high | null
    "perspective_rule",  # number of the perspective rule that fired (pipeline/analysis/v2/regime.py)
    *level_columns(LEVEL_EXTRA_FIELDS),
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


def snapshot_rows(table: pl.DataFrame, p: V2Params, publication: Publication) -> pl.DataFrame:
    """Wide v2 snapshot rows (V2_CONTENT_COLUMNS + content_hash) for every call in ``table``
    (:func:`pipeline.analysis.v2.calls.call_table`'s output) on the sessions asked for."""
    tick = publication.tick
    up = pl.col("orientation") == "up"
    close, sma50 = pl.col("close"), pl.col("sma50")
    sma50_guards = (
        pl.when(up)
        .then((close > sma50) & (sma50 > internal_price(pl.col("line_high"))))
        .otherwise((close < sma50) & (sma50 < internal_price(pl.col("line_low"))))
    )

    extras = extra_columns(table, tick)
    columns = common_columns(
        table,
        publication,
        params_hash=params_hash(p),
        risk=risk_to_the_thesis(sma50_guards, tick=tick),
        horizon_sessions=p.horizon_sessions,
    )
    return assemble_rows(
        table,
        publication,
        [*columns, *extras],
        horizon=p.horizon_sessions,
        content_columns=V2_CONTENT_COLUMNS,
    )


def extra_columns(table: pl.DataFrame, tick: float) -> list[pl.Expr]:
    """The expressions of EXTRA_COLUMNS (in order) over a v2-shaped call table's rows."""

    def front(column: str) -> pl.Expr:
        return published_price(pl.col(column), tick=tick).alias(column)

    return [
        pl.col("trend_rule"),
        pl.col("trend_structure"),
        pl.col("perspective_rule").cast(pl.Int32),
        *(pl.col(name) for name in level_columns(LEVEL_EXTRA_FIELDS)),
        *(pl.col(f"{side}_sma50_since") for side in ("above", "below")),
        *(pl.col(f"pullback_{point}_date") for point in ("start", "extreme", "low")),
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
                if f"rs_{peer}_no_longer_lagging" in table.columns
                else pl.lit(None, dtype=pl.Boolean)
            ).alias(f"rs_{peer.lower()}_no_longer_lagging")
            for peer in PEERS
        ),
    ]
