"""The analysis snapshot: one call on one root for one as-of session, immutable and content-hashed.

A snapshot is what a technical analyst would publish after the close of session ``as_of``: the
primary trend, the market perspective, structure facts, the named levels, the risk to the thesis
and three ordered scenarios with probabilities. All prices are in index points of the FRONT
contract on ``as_of`` (``contract``), i.e. directly comparable with that day's settlement
``close``; ``offset`` is the cumulative back-adjustment of the internal continuous series on that
day, so a level L maps to ``L + offset`` on the internal difference-adjusted series.

This module is the read model used by the notes, charts and the terminal. Snapshots are computed
and hashed as frames (:mod:`pipeline.analysis.assemble`): the content hash covers everything a
reader would call "the call" plus the input fingerprint (bars used, methodology version,
parameters); provenance (version, kind, flow run, code version, creation time) is outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Trend = Literal["Bullish", "Bearish", "Neutral"]
Orientation = Literal["up", "down"]
ScenarioName = Literal["bear", "sideways", "bull"]
Kind = Literal["live", "backfill", "analyst"]

#: Scenario order (ordinal 0 < 1 < 2), as the ranked probability score needs it.
SCENARIOS: tuple[ScenarioName, ...] = ("bear", "sideways", "bull")
SCENARIO_TITLES: dict[str, str] = {
    "bear": "Bearish breakdown",
    "sideways": "Sideways consolidation",
    "bull": "Bullish continuation",
}
#: The closed vocabulary of market perspectives.
PERSPECTIVES: tuple[str, ...] = (
    "trending higher",
    "consolidation near highs",
    "pullback within uptrend",
    "range",
    "consolidation near lows",
    "trending lower",
    "rebound within downtrend",
)
#: Named level kinds. For an "up" orientation the line in the sand is support below price and the
#: bias-defining level is resistance holding the recent high; for "down" the roles mirror.
LEVEL_KINDS: tuple[str, ...] = ("line_in_the_sand", "bias_defining", "extension", "deeper")
MODEL_AUTHOR = "callbook"


@dataclass(frozen=True)
class Level:
    """A price zone [low, high] in index points of the as-of front contract."""

    kind: str  # one of LEVEL_KINDS
    role: Literal["support", "resistance"]
    low: float
    high: float
    score: float  # zone score: touches, moving-average confluence, recency (0 for projected)
    touches: int  # confirmed swing points inside the zone
    sources: tuple[str, ...]  # what the zone is made of: "swing_high", "swing_low", "sma50", ...
    projected: bool = False  # no real zone there: projected from the next one by a fixed ATR step
    reason: str = ""  # why the zone is there, in words (methodologies that say so: v2)
    change: str | None = None  # why it changed on as_of (v2; None: kept as it was)
    since: date | None = None  # the session it was picked on (v2)

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Scenario:
    """One of three ordered outcomes over the horizon, with its probability and its evidence."""

    name: ScenarioName
    probability: float  # 0..1; the three sum to 1 (within rounding)
    analogs: int  # past sessions in the same state with this outcome (resolved by as_of)
    climatology: float  # the unconditional base rate it was shrunk toward
    trigger: str  # the rule that resolves it, in words
    trigger_level: float | None  # the barrier (index points); None for sideways
    target_low: float | None = None  # where it leads (the next zone), if any
    target_high: float | None = None


@dataclass(frozen=True)
class Structure:
    """Facts about the market's structure on the as-of day (units in the names)."""

    close: float  # settlement, index points
    sma20: float
    sma50: float
    sma200: float
    ema21: float
    atr14: float  # index points
    rsi14: float  # 0..100
    adx14: float  # 0..100
    sma200_change: float  # SMA200 today minus SMA200 trend_slope_lookback sessions ago, points
    sma50_change: float  # SMA50 today minus SMA50 trend_slope_lookback sessions ago, points
    dist_sma200_atr: float  # (close - SMA200) / ATR
    dist_sma200_pct: float  # close / SMA200 - 1, as a fraction
    dist_sma50_atr: float  # (close - SMA50) / ATR
    well_above_sma200: bool  # dist_sma200_atr >= well_above_200_atr
    range_atr: float  # (highest high - lowest low) over consolidation_window sessions / ATR
    high_252: float  # highest high of extreme_window sessions
    low_252: float
    dist_high_252_atr: float  # (high_252 - close) / ATR
    dist_low_252_atr: float  # (close - low_252) / ATR
    higher_lows_since: date | None  # first pivot of the current run of rising confirmed swing lows
    higher_lows_count: int  # length of that run (>= higher_lows_min to be reported)
    lower_highs_since: date | None
    lower_highs_count: int
    pullback_retracement: float | None  # fraction of the last impulse given back
    pullback_depth: Literal["shallow", "moderate", "deep"] | None
    pullback_speed: Literal["corrective", "impulsive"] | None


