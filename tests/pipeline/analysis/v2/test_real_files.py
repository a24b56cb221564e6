"""v2 on the real files of ../shared/data (skipped when absent): every call of the whole history
of ES, NQ, YM and TF1 (as RTY), and of crude (CL), gold (GC), the 10-year note (ZN) and corn
(ZC) with the parameters chosen on the equity indexes (issue 19 point 5, not re-tuned), loaded
the way a user loads them, keeps the hard properties, says nothing false, and never calls a
crash a range. bench/bench_quality.py records the same figures beside v1's in
bench/RESULTS.md."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipeline.analysis.methodology import get
from pipeline.analysis.v2.statements import false_statements
from pipeline.audit.quality import QualityParams, crash_labels, level_quality, published_calls
from pipeline.market.roots import builtin_spec
from tests.real_files import EQUITY_ROOTS, NEW_ROOTS, available, real_series

pytestmark = pytest.mark.shared_data
ROOTS = EQUITY_ROOTS


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    if not available():
        pytest.skip("../shared/data is not present")
    series = {root: real_series(root) for root in ROOTS}
    return {root: get("v2").analyse(series, root, source="file").table for root in ROOTS}


@pytest.fixture(scope="module")
def new_tables() -> dict[str, pl.DataFrame]:
    """CL, GC, ZN, ZC, each on its own (their registry peers, products, silver, the rest of the
    curve, soybeans and wheat, have no real file here)."""
    if not available():
        pytest.skip("../shared/data is not present")
    return {
        root: get("v2").analyse({root: real_series(root)}, root, source="file").table
        for root in NEW_ROOTS
    }


@pytest.mark.parametrize("root", ROOTS)
def test_every_real_call_keeps_the_hard_properties_and_says_nothing_false(tables, root) -> None:
    table, tick, params = tables[root], builtin_spec(root).tick, QualityParams()
    figures = level_quality(published_calls(table), tick=tick, params=params)
    assert figures["calls"] > 2500
    for name in ("zones_wider", "close_in_line", "close_in_bias", "wrong_side", "overlaps",
                 "order_violations"):  # fmt: skip
        assert figures[name] == 0, name
    assert figures["median_width_atr"] <= params.median_zone_width_atr
    assert figures["line_in_band"] >= params.band_share
    assert figures["bias_in_band"] >= params.band_share
    # Persistence, the target of 10 sessions: measured 11 / 10 / 10 / 11 (ES, NQ, YM,
    # TF1; strict: both edges unchanged) and 11 / 10 / 10 / 11.5 (same level, a zone cut back
    # to a close that came into it counted as the same line) on these files (the report in
    # bench/RESULTS.md).
    assert figures["line_run_median"] >= params.min_line_run
    assert figures["line_level_run_median"] >= params.min_line_run
    assert false_statements(table, tick=tick).height == 0
    labels = crash_labels(table, params)
    assert sum(labels.values()) > 30 and "range" not in labels


@pytest.mark.parametrize(
    ("root", "day", "trend", "perspective"),
    [
        ("ES", date(2008, 10, 10), "Bearish", "crash"),
        ("ES", date(2020, 3, 16), "Bearish", "crash"),
        ("ES", date(2020, 3, 23), "Bearish", "crash"),
        ("ES", date(2022, 6, 16), "Bearish", "selloff"),
        ("ES", date(2024, 11, 11), "Bullish", "breakout to new highs"),
        ("NQ", date(2008, 10, 10), "Bearish", "crash"),
        # 28 % below its high, 14 % below a 200-day still rising 1.5 % a month: the crash rule.
        ("NQ", date(2020, 3, 16), "Bearish", "crash"),
        ("NQ", date(2020, 3, 23), "Bearish", "crash"),
        ("NQ", date(2022, 6, 16), "Bearish", "selloff"),
        ("NQ", date(2024, 11, 11), "Bullish", "breakout to new highs"),
        ("YM", date(2008, 10, 10), "Bearish", "crash"),
        ("YM", date(2020, 3, 16), "Bearish", "crash"),
        ("YM", date(2020, 3, 23), "Bearish", "crash"),
        ("YM", date(2022, 6, 16), "Bearish", "selloff"),
        # v2 counts sessions as rows: four bars quarantined between 2024-10-28 and 11-05 shorten
        # its 10-session breakout base, so the breakout of 11-06 is not seen. v2 is immutable;
        # v4 counts trade dates and reads a breakout (tests/pipeline/analysis/v4/test_v4.py).
        ("YM", date(2024, 11, 11), "Bullish", "trending higher"),
    ],
)
def test_the_dates_a_chartist_knows(tables, root, day, trend, perspective) -> None:
    row = tables[root].filter(pl.col("session_date") == day).row(0, named=True)
    assert (row["primary_trend"], row["perspective"]) == (trend, perspective)
    # A trending call leans with its trend.
    assert row["orientation"] == ("up" if trend == "Bullish" else "down")


def test_the_2020_crash_keeps_nq_bearish_until_price_is_back_above_an_average(tables) -> None:
    # The rebounds inside the crash (13, 24, 26 Mar) do not make the trend Neutral for a day:
    # price stayed accepted below both averages until 13 Apr.
    march = tables["NQ"].filter(
        pl.col("session_date").is_between(date(2020, 3, 12), date(2020, 4, 9))
    )
    assert set(march["primary_trend"]) == {"Bearish"}
    assert (march["sma50_side"] == -1).all() and (march["sma200_side"] == -1).all()


@pytest.mark.parametrize("root", NEW_ROOTS)
def test_every_real_call_of_crude_gold_notes_and_corn_keeps_the_hard_properties(
    new_tables, root
) -> None:
    """Issue 19 point 5. ZC found a defect of the equity-tuned rounding: a tick is up to a fifth
    of corn's ATR, and levels rounded to the nearest tick landed on the close (2004-12-03) and
    on each other (2005-05-02): steps.levels_kept_apart."""
    table, tick, params = new_tables[root], builtin_spec(root).tick, QualityParams()
    figures = level_quality(published_calls(table), tick=tick, params=params)
    assert figures["calls"] > 6000
    for name in ("zones_wider", "close_in_line", "close_in_bias", "wrong_side", "overlaps",
                 "order_violations"):  # fmt: skip
        assert figures[name] == 0, name
    assert figures["max_width_atr"] <= params.max_zone_width_atr
    assert figures["median_width_atr"] <= params.median_zone_width_atr
    assert figures["line_in_band"] >= params.band_share
    assert figures["bias_in_band"] >= params.band_share
    assert false_statements(table, tick=tick).height == 0
    labels = crash_labels(table, params)
    # Sessions 20 % below their 30-session high: none on the 10-year note (its worst fall, 2022,
    # was 5 % a month at most); on the others every one is a crash or a rebound from one.
    assert set(labels) <= {"crash", "rebound after crash"}
    assert (sum(labels.values()) == 0) == (root == "ZN")


@pytest.mark.parametrize(
    "root",
    [
        pytest.param("ZN"),
        # Measured 9 (CL), 6 (GC), 4 (ZC) sessions, median of the whole history: the issue's
        # target is not met there, and the parameters were not re-tuned on these files. GC=F
        # holds the thin spot month most of the month: its high-low is 1.4 times the mean
        # |close change| against 1.9-2.0 on ES, CL, ZN (0.8 with 44 % flat bars in 2000-04),
        # so ATR is too small and price runs out of the 4.25-ATR keep band; ZC 2002-2006 changes
        # its line 47-90 times a year (20-27 from 2007). See bench/RESULTS.md, "Call quality
        # (real files)".
        pytest.param("CL", marks=pytest.mark.xfail(strict=True, reason="median line run 9")),
        pytest.param("GC", marks=pytest.mark.xfail(strict=True, reason="median line run 6")),
        pytest.param("ZC", marks=pytest.mark.xfail(strict=True, reason="median line run 4")),
    ],
)
def test_the_line_in_the_sand_lasts_ten_sessions_on_crude_gold_notes_and_corn(
    new_tables, root
) -> None:
    figures = level_quality(
        published_calls(new_tables[root]), tick=builtin_spec(root).tick, params=QualityParams()
    )
    assert figures["line_run_median"] >= QualityParams().min_line_run


@pytest.mark.parametrize(
    ("root", "day", "trend", "perspective"),
    [
        ("CL", date(2008, 10, 10), "Bearish", "crash"),
        ("CL", date(2008, 12, 19), "Bearish", "crash"),
        ("CL", date(2020, 3, 18), "Bearish", "crash"),
        # The negative settlement of CLK20 (-37.63): the fall is measured in price units from a
        # positive high, never as a percentage of the negative close.
        ("CL", date(2020, 4, 20), "Bearish", "crash"),
        ("CL", date(2022, 3, 8), "Bullish", "trending higher"),
        # Gold's 2013 fall: 16 % below its 30-session high in two days of April, a selloff.
        ("GC", date(2013, 4, 15), "Bearish", "selloff"),
        ("GC", date(2013, 6, 27), "Bearish", "selloff"),
        ("GC", date(2020, 8, 6), "Bullish", "trending higher"),
        # Corn's drought rally of 2012 and the fall of 2013 as the crop came in.
        ("ZC", date(2012, 7, 20), "Bullish", "trending higher"),
        ("ZC", date(2013, 8, 5), "Bearish", "crash"),
        # The bond sell-off of 2022: new lows in March, trending lower through October.
        ("ZN", date(2022, 3, 15), "Bearish", "breakdown to new lows"),
        ("ZN", date(2022, 6, 14), "Bearish", "trending lower"),
        ("ZN", date(2022, 10, 21), "Bearish", "trending lower"),
    ],
)
def test_the_dates_a_chartist_knows_on_crude_gold_notes_and_corn(
    new_tables, root, day, trend, perspective
) -> None:
    row = new_tables[root].filter(pl.col("session_date") == day).row(0, named=True)
    assert (row["primary_trend"], row["perspective"]) == (trend, perspective)
    assert row["orientation"] == ("up" if trend == "Bullish" else "down")
