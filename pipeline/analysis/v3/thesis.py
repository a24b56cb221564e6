"""v3's thesis: decided from the probabilities, so that the note tells one story.

The trend label says where the market has been; the probabilities say what the next
``horizon_sessions`` most likely bring. v2's note said "continuation of the decline" beside a
bear scenario that was the least likely of three (54 % of its Bearish calls). v3 decides the
thesis from both, once, as codes every sentence of the note renders:

* ``likeliest``: the scenario with the highest published probability, or ``tie`` when the top
  two are closer than ``tie_points``;
* ``thesis``: with a primary trend, ``continuation`` (the likeliest goes the trend's way),
  ``pause`` (sideways) or ``reversal`` (against it); with none (Neutral), ``range``,
  ``break_up`` or ``break_down``; ``tie`` when no scenario leads;
* ``label_conflict``: a Bearish label with the close above both the 50-day and the 200-day
  (``above_both_averages``), a Bullish one below both (``below_both_averages``): the note names
  the conflict.

>>> frame = pl.DataFrame({"primary_trend": ["Bearish", "Bearish", "Neutral", "Bullish"],
...     "p_bear": [0.2, 0.45, 0.3, 0.40], "p_sideways": [0.5, 0.1, 0.3, 0.21],
...     "p_bull": [0.3, 0.45, 0.4, 0.39]})
>>> frame.select(thesis_codes(tie_points=0.02)).rows()
[('sideways', 'pause'), ('tie', 'tie'), ('bull', 'break_up'), ('tie', 'tie')]
"""

from __future__ import annotations

from typing import Any

import polars as pl

SCENARIOS: tuple[str, ...] = ("bear", "sideways", "bull")
THESES: tuple[str, ...] = (
    "continuation", "pause", "reversal", "range", "break_up", "break_down", "tie",
)  # fmt: skip


def thesis_codes(*, tie_points: float) -> list[pl.Expr]:
    """``likeliest`` and ``thesis`` (module docstring) from ``primary_trend`` and ``p_*``."""
    p = {k: pl.col(f"p_{k}") for k in SCENARIOS}
    top = pl.max_horizontal(*p.values())
    # The second highest: the sum less the highest and the lowest.
    second = pl.sum_horizontal(*p.values()) - top - pl.min_horizontal(*p.values())
    likeliest = pl.lit(None, dtype=pl.String)
    for name in reversed(SCENARIOS):
        likeliest = pl.when(p[name] == top).then(pl.lit(name)).otherwise(likeliest)
    # The same arithmetic on the same stored fractions as any reader's ("2.0 points apart").
    likeliest = pl.when(top - second < tie_points).then(pl.lit("tie")).otherwise(likeliest)
    trend = pl.col("primary_trend")
    with_trend = {"Bullish": ("bull", "bear"), "Bearish": ("bear", "bull")}
    thesis: Any = pl.when(likeliest == "tie").then(pl.lit("tie"))
    for label, (along, against) in with_trend.items():
        thesis = (
            thesis.when((trend == label) & (likeliest == along))
            .then(pl.lit("continuation"))
            .when((trend == label) & (likeliest == against))
            .then(pl.lit("reversal"))
            .when((trend == label) & (likeliest == "sideways"))
            .then(pl.lit("pause"))
        )
    thesis = (
        thesis.when(likeliest == "sideways")
        .then(pl.lit("range"))
        .when(likeliest == "bull")
        .then(pl.lit("break_up"))
        .when(likeliest == "bear")
        .then(pl.lit("break_down"))
    )
    return [
        pl.when(top.is_not_null()).then(likeliest).alias("likeliest"),
        pl.when(top.is_not_null()).then(thesis).alias("thesis"),
    ]


def label_conflict() -> pl.Expr:
    """``above_both_averages`` / ``below_both_averages`` where the label's opposite is what
    the close's place against the 50-day and the 200-day would define, else null."""
    close, sma50, sma200 = pl.col("close"), pl.col("sma50"), pl.col("sma200")
    trend = pl.col("primary_trend")
    return (
        pl.when((trend == "Bearish") & (close > sma50) & (close > sma200))
        .then(pl.lit("above_both_averages"))
        .when((trend == "Bullish") & (close < sma50) & (close < sma200))
        .then(pl.lit("below_both_averages"))
        .otherwise(None)
        .alias("label_conflict")
    )
