"""Prices as published: one rounding to the tick, the same for a call alone and in a long pass."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.methodology import get
from pipeline.analysis.prices import published_price, round_to_tick, tick_decimals
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

TICKS = (0.1, 0.25, 0.01, 1.0, 0.03125, 0.005)


def by_hand(price: float, tick: float) -> float:
    """Half to even on the grid of ``price * (1 / tick)`` (the product as a double)."""
    steps = Decimal(repr(price * (1.0 / tick)))
    whole = steps.to_integral_value(rounding=ROUND_HALF_EVEN)
    return round(float(whole) * tick, tick_decimals(tick))


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=0.5, max_value=60_000, allow_nan=False),
    st.lists(st.floats(min_value=0.5, max_value=60_000, allow_nan=False), max_size=30),
    st.sampled_from(TICKS),
)
def test_a_price_rounds_alike_alone_and_among_others(
    price: float, others: list[float], tick: float
) -> None:
    alone = pl.DataFrame({"p": [price]}).select(round_to_tick(pl.col("p"), tick=tick))["p"][0]
    among = pl.DataFrame({"p": [*others, price]}).select(round_to_tick(pl.col("p"), tick=tick))
    assert among["p"][-1] == alone == by_hand(price, tick)


def test_a_half_tick_that_true_division_would_round_the_other_way() -> None:
    """2000.35 / 0.1 is 20003.499999999996 (true division) but 2000.35 * 10.0 is 20003.5: the
    stored backfills rounded the second (polars' long-column kernel); so does the one rule,
    alone or not."""
    price = 2000.35
    assert price / 0.1 < 20003.5 == price * (1.0 / 0.1)
    for frame in (pl.DataFrame({"p": [price]}), pl.DataFrame({"p": [1.0, price]})):
        assert frame.select(round_to_tick(pl.col("p"), tick=0.1))["p"][-1] == 2000.4


def test_published_price_is_in_the_sessions_front_contract() -> None:
    frame = pl.DataFrame({"x": [2600.04, 2600.04], "offset": [0.0, -12.5], "factor": [1.0, 1.0]})
    out = frame.select(published_price(pl.col("x"), tick=0.1))["x"].to_list()
    assert out == [2600.0, 2612.5]


def test_the_nightly_v1_call_is_the_backfills_row_on_a_half_tick() -> None:
    """Demo RTY on 2013-12-05: before the rounding was one rule, v1's risk level (the SMA50 on
    the tick) came out half a tick apart alone (the nightly) and in the whole-history pass."""
    day = date(2013, 12, 5)
    series = {
        r: continuous_series(demo_bars(r).filter(pl.col("session_date") <= date(2014, 6, 30)))
        for r in ("RTY", "ES", "NQ")
    }
    v1 = get("v1")
    backfill = v1.analyse(series, "RTY", source="demo").snapshots.filter(pl.col("as_of") == day)
    cut = {r: s.filter(pl.col("session_date") <= day) for r, s in series.items()}
    nightly = v1.analyse(cut, "RTY", source="demo", sessions=[day]).snapshots
    assert nightly.equals(backfill)
    assert nightly["content_hash"][0] == (
        "25cedfc37007cb89ad31a55b160ed35e974e9e973b58c6e76b8a7d8dd1673218"
    )
    sma50 = pl.DataFrame({"p": [nightly["sma50"][0]]})
    assert nightly["risk_level"][0] == pytest.approx(by_hand(sma50["p"][0], 0.1), abs=1e-9)
