"""pipeline/analysis/steps.py: the published levels kept a tick apart (levels_kept_apart)."""

from __future__ import annotations

from itertools import accumulate

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from pipeline.analysis.prices import round_to_tick
from pipeline.analysis.steps import levels_kept_apart

EDGES = [f"{p}_{e}" for p in ("deep", "line", "bias", "ext") for e in ("low", "high")]


def frame(orientation: str | None, close: float, *edges: float | None) -> pl.DataFrame:
    return pl.DataFrame(
        {"orientation": [orientation], "close": [close], "offset": [0.0], "factor": [1.0]}
        | {name: [value] for name, value in zip(EDGES, edges, strict=True)},
        schema_overrides={name: pl.Float64 for name in EDGES},
    )


def test_corn_2004_12_03_the_line_rounded_onto_the_close_moves_a_tick_up() -> None:
    # ZC's down call of 2004-12-03 as published before: line 196.25-196.75 on the close 196.25.
    t = frame("down", 196.25, 197.25, 197.5, 196.25, 196.75, 189.75, 190.5, 187.75, 188.25)
    out = levels_kept_apart(t, tick=0.25).select(EDGES).row(0)
    assert out == (197.25, 197.5, 196.5, 196.75, 189.75, 190.5, 187.75, 188.25)


def test_corn_2005_05_02_an_extension_rounded_onto_its_bias_moves_a_tick_beyond() -> None:
    t = frame("down", 200.5, 207.75, 208.5, 204.0, 204.5, 199.0, 200.0, 198.5, 199.0)
    out = levels_kept_apart(t, tick=0.25).select(EDGES).row(0)
    assert out == (207.75, 208.5, 204.0, 204.5, 199.0, 200.0, 198.5, 198.75)


def test_an_up_call_whose_zones_touch_becomes_one_price_apart_and_nulls_stay_null() -> None:
    # Up: deep 99-100 touches the line 100-101; the bias 102-102 sits on the close 102; the
    # line's near edge is fine. The bias becomes 102.25 (one price), the extension follows.
    t = pl.concat(
        [
            frame("up", 102.0, 99.0, 100.0, 100.0, 101.0, 102.0, 102.0, 102.0, 103.0),
            frame(None, 102.0, *([None] * 8)),
        ]
    )
    out = levels_kept_apart(t, tick=0.25).select(EDGES)
    assert out.row(0) == (99.0, 99.75, 100.0, 101.0, 102.25, 102.25, 102.5, 103.0)
    assert out.row(1) == (None,) * 8


def test_levels_already_apart_are_unchanged() -> None:
    t = frame("up", 2600.0, 2400.0, 2410.0, 2500.0, 2520.0, 2650.0, 2660.0, 2700.0, 2720.0)
    assert levels_kept_apart(t, tick=0.25).select(EDGES).equals(t.select(EDGES))


@given(
    st.booleans(),
    st.lists(st.floats(0.0, 3.0), min_size=8, max_size=8),
    st.sampled_from([0.25, 0.015625, 0.1]),
)
def test_rounded_ordered_levels_never_touch_the_close_or_each_other(
    up: bool, gaps: list[float], tick: float
) -> None:
    """Levels strictly ordered away from the close in real numbers, rounded to the tick (as
    published), then kept apart: strictly ordered, the close outside every zone."""
    close = 100.0
    # Outward from the close: near edge, far edge of the line (or bias), then of deep (or ext).
    below = [close - x for x in accumulate(g + 1e-6 for g in gaps[:4])]
    above = [close + x for x in accumulate(g + 1e-6 for g in gaps[4:])]
    if up:  # line and deep below, bias and ext above
        edges = [below[3], below[2], below[1], below[0], above[0], above[1], above[2], above[3]]
    else:  # line and deep above, bias and ext below (deep_low above line_high ...)
        edges = [above[2], above[3], above[0], above[1], below[1], below[0], below[3], below[2]]
    t = frame("up" if up else "down", close, *edges).with_columns(
        round_to_tick(pl.col(c), tick=tick).alias(c) for c in EDGES
    )
    r = levels_kept_apart(t, tick=tick).row(0, named=True)
    order = (
        ["deep_low", "deep_high", "line_low", "line_high", "close", "bias_low", "bias_high",
         "ext_low", "ext_high"]
        if up
        else ["ext_low", "ext_high", "bias_low", "bias_high", "close", "line_low", "line_high",
              "deep_low", "deep_high"]
    )  # fmt: skip
    values = [r[name] for name in order]
    for a, b, name_a, name_b in zip(values, values[1:], order, order[1:], strict=False):
        same_zone = name_a.split("_")[0] == name_b.split("_")[0]
        assert a <= b if same_zone else a < b, (name_a, name_b, values)