@dataclass(frozen=True)
class RelativeStrength:
    """The root against one peer (ES or NQ): ratio trend and return spreads (fractions)."""

    peer: str
    ratio_vs_mean: float | None  # relative-strength line / its rs_mean_window mean - 1
    spread_5: float | None  # root return minus peer return over 5 sessions
    spread_20: float | None
    spread_63: float | None
    verdict: Literal["leading", "lagging", "mixed"] | None


@dataclass(frozen=True)
class Snapshot:
    """One versioned call. ``content_hash`` is derived; provenance fields are not hashed."""

    root: str
    as_of: date
    author: str  # MODEL_AUTHOR for the model's calls, else the analyst's name
    methodology_version: str
    params_hash: str
    input_fingerprint: str  # bars used (+ peers), methodology version and parameters
    source: str  # where the bars came from: demo | yahoo | file (demo is synthetic)
    contract: str  # front contract on as_of
    raw_close: float  # its settlement on as_of (= structure.close)
    offset: float  # cumulative difference adjustment of the internal series on as_of
    primary_trend: Trend
    perspective: str  # one of PERSPECTIVES
    orientation: Orientation
    structure: Structure | None  # None for analyst calls that state no structure
    levels: tuple[Level, ...]
    risk_rule: (
        str  # machine-readable: accept_below_sma50 | accept_above_sma50 | accept_below_line | ...
    )
    risk_level: float | None  # the level of the risk rule on as_of
    risk_text: str
    scenarios: tuple[Scenario, ...]  # bear, sideways, bull
    horizon_sessions: int
    horizon_end: date  # the session on which the horizon ends
    upper_barrier: float  # bull: acceptance above this
    lower_barrier: float  # bear: acceptance below this
    relative_strength: tuple[RelativeStrength, ...] = ()
    analogs_total: int = 0  # past resolved sessions in the same state
    state_key: str = ""  # the analog state the probabilities rest on
    notes: str = ""  # free text (analyst calls)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Every stored column of the call by name, the methodology's own included (v2: trend and
    #: perspective rules, falls and rebounds, breakouts, SMA50 holds, pullback dates ...).
    details: dict[str, Any] = field(default_factory=dict)

    def level(self, kind: str) -> Level | None:
        return next((lv for lv in self.levels if lv.kind == kind), None)

    def scenario(self, name: str) -> Scenario:
        return next(s for s in self.scenarios if s.name == name)

    @property
    def version(self) -> int | None:
        """Stored version (provenance, not content); None before the snapshot is stored."""
        return self.extra.get("version")

    @property
    def content_hash(self) -> str:
        """The stored content hash (see :mod:`pipeline.analysis.assemble`); "" if not stored."""
        return str(self.extra.get("content_hash", ""))


def example_snapshot() -> Snapshot:
    """A small hand-made snapshot (docs and tests): the seed note's RTY call of 4 Feb 2026."""
    return Snapshot(
        root="RTY",
        as_of=date(2026, 2, 4),
        author="seed-note",
        methodology_version="analyst",
        params_hash="",
        input_fingerprint="",
        source="file",
        contract="RTYH26",
        raw_close=2600.0,
        offset=0.0,
        primary_trend="Bullish",
        perspective="consolidation near highs",
        orientation="up",
        structure=None,
        levels=(
            Level("line_in_the_sand", "support", 2500.0, 2520.0, 0.0, 0, ()),
            Level("bias_defining", "resistance", 2650.0, 2700.0, 0.0, 0, ()),
            Level("extension", "resistance", 2750.0, 2800.0, 0.0, 0, ()),
            Level("deeper", "support", 2400.0, 2420.0, 0.0, 0, ()),
        ),
        risk_rule="accept_below_sma50",
        risk_level=2510.0,
        risk_text="Sustained acceptance back below the 50-day moving average",
        scenarios=(
            Scenario("bear", 0.2, 0, 0.0, "acceptance below 2,500", 2500.0, 2400.0, 2420.0),
            Scenario("sideways", 0.4, 0, 0.0, "range-bound between 2,520 and 2,700", None),
            Scenario("bull", 0.4, 0, 0.0, "acceptance above 2,700", 2700.0, 2750.0, 2800.0),
        ),
        horizon_sessions=20,
        horizon_end=date(2026, 3, 5),
        upper_barrier=2700.0,
        lower_barrier=2500.0,
    )
