"""The line in the sand's keeping and picking rules (pipeline/analysis/v2/levels.py), driven
session by session with hand-placed anchors (ATR 1 point, so prices read as ATR)."""

from __future__ import annotations

import pytest

from pipeline.analysis.v2.levels import LevelTracker, SessionInput
from pipeline.analysis.v2.params import V2Params
from pipeline.analysis.v2.zones import RECENT_HIGH, SMA50, SWING_HIGH, SWING_LOW, Anchor


def session(close: float, prev_close: float) -> SessionInput:
    return SessionInput(
        close=close,
        prev_close=prev_close,
        atr=1.0,
        prev_atr=1.0,
        trend="Bullish",
        sma50_side=1,
        recent_high=101.5,
        recent_low=97.0,
        recent_high_at=0,
        recent_low_at=0,
        new_structure=False,
    )


RESISTANCE = [Anchor(101.5, SWING_HIGH, 2.0, 0), Anchor(101.5, RECENT_HIGH, 1.0, 0)]


def test_a_line_the_close_came_into_is_cut_back_to_a_quarter_atr_under_the_close() -> None:
    lows = [Anchor(price, SWING_LOW, 2.0, 0) for price in (98.0, 98.3, 98.55)]
    anchors = [*lows, *RESISTANCE]
    tracker = LevelTracker(V2Params())
    first = tracker.step(0, session(100.0, 99.8), lambda up: anchors)["line"]
    assert (first.zone.low, first.zone.high, first.change) == (98.0, 98.55, "new")
    # The close comes within 0.1 ATR of the line (98.6 - 98.55 = 0.05): cut to 98.6 - 0.25,
    # in the 0.25-4 ATR band (cut to 0.1 ATR under the close, 98.5, it was not).
    second = tracker.step(1, session(98.6, 100.0), lambda up: anchors)["line"]
    assert second.change == "trimmed" and second.since == 0
    assert (second.zone.low, second.zone.high) == (98.0, pytest.approx(98.35))
    assert [a.price for a in second.zone.members] == [98.0, 98.3]


def test_the_line_is_picked_on_structure_before_a_lone_moving_average() -> None:
    # The 50-day alone 1.6 ATR under the close would win on distance (score 1.5, 0.1 ATR off
    # the preferred 1.75); the swing low 2.9 ATR under it is structure and is the line.
    average = Anchor(98.25, SMA50, 1.5)
    swing = Anchor(97.0, SWING_LOW, 2.0, 0)
    line = LevelTracker(V2Params()).step(
        0, session(100.0, 99.8), lambda up: [average, swing, *RESISTANCE]
    )["line"]
    assert [a.source for a in line.zone.members] == [SWING_LOW]
    assert (line.zone.low, line.zone.high) == (96.875, 97.125)
    # With no structure in the band the average is still a line.
    alone = LevelTracker(V2Params()).step(
        0, session(100.0, 99.8), lambda up: [average, *RESISTANCE]
    )["line"]
    assert [a.source for a in alone.zone.members] == [SMA50]
