"""The call-quality report: the level validator on hand-made calls, run lengths, crash sessions,
roll gaps, the paired score difference, and the whole table for v1 and v2 on one history."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.calls import call_table as v1_call_table
from pipeline.analysis.v2.calls import call_table as v2_call_table
from pipeline.analysis.v2.statements import false_statements
from pipeline.audit.quality import (
    PREFIXES,
    QualityParams,
    crash_sessions,
    level_checks,
    line_runs,
    paired_scores,
    quality_table,
    roll_gaps,
    scored_calls,
    transposed_quality,
    unexplained_levels,
)
from pipeline.audit.scores import paired_difference
from tests.pipeline.analysis.v2.paths import TICK, PathSpec, ohlc_path

UP = {"orientation": "up", "close": 100.0, "atr": 2.0, "deep_low": 90.0, "deep_high": 91.0,
      "line_low": 96.0, "line_high": 97.0, "bias_low": 103.0, "bias_high": 104.0,
      "ext_low": 107.0, "ext_high": 108.0, "offset": 0.0, "factor": 1.0}  # fmt: skip


def checked(**changes: object) -> dict:
    return level_checks(pl.DataFrame([{**UP, **changes}])).row(0, named=True)


def test_a_good_upward_call_passes_every_check() -> None:
    row = checked()
    assert [row[f"{p}_width_atr"] for p in ("line", "bias", "ext", "deep")] == [0.5] * 4
    assert (row["line_distance_atr"], row["bias_distance_atr"]) == (1.5, 1.5)
    assert row["order_ok"] and not row["overlap"] and not row["wrong_side"]
    assert not row["close_in_line"] and not row["close_in_bias"]


def test_the_validator_names_each_broken_property() -> None:
    assert checked(line_high=100.5)["close_in_line"]
    assert checked(line_high=100.5)["wrong_side"]
    assert checked(bias_low=99.5)["close_in_bias"]
    assert checked(line_low=101.0, line_high=102.0)["wrong_side"]  # support above the close
    overlapping = checked(deep_high=96.5)
    assert overlapping["overlap"] and not overlapping["order_ok"]
    assert checked(line_low=92.0)["line_width_atr"] == 2.5
    # A downward call mirrors: the line is resistance above, the bias support below.
    down = {"orientation": "down", "line_low": 103.0, "line_high": 104.0, "bias_low": 96.0,
            "bias_high": 97.0, "deep_low": 107.0, "deep_high": 108.0, "ext_low": 90.0,
            "ext_high": 91.0}  # fmt: skip
    row = checked(**down)
    assert row["order_ok"] and not row["wrong_side"] and row["line_distance_atr"] == 1.5
    assert not checked(**{**down, "orientation": "up"})["order_ok"]


def test_line_runs_follow_a_level_across_a_roll_and_count_orientation_turns() -> None:
    rows = [
        # internal line 96-97; a roll moves the published prices by the offset (+ rounding)
        {**UP, "line_low": 96.0, "line_high": 97.0},
        {**UP, "line_low": 96.0, "line_high": 97.0},
        {**UP, "line_low": 86.0, "line_high": 87.25, "offset": 10.0},  # within a tick: kept
        {**UP, "line_low": 88.0, "line_high": 89.0, "offset": 10.0},  # moved: new run
        {**UP, "line_low": 88.0, "line_high": 89.0, "offset": 10.0, "orientation": "down"},
    ]
    runs = line_runs(pl.DataFrame(rows), tick=0.25)
    # runs of 3, 1 and 1 sessions
    assert (runs["line_run_median"], runs["line_run_mean"]) == (1.0, 5 / 3)
    since = pl.DataFrame(rows).with_columns(
        pl.Series("line_since", [date(2026, 1, d) for d in (1, 1, 1, 1, 5)])
    )
    # The same level for 4 sessions (its trim by a roll is no change), then a turn: 4 and 1.
    assert line_runs(since, tick=0.25)["line_level_run_median"] == 2.5


def test_crash_sessions_are_read_from_the_bars() -> None:
    high = [100.0] * 30 + [85.0, 79.0, 80.5]
    frame = pl.DataFrame({"high": high, "close": [h - 1 for h in high], "offset": 0.0})
    # 30-session high 100: 84 is 16 % below, 78 is 22 % below, 79.5 is 20.5 %.
    assert crash_sessions(frame, QualityParams()).to_list() == [False] * 31 + [True, True]


def test_roll_gaps_as_a_share_of_the_expiring_close() -> None:
    rolls = pl.DataFrame(
        {
            "method": ["basis", "carry_bounded", "basis"],
            "gap": [-20.2, 5.0, 12.0],
            "before_close": [1010.0, 1000.0, 1200.0],
        }
    )
    assert roll_gaps(rolls) == {
        "rolls": 3,
        "roll_methods": "basis 2, carry_bounded 1",
        "max_roll_gap_pct": pytest.approx(0.02),
    }
    assert roll_gaps(rolls.head(0))["rolls"] == 0


def test_paired_scores_use_the_audits_one_interval_rule() -> None:
    days = pl.date_range(pl.date(2020, 1, 1), pl.date(2021, 12, 31), eager=True)[:400]
    rng = np.random.default_rng(3)
    b_rps = rng.uniform(0.1, 0.5, 400)
    a_rps = b_rps + rng.normal(0.01, 0.05, 400)
    a = pl.DataFrame({"session_date": days, "rps": a_rps, "clim_rps": np.full(400, 0.3)})
    b = pl.DataFrame({"session_date": days, "rps": b_rps, "clim_rps": np.full(400, 0.2)})
    params = QualityParams(n_boot=500)
    scores = paired_scores(a, b, params)
    # the same figures as scores.paired_difference on the same pairs (one rule, one place)
    assert scores["rps"] == paired_difference(a_rps, b_rps, horizon=20, n_boot=500)
    assert scores["rps_vs_climatology"].mean == pytest.approx(float(np.mean(a_rps - b_rps)) - 0.1)
    assert "rps_vs_geometry" not in scores  # neither frame carries a geometry reference
    # Each one's RPS less its own barrier-geometry reference's, differenced, by the same rule.
    a_geo, b_geo = rng.uniform(0.1, 0.5, 400), rng.uniform(0.1, 0.5, 400)
    with_geo = paired_scores(a.with_columns(geo_rps=a_geo), b.with_columns(geo_rps=b_geo), params)[
        "rps_vs_geometry"
    ]
    assert with_geo == paired_difference(a_rps - a_geo, b_rps - b_geo, horizon=20, n_boot=500)
    assert with_geo.mean == pytest.approx(float(np.mean(a_rps - a_geo - (b_rps - b_geo))))
    # fewer than three horizons of common sessions: no figures rather than a narrow interval
    assert paired_scores(a.head(59), b.head(59), params) == {}
    assert paired_scores(a.head(60), b.head(60), params)["rps"].n == 60


def test_the_quality_table_of_v1_and_v2_on_one_history() -> None:
    series = ohlc_path(PathSpec(seed=5, sessions=700, start=2000.0, crash=True, gap_rate=0.05))
    tables = {
        ("ES", "v1"): v1_call_table(series, tick=TICK),
        ("ES", "v2"): v2_call_table(series, tick=TICK),
    }
    found = {key: false_statements(t, tick=TICK) for key, t in tables.items()}
    q = quality_table(tables, ticks={"ES": TICK}, false_statements=found)
    v1, v2 = (q.filter(pl.col("methodology") == m).row(0, named=True) for m in ("v1", "v2"))
    assert v1["calls"] == v2["calls"] == 700 - 249
    assert v2["zones_wider"] == v2["close_in_line"] == v2["overlaps"] == 0
    assert v2["false_statements"] == 0 and v2["crash_as_range"] == 0
    # Every real v2 zone has a reason; v1 publishes none, so it is not counted.
    assert v2["unexplained_levels"] == 0 and v1["unexplained_levels"] is None
    assert v1["zones_wider"] > 0  # v1 chains swings into wide bands
    assert v2["crash_sessions"] == v1["crash_sessions"] > 0  # same bars, same sessions
    scores = paired_scores(
        scored_calls(tables[("ES", "v2")], QualityParams()),
        scored_calls(tables[("ES", "v1")], QualityParams()),
        QualityParams(n_boot=200),
    )
    assert scores["rps"].n == scored_calls(tables[("ES", "v2")], QualityParams()).height
    ((root, shown),) = transposed_quality(q)
    assert root == "ES" and shown.columns == ["figure", "v1", "v2"]
    assert shown.filter(pl.col("figure") == "false statements")["v2"][0] == "0"


def test_a_real_zone_without_a_reason_is_counted_a_projected_one_is_not() -> None:
    row = {"has_call": True}
    for p, reason, projected in (("line", "", False), ("bias", "", True),
                                 ("ext", "swing high of 3 Jan", False), ("deep", None, False)):  # fmt: skip
        row |= {f"{p}_reason": reason, f"{p}_projected": projected}
    table = pl.DataFrame([row, {**row, "has_call": False}])
    assert unexplained_levels(table) == 2  # the line and the deeper level of the one call
    assert unexplained_levels(table.drop("deep_reason")) is None
    nulls = table.with_columns(pl.lit(None, pl.String).alias(f"{p}_reason") for p in PREFIXES)
    assert unexplained_levels(nulls) is None  # stored v1 rows: the columns, all null
