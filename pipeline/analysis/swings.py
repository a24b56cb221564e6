"""Swing points: fractal pivots with the session they happened and the session they became known.

A swing high at session t is a high strictly above the ``k`` highs before it and at least as high as
the ``k`` highs after it (of equal highs, the first is the pivot); swing lows mirror. A pivot at t
can only be known once the ``k`` sessions after it have closed, so it is *confirmed* at t + k. A
call made on session D sees only pivots with ``confirm_index <= D``; that is what keeps the calls
free of look-ahead.
"""

from __future__ import annotations

import polars as pl

SWING_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(),  # "high" | "low"
    "pivot_index": pl.Int64(),  # row of the pivot session in the series
    "pivot_date": pl.Date(),
    "price": pl.Float64(),  # the pivot's high (swing high) or low (swing low), series' price frame
    "confirm_index": pl.Int64(),  # pivot_index + k: first session on which the pivot is known
    "confirm_date": pl.Date(),
}


def swing_points(series: pl.DataFrame, *, k: int) -> pl.DataFrame:
    """Fractal swing highs and lows of ``series`` (columns session_date, high, low; sorted).

    Pivots in the last ``k`` rows cannot be confirmed yet and are not returned. A null high is never
    a swing high and blocks swing highs within ``k`` of it (lows likewise, column by column).

    >>> import datetime as dt
    >>> days = [dt.date(2026, 1, d) for d in (5, 6, 7, 8, 9, 12, 13, 14)]
    >>> bars = pl.DataFrame({"session_date": days,
    ...     "high": [10.0, 12.0, 15.0, 13.0, 11.0, 12.0, 14.0, 16.0],
    ...     "low":  [ 8.0,  9.0, 12.0, 10.0,  7.0,  9.0, 11.0, 13.0]})
    >>> swing_points(bars, k=2).select("kind", "pivot_date", "price", "confirm_date").rows()
    [('high', datetime.date(2026, 1, 7), 15.0, datetime.date(2026, 1, 9)), ('low', datetime.date(2026, 1, 9), 7.0, datetime.date(2026, 1, 13))]
    """
    if k < 1:
        raise ValueError(f"fractal k must be >= 1, got {k}")
    if series.height == 0:
        return pl.DataFrame(schema=SWING_SCHEMA)

    def pivot(column: str, kind: str) -> pl.Expr:
        value = pl.col(column)
        before = [value.shift(i) for i in range(1, k + 1)]
        after = [value.shift(-i) for i in range(1, k + 1)]
        if kind == "high":
            left, right = pl.max_horizontal(before), pl.max_horizontal(after)
            is_pivot = (value > left) & (value >= right)
        else:
            left, right = pl.min_horizontal(before), pl.min_horizontal(after)
            is_pivot = (value < left) & (value <= right)
        # max_horizontal ignores nulls: require all k neighbours on each side to exist.
        complete = pl.all_horizontal([e.is_not_null() for e in (*before, *after)])
        return (is_pivot & complete & value.is_not_null()).fill_null(False)

    indexed = series.select("session_date", "high", "low").with_row_index("pivot_index")
    flags = indexed.with_columns(
        pivot("high", "high").alias("is_high"), pivot("low", "low").alias("is_low")
    )
    dates = series["session_date"]
    frames = []
    for kind, flag, column in (("high", "is_high", "high"), ("low", "is_low", "low")):
        frames.append(
            flags.filter(pl.col(flag)).select(
                pl.lit(kind).alias("kind"),
                pl.col("pivot_index").cast(pl.Int64),
                pl.col("session_date").alias("pivot_date"),
                pl.col(column).cast(pl.Float64).alias("price"),
                (pl.col("pivot_index").cast(pl.Int64) + k).alias("confirm_index"),
            )
        )
    swings = pl.concat(frames).sort("confirm_index", "kind")
    return swings.with_columns(dates.gather(swings["confirm_index"]).alias("confirm_date")).select(
        list(SWING_SCHEMA)
    )
