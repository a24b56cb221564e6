"""Relative strength of one root against a peer (e.g. RTY against ES: small caps vs large caps).

Daily returns come from the continuous series: the point change of the adjusted close over the
previous price of the same contract, ``r_t = (adj_t - adj_{t-1}) / (raw_t - (adj_t - adj_{t-1}))``,
which is the front contract's own return even on a roll day. On the sessions both series have, the
relative-strength line is the cumulative product of ``(1 + r_root) / (1 + r_peer)`` (1.0 on the
first common session); its trend is the line over its ``rs_mean_window`` mean, minus 1. Return
spreads are compounded root returns minus compounded peer returns over each window. Everything is
causal: a row depends on rows at or before its session only.
"""

from __future__ import annotations

import polars as pl

from pipeline.analysis.indicators import sma
from pipeline.analysis.params import CoreParams


def daily_return(suffix: str = "") -> pl.Expr:
    """The front contract's own daily return from an adjusted series (fraction; first row null).

    Columns ``close``, ``raw_close`` and ``factor`` (with ``suffix`` appended to each name).
    Difference-adjusted (factor 1): the adjusted point change over the previous price of the same
    contract. Ratio-adjusted (factor != 1): adjusted prices keep returns, so close over close.
    Row 3 is a roll: the raw close jumps 92 -> 110 (a new contract), the adjusted close moves 8,
    the new contract's own move from 102, so the return is 8 / 102:

    >>> frame = pl.DataFrame({"close": [100.0, 102.0, 110.0], "raw_close": [90.0, 92.0, 110.0],
    ...                       "factor": [1.0, 1.0, 1.0]})
    >>> frame.select(daily_return().round(6))["daily_return"].to_list()
    [None, 0.022222, 0.078431]
    """
    close, raw, factor = (pl.col(f"{c}{suffix}") for c in ("close", "raw_close", "factor"))
    change = close - close.shift(1)
    difference_return = change / (raw - change)
    ratio_return = close / close.shift(1) - 1
    return (
        pl.when(factor != 1.0).then(ratio_return).otherwise(difference_return).alias("daily_return")
    )


def relative_strength(
    series: pl.DataFrame, peer: pl.DataFrame, *, params: CoreParams
) -> pl.DataFrame:
    """Per session of ``series``: ratio_vs_mean, spread_<w> for each return window, verdict.

    Both frames need session_date, close, raw_close and factor. Returns are taken over the
    sessions both have, so a session one of them lacks makes the next return span both days for
    both roots. Sessions the peer lacks get nulls.
    """
    columns = ("session_date", "close", "raw_close", "factor")
    common = (
        series.select(columns)
        .join(peer.select(columns), on="session_date", how="inner", suffix="_peer")
        .sort("session_date")
        .with_columns(daily_return().alias("r"), daily_return("_peer").alias("r_peer"))
    )
    growth = (1 + pl.col("r").fill_null(0)) / (1 + pl.col("r_peer").fill_null(0))
    rs_line = growth.cum_prod()
    windows = params.rs_return_windows
    spreads = [
        (
            (1 + pl.col("r").fill_null(0)).log().rolling_sum(w).exp()
            - (1 + pl.col("r_peer").fill_null(0)).log().rolling_sum(w).exp()
        ).alias(f"spread_{w}")
        for w in windows
    ]
    verdict_spread = pl.col(f"spread_{params.rs_verdict_window}")
    ratio = pl.col("ratio_vs_mean")
    result = (
        common.with_columns(rs_line.alias("rs_line"))
        .with_columns(
            (pl.col("rs_line") / sma("rs_line", params.rs_mean_window) - 1).alias("ratio_vs_mean"),
            *spreads,
        )
        .with_columns(
            pl.when(verdict_spread.is_null() | ratio.is_null())
            .then(None)
            .when((verdict_spread > 0) & (ratio > 0))
            .then(pl.lit("leading"))
            .when((verdict_spread < 0) & (ratio < 0))
            .then(pl.lit("lagging"))
            .otherwise(pl.lit("mixed"))
            .alias("verdict")
        )
        .select("session_date", "ratio_vs_mean", *(f"spread_{w}" for w in windows), "verdict")
    )
    return series.select("session_date").join(result, on="session_date", how="left")
