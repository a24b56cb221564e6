"""v3's statement definitions: pullback speed on like spans, one drawdown and recovery figure."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.v3.statements import drawdown_and_recovery, pullback_speed


def test_speed_compares_the_pullback_with_the_same_span_of_the_impulse() -> None:
    # A 10-session advance of 1 a session, then the last 2 sessions of it faster (+3 each).
    high = [float(i) for i in range(10)] + [12.0, 15.0]
    low = [h - 0.5 for h in high]
    extreme = len(high) - 1
    # A 2-session pullback losing 2.5 a session: slower than the impulse's last 2 sessions
    # (3 a session), though faster than its whole-move average (v2 called it impulsive).
    high += [13.0, 10.5]
    low += [12.5, 10.0]
    assert (
        pullback_speed(high, low, 0, extreme, extreme + 2, up=True, min_sessions=2) == "corrective"
    )
    low[-1] = 7.0  # now 4 a session: faster than the impulse's last two sessions
    assert (
        pullback_speed(high, low, 0, extreme, extreme + 2, up=True, min_sessions=2) == "impulsive"
    )
    assert pullback_speed(high, low, 0, extreme, extreme + 1, up=True, min_sessions=2) is None


def slow_drawdown(high, low, close, i, window):
    first = max(0, i - window + 1)
    peak_at = max(range(first, i + 1), key=lambda j: (high[j], j))
    trough_at = min(range(peak_at, i + 1), key=lambda j: (low[j], -j))
    peak, trough = high[peak_at], low[trough_at]
    recovered = (close[i] - trough) / (peak - trough) if peak > trough else None
    return 1 - close[i] / peak, recovered, peak_at, trough_at


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    moves=st.lists(st.floats(-3.0, 3.0), min_size=5, max_size=60),
    window=st.integers(3, 20),
)
def test_drawdown_and_recovery_equal_the_obvious_loop(moves: list[float], window: int) -> None:
    close = [100.0]
    for m in moves:
        close.append(close[-1] + m)
    high = [c + 1.0 for c in close]
    low = [c - 1.0 for c in close]
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(len(close))]
    out = drawdown_and_recovery(high, low, close, days, window=window)
    for i in range(len(close)):
        dd, rec, peak_at, trough_at = slow_drawdown(high, low, close, i, window)
        assert out["drawdown_pct"][i] == round(dd, 6)
        assert out["drawdown_recovered"][i] == (None if rec is None else round(rec, 6))
        assert out["drawdown_peak_date"][i] == days[peak_at]
        assert out["drawdown_trough_date"][i] == days[trough_at]


def test_no_percentage_of_a_price_at_or_below_zero() -> None:
    days = [date(2020, 4, d) for d in (17, 20, 21)]
    out = drawdown_and_recovery([20.0, 18.0, 11.0], [17.0, -40.0, 9.0], [18.27, -37.63, 10.01],
                                days, window=252)  # fmt: skip
    assert out["drawdown_pct"] == [round(1 - 18.27 / 20.0, 6), None, round(1 - 10.01 / 20.0, 6)]


@pytest.fixture(scope="module")
def demo_rty_v4() -> pl.DataFrame:
    """Every v4 call of the demo's RTY (v3's words, rendered for v4 too)."""
    from pipeline.analysis.methodology import get
    from pipeline.market.continuous import continuous_series
    from pipeline.sources.demo import demo_bars

    series = {root: continuous_series(demo_bars(root)) for root in ("RTY", "ES", "NQ")}
    return get("v4").analyse(series, "RTY", source="demo").snapshots


def note_of(row: dict) -> str:
    from pipeline.analysis.assemble import snapshot_from_row
    from pipeline.report.note import render_note

    return render_note(snapshot_from_row(row))


def test_the_speed_sentence_says_what_each_side_of_the_move_did(
    demo_rty_v4: pl.DataFrame,
) -> None:
    """Up: the advance gained and the pullback gave back; down: the decline lost and the rebound
    won back."""
    seen = set()
    for orientation, speed in (("up", "corrective"), ("down", "corrective"), ("down", "impulsive")):
        row = demo_rty_v4.filter(
            (pl.col("orientation") == orientation) & (pl.col("pullback_speed") == speed)
        ).row(-1, named=True)
        said = "gave back" if orientation == "up" else "won back"
        move = "the advance gained" if orientation == "up" else "the decline lost"
        comparison = "less" if speed == "corrective" else "more"
        sentence = f"{speed}: it {said} {comparison} per session than {move} over as many sessions"
        assert sentence in note_of(row), (orientation, speed, row["as_of"])
        seen.add(orientation)
    assert seen == {"up", "down"}


def test_the_introduction_gives_the_distance_to_the_200_day_once(
    demo_rty_v4: pl.DataFrame,
) -> None:
    """Where the trend clause names the close's distance to the 200-day (a breakdown or recovery
    rule), the settlement sentence does not give it again, in another rounding."""
    ruled = demo_rty_v4.filter(pl.col("trend_rule").is_in(["breakdown", "recovery"]))
    plain = demo_rty_v4.filter(pl.col("trend_rule").is_in(["breakdown", "recovery"]).not_())
    assert ruled.height and plain.height
    for frame in (ruled.tail(3), plain.tail(3)):
        for row in frame.iter_rows(named=True):
            intro = note_of(row).split("## Introduction\n\n")[1].split("\n")[0]
            assert intro.count("200-day") == 1, (row["as_of"], row["trend_rule"], intro)
    # ... and the figure the trend clause gives is the structure bullet's, in its rounding.
    row = ruled.row(-1, named=True)
    figure = f"{abs(row['dist_sma200_pct']) * 100:.1f}%"
    note = note_of(row)
    assert f"(the close is {figure} " in note
    assert f"{row['dist_sma200_pct'] * 100:+.1f}%)" in note.split("A few things stand out")[1]


def test_the_relative_strength_section_states_its_rule_and_reads_lagging_by_the_trend(
    demo_rty_v4: pl.DataFrame,
) -> None:
    """Each verdict printed is the rule the section states, applied to the stored ratio and
    20-session spread; a lagging root's reading follows its trend."""
    rule = (
        "(Leading: the 20-session return spread and the ratio against its 200-session mean are "
        "both above zero; lagging: both below; mixed: they disagree.)"
    )
    both_lagging = demo_rty_v4.filter(
        (pl.col("rs_es_verdict") == "lagging") & (pl.col("rs_nq_verdict") == "lagging")
    )
    for trend, reading in (
        ("Bearish", "RTY is trailing large caps, which fits its bearish primary trend."),
        ("Bullish", "RTY is trailing large caps: its advance is weaker than theirs, a caution"),
    ):
        row = both_lagging.filter(pl.col("primary_trend") == trend).row(-1, named=True)
        note = note_of(row)
        assert reading in note and rule in note, (trend, row["as_of"])
        for peer in ("es", "nq"):
            ratio, spread = row[f"rs_{peer}_ratio_vs_mean"], row[f"rs_{peer}_spread_20"]
            assert ratio < 0 and spread < 0  # the stated rule's "lagging"


