"""v3's barriers: near enough that every scenario is a real claim, in every regime.

v2 keeps its line in the sand and its bias-defining level for many sessions and lets them lie up
to about 4 ATR from the close. When volatility explodes that is a band of a third of the price
(ES on 23 Mar 2020: sideways between 1,916 and 2,960). v3 keeps v2's level wherever it lies
within the limit, and otherwise takes the level that matters now:

* the limit per side is ``min(barrier_max_pct`` of the close, ``barrier_max_atr`` ATR) (the ATR
  limit alone where the close is at or below zero: no percentage of such a price means anything);
* beyond it, the nearest tested structure on that side between ``barrier_min_gap_atr`` ATR and
  the limit: the last two confirmed swing highs (lows), the recent high (low), the 50-day and the
  200-day, or the near edge of one of v2's level zones lying across the limit;
* with none there, a barrier projected at the limit, labelled projected.

Only the barriers move: v2's levels stay as they are (their persistence, widths and order are
v2's), so the line in the sand stays the one invalidation level; a barrier nearer than it is the
scenarios' trigger and the note names it as the early warning, with both numbers. Everything
downstream (outcomes, analog states, probabilities, the audit) reads the barriers. Each side's
basis is stored as a code: ``level`` (v2's level is the barrier), ``structure`` or ``limit``.

Pure: a call table in, the same table with the barriers out (``upper_barrier`` /
``lower_barrier`` in the published front contract, ``upper_internal`` / ``lower_internal`` in
the internal frame).
"""

from __future__ import annotations

import polars as pl

from pipeline.analysis.prices import front_price, internal_price, published_price, round_to_tick
from pipeline.analysis.v3.params import V3Params

#: Structure a barrier may move to, by side: (column of the call table, its code).
ABOVE: tuple[tuple[str, str], ...] = (
    ("last_swing_high", "swing_high"),
    ("prev_swing_high", "swing_high"),
    ("recent_high", "recent_high"),
    ("sma50", "sma50"),
    ("sma200", "sma200"),
)
BELOW: tuple[tuple[str, str], ...] = (
    ("last_swing_low", "swing_low"),
    ("prev_swing_low", "swing_low"),
    ("recent_low", "recent_low"),
    ("sma50", "sma50"),
    ("sma200", "sma200"),
)
BASES: tuple[str, ...] = ("level", "structure", "limit")


def barrier_limit(p: V3Params, *, tick: float) -> pl.Expr:
    """How far (internal points) a barrier may lie from the close: ``min(barrier_max_pct`` of
    the front contract's close, ``barrier_max_atr`` ATR), the ATR limit alone where that close
    is at or below zero; less one tick, so that a barrier rounded to the tick stays within it.

    >>> frame = pl.DataFrame({"close": [100.0, 100.0, -5.0], "atr14": [1.0, 3.0, 2.0],
    ...     "offset": [0.0, 0.0, 0.0], "factor": [1.0, 1.0, 1.0]})
    >>> frame.select(barrier_limit(V3Params(), tick=0.25).alias("limit"))["limit"].to_list()
    [3.75, 4.75, 7.75]
    """
    close = front_price(pl.col("close"))
    by_atr = p.barrier_max_atr * pl.col("atr14")
    by_pct = p.barrier_max_pct * close * pl.col("factor")
    limit = pl.when(close > 0).then(pl.min_horizontal(by_pct, by_atr)).otherwise(by_atr)
    return limit - tick * pl.col("factor")


#: v2's level zones, by prefix: a barrier may move to the near edge of one that lies across the
#: limit (its far edge, the level's own trigger, beyond it).
LEVEL_ZONES: tuple[str, ...] = ("line", "bias", "ext", "deep")


def _nearest(side: str, p: V3Params) -> tuple[pl.Expr, pl.Expr]:
    """(price, code) of the nearest structure on ``side`` (above / below) between the minimum
    gap and the limit, in the internal frame; null where there is none. Candidates: ABOVE /
    BELOW, and the edges of v2's level zones (code ``<prefix>_edge``)."""
    sign = 1.0 if side == "above" else -1.0
    candidates: list[tuple[pl.Expr, str]] = [
        (pl.col(c), name) for c, name in (ABOVE if side == "above" else BELOW)
    ]
    candidates += [
        (internal_price(pl.col(f"{prefix}_{edge}")), f"{prefix}_edge")
        for prefix in LEVEL_ZONES
        for edge in ("low", "high")
    ]
    close, gap, limit = pl.col("close"), p.barrier_min_gap_atr * pl.col("atr14"), pl.col("_limit")

    def distance(price: pl.Expr) -> pl.Expr:
        d = sign * (price - close)
        return pl.when((d >= gap) & (d <= limit)).then(d)

    nearest = pl.min_horizontal(*(distance(price) for price, _ in candidates))
    code = pl.lit(None, dtype=pl.String)
    for price, name in reversed(candidates):  # the first of equals wins
        code = pl.when(distance(price) == nearest).then(pl.lit(name)).otherwise(code)
    return close + sign * nearest, code


