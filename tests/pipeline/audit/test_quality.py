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
    QualityParams,
    crash_sessions,
    level_checks,
    line_runs,
    paired_scores,
    quality_table,
    roll_gaps,
    scored_calls,
    transposed_quality,
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


def test_paired_difference_mean_interval_and_symmetry() -> None:
    rng = np.random.default_rng(3)
    b = rng.uniform(0.1, 0.5, 400)
    a = b + rng.normal(0.01, 0.05, 400)
    d = paired_difference(a, b, block=1, n_boot=4000, seed=1)
    assert d.mean == pytest.approx(float(np.mean(a - b)))
    # iid differences, block 1: the 90 % interval is about mean +- 1.645 sd / sqrt(n).
    half = 1.645 * np.std(a - b) / np.sqrt(400)
    assert d.low == pytest.approx(d.mean - half, abs=0.2 * half)
    assert d.high == pytest.approx(d.mean + half, abs=0.2 * half)
    flipped = paired_difference(b, a, block=1, n_boot=4000, seed=1)
    assert flipped.mean == pytest.approx(-d.mean)
    assert (flipped.low, flipped.high) == pytest.approx((-d.high, -d.low), abs=1e-12)
    constant = paired_difference(b + 0.03, b, block=20, n_boot=200)
    assert constant[:3] == pytest.approx((0.03, 0.03, 0.03))
    with pytest.raises(ValueError, match="block must be"):
        paired_difference(a, b, block=401)


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
