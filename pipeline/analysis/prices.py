"""Prices as published: from the internal continuous frame to the as-of front contract, on its tick.

The analysis runs on the internal forward-anchored continuous series
(:func:`pipeline.market.continuous.continuous_series`); a published price is the same price in
the front contract of its own session, ``(internal - offset) / factor``, rounded to the nearest
tick (:func:`round_to_tick`). This is the one definition of that rounding: every level edge,
barrier, risk level and breakout level goes through it.

Why the rounding multiplies by the reciprocal of the tick: polars divides a long Float64 column
by a scalar as ``x * (1 / s)`` but a one-row frame by true division, and the two differ in the
last bit, enough to move a price sitting on a half tick to the other tick. Every stored
whole-history (backfill) snapshot was rounded the first way; written out explicitly, a call
computed alone (the nightly) rounds exactly as the backfill's row of the same session.
"""

from __future__ import annotations

import polars as pl

from pipeline.market.notation import tick_decimals as tick_decimals


def front_price(internal: pl.Expr) -> pl.Expr:
    """An internal-frame price as a price of the session's front contract (not rounded)."""
    return (internal - pl.col("offset")) / pl.col("factor")


def internal_price(front: pl.Expr) -> pl.Expr:
    """A front-contract price of the session back in the internal frame."""
    return front * pl.col("factor") + pl.col("offset")


def round_to_tick(price: pl.Expr, *, tick: float) -> pl.Expr:
    """``price`` on the nearest multiple of ``tick`` (an exact half to the even multiple, as
    every stored digest was made), with as many decimals as the tick has.

    >>> frame = pl.DataFrame({"p": [2512.34, 2512.36, 6812.3]})
    >>> frame.select(round_to_tick(pl.col("p"), tick=0.1))["p"].to_list()
    [2512.3, 2512.4, 6812.3]
    """
    steps = price * (1.0 / tick)  # the reciprocal, as polars divides a long column (see above)
    return (steps.round(0, mode="half_to_even") * tick).round(tick_decimals(tick))


def published_price(internal: pl.Expr, *, tick: float) -> pl.Expr:
    """An internal-frame price as published: in the session's front contract, on its tick."""
    return round_to_tick(front_price(internal), tick=tick)
