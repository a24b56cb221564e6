"""Methodology v3: every number it adds to v2's, named, with its unit.

v3 composes v2's steps (its levels, regimes and structure facts: :class:`V2Params`, unchanged)
and adds four rules of its own: barriers that stay near in every regime, a limit on how far a
probability moves in one session without a named cause, the thesis decided from the
probabilities, and statement definitions that split real data. A v3 snapshot stores
``METHODOLOGY_VERSION`` and the hash of these parameters; changing a default is a new
methodology.

Units as in v2: ``_atr`` multiples of the session's ATR(14), ``_pct`` fractions of price (0.05 =
5 %) in the as-of front contract's points, ``_points`` fractions of probability (0.10 = 10
percentage points), ``_sessions`` CME trade dates.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.analysis.v2.params import V2Params

METHODOLOGY_VERSION = "v3"


@dataclass(frozen=True)
class V3Params(V2Params):
    """v3's rules beyond v2's (every v2 parameter keeps its value and meaning)."""

    # --- Barriers (issue 18 point 3) --------------------------------------------------------
    # Each scenario barrier lies at most min(barrier_max_pct of the close, barrier_max_atr ATR)
    # from the close. A v2 level beyond that limit gives way to the nearest tested structure
    # inside it (a confirmed swing, the recent high or low, a moving average) at least
    # barrier_min_gap_atr from the close; with none there, the barrier is projected at the limit
    # and labelled so. Where the close is at or below zero only the ATR limit applies. 5 % and
    # 4 ATR: in a normal market the ATR limit binds (ATR ~1-1.5 % of price); when the ATR triples
    # in a crash, 5 % keeps the sideways band under 10 % of price (bench/RESULTS.md,
    # "Coherence": v2's crash band median 32 %). Only the barriers move, never v2's levels.
    barrier_max_pct: float = 0.05
    barrier_max_atr: float = 4.0
    barrier_min_gap_atr: float = 0.5
    barrier_zone_atr: float = 0.25  # a moved barrier's zone: this wide, on its far side
    # A scenario's target zone starts at least target_min_atr beyond its trigger: the level
    # beyond (the nearest of v2's level zones within target_max_atr) where one does, else a zone projected
    # target_step_atr beyond the trigger, target_width_atr wide, and labelled projected.
    target_min_atr: float = 0.5
    target_max_atr: float = (
        3.0  # ... and at most this far (a level further is no 20-session target)
    )
    target_step_atr: float = 1.0
    target_width_atr: float = 0.5

    # --- Stable probabilities (point 4) ------------------------------------------------------
    # A scenario's probability moves at most uncaused_move_points from one session to the next
    # unless a cause is named (a level changed, a barrier touched, the volatility regime moved,
    # price moved at least cause_price_move_atr, the trend or orientation changed), and at most
    # caused_move_points with one. Both under the 10 / 20 points the issue counts, by the
    # rounding of stored probabilities (4 decimals) and more.
    uncaused_move_points: float = 0.095
    caused_move_points: float = 0.19
    cause_price_move_atr: float = 1.0  # |close - previous close| in ATR: a price move is a cause
    cause_atr_change_pct: float = 0.08  # ATR(14) changed by this fraction in one session

    # --- The thesis (point 1) ----------------------------------------------------------------
    tie_points: float = 0.02  # the top two scenarios closer than this: a tie, not "most likely"

    # --- Statements (point 5) ----------------------------------------------------------------
    # "a trending market" from this ADX(14) (words only, never the call): 20, a common reading,
    # splits the real files (ADX >= 20 on 52-63 % of ES, NQ, YM and TF1 calls); Wilder's 25 left
    # "no strong trend" on 71 % of TF1's.
    adx_trending: float = 20.0
    # A pullback is given a speed only after this many sessions from its extreme: a one-session
    # dip is neither impulsive nor corrective.
    speed_min_sessions: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.uncaused_move_points <= self.caused_move_points < 1:
            raise ValueError("v3 needs 0 < uncaused_move_points <= caused_move_points < 1")
        if not 0 < self.barrier_zone_atr < self.barrier_min_gap_atr:
            raise ValueError(
                "a structure barrier's zone must be narrower than its gap from the close "
                "(barrier_zone_atr < barrier_min_gap_atr): the close never lies inside it"
            )

    def as_dict(self) -> dict[str, Any]:
        return {"methodology": METHODOLOGY_VERSION, **dataclasses.asdict(self)}
