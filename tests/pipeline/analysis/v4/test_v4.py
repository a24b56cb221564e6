"""Methodology v4 (issue 17 point 6): v3's rules on the trade calendar, so "N sessions" is N
trade dates in every window and horizon however many bars are missing.

Planted gaps on the demo history are checked against oracles written as slow loops over the
calendar (tests/pipeline/analysis/v4/oracle.py); the real YM file's quarantined bars of
October 2024 against the chartist's reading of 2024-11-11.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES, get
from pipeline.analysis.sessions import carried_bars, on_trade_calendar, with_session_indicators
from pipeline.analysis.v2.calls import levels_from_indicators, levels_table
from pipeline.analysis.v4.calls import calendar_series
from pipeline.analysis.v4.params import V4Params
from pipeline.audit.outcomes import CALL_COLUMNS, resolve_outcomes
from pipeline.market.calendar import EQUITY
from tests.pipeline.analysis import look_ahead
from tests.pipeline.analysis.v4 import oracle

V3, V4 = get("v3"), get("v4")
P = V4Params()
#: Bars removed from the demo history of RTY: single sessions and runs of 2 and 4 (a run the
#: length of the real YM hole), inside the calls; one run right before a day the tests call.
PLANTED: tuple[date, ...] = (
    date(2008, 3, 4),
    date(2009, 6, 15), date(2009, 6, 16),
    date(2010, 10, 18), date(2010, 10, 19), date(2010, 10, 20), date(2010, 10, 21),
    date(2011, 2, 2),
)  # fmt: skip
END = date(2011, 12, 30)  # history enough: calls from 2006, the gaps and a year after them


@pytest.fixture(scope="module")
def gapped_history() -> dict[str, pl.DataFrame]:
    history = {
        root: bars.filter(pl.col("session_date") <= END)
        for root, bars in look_ahead.demo_history().items()
    }
    history["RTY"] = history["RTY"].filter(~pl.col("session_date").is_in(PLANTED))
    return history


@pytest.fixture(scope="module")
def gapped(gapped_history) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(RTY's series with the planted gaps, its v4 call table)."""
    series = look_ahead.cut(gapped_history, "RTY", END)
    return series["RTY"], V4.analyse(series, "RTY", source="demo").table


def test_v4_is_registered_with_v3s_words_and_checker() -> None:
    assert "v4" not in DEFAULT_METHODOLOGIES  # v5 (v4 + its limit across gaps) is published
    assert V4.note_template == "v3" and V4.statement_checker is V3.statement_checker
    assert V4.content_columns == V3.content_columns and V4.hash_scheme == V3.hash_scheme
    assert V4.tuning is not None and V4.tuning.periods == V3.tuning.periods  # type: ignore[union-attr]
    assert V4.params_hash != V3.params_hash
    assert V4.params.as_dict()["methodology"] == "v4"


def test_without_a_missing_session_v4_calls_are_v3s() -> None:
    history = look_ahead.demo_history()
    series = {
        root: s.filter(pl.col("session_date") <= date(2009, 12, 31))
        for root, s in look_ahead.cut(history, "ES", END).items()
    }
    v3 = V3.analyse(series, "ES", source="demo").snapshots
    v4 = V4.analyse(series, "ES", source="demo").snapshots
    own = {"methodology_version", "params_hash", "content_hash", "input_fingerprint"}
    columns = [c for c in v3.columns if c not in own]
    assert v3.height > 900
    assert v4.select(columns).equals(v3.select(columns))
    assert set(v4["methodology_version"]) == {"v4"}


def test_without_a_missing_session_the_calendar_path_is_v2s_levels_table() -> None:
    """Why v4 may take v2's remembered levels table when no session lacks a bar."""
    series = look_ahead.cut(look_ahead.demo_history(), "ES", END)["ES"].filter(
        pl.col("session_date") <= date(2008, 6, 30)
    )
    sessions = with_session_indicators(
        calendar_series(series, EQUITY), P, min_bars_fraction=P.min_bars_fraction
    )
    assert sessions["has_bar"].all()
    on_calendar = levels_from_indicators(carried_bars(sessions), tick=0.25, params=P)
    rows = levels_table(series, tick=0.25, params=P)
    assert_frame_equal(on_calendar.drop("has_bar"), rows, check_exact=True)


