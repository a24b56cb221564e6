"""Zones and named levels on hand-computed candidates, and the up/down mirror property."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.levels import Candidate, NamedLevels, Zone, cluster_zones, named_levels
from pipeline.analysis.params import AnalysisParams

PARAMS = AnalysisParams()  # merge within 0.5 ATR, zones >= 0.25 ATR wide, lookback 250
ATR = 4.0  # so: merge gap 2 points, minimum width 1 point, projection step 2 ATR = 8 points
AS_OF = 1000


def edges(zones: list[Zone]) -> list[tuple[float, float]]:
    return [(z.low, z.high) for z in zones]


class TestClusterZones:
    CANDIDATES = (
        # 200 -> 201.5 -> 203 chain within 2 points of each other: one zone although 203 - 200 = 3.
        Candidate(200.0, "swing_high", 990),  # recency 1 - 10/250 = 0.96 -> 1.96
        Candidate(201.5, "swing_high", 900),  # recency 0.6 -> 1.6
        Candidate(203.0, "sma50"),  # +1 (moving average)
        Candidate(205.5, "recent_high"),  # 2.5 above 203: new zone, no score, widened to 1 point
        Candidate(190.0, "swing_low", 800),  # recency 0.2 -> 1.2
        Candidate(191.0, "sma200"),  # +1; zone [190, 191] is exactly the minimum width
        Candidate(180.0, "swing_low", 1000),  # recency 1 -> 2.0
        Candidate(180.0, "swing_low", 750),  # recency 0 -> 1.0: same price, same zone
        Candidate(185.0, "recent_low"),  # 5 from both neighbours: alone
        Candidate(210.0, "swing_high", 950),  # 1.8
        Candidate(212.0, "swing_high", 1000),  # exactly 0.5 ATR above 210: merges (2.0)
        Candidate(214.5, "swing_high", 875),  # 2.5 above: alone (1.5), widened
    )
    EXPECTED = (
        # (low, high, score, touches, sources)
        (179.5, 180.5, 3.0, 2, ("swing_low",)),
        (184.5, 185.5, 0.0, 0, ("recent_low",)),
        (190.0, 191.0, 2.2, 1, ("sma200", "swing_low")),
        (200.0, 203.0, 4.56, 2, ("sma50", "swing_high")),
        (205.0, 206.0, 0.0, 0, ("recent_high",)),
        (210.0, 212.0, 3.8, 2, ("swing_high",)),
        (214.0, 215.0, 1.5, 1, ("swing_high",)),
    )

    def test_hand_computed_zones(self) -> None:
        shuffled = list(self.CANDIDATES)
        random.Random(7).shuffle(shuffled)  # input order must not matter
        zones = cluster_zones(shuffled, atr=ATR, as_of_index=AS_OF, params=PARAMS)
        assert [(z.low, z.high, z.touches, z.sources) for z in zones] == [
            (low, high, touches, sources) for low, high, _, touches, sources in self.EXPECTED
        ]
        assert [z.score for z in zones] == pytest.approx([e[2] for e in self.EXPECTED], abs=1e-12)
        assert not any(z.projected for z in zones)

    def test_weights_are_parameters(self) -> None:
        heavy = AnalysisParams(zone_touch_weight=2.0, zone_recency_weight=0.0, zone_ma_weight=5.0)
        zones = cluster_zones(self.CANDIDATES, atr=ATR, as_of_index=AS_OF, params=heavy)
        # 2 per touch, no recency, 5 per moving average.
        assert [z.score for z in zones] == pytest.approx([4.0, 0.0, 7.0, 9.0, 0.0, 4.0, 2.0])

    def test_wider_cluster_distance_merges_more(self) -> None:
        zones = cluster_zones(
            self.CANDIDATES,
            atr=ATR,
            as_of_index=AS_OF,
            params=AnalysisParams(zone_cluster_atr=1.25),
        )
        # Gap 5 points: everything from 180 to 191 chains, and everything from 200 to 214.5.
        assert edges(zones) == [(180.0, 191.0), (200.0, 214.5)]

    def test_no_candidates_or_no_atr_gives_no_zones(self) -> None:
        assert cluster_zones([], atr=ATR, as_of_index=AS_OF, params=PARAMS) == []
        assert cluster_zones(self.CANDIDATES, atr=0.0, as_of_index=AS_OF, params=PARAMS) == []
        assert cluster_zones(self.CANDIDATES, atr=float("nan"), as_of_index=0, params=PARAMS) == []


def levels_from(
    candidates: list[Candidate],
    *,
    close: float,
    sma50: float,
    recent_high: float,
    recent_low: float,
    orientation: str = "up",
    atr: float = ATR,
    params: AnalysisParams = PARAMS,
) -> NamedLevels:
    """What calls.py does for one session: the MAs and recent extremes join the candidates."""
    everything = [
        *candidates,
        Candidate(sma50, "sma50"),
        Candidate(recent_high, "recent_high"),
        Candidate(recent_low, "recent_low"),
    ]
    zones = cluster_zones(everything, atr=atr, as_of_index=AS_OF, params=params)
    return named_levels(
        zones,
        close=close,
        sma50=sma50,
        recent_high=recent_high,
        recent_low=recent_low,
        atr=atr,
        orientation=orientation,  # type: ignore[arg-type]
        params=params,
    )


def zone_edges(levels: NamedLevels) -> dict[str, tuple[float, float, bool]]:
    return {
        name: (zone.low, zone.high, zone.projected)
        for name, zone in (
            ("line", levels.line),
            ("bias", levels.bias),
            ("extension", levels.extension),
            ("deeper", levels.deeper),
        )
    }


class TestNamedLevelsUp:
    def test_line_in_the_sand_is_the_zone_near_sma50_even_if_another_support_scores_more(self):
        levels = levels_from(
            [
                Candidate(205.0, "swing_high", 990),  # with the recent high 206: bias [205, 206]
                Candidate(194.0, "swing_low", 950),  # with SMA50 195 and recent low 194
                Candidate(198.5, "swing_low", 980),  # [198.125, 199.125] scores 3.92, more
                Candidate(198.75, "swing_low", 1000),  # than the SMA50 zone (1.8 + 1 = 2.8) ...
                Candidate(185.0, "swing_low", 800),  # deeper support
                Candidate(215.0, "swing_high", 875),  # resistance above the bias zone
            ],
            close=204.0,
            sma50=195.0,
            recent_high=206.0,
            recent_low=194.0,
        )
        # ... but it is 3.125 points (0.78 ATR) from the SMA50, beyond 0.5 ATR.
        assert zone_edges(levels) == {
            "line": (194.0, 195.0, False),
            "bias": (205.0, 206.0, False),
            "extension": (214.5, 215.5, False),
            "deeper": (184.5, 185.5, False),
        }
        assert levels.line.sources == ("recent_low", "sma50", "swing_low")
        assert levels.line.score == pytest.approx(2.8)
        assert (levels.upper_barrier, levels.lower_barrier) == (206.0, 194.0)

    def test_sma50_above_price_falls_back_to_best_support_within_5_atr(self) -> None:
        levels = levels_from(
            [
                Candidate(198.0, "swing_low", 760),  # near, but one old touch: 1.04
                Candidate(190.0, "swing_low", 1000),  # 10 points below: 2 touches, 3.96
                Candidate(190.5, "swing_low", 990),
                Candidate(150.0, "swing_low", 1000),  # 50 points = 12.5 ATR below: out of reach
                Candidate(150.5, "swing_low", 1000),  # although it scores the most (4.0 + 2)
                Candidate(151.0, "swing_low", 1000),
            ],
            close=200.0,
            sma50=202.0,  # above price: no "near SMA50" line
            recent_high=206.0,
            recent_low=198.0,
        )
        # [190, 190.5] is narrower than 1 point: widened about its centre to [189.75, 190.75].
        assert zone_edges(levels)["line"] == (189.75, 190.75, False)
        assert zone_edges(levels)["deeper"] == (150.0, 151.0, False)
        # Nothing above the bias zone: the extension is projected 2 ATR (8 points) beyond it.
        assert zone_edges(levels)["bias"] == (205.5, 206.5, False)
        assert zone_edges(levels)["extension"] == (213.5, 214.5, True)

    def test_no_support_within_5_atr_takes_the_nearest_support(self) -> None:
        levels = levels_from(
            [
                Candidate(170.0, "swing_low", 900),  # 30 points below: 7.5 ATR
                Candidate(160.0, "swing_low", 1000),  # scores more, but further
                Candidate(160.5, "swing_low", 1000),
            ],
            close=200.0,
            sma50=203.0,
            recent_high=206.0,
            recent_low=199.75,  # its zone [199.25, 200.25] reaches above price: not support
        )
        assert zone_edges(levels)["line"] == (169.5, 170.5, False)
        assert zone_edges(levels)["deeper"] == (159.75, 160.75, False)

    def test_no_support_at_all_projects_line_and_deeper_two_atr_steps_down(self) -> None:
        levels = levels_from([], close=200.0, sma50=203.0, recent_high=206.0, recent_low=199.75)
        # Line: top 2 ATR below min(close, bias low) = 200 - 8 = 192, 0.25 ATR (1 point) wide.
        assert zone_edges(levels) == {
            "line": (191.0, 192.0, True),
            "bias": (205.5, 206.5, False),
            "extension": (213.5, 214.5, True),
            "deeper": (183.0, 184.0, True),
        }
        assert levels.line.score == 0.0 and levels.line.touches == 0

    def test_zones_that_miss_the_recent_high_get_a_projected_bias_zone(self) -> None:
        foreign = [Zone(190.0, 191.0, 2.0, 2, ("swing_low",))]
        levels = named_levels(
            foreign,
            close=200.0,
            sma50=195.0,
            recent_high=206.0,
            recent_low=198.0,
            atr=ATR,
            orientation="up",
            params=PARAMS,
        )
        assert (levels.bias.low, levels.bias.high, levels.bias.projected) == (206.0, 207.0, True)
        assert (levels.line.low, levels.line.high) == (190.0, 191.0)  # best support within 5 ATR


class TestNamedLevelsDown:
    def test_hand_built_downtrend(self) -> None:
        # The first up case on the mirrored axis, shifted to positive prices (p -> 400 - p).
        levels = levels_from(
            [
                Candidate(195.0, "swing_low", 990),
                Candidate(206.0, "swing_high", 950),
                Candidate(201.5, "swing_high", 980),
                Candidate(201.25, "swing_high", 1000),
                Candidate(215.0, "swing_high", 800),
                Candidate(185.0, "swing_low", 875),
            ],
            close=196.0,
            sma50=205.0,
            recent_high=206.0,
            recent_low=194.0,
            orientation="down",
        )
        # Down: the line in the sand is resistance near the SMA50 above price, the bias zone
        # holds the recent low, the extension is the next zone below it, deeper the next above.
        assert zone_edges(levels) == {
            "line": (205.0, 206.0, False),
            "bias": (194.0, 195.0, False),
            "extension": (184.5, 185.5, False),
            "deeper": (214.5, 215.5, False),
        }
        assert (levels.upper_barrier, levels.lower_barrier) == (206.0, 194.0)


#: On the mirrored price axis a swing high is a swing low and the recent high the recent low.
MIRRORED_SOURCE = {
    "swing_high": "swing_low",
    "swing_low": "swing_high",
    "recent_high": "recent_low",
    "recent_low": "recent_high",
    "sma50": "sma50",
    "sma200": "sma200",
}


def mirror_zone(zone: Zone) -> Zone:
    sources = tuple(sorted(MIRRORED_SOURCE[s] for s in zone.sources))
    return Zone(-zone.high, -zone.low, zone.score, zone.touches, sources, zone.projected)


SOURCES = ("swing_high", "swing_low", "sma50", "sma200")
# Recency per session 1/256 and prices on the quarter grid: every score and edge is exact, so the
# mirrored computation must agree to the bit, not just approximately.
DYADIC = AnalysisParams(zone_lookback=256)


@st.composite
def session_inputs(draw):
    quarter = st.integers(-400, 400).map(lambda q: q / 4)
    candidates = [
        Candidate(draw(quarter), source, draw(st.integers(AS_OF - 255, AS_OF)))
        if source.startswith("swing")
        else Candidate(draw(quarter), source)
        for source in draw(st.lists(st.sampled_from(SOURCES), max_size=12))
    ]
    low, close, high = sorted(draw(st.lists(quarter, min_size=3, max_size=3)))
    return candidates, close, draw(quarter), high, low, draw(st.sampled_from([0.5, 1.0, 4.0]))


@settings(max_examples=300, deadline=None)
@given(session_inputs())
def test_down_on_mirrored_inputs_is_the_mirror_of_up(inputs) -> None:
    candidates, close, sma50, recent_high, recent_low, atr = inputs
    up = levels_from(
        candidates,
        close=close,
        sma50=sma50,
        recent_high=recent_high,
        recent_low=recent_low,
        atr=atr,
        params=DYADIC,
    )
    mirrored = [Candidate(-c.price, MIRRORED_SOURCE[c.source], c.pivot_index) for c in candidates]
    down = levels_from(
        mirrored,
        close=-close,
        sma50=-sma50,
        recent_high=-recent_low,
        recent_low=-recent_high,
        atr=atr,
        orientation="down",
        params=DYADIC,
    )
    assert down.orientation == "down"
    assert down.line == mirror_zone(up.line)
    assert down.bias == mirror_zone(up.bias)
    assert down.extension == mirror_zone(up.extension)
    assert down.deeper == mirror_zone(up.deeper)
    assert (down.upper_barrier, down.lower_barrier) == (-up.lower_barrier, -up.upper_barrier)


@settings(max_examples=300, deadline=None)
@given(session_inputs())
def test_up_levels_are_ordered_around_the_recent_high(inputs) -> None:
    candidates, close, sma50, recent_high, recent_low, atr = inputs
    levels = levels_from(
        candidates,
        close=close,
        sma50=sma50,
        recent_high=recent_high,
        recent_low=recent_low,
        atr=atr,
        params=DYADIC,
    )
    min_width = DYADIC.zone_min_width_atr * atr
    assert levels.bias.contains(recent_high)
    assert levels.deeper.high < levels.line.low
    assert levels.line.high < levels.bias.low
    assert levels.bias.high < levels.extension.low
    for zone in (levels.line, levels.bias, levels.extension, levels.deeper):
        assert zone.high - zone.low >= min_width - 1e-12
