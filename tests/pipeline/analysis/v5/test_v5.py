"""Methodology v5: v4 with the limited move kept across sessions without a bar.

v4 restarts the limit after a session without a bar, so the first call after a gap publishes the
model's probabilities unlimited (on the real files up to 40 points in a session, no cause named);
v5 limits it against the last call. Checked on the demo history with planted gaps against a slow
loop written from the rule, and against v4 where no session lacks a bar.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES, get
from pipeline.analysis.v3.stability import limited_move, session_causes, stable_probabilities
from pipeline.analysis.v5.params import V5Params
from tests.pipeline.analysis import look_ahead
from tests.pipeline.analysis.v4.test_v4 import END, PLANTED

V4, V5 = get("v4"), get("v5")
P = V5Params()
SCENARIOS = ("bear", "sideways", "bull")


def test_v5_is_registered_and_published_with_v4s_rules_words_and_checker() -> None:
    assert DEFAULT_METHODOLOGIES == ("v5", "v2", "v1")
    assert V5.note_template == V4.note_template == "v3"
    assert V5.statement_checker is V4.statement_checker
    assert V5.content_columns == V4.content_columns and V5.hash_scheme == V4.hash_scheme
    assert V5.on_trade_calendar and V5.tuning.periods == V4.tuning.periods  # type: ignore[union-attr]
    assert V5.params_hash != V4.params_hash
    v4_numbers = V4.params.as_dict()
    v5_numbers = V5.params.as_dict()
    assert v5_numbers.pop("methodology") == "v5" and v4_numbers.pop("methodology") == "v4"
    assert v5_numbers.pop("limit_across_missing_bars") is True
    assert v5_numbers == v4_numbers  # every other number is v4's


def test_the_limit_keeps_the_last_call_across_a_row_without_a_bar() -> None:
    """By hand: calls on rows 0, 1, 3; row 2 has no bar (no call); row 4 has a bar but no call
    (a restart), row 5 a call. Cap 9.5 points without a cause."""
    model = np.array(
        [[0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [np.nan] * 3, [0.6, 0.2, 0.2], [np.nan] * 3,
         [0.1, 0.1, 0.8]]
    )  # fmt: skip
    has_call = [True, True, False, True, False, True]
    has_bar = [True, True, False, True, True, True]
    causes = [None] * 6
    carried = stable_probabilities(model, has_call, causes, P, has_bar=has_bar)
    restarted = stable_probabilities(model, has_call, causes, P)
    assert np.allclose(restarted[3], model[3])  # v4: the gap restarted the limit
    assert np.allclose(carried[3], limited_move(model[3], carried[1], P.uncaused_move_points))
    assert np.abs(carried[3] - carried[1]).max() == pytest.approx(P.uncaused_move_points)
    assert np.allclose(carried[5], model[5]) and np.allclose(restarted[5], model[5])


@pytest.fixture(scope="module")
def gapped_tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    history = {
        root: bars.filter(pl.col("session_date") <= END)
        for root, bars in look_ahead.demo_history().items()
    }
    history["RTY"] = history["RTY"].filter(~pl.col("session_date").is_in(PLANTED))
    series = look_ahead.cut(history, "RTY", END)
    return (
        V4.analyse(series, "RTY", source="demo").table,
        V5.analyse(series, "RTY", source="demo").table,
    )


def test_after_a_gap_v5_limits_the_first_call_against_the_last_one(gapped_tables) -> None:
    """The slow loop: walk the calls in order; the published triple moves at most the cap
    (9.5 points, 19 with a cause) from the last call, gaps included, and is the model's own
    wherever the model lies within the cap."""
    _, v5 = gapped_tables
    calls = v5.filter(pl.col("has_call"))
    published = calls.select(f"p_{k}" for k in SCENARIOS).to_numpy()
    model = calls.select(f"model_p_{k}" for k in SCENARIOS).to_numpy()
    causes = calls["probability_cause"].to_list()
    for i in range(1, calls.height):
        cap = P.caused_move_points if causes[i] else P.uncaused_move_points
        assert np.abs(published[i] - published[i - 1]).max() <= cap + 1e-3, calls["session_date"][i]
        if np.abs(model[i] - published[i - 1]).max() <= cap:
            assert np.abs(published[i] - model[i]).max() <= 1e-3


def test_v5_differs_from_v4_only_after_the_gaps(gapped_tables) -> None:
    v4, v5 = gapped_tables
    assert v4["session_date"].to_list() == v5["session_date"].to_list()
    probabilities = [f"p_{k}" for k in SCENARIOS]
    differ = (
        v4.select("session_date", "has_call", *probabilities)
        .join(v5.select("session_date", *probabilities), on="session_date", suffix="_v5")
        .filter(pl.col("has_call"))
        .filter(pl.any_horizontal(pl.col(p) != pl.col(f"{p}_v5") for p in probabilities))
    )
    first_after_gap = min(d for d in v5["session_date"] if d > PLANTED[0])
    assert differ.height >= 1
    # Every difference starts on the first call after a planted gap (and may run on from there
    # while the limited move catches up with the model).
    starts = differ.with_columns(
        gap_before=pl.col("session_date").is_in(
            [
                min(d for d in v5.filter(pl.col("has_call"))["session_date"] if d > p)
                for p in PLANTED
            ]
        )
    )
    assert starts["gap_before"][0], starts.head(3)
    assert differ["session_date"][0] >= first_after_gap
    # The model's probabilities and every other column of the call are v4's.
    same = [c for c in v4.columns if c not in probabilities and not c.startswith("thesis")
            and c not in ("likeliest", "probability_cause")]  # fmt: skip
    assert v4.select(same).equals(v5.select(same))


def test_where_no_session_lacks_a_bar_v5_calls_are_v4s() -> None:
    history = look_ahead.demo_history()
    series = {
        root: s.filter(pl.col("session_date") <= END)
        for root, s in look_ahead.cut(history, "ES", END).items()
    }
    v4 = V4.analyse(series, "ES", source="demo").snapshots
    v5 = V5.analyse(series, "ES", source="demo").snapshots
    own = {"methodology_version", "params_hash", "content_hash", "input_fingerprint"}
    columns = [c for c in v4.columns if c not in own]
    assert v4.height > 1000
    assert v5.select(columns).equals(v4.select(columns))
    assert set(v5["methodology_version"]) == {"v5"}


def test_session_causes_are_v4s(gapped_tables) -> None:
    v4, v5 = gapped_tables
    assert session_causes(v5, P).to_list() == session_causes(v4, P).to_list()


@pytest.mark.parametrize(("day", "k"), [(date(2010, 10, 22), 5), (date(2009, 6, 17), 1)])
def test_the_call_after_a_gap_is_the_call_from_the_bars_cut_at_its_date(day, k) -> None:
    """The reference carried across a gap is a past call: no look-ahead (the call of D from the
    bars cut at D, D + k)."""
    history = {
        root: bars.filter(pl.col("session_date") <= END)
        for root, bars in look_ahead.demo_history().items()
    }
    history["RTY"] = history["RTY"].filter(~pl.col("session_date").is_in(PLANTED))
    whole = {"RTY": V5.analyse(look_ahead.cut(history, "RTY", END), "RTY", source="demo",
                               sessions=[day]).snapshots}  # fmt: skip
    look_ahead.assert_no_look_ahead(V5, history, whole, ("RTY", day, k))