def test_every_trade_date_is_a_row_and_no_call_is_made_without_a_bar(
    gapped_history, gapped
) -> None:
    series, table = gapped
    dates = EQUITY.trade_dates(series["session_date"][0], series["session_date"][-1])
    assert table["session_date"].to_list() == dates
    assert set(table.filter(~pl.col("has_bar"))["session_date"]) == set(PLANTED)
    assert table.height == series.height + len(PLANTED)
    warm = table.filter(pl.col("warm"))
    assert (warm["has_call"] == warm["has_bar"]).all()
    snapshots = V4.analyse(
        look_ahead.cut(gapped_history, "RTY", END), "RTY", source="demo", sessions=list(PLANTED)
    ).snapshots
    assert snapshots.height == 0


@pytest.mark.parametrize(
    ("column", "source", "statistic", "window"),
    [
        ("sma20", "close", "mean", P.sma_fast),
        ("sma50", "close", "mean", P.sma_mid),
        ("sma200", "close", "mean", P.sma_slow),
        ("recent_high", "high", "max", P.bias_high_window),
        ("recent_low", "low", "min", P.bias_high_window),
        ("range_high", "high", "max", P.consolidation_window),
        ("high_252", "high", "max", P.extreme_window),
        ("low_252", "low", "min", P.extreme_window),
    ],
)
def test_windows_count_trade_dates_and_take_the_bars_present(
    gapped, column, source, statistic, window
) -> None:
    series, table = gapped
    expected = oracle.window_statistic(
        oracle.on_calendar(series, source), window, statistic, P.min_bars_fraction
    )
    oracle.assert_close(table[column].to_list(), expected)


def test_a_window_with_too_few_bars_is_null() -> None:
    """Hand computed: bars on sessions 0, 1 and 9 of ten; a 4-session SMA needs 2 bars."""
    days = EQUITY.trade_dates(date(2024, 1, 2), date(2024, 1, 31))
    kept = [days[0], days[1], days[9]]
    bars = pl.DataFrame(
        {"session_date": kept, **{c: [1.0, 3.0, 8.0] for c in ("open", "high", "low", "close")}}
    )
    table = with_session_indicators(
        on_trade_calendar(bars, days), V4Params(sma_fast=4), min_bars_fraction=0.5
    )
    assert table["session_date"].to_list() == days[:10]
    assert table["sma20"].to_list() == [None, None, None, 2.0] + [None] * 6
    assert table["has_bar"].to_list() == [True, True] + [False] * 7 + [True]


@pytest.mark.parametrize("indicator", ["atr14", "rsi14"])
def test_wilder_indicators_update_once_per_bar_and_carry_through_a_missing_session(
    gapped, indicator
) -> None:
    series, table = gapped
    per_bar = (
        oracle.wilder_atr(series, P.atr_window)
        if indicator == "atr14"
        else oracle.wilder_rsi(series, P.rsi_window)
    )
    by_date = dict(zip(series["session_date"].to_list(), per_bar, strict=True))
    expected, last = [], None
    for day in table["session_date"].to_list():
        last = by_date.get(day, last)  # a session without a bar carries the last value
        expected.append(last)
    oracle.assert_close(table[indicator].to_list(), expected)
    # The bar after a gap spans it: its true range / move starts from the last close.
    after = table.filter(pl.col("session_date") == date(2010, 10, 22))
    before = table.filter(pl.col("session_date") == date(2010, 10, 15))
    assert after[indicator][0] != before[indicator][0]


def test_a_breakout_clears_the_bars_of_n_trade_dates_set_ten_trade_dates_before(gapped) -> None:
    series, table = gapped
    cleared = table.with_row_index("row").filter(pl.col("breakout_index") == pl.col("row"))
    expected = oracle.breakouts(
        series, EQUITY.trade_dates(series["session_date"][0], series["session_date"][-1]),
        window=P.breakout_window, base=P.breakout_base_sessions,
    )  # fmt: skip
    assert len(expected) >= 5
    assert set(cleared["session_date"].to_list()) == expected


def test_outcomes_resolve_over_twenty_trade_dates(gapped) -> None:
    _, table = gapped
    expected = oracle.outcomes(
        table, horizon=P.horizon_sessions, sessions=P.acceptance_sessions, atr=P.acceptance_atr
    )
    expected = [(-1, -1) if e == (None, None) else e for e in expected]  # unresolved
    got = table.select("outcome", "outcome_steps").rows()
    calls = table["has_call"].to_list()
    compared = [(g, e) for g, e, call in zip(got, expected, calls, strict=True) if call]
    assert len(compared) > 1000
    assert [g for g, _ in compared] == [e for _, e in compared]
    # A call whose horizon spans the four-session hole resolves within 20 trade dates.
    row = table.filter(pl.col("session_date") == date(2010, 10, 1)).row(0, named=True)
    assert row["outcome"] in (0, 1, 2) and row["outcome_steps"] <= P.horizon_sessions


