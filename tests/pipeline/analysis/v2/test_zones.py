"""v2 zone clustering: tight zones, never chained into a wide band, disjoint, every anchor in one."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.v2.params import V2Params
from pipeline.analysis.v2.zones import (
    SMA50,
    SWING_HIGH,
    SWING_LOW,
    Anchor,
    above,
    below,
    cluster,
    mirrored,
    rescored,
    trimmed,
)

P = V2Params()


def test_a_dense_run_of_swings_is_cut_at_its_widest_gap_not_chained() -> None:
    # ATR 10: span cap 6 points, linking gap 3. Single linkage would chain 100..118 into one
    # 1.8-ATR band (every neighbour within 3 points).
    prices = [100.0, 102.0, 104.0, 105.0, 108.0, 110.0, 112.5, 115.0, 118.0]
    zones = cluster([Anchor(p, SWING_LOW, 1.0) for p in prices], atr=10.0, params=P)
    spans = [(z.low, z.high) for z in zones]
    # 100..118 (span 18) splits at its widest gap 105 -> 108 (3.0, first of equals), then
    # 100..105 fits, 108..118 (span 10) splits at 115 -> 118 (3.0), and 108..115 (7) at
    # 110 -> 112.5. Groups narrower than the 2.5-point minimum widen about their centre.
    assert spans == [(100.0, 105.0), (107.75, 110.25), (112.5, 115.0), (116.75, 119.25)]
    # A zone scores its three heaviest swings only: the first holds four.
    assert [z.score for z in zones] == [3.0, 2.0, 2.0, 1.0]


def test_zone_scores_touches_and_moving_averages() -> None:
    anchors = [
        Anchor(100.0, SWING_LOW, 1.5, at=10),
        Anchor(101.0, SWING_HIGH, 2.5, at=20, flipped=True),
        Anchor(100.5, SMA50, P.sma50_weight),
    ]
    (zone,) = cluster(anchors, atr=4.0, params=P)
    assert (zone.low, zone.high, zone.touches) == (100.0, 101.0, 2)
    assert zone.score == 1.5 + 2.5 + P.sma50_weight


def test_trimming_below_and_above_keep_members_inside_and_their_score() -> None:
    (zone,) = cluster(
        [Anchor(100.0, SWING_LOW, 1.0), Anchor(101.0, SWING_LOW, 2.0)], atr=4.0, params=P
    )
    cut = trimmed(zone, 100.0, 100.5)
    assert (cut.low, cut.high, cut.score, cut.touches) == (100.0, 100.5, 1.0, 1)
    assert below([zone], 100.2, min_width=0.5) == []  # 0.2 left: too thin
    assert below([zone], 100.8, min_width=0.5)[0].high == 100.8
    assert above([zone], 100.2, min_width=0.5)[0].low == 100.2
    assert rescored(zone, [Anchor(100.25, SWING_HIGH, 3.0)]).score == 3.0
    flipped = mirrored(zone)
    assert (flipped.low, flipped.high) == (-101.0, -100.0)
    assert {a.source for a in flipped.members} == {SWING_HIGH}


@settings(max_examples=200, deadline=None)
@given(
    prices=st.lists(st.floats(900, 1100, allow_nan=False), min_size=1, max_size=60),
    atr=st.floats(1.0, 40.0),
)
def test_zones_are_tight_disjoint_sorted_and_hold_every_anchor(prices, atr) -> None:
    anchors = [Anchor(p, SWING_LOW, 1.0, at=i) for i, p in enumerate(prices)]
    zones = cluster(anchors, atr=atr, params=P)
    held = sorted(a.at for z in zones for a in z.members)
    assert held == list(range(len(prices)))
    for z in zones:
        members = [a.price for a in z.members]
        assert max(members) - min(members) <= P.zone_span_atr * atr + 1e-9
        assert z.low <= min(members) and max(members) <= z.high
        # Widened to the minimum width at most, never beyond the members' span otherwise.
        assert z.high - z.low <= max(P.zone_span_atr, P.zone_min_width_atr) * atr + 1e-9
        assert z.score == min(len(members), P.zone_max_scored_swings)
    for a, b in itertools.pairwise(zones):
        assert a.high <= b.low  # sorted and disjoint (touching at most)
