"""Methodology v2: every number the analysis uses, named, with its unit.

v2 composes the shared steps with their shared parameters (:class:`pipeline.analysis.params.
CoreParams`: indicators, acceptance rule, horizon, base-rate shrinkage, the same numbers as v1's,
so that v1 and v2 are scored on the same resolution rule) and adds its own rules for levels, regimes
and statements. A v2 snapshot stores ``METHODOLOGY_VERSION`` and ``params_hash(params)``; changing
any default here is a new methodology.

Units: ``_sessions`` count CME trade dates, ``_atr`` are multiples of the session's ATR(14),
``_pct`` are fractions of price (0.10 = 10 %) measured in the as-of front contract's points,
``_weight`` are score points.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.analysis.params import CoreParams
from pipeline.analysis.params import params_hash as _params_hash
from pipeline.analysis.probability_params import V2_BARRIER_PARAMS, ProbabilityParams

METHODOLOGY_VERSION = "v2"


@dataclass(frozen=True)
class V2Params(CoreParams):
    """v2's own rules beyond the shared :class:`CoreParams` (indicators, swings, the resolution
    rule, base-rate shrinkage and relative strength: the same numbers as v1's, so v1 and v2 are
    scored on the same resolution rule)."""

    # --- Primary trend -------------------------------------------------------------------------
    # Breakdown rule (a crash turns the trend Bearish before the SMA50 crosses the SMA200): the
    # close at least this far below the SMA200 ...
    breakdown_below_sma200_pct: float = 0.10
    # ... while the SMA200 rose by at most this fraction of itself over trend_slope_lookback
    # sessions (flat or flattening; a healthy bull market's 200-day rises ~1.5 % a month) ...
    flattening_sma200_pct: float = 0.01
    # ... or, however steep the SMA200 still rises, the close this far below it (a crash out of
    # a strong bull market: 25 % below a 200-day that still rises 2 % a month is a bear market).
    deep_breakdown_pct: float = 0.20
    # ... below a falling SMA50, with the last confirmed swing high below the one before.
    # Recovery rule: the mirror (close this far above a flat-or-rising SMA200, rising SMA50,
    # higher confirmed swing lows).

    # --- Regimes (market perspective) ----------------------------------------------------------
    fall_window: int = 30  # sessions: a fall is measured from the highest high of this window
    crash_fall_pct: float = 0.20  # fall from that high >= this: crash
    selloff_fall_pct: float = 0.10  # >= this: selloff
    # Still a crash / selloff while less than this fraction of the fall has been recovered.
    near_low_recovered: float = 0.382
    rebound_window: int = 63  # sessions in which a selloff's low is remembered for "rebound"
    breakout_window: int = 252  # a breakout clears the highest high of this many prior sessions
    breakout_base_sessions: int = 10  # ... set at least this many sessions before the breakout
    breakout_memory_sessions: int = 10  # "breakout" for this many sessions while price holds it
    # Consolidating (range within consolidation_max_range_atr) also needs the close to have moved
    # at most this many ATR over the window (a steady grind inside a narrow range is trending)
    consolidation_max_drift_atr: float = 1.5

    # --- Swings and statements -----------------------------------------------------------------
    structure_min_swings: int = 3  # "higher lows since D" needs at least this many swing lows
    sma_hold_min_sessions: int = 10  # "held above the 50-day since D" needs this many sessions
    rs_memory_sessions: int = 63  # "no longer lagging": lagging on some session this recent

    # --- Zones ---------------------------------------------------------------------------------
    zone_band_atr: float = 10.0  # only anchors within this many ATR of the close are clustered
    zone_span_atr: float = 0.6  # members of one zone lie within this span (no chaining)
    zone_trim_min_atr: float = 0.25  # a zone the close came into is kept, cut, if this is left
    zone_max_width_atr: float = 1.0  # a kept zone wider than this today is narrowed (hard cap 1.25)
    zone_gap_atr: float = 0.1  # the close is at least this far outside the line and bias zones
    bias_gap_atr: float = 0.25  # ... the bias level at least this far: price at it has reached it
    # Line and bias are wanted at least this far from the close (a line the close came into is
    # cut back to this far under it) ...
    level_near_atr: float = 0.25
    level_far_atr: float = 4.0  # ... and at most this far (else the nearest structure beyond)
    level_keep_atr: float = 4.0  # a kept bias / extension / deeper level is dropped beyond this
    # The line in the sand is kept until price is this many ATR above it (below, for a downward
    # call): a little beyond level_far_atr, spending part of the 5 % of calls allowed outside
    # 0.25-4 ATR on persistence. Whole real history of ES, NQ, YM, TF1 (bench/bench_quality.py,
    # with the picking and trimming rules below and in levels.py): median line run (strict: both
    # edges unchanged) 10 / 10 / 10 / 11 sessions at 4.2, line in band on 96.6-97.1 % of calls;
    # at 4.25, 11 / 10 / 10 / 11 and 96.0-96.6 %; at 4.3, 11 / 10 / 10 / 11 and 95.7-96.2 %.
    # (Before the line's trim to level_near_atr, its pick on structure and the discount of 12:
    # 9 / 9 / 9 / 10 at 4.2, 95.8-96.3 %.)
    line_keep_atr: float = 4.25
    # The line is picked for its score less this many points per ATR its distance from the close
    # differs from line_preferred_atr: a line 1.5-2 ATR below the close lasts longest (too near:
    # the next dip tests it; too far: a rally leaves it behind) - measured on ES, NQ, YM, TF1,
    # bench_quality. At 3 points per ATR strong structure 0.8 ATR below the close won the pick
    # and the next dip replaced it. At 12 (the distance decides unless a zone scores much more)
    # the strict median line run is 11 / 10 / 10 / 11 sessions (ES, NQ, YM, TF1) and runs of at
    # least 10 sessions outnumber the shorter ones by 23 / 14 / 8 / 12 runs out of ~500; at 5,
    # 10 / 9 / 9 / 11; at 8, 10 / 10 / 10 / 11 (YM by 2 runs); a preferred distance of 1.5 or
    # 2.0 ATR gives 9 on YM.
    line_preferred_atr: float = 1.75
    line_distance_discount: float = 12.0
    # The bias, extension and deeper levels alike (distance from the close, or beyond the bias /
    # line): their picks are about where structure is, not about how long they last.
    level_preferred_atr: float = 1.5
    level_distance_discount: float = 3.0
    line_min_pick_atr: float = 1.0  # a line is picked nearer than this only if nothing else fits
    line_buffer_atr: float = 0.0  # the line's zone reaches this far below its lowest member
    touch_weight: float = 1.0  # score per confirmed swing in a zone
    recency_weight: float = 1.0  # ... plus this times its recency (1 today, 0 at zone_lookback)
    sma50_weight: float = 1.5  # the SMA50 in a zone (the seed's line sits on the rising 50-day)
    sma200_weight: float = 1.0  # the SMA200 in a zone
    breakout_weight: float = 1.0  # per swing whose polarity flipped (old resistance now support)
    recent_extreme_weight: float = 1.0  # the recent high (low) in a zone: the bias anchor
    zone_max_scored_swings: int = 3  # only a zone's 3 heaviest (most recent) swings score
    # New structure replaces a kept level if it outscores it by this many points, and (line and
    # bias) only once the kept level is this many ATR from the close, i.e. about when it leaves
    # the band anyway: trailing earlier cut the runs of the line short (median 7 sessions at
    # 3 ATR and 0.5 points; bench/bench_quality.py).
    replace_margin: float = 2.0
    trail_after_atr: float = 4.0
    projected_step_atr: float = 1.0  # a projected level sits this far beyond the last extreme
    projected_width_atr: float = 0.5  # ... this wide
    extension_step_atr: float = 1.5  # a projected extension / deeper level: this beyond the last

    # --- Base rates ----------------------------------------------------------------------------
    # Barrier-distance buckets (ATR): about the quartiles of v2's own barrier distances on ES, NQ
    # and YM (1.5, 2.15, 3.0; read from the levels, no outcome). v1's (1.0, 2.5) put most v2
    # calls in one bucket.
    analog_distance_edges_atr: tuple[float, ...] = (1.5, 2.25, 3.0)
    # The published probabilities: the probability model (pipeline/analysis/probability_model.py:
    # Brownian exit probabilities between the barriers with a drift and the volatility regime),
    # its parameters chosen on ES, NQ and YM calls resolved before 2015 on v2's own barriers
    # (bench/bench_probability_model.py --barriers v2). The base rates above stay as evidence.
    # Hashed with the rest (a nested object in as_dict). Its resolution rule must be v2's.
    probability_model: ProbabilityParams = V2_BARRIER_PARAMS

    def __post_init__(self) -> None:
        model = self.probability_model
        for name in (
            "horizon_sessions", "acceptance_sessions", "acceptance_atr", "probability_decimals"
        ):  # fmt: skip
            if getattr(model, name) != getattr(self, name):
                raise ValueError(
                    f"probability_model.{name} is {getattr(model, name)!r} but v2's {name} is "
                    f"{getattr(self, name)!r}: the model must forecast v2's own resolution rule"
                )

    def as_dict(self) -> dict[str, Any]:
        return {"methodology": METHODOLOGY_VERSION, **dataclasses.asdict(self)}


def params_hash(params: V2Params) -> str:
    """sha256 of the parameters (sorted JSON, methodology name included), first 16 hex digits.

    >>> params_hash(V2Params()) == params_hash(V2Params(zone_span_atr=0.5))
    False
    """
    return _params_hash(params)
