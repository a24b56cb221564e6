"""v3's stable probabilities: a scenario moves more than a few points only for a named cause.

The probability model (v2's, on v3's barriers) reads the session afresh: a new close a little
nearer a barrier, an ATR a little larger, and a scenario jumps 20 points with nothing a reader
could point at (v2: 19.9 % of sessions). v3 publishes the model's probabilities moved toward
from yesterday's published ones by at most ``uncaused_move_points`` per scenario, or
``caused_move_points`` when the session has a cause the note names:

* ``level``: the line in the sand, the bias-defining level or a barrier changed;
* ``barrier``: the session's range reached a barrier of the previous call;
* ``volatility``: ATR(14) changed by at least ``cause_atr_change_pct`` in the session;
* ``price``: the close moved at least ``cause_price_move_atr`` ATR;
* ``regime``: the primary trend or the call's orientation changed.

The limit is a projection: the published triple is the one nearest the model's (a common shift,
clipped to each scenario's band) that sums to one. Causal and path-dependent in the forward
direction only (row D reads rows <= D), so the nightly equals the backfill.

>>> import numpy as np
>>> limited_move(np.array([0.7, 0.2, 0.1]), np.array([0.3, 0.4, 0.3]), 0.1).round(4).tolist()
[0.4, 0.35, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from pipeline.analysis.v3.params import V3Params

SCENARIOS: tuple[str, ...] = ("bear", "sideways", "bull")
#: How far from one (probability units) the sum of a shifted triple must be for its side of
#: one to be read from the pieces of the sum rather than computed (float error is ~1e-16).
SUM_SLACK = 1e-12
#: The causes, in the order a note names them.
CAUSES: tuple[str, ...] = ("regime", "level", "barrier", "volatility", "price")


def limited_move(model: np.ndarray, previous: np.ndarray, cap: float) -> np.ndarray:
    """The probability triple nearest ``model`` (shifted by one common amount, each clipped to
    ``previous`` +- ``cap`` and to [0, 1]) that sums to one.

    >>> limited_move(np.array([0.2, 0.3, 0.5]), np.array([0.25, 0.3, 0.45]), 0.1).tolist()
    [0.2, 0.3, 0.5]
    """
    m = [float(x) for x in model]
    low = [min(max(float(q) - cap, 0.0), 1.0) for q in previous]
    high = [min(max(float(q) + cap, 0.0), 1.0) for q in previous]

    def total(shift: float) -> float:
        return sum(min(max(x + shift, lo), hi) for x, lo, hi in zip(m, low, high, strict=True))

    # The sum is piecewise linear and non-decreasing in the shift, bending where a scenario
    # reaches an edge of its band. The published shift is the one the first version found by
    # bisecting [-1, 1] 48 times (so every v3 digest stays as made: probabilities are rounded
    # to 4 decimals, and model values on that grid often shift onto a rounding tie, where
    # 1e-15 decides the digit). The same bisection is followed here, but the sum is computed
    # only where it is within SUM_SLACK of one; elsewhere the side is known from the bends.
    bends = sorted({edge - x for x, lo, hi in zip(m, low, high, strict=True) for edge in (lo, hi)})

    def least_shift(target: float) -> float:
        """The least shift whose sum (computed exactly on the pieces) reaches ``target``."""
        below, below_total = -1.0, total(-1.0)
        if below_total >= target:
            return -1.0
        for bend in bends:
            if bend <= below:
                continue
            reached = total(bend)
            if reached >= target:
                return below + (bend - below) * (target - below_total) / (reached - below_total)
            below, below_total = bend, reached
        return math.inf

    surely_below, surely_above = least_shift(1.0 - SUM_SLACK), least_shift(1.0 + SUM_SLACK)
    lo_shift, shift = -1.0, 1.0
    for _ in range(48):
        mid = (lo_shift + shift) / 2
        if mid < surely_below or (mid < surely_above and total(mid) < 1.0):
            lo_shift = mid
        else:
            shift = mid
    out = [min(max(x + shift, lo), hi) for x, lo, hi in zip(m, low, high, strict=True)]
    scale = sum(out)
    return np.array([x / scale for x in out])


def session_causes(table: pl.DataFrame, p: V3Params) -> pl.Series:
    """Per session, the causes (CAUSES codes joined by ``+``, in that order; null: none) that
    allow a probability to move by more than ``uncaused_move_points``."""
    previous_call = pl.col("has_call").shift(1).fill_null(False)
    changed_level = pl.lit(False)
    for column in (
        *(pl.col(f"{prefix}_{field}") for prefix in ("line", "bias") for field in ("low", "high")),
        pl.col("upper_barrier"),
        pl.col("lower_barrier"),
    ):
        changed_level = changed_level | column.ne_missing(column.shift(1))
    touched = (pl.col("high") >= pl.col("upper_internal").shift(1)) | (
        pl.col("low") <= pl.col("lower_internal").shift(1)
    )
    atr_change = (pl.col("atr14") / pl.col("atr14").shift(1) - 1).abs()
    price_move = (pl.col("close") - pl.col("close").shift(1)).abs() / pl.col("atr14")
    regime = pl.col("primary_trend").ne_missing(pl.col("primary_trend").shift(1)) | pl.col(
        "orientation"
    ).ne_missing(pl.col("orientation").shift(1))
    flags = {
        "regime": regime,
        "level": changed_level,
        "barrier": touched.fill_null(False),
        "volatility": (atr_change >= p.cause_atr_change_pct).fill_null(False),
        "price": (price_move >= p.cause_price_move_atr).fill_null(False),
    }
    codes = pl.concat_list(
        [pl.when(flags[name]).then(pl.lit(name)).otherwise(None) for name in CAUSES]
    ).list.drop_nulls()
    joined = pl.when(codes.list.len() > 0).then(codes.list.join("+"))
    return table.select(
        pl.when(pl.col("has_call") & previous_call).then(joined).alias("probability_cause")
    ).to_series()


def stable_probabilities(
    model: np.ndarray,
    has_call: Sequence[bool],
    causes: Sequence[str | None],
    p: V3Params,
    *,
    has_bar: Sequence[bool] | None = None,
) -> np.ndarray:
    """The published probabilities (rows x (bear, sideways, bull)) from the model's, each row
    limited against the row before it when both are calls (module docstring).

    ``has_bar`` (v5): a row without a bar makes no call and keeps the last call as the
    reference, so the first call after it is limited too; without it (v3, v4) any row without
    a call restarts the limit."""
    out = np.full_like(model, np.nan)
    previous: np.ndarray | None = None
    for i, call in enumerate(has_call):
        if not call or np.isnan(model[i]).any():
            if has_bar is None or has_bar[i]:
                previous = None
            continue
        if previous is None:
            out[i] = model[i]
        else:
            cap = p.caused_move_points if causes[i] else p.uncaused_move_points
            out[i] = limited_move(model[i], previous, cap)
        previous = out[i]
    return out


def with_stable_probabilities(
    table: pl.DataFrame, p: V3Params, *, limit_across_missing_bars: bool = False
) -> pl.DataFrame:
    """``table`` with the model's probabilities kept as ``model_p_*`` and ``p_*`` published
    through the limit, rounded like every probability (``probability_decimals``, summing to
    one), and ``probability_cause``. ``limit_across_missing_bars`` (v5): a session without a
    bar (``has_bar`` false) keeps the last call as the reference (:func:`stable_probabilities`)."""
    causes = session_causes(table, p)
    model = table.select(f"p_{k}" for k in SCENARIOS).to_numpy().astype(float)
    has_bar = table["has_bar"].to_list() if limit_across_missing_bars else None
    stable = stable_probabilities(
        model, table["has_call"].to_list(), causes.to_list(), p, has_bar=has_bar
    )
    decimals = p.probability_decimals
    bear = np.round(stable[:, 0], decimals)
    bull = np.round(stable[:, 2], decimals)
    sideways = np.round(1.0 - bear - bull, decimals)
    return table.with_columns(
        *(pl.col(f"p_{k}").alias(f"model_p_{k}") for k in SCENARIOS),
        pl.Series("p_bear", bear).fill_nan(None),
        pl.Series("p_sideways", sideways).fill_nan(None),
        pl.Series("p_bull", bull).fill_nan(None),
        causes,
    )