def test_a_level_replaced_without_acceptance_is_not_said_to_hold_the_close(
    demo_rty_v4: pl.DataFrame,
) -> None:
    """'price_inside' replaces a line the close came into or settled through once (fewer than
    two settlements beyond it): the words cover both, and the close beyond the old zone is not
    said to be inside it."""
    through = demo_rty_v4.filter(pl.col("line_change") == "price_inside")
    assert through.height
    note = note_of(through.row(-1, named=True))
    assert "price came into or through the previous zone without acceptance (fewer than two" in note


def test_a_large_move_names_the_event_that_allowed_it_not_a_driver(
    demo_rty_v4: pl.DataFrame,
) -> None:
    """A move over 9.5 points is allowed by a named event: the note says the method allowed it
    because of that event (it does not claim the event drove the move)."""
    from pipeline.analysis.assemble import snapshot_from_row
    from pipeline.report.note import render_note

    rows = demo_rty_v4.sort("as_of")
    moved = rows.with_row_index("i").filter(
        pl.max_horizontal(
            (pl.col(p) - pl.col(p).shift(1)).abs() for p in ("p_bear", "p_sideways", "p_bull")
        )
        > 0.105
    )
    assert moved.height
    i = moved["i"][-1]
    row, previous = rows.row(i, named=True), rows.row(i - 1, named=True)
    assert row["probability_cause"]
    note = render_note(snapshot_from_row(row), previous=snapshot_from_row(previous))
    assert (
        "- The probabilities moved more than 9.5 percentage points, more than a session allows "
        "unless a named event occurs; the method allowed it because "
    ) in note


def test_each_scenario_labels_the_model_estimate_and_the_history_beside_it(
    demo_rty_v4: pl.DataFrame,
) -> None:
    row = demo_rty_v4.filter(pl.col("n_analogs") > 0).row(-1, named=True)
    note = note_of(row)
    total, bull = row["n_analogs"], row["n_bull"]
    assert f"- Model estimate: {row['p_bull'] * 100:.1f}%" in note
    assert f"; history: {bull} of {total} past sessions in the same state ended this way (" in note
    assert "Evidence:" not in note


def test_the_first_sentence_joins_trend_and_perspective_without_repeating_is_in(
    demo_rty_v4: pl.DataFrame,
) -> None:
    row = demo_rty_v4.filter(
        (pl.col("perspective") == "crash") & (pl.col("primary_trend") == "Bearish")
    ).row(-1, named=True)
    assert "RTY is in a bearish primary trend and in a crash: " in note_of(row)
