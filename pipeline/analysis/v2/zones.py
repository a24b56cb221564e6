"""Tight support and resistance zones for one session, and the picks of methodology v2's levels.

Anchors are prices an analyst would draw a level at: confirmed swing highs and lows (a bar that
tested a price and turned, known only ``k`` sessions after it), the SMA50 and SMA200, and the
recent high and low. A swing high that price has since accepted above (the last two settlements
beyond it by more than ``acceptance_atr`` ATR) is *prior breakout structure*: old resistance,
now support; a swing low accepted below is old support, now resistance.

Clustering never chains neighbours into a wide band: anchors are first joined to their neighbour
when the gap between them is at most ``zone_span_atr / 2`` ATR (single linkage), and every group
wider than ``zone_span_atr`` ATR is then split at its widest internal gap until each fits
(divisive, so a dense run of swings is cut where it is thinnest, not at an arbitrary member). A
zone is [lowest member, highest member] widened about its centre to ``zone_min_width_atr`` ATR,
but never into a neighbouring zone. Its score is the sum of its members' weights (touches, each
weighted up by recency, breakout structure, moving averages, the recent extreme).

Everything here works in an *up* frame: support below the close, resistance above. A downward
call mirrors the price axis (:func:`mirrored`), so both orientations share one implementation.
Plain Python on a few dozen floats per session: it runs inside the per-session loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pipeline.analysis.v2.params import V2Params

SWING_HIGH, SWING_LOW = "swing_high", "swing_low"
SMA50, SMA200 = "sma50", "sma200"
RECENT_HIGH, RECENT_LOW = "recent_high", "recent_low"
MIRRORED_SOURCE = {
    SWING_HIGH: SWING_LOW,
    SWING_LOW: SWING_HIGH,
    RECENT_HIGH: RECENT_LOW,
    RECENT_LOW: RECENT_HIGH,
    SMA50: SMA50,
    SMA200: SMA200,
}


#: How many swings count toward a zone's score (V2Params.zone_max_scored_swings).
_SCORED_SWINGS = V2Params().zone_max_scored_swings


class Anchor(NamedTuple):
    """A price that may anchor a zone (internal frame, or its mirror for a downward call)."""

    price: float
    source: str  # swing_high | swing_low | sma50 | sma200 | recent_high | recent_low
    weight: float  # score points this anchor adds to its zone
    at: int = -1  # session index of the swing pivot / the recent extreme's bar; -1 for MAs
    flipped: bool = False  # a swing accepted through since: polarity flipped


class Zone(NamedTuple):
    """A price zone [low, high] with what it is made of."""

    low: float
    high: float
    score: float
    members: tuple[Anchor, ...]
    projected: bool = False  # no structure there: projected from the last extreme
    basis: str = ""  # what a projected zone is projected from: recent_high | recent_low | close
    #                  | line | bias (see levels.LevelTracker)
    basis_index: int = -1  # the session of that high / low / close

    @property
    def touches(self) -> int:
        return sum(1 for a in self.members if a.source in (SWING_HIGH, SWING_LOW))

    def overlaps(self, other: Zone) -> bool:
        return self.low <= other.high and other.low <= self.high


def score_of(members: Sequence[Anchor], max_swings: int) -> float:
    """A zone's score: its members' weights, of the swings only the ``max_swings`` heaviest
    (the most recent: weight grows with recency), so that a congestion of a dozen old pivots
    does not outweigh the structure near price.

    >>> score_of([Anchor(1.0, SWING_LOW, w) for w in (1.0, 2.0, 3.0, 4.0)] + [Anchor(1.0, SMA50, 1.5)], 3)
    10.5
    """
    total = 0.0
    swings = []
    for anchor in members:
        if anchor.source == SWING_HIGH or anchor.source == SWING_LOW:
            swings.append(anchor.weight)
        else:
            total += anchor.weight
    if len(swings) > max_swings:
        swings.sort(reverse=True)
        del swings[max_swings:]
    return total + sum(swings)


def mirrored(zone: Zone) -> Zone:
    """The zone on the negated price axis (highs become lows)."""
    return Zone(
        -zone.high,
        -zone.low,
        zone.score,
        tuple(mirrored_anchor(a) for a in zone.members),
        zone.projected,
        MIRRORED_SOURCE.get(zone.basis, zone.basis),
        zone.basis_index,
    )


def mirrored_anchor(anchor: Anchor) -> Anchor:
    return Anchor(
        -anchor.price, MIRRORED_SOURCE[anchor.source], anchor.weight, anchor.at, anchor.flipped
    )


def cluster(anchors: Sequence[Anchor], *, atr: float, params: V2Params) -> list[Zone]:
    """Zones of ``anchors`` (any order), sorted by price, disjoint, each member span capped.

    >>> p = V2Params()  # span 0.6 ATR, link gap 0.3 ATR, min width 0.25 ATR
    >>> prices = (100.0, 100.5, 101.5, 102.0, 102.5, 110.0)
    >>> anchors = [Anchor(x, SWING_LOW, 1.0) for x in prices]
    >>> [(z.low, z.high, z.score) for z in cluster(anchors, atr=4.0, params=p)]
    [(99.75, 100.75, 2.0), (101.5, 102.5, 3.0), (109.5, 110.5, 1.0)]

    Single linkage alone (gaps <= 1.2 points) would have chained 100..102.5 into one zone
    0.625 ATR wide; the span cap (0.6 ATR = 2.4 points) splits it at its widest gap.
    """
    if not anchors or not atr > 0:
        return []
    ordered = sorted(anchors)
    span = params.zone_span_atr * atr
    link = span / 2
    groups: list[list[Anchor]] = []
    current = [ordered[0]]
    for anchor in ordered[1:]:
        if anchor.price - current[-1].price > link:
            groups.append(current)
            current = [anchor]
        else:
            current.append(anchor)
    groups.append(current)
    fitted: list[list[Anchor]] = []
    for group in groups:
        _split(group, span, fitted)
    return _widened(fitted, atr=atr, params=params)


def _split(group: list[Anchor], span: float, out: list[list[Anchor]]) -> None:
    """Append ``group`` to ``out``, split at its widest gap (recursively) while too wide."""
    if group[-1].price - group[0].price <= span:
        out.append(group)
        return
    widest, cut = -1.0, 1
    for j in range(1, len(group)):
        gap = group[j].price - group[j - 1].price
        if gap > widest:
            widest, cut = gap, j
    _split(group[:cut], span, out)
    _split(group[cut:], span, out)


def _widened(groups: list[list[Anchor]], *, atr: float, params: V2Params) -> list[Zone]:
    half = params.zone_min_width_atr * atr / 2
    zones = []
    for j, group in enumerate(groups):
        low, high = group[0].price, group[-1].price
        if high - low < 2 * half:
            centre = (low + high) / 2
            # Widen, but stop halfway to the neighbouring groups so zones never overlap.
            floor = (groups[j - 1][-1].price + low) / 2 if j > 0 else -float("inf")
            ceiling = (high + groups[j + 1][0].price) / 2 if j + 1 < len(groups) else float("inf")
            low, high = max(centre - half, floor), min(centre + half, ceiling)
        zones.append(Zone(low, high, score_of(group, params.zone_max_scored_swings), tuple(group)))
    return zones


def below(
    zones: Sequence[Zone], limit: float, *, min_width: float, max_swings: int = _SCORED_SWINGS
) -> list[Zone]:
    """Zones lying entirely below ``limit``; one reaching above it is cut at ``limit`` if what
    is left is at least ``min_width`` wide (its members above the cut no longer count)."""
    out = []
    for zone in zones:
        if zone.high <= limit:
            out.append(zone)
        elif limit - zone.low >= min_width:
            out.append(trimmed(zone, zone.low, limit, max_swings))
    return out


def above(
    zones: Sequence[Zone], limit: float, *, min_width: float, max_swings: int = _SCORED_SWINGS
) -> list[Zone]:
    """Mirror of :func:`below`: zones entirely above ``limit`` (cut at it if wide enough)."""
    out = []
    for zone in zones:
        if zone.low >= limit:
            out.append(zone)
        elif zone.high - limit >= min_width:
            out.append(trimmed(zone, limit, zone.high, max_swings))
    return out


def trimmed(zone: Zone, low: float, high: float, max_swings: int = _SCORED_SWINGS) -> Zone:
    """The zone cut to [low, high]: members outside it leave, the score follows them."""
    members = tuple(a for a in zone.members if low <= a.price <= high)
    score = score_of(members, max_swings)
    return Zone(low, high, score, members, zone.projected, zone.basis, zone.basis_index)


def projected(centre: float, *, width: float, basis: str, basis_index: int = -1) -> Zone:
    return Zone(centre - width / 2, centre + width / 2, 0.0, (), True, basis, basis_index)


def members_within(anchors: Sequence[Anchor], low: float, high: float) -> tuple[Anchor, ...]:
    return tuple(a for a in anchors if low <= a.price <= high)


def rescored(zone: Zone, anchors: Sequence[Anchor], max_swings: int = _SCORED_SWINGS) -> Zone:
    """The zone's bounds with today's anchors inside them (weights change with recency)."""
    if zone.projected:
        return zone
    members = members_within(anchors, zone.low, zone.high)
    return Zone(zone.low, zone.high, score_of(members, max_swings), members, False)
