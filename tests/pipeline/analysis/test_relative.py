"""Relative strength: front-contract returns across rolls, spreads and verdicts by hand."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.relative import daily_return, relative_strength
from pipeline.market.continuous import continuous_series
from tests.pipeline.analysis.builders import series_frame

PARAMS = AnalysisParams()  # ratio vs its 200-session mean; spreads over 5, 20, 63; verdict on 20
GROWTH = 1.01
ROWS = 230


def roll_bars() -> pl.DataFrame:
    """RTYH26 on 10-12 March 2026, RTYM26 (10 points above) on 11-13 March; roll on the 12th."""
    h26, m26 = [100.0, 101.0, 102.0], [111.0, 112.0, 113.0]
    return pl.DataFrame(
        {
            "root": "RTY",
            "contract": ["RTYH26"] * 3 + ["RTYM26"] * 3,
            "session_date": [date(2026, 3, d) for d in (10, 11, 12, 11, 12, 13)],
            **{price: h26 + m26 for price in ("open", "high", "low", "close")},
            "volume": [10, 10, 10, 5, 20, 20],
            "open_interest": None,
        }
    )


def test_daily_return_is_the_front_contracts_own_return_on_a_roll_day() -> None:
    series = continuous_series(roll_bars())
    assert series["contract"].to_list() == ["RTYH26", "RTYH26", "RTYM26", "RTYM26"]
    assert series["close"].to_list() == [100.0, 101.0, 102.0, 103.0]  # 112 - 10, 113 - 10
    returns = series.select(daily_return())["daily_return"].to_list()
    # 11th: H26 100 -> 101. 12th (roll): M26 111 -> 112, its own move (not 101 -> 112).
    # 13th: M26 112 -> 113.
    assert returns[0] is None
    assert returns[1:] == pytest.approx([1 / 100, 1 / 111, 1 / 112], abs=1e-15)
    unadjusted = continuous_series(roll_bars(), method="none").select(daily_return())
    assert unadjusted["daily_return"][2] != pytest.approx(1 / 111)  # raw would jump 101 -> 112


def compounding(days: int) -> np.ndarray:
    return 100.0 * GROWTH ** np.arange(days)


@pytest.fixture(scope="module")
def leader_vs_flat() -> pl.DataFrame:
    root = series_frame(compounding(ROWS), wick=0.0)
    peer = series_frame(np.full(ROWS, 100.0), wick=0.0)
    return relative_strength(root, peer, params=PARAMS)


def test_root_up_one_percent_a_day_against_a_flat_peer_leads(leader_vs_flat) -> None:
    last = leader_vs_flat.row(-1, named=True)
    for window in PARAMS.rs_return_windows:
        assert last[f"spread_{window}"] == pytest.approx(GROWTH**window - 1, rel=1e-10)
    # The RS line is 1.01^t; its mean over the last 200 sessions (t = 30..229) is
    # 1.01^30 * (1.01^200 - 1) / (0.01 * 200), so line / mean - 1 = 1.01^199 * 2 / (1.01^200 - 1) - 1.
    expected_ratio = GROWTH**199 * 0.01 * 200 / (GROWTH**200 - 1) - 1
    assert last["ratio_vs_mean"] == pytest.approx(expected_ratio, rel=1e-10)
    assert expected_ratio > 0.9  # a steadily rising line sits well above its own mean
    assert last["verdict"] == "leading"


def test_warm_up_of_spreads_ratio_and_verdict(leader_vs_flat) -> None:
    # Returns start on row 1 (row 0 has none: counted as 0), so spread_w is there from row w - 1.
    for window in PARAMS.rs_return_windows:
        spread = leader_vs_flat[f"spread_{window}"]
        assert spread.null_count() == window - 1
        assert spread[window - 1] == pytest.approx(GROWTH ** (window - 1) - 1, rel=1e-10)
    assert leader_vs_flat["ratio_vs_mean"].null_count() == PARAMS.rs_mean_window - 1
    assert leader_vs_flat["verdict"].null_count() == PARAMS.rs_mean_window - 1


def test_flat_root_against_a_rising_peer_lags() -> None:
    root = series_frame(np.full(ROWS, 100.0), wick=0.0)
    peer = series_frame(compounding(ROWS), wick=0.0)
    last = relative_strength(root, peer, params=PARAMS).row(-1, named=True)
    assert last["spread_20"] == pytest.approx(1 - GROWTH**20, rel=1e-10)
    assert last["ratio_vs_mean"] < 0
    assert last["verdict"] == "lagging"


def test_recent_bounce_after_long_underperformance_is_mixed() -> None:
    # Down 1 % a day for 250 sessions, then up 1 % a day for 25: the 20-session spread is
    # positive, but the RS line is still below its 200-session mean.
    closes = 100.0 * np.concatenate(
        [0.99 ** np.arange(250), 0.99**249 * GROWTH ** np.arange(1, 26)]
    )
    root = series_frame(closes, wick=0.0)
    peer = series_frame(np.full(closes.size, 100.0), wick=0.0)
    last = relative_strength(root, peer, params=PARAMS).row(-1, named=True)
    assert last["spread_20"] == pytest.approx(GROWTH**20 - 1, rel=1e-10)
    assert last["ratio_vs_mean"] < 0
    assert last["verdict"] == "mixed"


def test_sessions_the_peer_lacks_are_null_and_rows_follow_the_root() -> None:
    root = series_frame(compounding(40), wick=0.0)
    peer = series_frame(np.full(40, 100.0), wick=0.0).filter(pl.int_range(pl.len()) != 10)
    rs = relative_strength(root, peer, params=PARAMS)
    assert rs["session_date"].to_list() == root["session_date"].to_list()
    assert rs["spread_5"].is_null().arg_true().to_list() == [0, 1, 2, 3, 10]


def test_a_session_the_peer_lacks_costs_the_root_none_of_its_moves() -> None:
    root = series_frame(compounding(40), wick=0.0)
    peer = series_frame(np.full(40, 100.0), wick=0.0).filter(pl.int_range(pl.len()) != 10)
    rs = relative_strength(root, peer, params=PARAMS)
    # Row 12: the last 5 common sessions are rows 7, 8, 9, 11, 12, i.e. from the close of row 6
    # to that of row 12: the root rose 1.01^6 - 1 over them, the peer not at all.
    assert rs["spread_5"][12] == pytest.approx(GROWTH**6 - 1, rel=1e-10)


def test_ratio_adjusted_series_returns_are_close_over_close() -> None:
    series = continuous_series(roll_bars(), method="ratio")
    returns = series.select(daily_return())["daily_return"].to_list()
    closes = series["close"].to_list()
    assert returns[0] is None
    assert returns[1:] == pytest.approx([b / a - 1 for a, b in pairwise(closes)], rel=1e-12)
    assert returns[2] == pytest.approx(1 / 111, rel=1e-12)  # RTYM26's own move 111 -> 112
