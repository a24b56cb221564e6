"""Realistic daily OHLC paths for the v2 property tests: trends, ranges, crashes, V rebounds, gaps.

A path is a chain of regimes, each a number of sessions with a daily drift and volatility (log
returns, fat-tailed), optionally a crash (a fall of 20-40 % over 10-20 sessions at high
volatility) followed by a rebound; opens gap away from the previous close now and then; highs and
lows stretch beyond the body by a random share of the day's volatility. Prices sit on a tick grid,
so the published levels round exactly as on a real feed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from hypothesis import strategies as st

from tests.pipeline.analysis.builders import series_frame

TICK = 0.25


@dataclass(frozen=True)
class PathSpec:
    seed: int
    sessions: int
    start: float
    crash: bool
    gap_rate: float  # share of sessions opening away from the previous close


def ohlc_path(spec: PathSpec) -> pl.DataFrame:
    """A continuous series (no rolls) drawn from ``spec`` (see the module docstring)."""
    rng = np.random.default_rng(spec.seed)
    n = spec.sessions
    returns = np.empty(n)
    i = 0
    while i < n:
        length = int(rng.integers(20, 120))
        drift = rng.choice([-0.0015, -0.0005, 0.0, 0.0004, 0.0008, 0.0015])
        vol = rng.choice([0.006, 0.01, 0.015, 0.025])
        shocks = rng.standard_t(4, size=length) / np.sqrt(2.0)
        returns[i : i + length] = (drift + vol * shocks)[: n - i]
        i += length
    if spec.crash and n > 320:
        at = int(rng.integers(280, n - 40))
        days = int(rng.integers(10, 21))
        fall = rng.uniform(0.2, 0.4)
        crash = np.log(1 - fall) / days + 0.03 * rng.standard_t(4, size=days) / np.sqrt(2.0)
        returns[at : at + days] = crash[: n - at]
        rebound = min(days, n - at - days)
        if rebound > 0:
            returns[at + days : at + days + rebound] = -0.6 * crash[:rebound]
    close = spec.start * np.exp(np.cumsum(returns))
    gaps = rng.random(n) < spec.gap_rate
    gap_size = rng.normal(0, 0.01, n) * gaps
    prev = np.concatenate([[close[0]], close[:-1]])
    open_ = prev * (1 + gap_size)
    day_vol = np.abs(returns) + 0.004
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 1, n) * day_vol)
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 1, n) * day_vol)

    def grid(x: np.ndarray) -> np.ndarray:
        return np.round(x / TICK) * TICK

    open_, high, low, close = grid(open_), grid(high), grid(low), grid(close)
    high = np.maximum.reduce([high, open_, close])
    low = np.minimum.reduce([low, open_, close])
    return series_frame(close, open_=open_, high=high, low=low, root="ES")


path_specs = st.builds(
    PathSpec,
    seed=st.integers(0, 2**31 - 1),
    sessions=st.integers(300, 650),
    start=st.sampled_from([800.0, 2000.0, 4500.0]),
    crash=st.booleans(),
    gap_rate=st.sampled_from([0.0, 0.05, 0.2]),
)
