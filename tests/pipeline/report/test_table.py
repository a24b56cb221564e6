"""Result frames for a terminal: rounding by meaning, layouts that fit 80 and 100 columns."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from pipeline.report import table
from pipeline.report.format import format_price, prices_on_grid


def printed(renderable, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue().splitlines()


def wide_calls(n: int = 3) -> pl.DataFrame:
    """A row as wide as the documented analyst queries (26+ columns)."""
    row = {
        "root": "RTY", "as_of": date(2026, 2, 4), "author": "callbook", "kind": "backfill",
        "methodology_version": "v1", "version": 1, "primary_trend": "Bullish",
        "contract": "RTYH26", "close": 2612.3456, "line_low": 2500.04, "line_high": 2520.06,
        "atr14": 41.27, "line_break_step": 8, "outcome": "bear",
        "resolved_session": date(2026, 2, 12), "steps": 6, "close_at_horizon": 2555.55,
        "mae_atr": 4.8049, "mfe_atr": 2.1512, "risk_triggered": True, "trend_correct": False,
        "p_bear": 0.06544145077720197, "p_sideways": 0.3345585492227979,
        "p_bull": 0.6, "rps": 0.27777777777777773, "brier": 0.6666, "log_score": 1.0986,
    }  # fmt: skip
    return pl.DataFrame([row] * n)


def test_numbers_are_rounded_to_their_meaning() -> None:
    frame = pl.DataFrame(
        {
            "root": ["RTY", "ES", "YM"],
            "close": [2612.3456, 6812.3, 44010.4],
            "p_bull": [0.06544145077720197, 0.5, 1.0],
            "mean_rps": [0.1631234, 0.2, 0.0],
            "mfe_atr": [2.15123, 0.0, 10.0],
            "rsi14": [61.234, 50.0, 70.05],
            "n_analogs": [1234, 5, 0],
            "created_at": [datetime(2026, 2, 5, 18, 15, 3, 999999, tzinfo=UTC)] * 3,
            "anything": [0.06544145077720197, 1234.5678, 3.14159],
        }
    )
    rows = table.display_rows(frame)
    assert rows[0] == [
        "RTY", "2,612.3", "0.065", "0.1631", "2.15", "61.2", "1,234", "2026-02-05 18:15:03Z",
        "0.0654",
    ]  # fmt: skip
    # ES ticks are 0.25, YM ticks 1 point: each row rounds to its own root's tick.
    assert rows[1][1] == "6,812.25" and rows[2][1] == "44,010"
    assert rows[1][8] == "1,234.57" and rows[2][8] == "3.142"


def test_wide_rows_switch_to_records_and_narrow_ones_stay_a_table() -> None:
    wide = wide_calls()
    assert table.choose_layout(wide, width=250) == "vertical"  # 27 columns never fit
    narrow = wide.select("root", "as_of", "p_bull", "rps")
    assert table.choose_layout(narrow, width=80) == "table"
    lines = printed(table.render_vertical(wide), width=80)
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith("p_bear") and line.split()[-1] == "0.065" for line in lines)
    assert sum(line.startswith("record ") for line in lines) == 3


@pytest.mark.parametrize("width", [80, 100])
def test_the_layout_chosen_for_a_width_fits_it(width: int) -> None:
    # 9 columns need 88 characters as a table: a table at 100, records at 80.
    frame = wide_calls().select(
        "root", "as_of", "kind", "primary_trend", "close", "p_bear", "p_sideways", "p_bull", "rps"
    )
    layout = table.choose_layout(frame, width=width)
    assert layout == ("table" if width == 100 else "vertical")
    render = table.render_table if layout == "table" else table.render_vertical
    lines = printed(render(frame), width=width)
    assert all(len(line) <= width for line in lines)
    if layout == "table":
        header = next(line for line in lines if "p_bull" in line)
        assert header.split() == list(frame.columns)
        assert lines[-1].split() == [
            "RTY", "2026-02-04", "backfill", "Bullish", "2,612.3", "0.065", "0.335", "0.600",
            "0.2778",
        ]  # fmt: skip
    narrower = frame.drop("primary_trend")
    assert table.choose_layout(narrower, width=80) == "table"
    assert all(len(line) <= 80 for line in printed(table.render_table(narrower), width=80))


def test_markdown_csv_and_json() -> None:
    frame = pl.DataFrame({"root": ["RTY"], "note": ["a|b"], "p_bull": [0.41234]})
    assert table.render_markdown(frame) == (
        "| root | note | p_bull |\n|---|---|---:|\n| RTY | a\\|b | 0.412 |\n"
    )
    # Machine formats keep the stored value.
    assert table.render_csv(frame).splitlines()[1] == "RTY,a|b,0.41234"
    assert json.loads(table.render_json(frame)) == [
        {"root": "RTY", "note": "a|b", "p_bull": 0.41234}
    ]


def test_calls_list_view_shows_percents_summing_to_100_and_open_calls_unscored() -> None:
    calls = pl.DataFrame(
        [
            {"as_of": date(2026, 2, 4), "root": "RTY", "author": "seed-note",
             "methodology_version": "analyst", "kind": "analyst", "source": "analyst",
             "version": 1, "primary_trend": "Bullish", "p_bull": 0.3333, "p_sideways": 0.3333,
             "p_bear": 0.3334, "horizon_end": date(2026, 3, 4), "outcome": "bull",
             "resolved_session": date(2026, 2, 20), "rps": 0.1234},
            {"as_of": date(2026, 11, 20), "root": "RTY", "author": "callbook",
             "methodology_version": "v1", "kind": "live", "source": "demo", "version": 2,
             "primary_trend": "Bearish", "p_bull": 0.2, "p_sideways": 0.3, "p_bear": 0.5,
             "horizon_end": date(2026, 12, 18), "outcome": None, "resolved_session": None,
             "rps": None},
        ]
    )  # fmt: skip
    view = table.calls_list_view(calls, with_root=False)
    assert view.columns == ["as_of", "by", "kind", "trend", "bull/side/bear", "outcome", "rps"]
    assert view.row(0)[1:6] == ("seed-note", "analyst", "Bullish", "33/33/34", "bull 2026-02-20")
    assert view.row(1)[1:] == (
        "callbook v1", "live", "Bearish", "20/30/50", "open to 2026-12-18", None,
    )  # fmt: skip


@settings(deadline=None)
@given(
    st.floats(min_value=-1e5, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 0.25, 1.0, 0.01, 0.05]),
)
def test_prices_on_grid_equals_format_price(value: float, tick: float) -> None:
    # The fast array path must agree with the decimal one (including values a hair off a half
    # tick, where binary arithmetic alone would round the other way).
    for v in (value, round(value / tick) * tick + tick / 2):
        assert prices_on_grid([v], tick=tick) == [format_price(v, tick=tick).replace(",", "")]


def test_cells_are_data_not_markup() -> None:
    frame = pl.DataFrame({"group": ["RTY callbook [in tuning period]"], "note": ["[bold]x"]})
    for render in (table.render_table, table.render_vertical):
        text = "\n".join(printed(render(frame), width=100))
        assert "[in tuning period]" in text and "[bold]x" in text
