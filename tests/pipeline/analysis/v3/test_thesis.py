"""v3's thesis decision, case by case against the table of issue 18 point 1."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.analysis.v3.thesis import label_conflict, thesis_codes

CASES = [
    # trend, bear, sideways, bull -> likeliest, thesis
    ("Bearish", 0.50, 0.30, 0.20, "bear", "continuation"),
    ("Bearish", 0.20, 0.50, 0.30, "sideways", "pause"),
    ("Bearish", 0.20, 0.19, 0.61, "bull", "reversal"),  # ES 2002-09-26's shape
    ("Bullish", 0.22, 0.58, 0.20, "sideways", "pause"),
    ("Bullish", 0.40, 0.35, 0.25, "bear", "reversal"),
    ("Bullish", 0.10, 0.30, 0.60, "bull", "continuation"),
    ("Neutral", 0.20, 0.50, 0.30, "sideways", "range"),
    ("Neutral", 0.45, 0.25, 0.30, "bear", "break_down"),
    ("Neutral", 0.25, 0.30, 0.45, "bull", "break_up"),
    ("Bullish", 0.25, 0.375, 0.375, "tie", "tie"),  # an exact tie is never "most likely"
    ("Bearish", 0.40, 0.41, 0.19, "tie", "tie"),  # 1 point apart: a near tie
    ("Bearish", 0.40, 0.43, 0.17, "sideways", "pause"),  # 3 points: decided
]


@pytest.mark.parametrize(("trend", "bear", "sideways", "bull", "likeliest", "thesis"), CASES)
def test_the_thesis_follows_the_probabilities(
    trend: str, bear: float, sideways: float, bull: float, likeliest: str, thesis: str
) -> None:
    frame = pl.DataFrame(
        {"primary_trend": [trend], "p_bear": [bear], "p_sideways": [sideways], "p_bull": [bull]}
    )
    assert frame.select(thesis_codes(tie_points=0.02)).row(0) == (likeliest, thesis)


def test_a_label_beside_the_averages_that_define_its_opposite_is_a_conflict() -> None:
    frame = pl.DataFrame(
        {
            "primary_trend": ["Bearish", "Bearish", "Bullish", "Bullish", "Neutral"],
            "close": [110.0, 100.0, 90.0, 100.0, 120.0],
            "sma50": [105.0, 105.0, 95.0, 95.0, 100.0],
            "sma200": [100.0, 98.0, 99.0, 99.0, 100.0],
        }
    )
    assert frame.select(label_conflict())["label_conflict"].to_list() == [
        "above_both_averages", None, "below_both_averages", None, None,
    ]  # fmt: skip
