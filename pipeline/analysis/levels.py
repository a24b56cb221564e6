"""Support and resistance zones, and the four named levels of a call.

For one session: candidates (confirmed swing highs and lows of the last ``zone_lookback`` sessions,
the SMA50 and SMA200, the recent ``bias_high_window``-session high and low) are sorted by price and
merged while neighbours are within ``zone_cluster_atr`` ATR of each other (single linkage). A zone
is [lowest member, highest member], widened about its centre to at least ``zone_min_width_atr`` ATR,
and scored by its swing touches (each weighted up by recency) plus a bonus per moving average in it.

Named levels for an upward orientation (a downward one mirrors every role):

* bias-defining level: the zone holding the recent high (resistance);
* line in the sand: the best-scored zone within ``line_near_sma50_atr`` ATR of the SMA50 when the
  SMA50 is below price (and below the bias zone), else the best-scored support zone within ``line_max_distance_atr`` ATR below price,
  else the nearest support zone, else a zone projected ``extension_step_atr`` ATR below price;
* extension: the next zone beyond the bias-defining level, or the bias zone shifted one step on;
* deeper: the next zone beyond the line in the sand, or the line shifted one step on.

Everything here is plain Python on a handful of floats per session: it runs inside the per-session
loop of :mod:`pipeline.analysis.calls`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from pipeline.analysis.params import AnalysisParams


class Candidate(NamedTuple):
    """A price that may anchor a zone. (Tuples: hundreds of thousands per root and history.)"""

    price: float
    source: str  # swing_high | swing_low | sma50 | sma200 | recent_high | recent_low
    pivot_index: int = -1  # session index of a swing pivot (its recency weight); -1 otherwise


class Zone(NamedTuple):
    low: float
    high: float
    score: float
    touches: int
    sources: tuple[str, ...]  # distinct member sources, sorted
    projected: bool = False

    def contains(self, price: float) -> bool:
        return self.low <= price <= self.high

    def shifted(self, step: float) -> Zone:
        return Zone(self.low + step, self.high + step, 0.0, 0, (), projected=True)

    def distance(self, price: float) -> float:
        """0 inside the zone, else the gap from ``price`` to the nearer edge (points)."""
        return max(self.low - price, price - self.high, 0.0)


#: Candidate sources as bits, so a zone's member sources are one integer while clustering.
SOURCE_BITS: dict[str, int] = {
    "swing_high": 1,
    "swing_low": 2,
    "sma50": 4,
    "sma200": 8,
    "recent_high": 16,
    "recent_low": 32,
}
_SWING_BITS = SOURCE_BITS["swing_high"] | SOURCE_BITS["swing_low"]
_MA_BITS = SOURCE_BITS["sma50"] | SOURCE_BITS["sma200"]
#: The sorted source names of every bit mask.
_SOURCES_OF_MASK: tuple[tuple[str, ...], ...] = tuple(
    tuple(sorted(name for name, bit in SOURCE_BITS.items() if mask & bit))
    for mask in range(2 ** len(SOURCE_BITS))
)


def cluster_zones(
    candidates: Sequence[Candidate], *, atr: float, as_of_index: int, params: AnalysisParams
) -> list[Zone]:
    """Merge candidates within ``zone_cluster_atr * atr`` of their neighbour into scored zones.

    A swing's recency is ``1 - (as_of_index - pivot_index) / zone_lookback``: 1 for a pivot on the
    as-of session, 0 for one ``zone_lookback`` sessions old. Returns zones sorted by price
    (disjoint before widening). This runs once per session of the history (bench/bench_calls.py).

    >>> p = AnalysisParams()  # cluster within 0.5 ATR, zones >= 0.25 ATR wide, lookback 250
    >>> cands = [Candidate(100.0, "swing_low", 1000), Candidate(104.0, "sma50"),
    ...          Candidate(101.0, "swing_low", 875), Candidate(120.0, "swing_high", 750)]
    >>> zones = cluster_zones(cands, atr=4.0, as_of_index=1000, params=p)
    >>> [(z.low, z.high, z.score, z.touches, z.sources) for z in zones]
    [(100.0, 101.0, 3.5, 2, ('swing_low',)), (103.5, 104.5, 1.0, 0, ('sma50',)), (119.5, 120.5, 1.0, 1, ('swing_high',))]
    """
    if not candidates or not atr > 0:
        return []
    gap = params.zone_cluster_atr * atr
    half_width = params.zone_min_width_atr * atr / 2
    touch_weight = params.zone_touch_weight
    recency_per_session = params.zone_recency_weight / params.zone_lookback
    # touch + recency * (1 - (as_of_index - pivot_index) / lookback)
    #   = swing_base + per_session * pivot_index
    swing_base = touch_weight + params.zone_recency_weight - recency_per_session * as_of_index
    ma_weight = params.zone_ma_weight
    bits = SOURCE_BITS
    ordered = sorted(candidates)
    zones: list[Zone] = []
    low = previous = ordered[0][0]
    score, touches, mask = 0.0, 0, 0
    for price, source, pivot_index in ordered:
        if price - previous > gap:
            zones.append(_zone(low, previous, score, touches, mask, half_width))
            low, score, touches, mask = price, 0.0, 0, 0
        bit = bits[source]
        if bit & _SWING_BITS:
            score += swing_base + recency_per_session * pivot_index
            touches += 1
        elif bit & _MA_BITS:
            score += ma_weight
        mask |= bit
        previous = price
    zones.append(_zone(low, previous, score, touches, mask, half_width))
    return zones


def _zone(
    low: float, high: float, score: float, touches: int, mask: int, half_width: float
) -> Zone:
    """A zone over [low, high], widened about its centre to at least twice ``half_width``."""
    if high - low < 2 * half_width:
        centre = (low + high) / 2
        low, high = centre - half_width, centre + half_width
    return Zone(low, high, score, touches, _SOURCES_OF_MASK[mask])


@dataclass(frozen=True)
class NamedLevels:
    orientation: Literal["up", "down"]
    line: Zone  # line in the sand
    bias: Zone  # bias-defining level
    extension: Zone
    deeper: Zone

    @property
    def upper_barrier(self) -> float:
        """Bull scenario: acceptance above this price."""
        return self.bias.high if self.orientation == "up" else self.line.high

    @property
    def lower_barrier(self) -> float:
        """Bear scenario: acceptance below this price."""
        return self.line.low if self.orientation == "up" else self.bias.low


def named_levels(
    zones: Sequence[Zone],
    *,
    close: float,
    sma50: float,
    recent_high: float,
    recent_low: float,
    atr: float,
    orientation: Literal["up", "down"],
    params: AnalysisParams,
) -> NamedLevels:
    """Pick the line in the sand, the bias-defining level, the extension and the deeper level.

    ``zones`` must come from :func:`cluster_zones` over candidates that include ``sma50``,
    ``recent_high`` and ``recent_low``. A downward orientation is the upward one on the mirrored
    price axis, so both share one implementation.
    """
    if orientation == "down":
        mirrored = [_mirror(z) for z in reversed(zones)]
        up = named_levels(
            mirrored,
            close=-close,
            sma50=-sma50,
            recent_high=-recent_low,
            recent_low=-recent_high,
            atr=atr,
            orientation="up",
            params=params,
        )
        return NamedLevels(
            "down", _mirror(up.line), _mirror(up.bias), _mirror(up.extension), _mirror(up.deeper)
        )

    step = params.extension_step_atr * atr
    bias = next((z for z in zones if z.contains(recent_high)), None)
    if bias is None:  # recent_high is always a candidate; only reachable with foreign zones
        bias = Zone(recent_high, recent_high + params.zone_min_width_atr * atr, 0.0, 0, (), True)
    below_bias = [z for z in zones if z.high < bias.low]
    support = [z for z in below_bias if z.high < close]

    line = None
    if sma50 < close:
        near_sma50 = [
            z
            for z in below_bias
            if z.low < close and z.distance(sma50) <= params.line_near_sma50_atr * atr
        ]
        if near_sma50:
            line = max(near_sma50, key=lambda z: (z.score, z.high))
    if line is None:
        reachable = [z for z in support if close - z.high <= params.line_max_distance_atr * atr]
        if reachable:
            line = max(reachable, key=lambda z: (z.score, z.high))
        elif support:
            line = max(support, key=lambda z: z.high)
    if line is None:
        width = params.zone_min_width_atr * atr
        top = min(close, bias.low) - step
        line = Zone(top - width, top, 0.0, 0, (), projected=True)

    extension = next((z for z in zones if z.low > bias.high), None) or bias.shifted(step)
    deeper_candidates = [z for z in zones if z.high < line.low]
    deeper = deeper_candidates[-1] if deeper_candidates else line.shifted(-step)
    return NamedLevels("up", line, bias, extension, deeper)


def _mirror(zone: Zone) -> Zone:
    return Zone(-zone.high, -zone.low, zone.score, zone.touches, zone.sources, zone.projected)
