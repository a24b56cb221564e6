"""The site's price data: chart windows in the as-of front frame, bar vintages, timelines."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.engine import chart_frame
from pipeline.analysis.methodology import get as get_methodology
from pipeline.analysis.params import AnalysisParams
from pipeline.market.continuous import continuous_series
from pipeline.report.site.series import (
    assign_vintages,
    chart_series,
    chart_window,
    timeline_frame,
    with_moving_averages,
)
from pipeline.sources.demo import demo_bars

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

PARAMS = AnalysisParams()
DEMO_CUT = date(2026, 6, 30)


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    bars = demo_bars("RTY").filter(pl.col("session_date") <= DEMO_CUT)
    series = continuous_series(bars)
    analysis = analyse({"RTY": series}, "RTY", source="demo")
    calls = analysis.snapshots.with_columns(pl.format("RTY-{}", "as_of").alias("snapshot_id"))
    return series, analysis.table, calls


def test_a_chart_window_equals_the_engines_chart_frame(demo) -> None:
    # The PNG chart reads engine.chart_frame of the call table; the site's window must show the
    # same prices and averages in the same (as-of front contract) frame. The demo spans rolls.
    series, table, _ = demo
    drawn = chart_series(series, root="RTY", params=PARAMS)
    for as_of in (date(2025, 3, 14), date(2026, 3, 12), date(2026, 6, 30)):
        window = chart_window(drawn, as_of)
        expected = chart_frame(table, as_of).tail(120)
        assert window is not None and window.days == expected["session_date"].to_list()
        for column in ("open", "high", "low", "close", "sma50", "sma200"):
            np.testing.assert_allclose(
                getattr(window, column), expected[column].to_numpy(), rtol=0, atol=1e-9
            )
    assert chart_window(drawn, date(2026, 7, 4)) is None  # not a session of the series


def test_a_window_starts_at_the_first_session_when_history_is_short(demo) -> None:
    series, _, _ = demo
    drawn = chart_series(series.head(30), root="RTY", params=PARAMS)
    window = chart_window(drawn, series["session_date"][29])
    assert window is not None and len(window.days) == 30
    assert np.isnan(window.sma50).all()  # warm-up: no 50-session average yet


def test_vintage_is_the_last_bar_change_before_the_call_was_written() -> None:
    t = [datetime(2026, 2, d, 23, 0, tzinfo=UTC) for d in (2, 3, 4, 5)]
    events = pl.DataFrame(
        {"source": ["demo", "demo", "yahoo", "demo"], "root": ["RTY", "RTY", "RTY", "ES"],
         "changed_at": [t[0], t[2], t[1], t[0]]}
    )  # fmt: skip
    calls = pl.DataFrame(
        {
            "root": ["RTY", "RTY", "RTY", "ES", "RTY"],
            "bars_known_at": [t[1], t[3], t[2], t[1], datetime(2026, 2, 1, tzinfo=UTC)],
        }
    )
    dated = assign_vintages(calls, events, bar_source="demo")
    # Row order is kept; the yahoo change and the other root's are not this source's bars.
    assert dated["vintage"].to_list() == [t[0], t[2], t[2], t[0], None]


def test_timeline_places_each_calls_levels_on_todays_front_contract(demo) -> None:
    series, _, calls = demo
    prices, placed = timeline_frame(series, calls.head(400))
    # Re-anchored: the last session's close is the raw settlement of the current front.
    assert prices["close"][-1] == pytest.approx(series["raw_close"][-1])
    row = placed.row(0, named=True)
    at = series.filter(pl.col("session_date") == row["as_of"]).row(0, named=True)
    shift = at["offset"] - series["offset"][-1]  # difference adjustment since that session
    expected = (row["line_low"] + row["line_high"]) / 2 + shift
    assert row["line_mid"] == pytest.approx(expected, abs=1e-6)


def test_moving_averages_are_the_methodologys(demo) -> None:
    series, table, _ = demo
    frame = with_moving_averages(series, params=PARAMS)
    joined = frame.join(
        table.select("session_date", pl.col("sma200").alias("t200")), on="session_date"
    )
    diff = joined.select((pl.col("sma200") - pl.col("t200")).abs().max()).item()
    assert diff is not None and diff < 1e-9