def with_near_barriers(table: pl.DataFrame, p: V3Params, *, tick: float) -> pl.DataFrame:
    """``table`` (v2's levels table) with each barrier beyond the limit moved (module
    docstring; the zone a moved barrier is the trigger edge of is ``barrier_zone_atr`` wide, on
    the far side), and per side ``upper_basis`` / ``lower_basis`` (``level`` | ``structure`` |
    ``limit``) and ``upper_structure`` / ``lower_structure`` (the structure's code, e.g.
    ``swing_low``; null unless ``structure``).

    A moved barrier is kept from session to session (its zone unchanged) while v2's level is
    still beyond the limit, the call keeps its orientation and the moved zone stays between the
    minimum gap and the limit: it is a level, not a number recomputed from each close."""
    frame = table.with_columns(barrier_limit(p, tick=tick).alias("_limit"))
    above, above_code = _nearest("above", p)
    below, below_code = _nearest("below", p)
    close = pl.col("close")
    frame = frame.with_columns(
        ((pl.col("upper_internal") - close) > pl.col("_limit")).fill_null(False).alias("_far_up"),
        ((close - pl.col("lower_internal")) > pl.col("_limit")).fill_null(False).alias("_far_dn"),
        above.alias("_above"),
        above_code.alias("_above_code"),
        below.alias("_below"),
        below_code.alias("_below_code"),
    )
    picked = _sticky_barriers(frame, p)
    frame = pl.concat([frame, picked], how="horizontal")
    out = []
    for side in ("upper", "lower"):
        trigger = pl.col(f"_{side}_high") if side == "upper" else pl.col(f"_{side}_low")
        out += [
            pl.when(trigger.is_not_null())
            .then(published_price(trigger, tick=tick))
            .otherwise(pl.col(f"{side}_barrier"))
            .alias(f"{side}_barrier"),
            pl.col(f"_{side}_basis").alias(f"{side}_basis"),
            pl.col(f"_{side}_code").alias(f"{side}_structure"),
        ]
    frame = frame.with_columns(out)
    return frame.with_columns(
        internal_price(pl.col("upper_barrier")).alias("upper_internal"),
        internal_price(pl.col("lower_barrier")).alias("lower_internal"),
    ).drop(c for c in frame.columns if c.startswith("_"))


def _sticky_barriers(frame: pl.DataFrame, p: V3Params) -> pl.DataFrame:
    """Per session and side: the moved zone (internal ``_<side>_low`` / ``_high``, null where
    v2's level stands), ``_<side>_basis`` and ``_<side>_code``, kept while still valid."""
    cols = {
        c: frame[c].to_list()
        for c in ("orientation", "close", "atr14", "_limit", "_far_up", "_far_dn", "_above",
                  "_above_code", "_below", "_below_code")
    }  # fmt: skip
    n = frame.height
    out: dict[str, list[object]] = {
        f"_{side}_{field}": [None] * n
        for side in ("upper", "lower")
        for field in ("low", "high", "basis", "code")
    }
    state: dict[str, tuple[str, float, float, str, str | None] | None] = {
        "upper": None,
        "lower": None,
    }
    for i in range(n):
        close, atr, limit = cols["close"][i], cols["atr14"][i], cols["_limit"][i]
        orientation = cols["orientation"][i]
        for side, far, nearest, code in (
            ("upper", "_far_up", "_above", "_above_code"),
            ("lower", "_far_dn", "_below", "_below_code"),
        ):
            if atr is None or limit is None or orientation is None or not cols[far][i]:
                state[side] = None
                if atr is not None and orientation is not None:
                    out[f"_{side}_basis"][i] = "level"
                continue
            sign = 1.0 if side == "upper" else -1.0
            gap = p.barrier_min_gap_atr * atr
            kept = state[side]
            if kept is not None:
                k_orientation, k_low, k_high, _k_basis, _k_code = kept
                trigger = k_high if side == "upper" else k_low
                near_edge = k_low if side == "upper" else k_high
                distance = sign * (trigger - close)
                if not (
                    k_orientation == orientation
                    and sign * (near_edge - close) > 0
                    and gap <= distance <= limit
                ):
                    kept = None
            if kept is None:
                width = p.barrier_zone_atr * atr
                price = cols[nearest][i]
                basis = "structure" if price is not None else "limit"
                trigger = price if price is not None else close + sign * limit
                low, high = (
                    (trigger - width, trigger) if side == "upper" else (trigger, trigger + width)
                )
                kept = (orientation, low, high, basis, cols[code][i] if price is not None else None)
            state[side] = kept
            _, low, high, basis, structure = kept
            out[f"_{side}_low"][i], out[f"_{side}_high"][i] = low, high
            out[f"_{side}_basis"][i], out[f"_{side}_code"][i] = basis, structure
    return pl.DataFrame(
        out,
        schema={
            name: pl.Float64 if name.endswith(("_low", "_high")) else pl.String for name in out
        },
    )


