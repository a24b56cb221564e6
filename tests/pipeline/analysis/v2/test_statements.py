"""Every printed structure fact has a definition, and the checker catches a false one.

Each test takes true claims from a v2 call table and makes one false (a wrong date, a close that
breaks the run, a swing that is not in the zone ...): the checker must name it. The claims v1
prints are judged by the same definitions (a 750 % retracement is no pullback).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.calls import call_table as v1_call_table
from pipeline.analysis.v2.calls import call_table
from pipeline.analysis.v2.statements import false_statements
from tests.pipeline.analysis.builders import on_quarter_grid, series_frame
from tests.pipeline.analysis.v2.test_handbuilt import (
    BREAKOUT,
    CRASH,
    GRIND,
    REBOUND,
    UPTREND,
    WICK,
)

TICK = 0.25


def table_of(closes: np.ndarray) -> pl.DataFrame:
    return call_table(series_frame(on_quarter_grid(closes), wick=WICK, root="ES"), tick=TICK)


@pytest.fixture(scope="module")
def grind() -> pl.DataFrame:
    return table_of(GRIND)


def facts(table: pl.DataFrame) -> set[str]:
    return set(false_statements(table, tick=TICK)["fact"].to_list())


def with_value(table: pl.DataFrame, row: int, column: str, value: object) -> pl.DataFrame:
    values = table[column].to_list()
    values[row] = value
    return table.with_columns(pl.Series(column, values, dtype=table.schema[column]))


def test_true_claims_pass(grind) -> None:
    assert false_statements(grind, tick=TICK).height == 0


def test_higher_lows_since_d_is_the_design_definition(grind) -> None:
    last = grind.height - 1
    since, count = grind["higher_lows_since"][last], grind["higher_lows_count"][last]
    assert since is not None and count >= 3
    # The run: every confirmed swing low since D is higher than the one before, D is the first.
    assert facts(with_value(grind, last, "higher_lows_count", count + 1)) == {"higher_lows"}
    day_before = grind["session_date"][grind["session_date"].to_list().index(since) - 1]
    assert facts(with_value(grind, last, "higher_lows_since", day_before)) == {"higher_lows"}
    # A close below the first low since D makes it false, whatever the swings say.
    start = grind["session_date"].to_list().index(since)
    first_low = grind["low"][start]
    broken = with_value(grind, start + 5, "close", first_low - 1.0)
    found = false_statements(broken, tick=TICK)
    assert "higher_lows" in set(found["fact"]) and "went below" in found["detail"][0]


def test_a_retracement_beyond_the_impulse_is_not_a_pullback(grind) -> None:
    rows = grind.with_row_index("i").filter(pl.col("pullback_depth").is_not_null())
    i = int(rows["i"][-1])
    assert facts(with_value(grind, i, "pullback_retracement", 0.9)) == {"pullback"}
    assert facts(with_value(grind, i, "pullback_speed", "impulsive")) <= {"pullback"}
    wrong_depth = {"shallow": "deep", "moderate": "shallow", "deep": "shallow"}
    depth = grind["pullback_depth"][i]
    assert facts(with_value(grind, i, "pullback_depth", wrong_depth[depth])) == {"pullback"}


def test_v1_is_judged_by_the_same_definitions() -> None:
    crash = np.concatenate([UPTREND, CRASH])
    v1 = v1_call_table(series_frame(on_quarter_grid(crash), wick=WICK, root="ES"), tick=TICK)
    found = false_statements(v1, tick=TICK)
    # v1 calls a retracement of the whole advance and more a "deep pullback".
    deep = v1.filter(pl.col("has_call") & (pl.col("pullback_retracement") > 1))
    assert deep.height > 0
    flagged = set(found.filter(pl.col("fact") == "pullback")["session_date"].to_list())
    assert set(deep["session_date"].to_list()) <= flagged


def test_a_level_names_only_what_is_in_it(grind) -> None:
    last = grind.height - 1
    members = grind["line_members"][last]
    assert members
    # A date that is no swing low, the SMA200 (far from the line), a swing not accepted through.
    for bad in ("swing_low:2019-01-03", "sma200"):
        assert facts(with_value(grind, last, "line_members", f"{members},{bad}")) == {
            "line_members"
        }
    unflipped = [m for m in members.split(",") if m.startswith("swing_low:")]
    if unflipped:
        token = unflipped[0] + ":flipped"
        assert facts(with_value(grind, last, "line_members", token)) == {"line_members"}


def test_crash_and_breakout_facts_are_checked_against_the_bars() -> None:
    crash = table_of(np.concatenate([UPTREND, CRASH]))
    last = crash.height - 1
    assert crash["perspective"][last] == "crash"
    assert facts(with_value(crash, last, "fall_pct", crash["fall_pct"][last] + 0.01)) == {"fall"}
    breakout = table_of(BREAKOUT)
    last = breakout.height - 1
    assert breakout["perspective"][last] == "breakout to new highs"
    level = breakout["breakout_level"][last]
    assert facts(with_value(breakout, last, "breakout_level", level - 5.0)) == {"breakout"}
    assert facts(with_value(breakout, last, "breakout_date", date(2019, 3, 1))) == {"breakout"}


def test_held_above_the_50_day_since_d(grind) -> None:
    last = grind.height - 1
    since = grind["above_sma50_since"][last]
    assert since is not None
    later = grind["session_date"][grind["session_date"].to_list().index(since) + 1]
    assert facts(with_value(grind, last, "above_sma50_since", later)) == {"above_sma50"}


def test_the_trend_rules_structure_and_a_rebound_are_checked() -> None:
    crash = table_of(np.concatenate([UPTREND, CRASH]))
    last = crash.height - 1
    assert crash["trend_rule"][last] == "breakdown"
    said = crash["trend_structure"][last]
    assert said in ("lower_highs", "below_swing_low")
    wrong = "higher_lows" if said == "lower_highs" else "above_swing_high"
    assert facts(with_value(crash, last, "trend_structure", wrong)) == {"trend_structure"}
    rebound = table_of(np.concatenate([UPTREND, CRASH, REBOUND]))
    last = rebound.height - 1
    assert rebound["perspective"][last] == "rebound after crash"
    assert false_statements(rebound, tick=TICK).height == 0
    name = "fall_recovered" if rebound["fall_pct"][last] >= 0.1 else "selloff_recovered"
    moved = with_value(rebound, last, name, rebound[name][last] + 0.05)
    assert facts(moved) == {"rebound"}
