"""Every number the analysis uses, named, with its unit: the shared steps' (:class:`CoreParams`)
and methodology v1's (:class:`AnalysisParams`).

A snapshot stores its methodology's version and ``params_hash(params)`` so a call can always be
traced to the exact rules and numbers that produced it. Changing any default here is a new
methodology: bump its version (a default of :class:`CoreParams` changes every methodology that
does not override it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

METHODOLOGY_VERSION = "v1"


#: Pseudo-calls (split evenly over the scenarios) the climatology starts from before any outcome
#: is known: every climatology's prior weight (pipeline/analysis/climatology.py), and the SQL
#: views' (REFERENCE_PARAMETERS).
CLIMATOLOGY_PRIOR_WEIGHT = 3.0
#: The numbers the SQL views read from the ``reference_parameters`` table (name -> value),
#: recorded with bound values each time the warehouse is opened for writing (warehouse/store.py).
REFERENCE_PARAMETERS: dict[str, float] = {"climatology_prior_weight": CLIMATOLOGY_PRIOR_WEIGHT}


class HashableParams(Protocol):
    """Any methodology's parameters: a frozen dataclass that lists its fields."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CoreParams:
    """The parameters of the shared steps every methodology composes (indicators, swings,
    outcomes, state keys and base rates, relative strength) and of the facts both v1 and v2 read
    the same way. A methodology's parameters extend this class with its own rules; a field here
    means the same thing in every methodology (it is not re-declared, only its default may be).

    Units: ``_sessions`` / ``_window`` / ``_lookback`` count CME trade dates, ``_atr`` are
    multiples of the session's ATR(14).
    """

    # Indicators (windows in sessions)
    atr_window: int = 14
    rsi_window: int = 14
    adx_window: int = 14
    sma_fast: int = 20
    sma_mid: int = 50
    sma_slow: int = 200
    ema_window: int = 21
    warmup_sessions: int = 250  # no call before this many valid sessions

    # Primary trend
    trend_slope_lookback: int = 21  # slopes: SMA today minus SMA this many sessions ago
    well_above_200_atr: float = 3.0  # "well above the 200-day": (close - SMA200) >= this many ATR

    # Swings: a pivot needs k lower highs / higher lows on each side; confirmed k sessions later
    fractal_k: int = 2

    # Market perspective
    consolidation_window: int = 15  # sessions over which range width is measured
    consolidation_max_range_atr: float = 4.0  # range (max high - min low) <= this = consolidating
    extreme_window: int = 252  # sessions for the 52-week high/low
    near_extreme_atr: float = 3.0  # within this many ATR of the 252-session high/low = "near"

    # Pullback character
    shallow_retracement: float = 0.382  # retracement <= this fraction of the impulse = shallow
    deep_retracement: float = 0.618  # > this = deep
    impulse_lookback: int = 60  # sessions searched for the impulse's start before the extreme

    # Zones
    zone_lookback: int = 250  # sessions of confirmed swings that feed zones
    zone_min_width_atr: float = 0.25  # a zone is at least this wide (ATR)
    bias_high_window: int = 20  # sessions: the recent high / low (bias anchor, pullback extreme)

    # Acceptance and scenarios (the resolution rule: the same in every methodology scored alike)
    acceptance_sessions: int = 2  # N consecutive settlements beyond a level
    acceptance_atr: float = 0.1  # ... by more than this many ATR
    horizon_sessions: int = 20  # H: scenarios resolve within this many sessions
    shrinkage_strength: float = 20.0  # a in g_k = (m_k + a*pi_k) / (m + a): geometry -> climatology
    # a' in p_k = (n_k + a'*g_k) / (n + a'): full state -> geometry. With 20 the sparse full-state
    # cells scored worse than geometry alone on all four demo roots (RPS skill -0.3 % to -2.0 %);
    # 60 scored -0.3 % to +0.5 % (bench/RESULTS.md, "Probability model").
    state_shrinkage_strength: float = 60.0
    climatology_prior_weight: float = CLIMATOLOGY_PRIOR_WEIGHT  # pseudo-counts before any outcome
    analog_distance_edges_atr: tuple[float, ...] = (1.0, 2.5)  # barrier-distance buckets (ATR)
    analog_vol_window: int = 252  # ATR%/its rolling median over this many sessions: vol regime
    probability_decimals: int = 4

    # Relative strength
    rs_mean_window: int = 200
    rs_return_windows: tuple[int, ...] = (5, 20, 63)
    rs_verdict_window: int = 20  # leading/lagging judged on this return spread and the ratio trend

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AnalysisParams(CoreParams):
    """Methodology v1's own rules (beyond the shared :class:`CoreParams`)."""

    # Swings: "higher lows since D" = the last >= this many confirmed swing lows rising
    higher_lows_min: int = 3

    # Zones
    zone_cluster_atr: float = 0.5  # candidates within this many ATR merge into one zone
    line_near_sma50_atr: float = 0.5  # line in the sand: best support zone within this of SMA50
    line_max_distance_atr: float = 5.0  # ... else the best support zone within this below price
    extension_step_atr: float = 2.0  # a projected zone sits this far beyond the last real one
    zone_touch_weight: float = 1.0  # score per confirmed swing in a zone
    zone_recency_weight: float = (
        1.0  # ... plus this times its recency (1 today, 0 at zone_lookback)
    )
    zone_ma_weight: float = 1.0  # score per moving average (SMA50, SMA200) in a zone

    # Outcome: a Neutral call is right if |close(D+H) - close(D)| < this ATR
    neutral_band_atr: float = 1.0


def params_hash(params: HashableParams) -> str:
    """sha256 of the parameters (sorted JSON), first 16 hex digits.

    >>> params_hash(AnalysisParams()) == params_hash(AnalysisParams())
    True
    >>> params_hash(AnalysisParams()) == params_hash(AnalysisParams(horizon_sessions=10))
    False
    """
    payload = json.dumps(params.as_dict(), sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]
