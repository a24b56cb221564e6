"""Methodology v1: every number the analysis uses, named, with its unit.

A snapshot stores ``METHODOLOGY_VERSION`` and ``params_hash(params)`` so a call can always be
traced to the exact rules and numbers that produced it. Changing any default here is a new
methodology: bump ``METHODOLOGY_VERSION``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

METHODOLOGY_VERSION = "v1"


class HashableParams(Protocol):
    """Any methodology's parameters: a frozen dataclass that lists its fields."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class AnalysisParams:
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
    trend_slope_lookback: int = 21  # SMA200 must be higher (lower) than this many sessions ago
    well_above_200_atr: float = 3.0  # "well above the 200-day": (close - SMA200) >= this many ATR

    # Swings
    fractal_k: int = (
        2  # a pivot needs k lower highs / higher lows on each side; confirmed k sessions later
    )
    higher_lows_min: int = (
        3  # "higher lows since D": the last >= this many confirmed swing lows rising
    )

    # Market perspective
    consolidation_window: int = 15  # sessions over which range width is measured
    consolidation_max_range_atr: float = (
        4.0  # range (max high - min low) <= this many ATR = consolidating
    )
    extreme_window: int = 252  # sessions for the 52-week high/low
    near_extreme_atr: float = (
        3.0  # within this many ATR of the 252-session high/low = "near highs/lows"
    )

    # Pullback character
    shallow_retracement: float = 0.382  # retracement <= this fraction of the impulse = shallow
    deep_retracement: float = 0.618  # > this = deep
    impulse_lookback: int = (
        60  # sessions searched for the impulse's start before the recent extreme
    )

    # Zones
    zone_lookback: int = 250  # sessions of confirmed swings that feed zone candidates
    zone_cluster_atr: float = 0.5  # candidates within this many ATR merge into one zone
    zone_min_width_atr: float = 0.25  # a zone is at least this wide (ATR)
    line_near_sma50_atr: float = 0.5  # line in the sand: best support zone within this of SMA50
    line_max_distance_atr: float = 5.0  # ... else the best support zone within this below price
    bias_high_window: int = 20  # bias-defining level holds the high of this many sessions
    extension_step_atr: float = 2.0  # a projected zone sits this far beyond the last real one
    zone_touch_weight: float = 1.0  # score per confirmed swing in a zone
    zone_recency_weight: float = (
        1.0  # ... plus this times its recency (1 today, 0 at zone_lookback)
    )
    zone_ma_weight: float = 1.0  # score per moving average (SMA50, SMA200) in a zone

    # Acceptance and scenarios
    acceptance_sessions: int = 2  # N consecutive settlements beyond a level
    acceptance_atr: float = 0.1  # ... by more than this many ATR
    horizon_sessions: int = 20  # H: scenarios resolve within this many sessions
    shrinkage_strength: float = 20.0  # a in g_k = (m_k + a*pi_k) / (m + a): geometry -> climatology
    # a' in p_k = (n_k + a'*g_k) / (n + a'): full state -> geometry. With 20 the sparse full-state
    # cells scored worse than geometry alone on all four demo roots (RPS skill -0.3 % to -2.0 %);
    # 60 scored -0.3 % to +0.5 % (bench/RESULTS.md, "Probability model").
    state_shrinkage_strength: float = 60.0
    climatology_prior_weight: float = (
        3.0  # pseudo-counts (split evenly) before any outcome is known
    )
    analog_distance_edges_atr: tuple[float, ...] = (1.0, 2.5)  # barrier-distance buckets (ATR)
    analog_vol_window: int = 252  # ATR%/its rolling median over this many sessions: vol regime
    probability_decimals: int = 4
    neutral_band_atr: float = 1.0  # a Neutral call is right if |close(D+H) - close(D)| < this ATR

    # Relative strength
    rs_mean_window: int = 200
    rs_return_windows: tuple[int, ...] = (5, 20, 63)
    rs_verdict_window: int = 20  # leading/lagging judged on this return spread and the ratio trend

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def params_hash(params: HashableParams) -> str:
    """sha256 of the parameters (sorted JSON), first 16 hex digits.

    >>> params_hash(AnalysisParams()) == params_hash(AnalysisParams())
    True
    >>> params_hash(AnalysisParams()) == params_hash(AnalysisParams(horizon_sessions=10))
    False
    """
    payload = json.dumps(params.as_dict(), sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]
