"""v2 on the real files of ../shared/data (skipped when absent): every call of the whole history
of ES, NQ, YM and TF1 (as RTY), loaded the way a user loads them, keeps the hard properties, says
nothing false, and never calls a crash a range. bench/bench_quality.py records the same figures
beside v1's in bench/RESULTS.md."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipeline.analysis.methodology import get
from pipeline.analysis.v2.statements import false_statements
from pipeline.audit.quality import QualityParams, crash_labels, level_quality, published_calls
from pipeline.market.roots import builtin_spec
from tests.real_files import available, real_series

pytestmark = pytest.mark.shared_data
ROOTS = ("ES", "NQ", "YM", "RTY")


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    if not available():
        pytest.skip("../shared/data is not present")
    series = {root: real_series(root) for root in ROOTS}
    return {root: get("v2").analyse(series, root, source="file").table for root in ROOTS}


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
