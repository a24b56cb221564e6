"""Vendor front-month feeds made from per-contract bars, the way Yahoo's ``=F`` series are spliced.

Yahoo's continuous series (measured on ../shared/data, see pipeline.market.rolls) stay on a
contract through its expiry session and switch on the next session; the expiry session's close
is usually the expiring contract's final settlement, fixed at the morning's special opening
quotation, so it matches the cash index's open of that day rather than its close.
"""

from __future__ import annotations

import polars as pl

from pipeline.market.contracts import first_expiring_on_or_after
from pipeline.market.roots import builtin_spec


def front_month_feed(
    contracts: pl.DataFrame, root: str, *, index: pl.DataFrame | None = None
) -> pl.DataFrame:
    """A ``=F`` feed (BAR_SCHEMA, contract ``builtin_spec(root).yahoo_continuous``): per session the
    bar of the contract expiring on or after it. With ``index``, an expiry session's close is the
    index's open that day (the final settlement), its high and low widened to contain it.
    Sessions on which that contract has no bar are absent."""
    days = contracts["session_date"].unique().sort()
    holder = pl.DataFrame(
        {
            "session_date": days,
            "contract": [first_expiring_on_or_after(root, d).code for d in days],
            "expiry": [first_expiring_on_or_after(root, d).expiry for d in days],
        }
    )
    feed = contracts.join(holder, on=["session_date", "contract"], how="inner")
    if index is not None:
        settlement = index.select("session_date", pl.col("open").alias("settlement"))
        on_expiry = pl.col("session_date") == pl.col("expiry")
        feed = (
            feed.join(settlement, on="session_date", how="left")
            .with_columns(
                pl.when(on_expiry & pl.col("settlement").is_not_null())
                .then(pl.col("settlement"))
                .otherwise(pl.col("close"))
                .alias("close")
            )
            .with_columns(
                pl.max_horizontal("high", "close").alias("high"),
                pl.min_horizontal("low", "close").alias("low"),
            )
        )
    return (
        feed.with_columns(pl.lit(builtin_spec(root).yahoo_continuous).alias("contract"))
        .select(contracts.columns)
        .sort("session_date")
    )
