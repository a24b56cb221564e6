"""Hand-made inputs for the analysis tests: continuous series and per-contract bars.

Every builder works on real CME trade dates (``pipeline.market.calendar``) and real contract codes
(``pipeline.market.contracts``), so the frames look exactly like what the pipeline produces.
Prices are chosen on a grid of quarter points by the tests that need exact float arithmetic
(a quarter is exactly representable, so adding and removing a roll offset is exact).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import polars as pl

from pipeline.market.calendar import trade_dates
from pipeline.market.continuous import SERIES_SCHEMA
from pipeline.market.contracts import Contract, front_contract
from pipeline.schema import BAR_SCHEMA

DEFAULT_START = date(2019, 1, 2)
#: Calendar days that surely hold ``n`` sessions: at most 10 holidays a year on top of weekends.
_CALENDAR_DAYS_PER_SESSION = 1.5
_CALENDAR_SLACK_DAYS = 30
#: Volume and open interest of every hand-made bar: no call reads them.
VOLUME, OPEN_INTEREST = 1000, 5000


def sessions(n: int, *, start: date = DEFAULT_START) -> list[date]:
    """The first ``n`` CME trade dates on or after ``start``."""
    end = start + timedelta(days=int(n * _CALENDAR_DAYS_PER_SESSION) + _CALENDAR_SLACK_DAYS)
    days = trade_dates(start, end)[:n]
    assert len(days) == n, f"calendar too short for {n} sessions from {start}"
    return days


def on_quarter_grid(values: np.ndarray) -> np.ndarray:
    """Round to the nearest quarter point (exactly representable in binary floating point)."""
    return np.round(np.asarray(values, dtype=float) * 4) / 4


def series_frame(
    close: Sequence[float] | np.ndarray,
    *,
    high: Sequence[float] | np.ndarray | None = None,
    low: Sequence[float] | np.ndarray | None = None,
    open_: Sequence[float] | np.ndarray | None = None,
    wick: float = 1.0,
    start: date = DEFAULT_START,
    root: str = "RTY",
    days: Sequence[date] | None = None,
    contract: str | None = None,
) -> pl.DataFrame:
    """A continuous series without rolls (SERIES_SCHEMA: offset 0, factor 1, raw = adjusted).

    Defaults: ``open`` = previous close (the first open = its close), ``high`` = max(open, close)
    + ``wick``, ``low`` = min(open, close) - ``wick``; ``contract`` = the calendar front contract
    of each session (or the given code on every row).
    """
    close = np.asarray(close, dtype=float)
    n = close.size
    days = list(days) if days is not None else sessions(n, start=start)
    open_ = (
        np.asarray(open_, dtype=float)
        if open_ is not None
        else np.concatenate([close[:1], close[:-1]])
    )
    high = np.asarray(high, dtype=float) if high is not None else np.maximum(open_, close) + wick
    low = np.asarray(low, dtype=float) if low is not None else np.minimum(open_, close) - wick
    codes = [contract or front_contract(root, d).code for d in days]
    prices = {"open": open_, "high": high, "low": low, "close": close}
    frame = pl.DataFrame(
        {
            "session_date": days,
            "contract": codes,
            **prices,
            **{f"raw_{name}": values for name, values in prices.items()},
            "volume": np.full(n, VOLUME, dtype=np.int64),
            "open_interest": np.full(n, OPEN_INTEREST, dtype=np.int64),
            "offset": np.zeros(n),
            "factor": np.ones(n),
            "is_roll": np.zeros(n, dtype=bool),
            "roll_gap": [None] * n,
        },
        schema=SERIES_SCHEMA,
    )
    return frame


def noisy_path(
    pieces: Sequence[tuple[int, float]], *, start_level: float, noise: float, seed: int
) -> np.ndarray:
    """Closes made of linear pieces ``(sessions, points per session)`` plus uniform noise in
    [-noise, noise], on the quarter grid."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate([np.full(length, slope) for length, slope in pieces])
    trend = start_level + np.concatenate([[0.0], np.cumsum(steps[1:])])
    return on_quarter_grid(trend + rng.uniform(-noise, noise, trend.size))


def contract_bars(
    days: Sequence[date],
    close: np.ndarray,
    *,
    root: str,
    premium: float,
    wick: float = 1.0,
    sessions_before_front: int = 10,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Per-contract bars (BAR_SCHEMA) of quarterly contracts that all follow one index path.

    The j-th contract (j = 0 for the front on the first session) trades at the path plus
    ``j * premium`` points, from ``sessions_before_front`` sessions before it becomes the front
    until the last session in ``days`` on or before its expiry. Returns the bars and j by code.
    """
    days = list(days)
    close = np.asarray(close, dtype=float)
    open_ = np.concatenate([close[:1], close[:-1]])
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    first = front_contract(root, days[0])
    contracts: list[Contract] = [first]
    while contracts[-1].roll_date <= days[-1]:
        contracts.append(contracts[-1].next())
    rows = []
    for j, contract in enumerate(contracts):
        becomes_front = bisect.bisect_left(days, contract.previous().roll_date)
        first_row = max(0, becomes_front - sessions_before_front)
        last_row = bisect.bisect_right(days, contract.expiry)
        shift = j * premium
        for i in range(first_row, last_row):
            prices = (open_[i], high[i], low[i], close[i])
            rows.append(
                (root, contract.code, days[i], *(p + shift for p in prices), VOLUME, OPEN_INTEREST)
            )
    bars = pl.DataFrame(rows, schema=BAR_SCHEMA, orient="row")
    return bars, {c.code: j for j, c in enumerate(contracts)}