def with_targets(table: pl.DataFrame, p: V3Params, *, tick: float) -> pl.DataFrame:
    """Each directional scenario's target zone (front-contract prices) a meaningful step beyond
    its trigger: ``<scenario>_target_low`` / ``_high`` and ``<scenario>_target_basis``
    (``level``: the nearest of v2's level zones whose near edge lies ``target_min_atr`` to
    ``target_max_atr`` beyond the trigger; ``projected``: with none, a zone ``target_step_atr``
    beyond it, ``target_width_atr`` wide).

    >>> frame = pl.DataFrame({"upper_barrier": [110.0], "lower_barrier": [90.0],
    ...     "line_low": [89.0], "line_high": [90.0], "bias_low": [109.0], "bias_high": [110.0],
    ...     "ext_low": [110.5], "ext_high": [111.0], "deep_low": [85.0], "deep_high": [87.0],
    ...     "atr14": [2.0], "factor": [1.0]})
    >>> with_targets(frame, V3Params(), tick=0.25).select(
    ...     "bull_target_low", "bull_target_high", "bull_target_basis", "bear_target_basis").row(0)
    (112.0, 113.0, 'projected', 'level')
    """
    atr = pl.col("atr14") / pl.col("factor")  # in the front contract's points
    out = []
    for name, sign, trigger in (
        ("bull", 1.0, pl.col("upper_barrier")),
        ("bear", -1.0, pl.col("lower_barrier")),
    ):
        near_edge = "low" if sign > 0 else "high"

        def beyond(prefix: str, sign: float = sign, trigger: pl.Expr = trigger,
                   near_edge: str = near_edge) -> pl.Expr:  # fmt: skip
            d = sign * (pl.col(f"{prefix}_{near_edge}") - trigger)
            return pl.when((d >= p.target_min_atr * atr) & (d <= p.target_max_atr * atr)).then(d)

        nearest = pl.min_horizontal(*(beyond(prefix) for prefix in LEVEL_ZONES))
        low: pl.Expr = pl.lit(None, dtype=pl.Float64)
        high: pl.Expr = pl.lit(None, dtype=pl.Float64)
        for prefix in reversed(LEVEL_ZONES):
            hit = beyond(prefix) == nearest
            low = pl.when(hit).then(pl.col(f"{prefix}_low")).otherwise(low)
            high = pl.when(hit).then(pl.col(f"{prefix}_high")).otherwise(high)
        step = round_to_tick(trigger + sign * p.target_step_atr * atr, tick=tick)
        far = round_to_tick(
            trigger + sign * (p.target_step_atr + p.target_width_atr) * atr, tick=tick
        )
        found = nearest.is_not_null()
        out += [
            pl.when(found)
            .then(low)
            .otherwise(step if sign > 0 else far)
            .alias(f"{name}_target_low"),
            pl.when(found)
            .then(high)
            .otherwise(far if sign > 0 else step)
            .alias(f"{name}_target_high"),
            pl.when(trigger.is_null())
            .then(None)
            .when(found)
            .then(pl.lit("level"))
            .otherwise(pl.lit("projected"))
            .alias(f"{name}_target_basis"),
        ]
    return table.with_columns(out)