def test_horizon_end_is_twenty_trade_dates_after_the_call(gapped_history) -> None:
    day = date(2010, 10, 1)
    rows = V4.analyse(
        look_ahead.cut(gapped_history, "RTY", END), "RTY", source="demo", sessions=[day]
    ).snapshots
    assert rows["horizon_end"][0] == EQUITY.add_sessions(day, P.horizon_sessions)


#: (D, k): D right after each planted run, D before a run with D + k beyond it, a plain day.
PREFIX_CASES = [
    (date(2010, 10, 22), 5),
    (date(2010, 10, 15), 9),
    (date(2009, 6, 17), 1),
    (date(2011, 3, 15), 30),
]


@pytest.mark.parametrize(("day", "k"), PREFIX_CASES, ids=[f"{d}-k{k}" for d, k in PREFIX_CASES])
def test_the_call_for_d_is_the_call_from_the_bars_cut_at_d(gapped_history, day, k) -> None:
    whole = {"RTY": V4.analyse(look_ahead.cut(gapped_history, "RTY", END), "RTY",
                               source="demo", sessions=[day]).snapshots}  # fmt: skip
    look_ahead.assert_no_look_ahead(V4, gapped_history, whole, ("RTY", day, k))


@pytest.mark.shared_data
def test_ym_on_2024_11_11_is_a_breakout_to_new_highs_on_the_real_file(shared_data) -> None:
    """Four YM bars of 2024-10-18 to 2024-11-06 are quarantined (OHLC violations: 10-28,
    10-29, 10-30 and 11-05): 14 trade dates, 10 bars (13 and 9 after the 18th). Counted in rows, v3's 10-session breakout base was short and 2024-11-11 (a
    close above every prior high) read "trending higher"; on the calendar it is a breakout."""
    from tests.real_files import real_series

    series = {root: real_series(root) for root in ("YM", "ES", "NQ")}
    hole = (date(2024, 10, 18), date(2024, 11, 6))
    bars = series["YM"].filter(pl.col("session_date").is_between(*hole))
    assert (bars.height, len(EQUITY.trade_dates(*hole))) == (10, 14)
    day = date(2024, 11, 11)
    v4 = V4.analyse(series, "YM", source="file", sessions=[day])
    v3 = V3.analyse(series, "YM", source="file", sessions=[day])
    assert v4.table.filter(pl.col("session_date").is_between(*hole)).height == 14
    row = v4.snapshots.row(0, named=True)
    assert (row["primary_trend"], row["perspective"]) == ("Bullish", "breakout_to_new_highs")
    assert v3.snapshots["perspective"][0] == "trending_higher"
    # The close is above every high of the 252 trade dates before it.
    prior = series["YM"].filter(
        pl.col("session_date").is_between(EQUITY.add_sessions(day, -P.breakout_window), day)
        & (pl.col("session_date") < day)
    )
    close = series["YM"].filter(pl.col("session_date") == day)["close"][0]
    assert close > prior["high"].max()
    assert math.isfinite(close) and np.isfinite(row["p_bull"])


def test_the_audit_resolves_v4_calls_over_trade_dates_as_the_call_table_does(
    gapped_history, gapped
) -> None:
    series, table = gapped
    calls = V4.analyse(look_ahead.cut(gapped_history, "RTY", END), "RTY", source="demo")
    snapshots = calls.snapshots.with_columns(pl.format("RTY-{}", "as_of").alias("snapshot_id"))
    days = EQUITY.trade_dates(series["session_date"][0], series["session_date"][-1])
    resolved = resolve_outcomes(snapshots.select(CALL_COLUMNS), series, trade_dates=days)
    expected = table.filter(pl.col("has_call") & (pl.col("outcome") >= 0)).select(
        pl.format("RTY-{}", "session_date").alias("snapshot_id"), "outcome", "outcome_steps"
    )
    compared = expected.join(resolved, on="snapshot_id", how="full", coalesce=True)
    assert compared.height == expected.height == resolved.height > 1000
    assert (compared["outcome"] == compared["outcome_ordinal"]).all()
    assert (compared["outcome_steps"] == compared["steps"]).all()
    ends = resolved.join(snapshots.select("snapshot_id", "horizon_end"), on="snapshot_id")
    assert (ends["horizon_end"] == ends["horizon_end_right"]).all()
    # Counted in rows (v1-v3's resolution), a horizon over the four-session hole ends 4 trade
    # dates late.
    rows = resolve_outcomes(snapshots.select(CALL_COLUMNS), series)
    spanning = rows.filter(pl.col("snapshot_id") == "RTY-2010-10-01")["horizon_end"][0]
    assert spanning == EQUITY.add_sessions(date(2010, 10, 1), P.horizon_sessions + 4)
