"""Which level is which barrier: the one definition of how a call's orientation turns its line in
the sand and bias-defining level into the scenarios' barriers, triggers and targets.

For an upward call the line in the sand is support below price (its low edge is the trigger: an
acceptance below it breaks the line), the bias-defining level resistance above (its high edge
the trigger), the extension lies beyond the bias and the deeper level beneath the line; a
downward call mirrors every one of them. So:

* upper barrier (bull: acceptance above it) = the bias's high edge (up) or the line's (down);
* lower barrier (bear: acceptance below it) = the line's low edge (up) or the bias's (down);
* the bull scenario's target is the extension (up) or the deeper level (down), and the bear
  scenario's the other one.

Expressions over a frame with ``orientation`` and the level columns ``line_low`` ... ``deep_high``
(any frame: call tables, snapshot rows, stored snapshots).
"""

from __future__ import annotations

import polars as pl

_UP = pl.col("orientation") == "up"


def line_trigger() -> pl.Expr:
    """The line in the sand's edge an acceptance beyond breaks it (the risk of a line rule)."""
    return pl.when(_UP).then(pl.col("line_low")).otherwise(pl.col("line_high"))


def bias_trigger() -> pl.Expr:
    """The bias-defining level's edge an acceptance beyond strengthens the call."""
    return pl.when(_UP).then(pl.col("bias_high")).otherwise(pl.col("bias_low"))


def upper_barrier() -> pl.Expr:
    """The bull scenario's barrier."""
    return pl.when(_UP).then(pl.col("bias_high")).otherwise(pl.col("line_high"))


def lower_barrier() -> pl.Expr:
    """The bear scenario's barrier."""
    return pl.when(_UP).then(pl.col("line_low")).otherwise(pl.col("bias_low"))


def scenario_target(scenario: str) -> tuple[pl.Expr, pl.Expr]:
    """(low, high) of the zone the bull or bear scenario leads to.

    >>> frame = pl.DataFrame({"orientation": ["up", "down"], "ext_low": [3.0, 1.0],
    ...     "ext_high": [4.0, 2.0], "deep_low": [0.0, 5.0], "deep_high": [1.0, 6.0]})
    >>> frame.select(*scenario_target("bull")).rows()
    [(3.0, 4.0), (5.0, 6.0)]
    """
    beyond = "ext" if scenario == "bull" else "deep"
    other = "deep" if scenario == "bull" else "ext"
    return tuple(  # type: ignore[return-value]
        pl.when(_UP).then(pl.col(f"{beyond}_{edge}")).otherwise(pl.col(f"{other}_{edge}"))
        for edge in ("low", "high")
    )
