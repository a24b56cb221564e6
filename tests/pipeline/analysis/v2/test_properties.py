"""Methodology v2's hard properties on EVERY call, as properties over generated bar histories
(trends, ranges, crashes, V rebounds, gaps) and as checks over the whole demo history:

* every published zone at most 1.25 ATR wide (median <= 0.8 ATR);
* the close never inside the line in the sand or the bias zone, each on its side;
* deeper < line < close < bias < extension (mirrored down), no two zones overlapping;
* every printed structure fact holds on the bars (pipeline/analysis/v2/statements.py);
* hysteresis is causal: the call of session D from the bars up to D is row D of the call table
  of any longer history (prefix invariance).

The real-file versions of the same checks are in test_real_files.py (``shared_data``) and in
bench/bench_quality.py.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from pipeline.analysis.v2.calls import call_table
from pipeline.analysis.v2.statements import false_statements
from pipeline.audit.quality import (
    QualityParams,
    level_checks,
    level_quality,
    published_calls,
)
from pipeline.market.continuous import continuous_series
from pipeline.market.roots import builtin_spec
from pipeline.sources.demo import demo_bars
from tests.pipeline.analysis.v2.paths import TICK, PathSpec, ohlc_path, path_specs

QUALITY = QualityParams()
HARD_FIGURES = ("zones_wider", "close_in_line", "close_in_bias", "wrong_side", "overlaps",
                "order_violations")  # fmt: skip


def assert_hard_properties(table: pl.DataFrame, *, tick: float) -> dict[str, float]:
    calls = published_calls(table)
    assert calls.height > 0
    figures = level_quality(calls, tick=tick, params=QUALITY)
    broken = {name: figures[name] for name in HARD_FIGURES if figures[name]}
    if broken:
        bad = level_checks(calls).filter(
            pl.col("close_in_line") | pl.col("close_in_bias") | pl.col("wrong_side")
            | pl.col("overlap") | ~pl.col("order_ok")
        )  # fmt: skip
        raise AssertionError(f"hard properties broken {broken}; first calls:\n{bad.head(3)}")
    assert figures["max_width_atr"] <= QUALITY.max_zone_width_atr
    assert figures["median_width_atr"] <= QUALITY.median_zone_width_atr
    return figures


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(spec=path_specs)
def test_every_call_of_a_generated_history_keeps_the_hard_properties(spec: PathSpec) -> None:
    table = call_table(ohlc_path(spec), tick=TICK)
    assert_hard_properties(table, tick=TICK)
    found = false_statements(table, tick=TICK)
    assert found.height == 0, found.head(5)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(spec=path_specs, cut=st.floats(0.45, 0.95))
def test_hysteresis_is_causal_the_call_of_d_is_row_d_of_any_longer_history(
    spec: PathSpec, cut: float
) -> None:
    series = ohlc_path(spec)
    n = int(series.height * cut)
    full = call_table(series, tick=TICK)
    prefix = call_table(series.head(n), tick=TICK)
    # The realised outcome needs sessions after D; everything else is known on D.
    columns = [c for c in prefix.columns if c not in ("outcome", "outcome_steps")]
    assert_frame_equal(prefix.tail(1).select(columns), full[n - 1].select(columns))


def test_a_crash_path_is_a_crash_never_a_range() -> None:
    spec = PathSpec(seed=11, sessions=520, start=2000.0, crash=True, gap_rate=0.05)
    table = call_table(ohlc_path(spec), tick=TICK).filter("has_call")
    falls = table.filter(pl.col("fall_pct") >= 0.2)
    assert falls.height > 0
    assert set(falls["perspective"].to_list()) <= {"crash", "rebound after crash"}
    ten = table.filter(pl.col("fall_pct") >= 0.1)
    assert "range" not in set(ten["perspective"].to_list())


# ---- the demo history -------------------------------------------------------------------------

DEMO_END = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo_tables() -> dict[str, pl.DataFrame]:
    series = {
        root: continuous_series(demo_bars(root).filter(pl.col("session_date") <= DEMO_END))
        for root in ("RTY", "ES", "NQ", "YM")
    }
    return {
        root: call_table(s, tick=builtin_spec(root).tick, peers={}) for root, s in series.items()
    }


@pytest.mark.parametrize("root", ["RTY", "ES", "NQ", "YM"])
def test_every_demo_call_keeps_the_hard_properties(demo_tables, root: str) -> None:
    table = demo_tables[root]
    tick = builtin_spec(root).tick
    figures = assert_hard_properties(table, tick=tick)
    assert figures["calls"] > 5000
    assert figures["line_in_band"] >= QUALITY.band_share
    assert figures["bias_in_band"] >= QUALITY.band_share
    assert false_statements(table, tick=tick).height == 0
