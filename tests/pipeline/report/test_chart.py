from __future__ import annotations

import dataclasses
import io
import itertools
import math
import struct
from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from pipeline.analysis.snapshot import Level, Snapshot, example_snapshot
from pipeline.market.calendar import trade_dates
from pipeline.report.chart import (
    REQUIRED_BAR_COLUMNS,
    render_chart,
    render_reliability_chart,
    spread_labels,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AS_OF = date(2026, 2, 4)


def synthetic_bars(end: date = date(2026, 2, 20), sessions: int = 300) -> pl.DataFrame:
    """A smooth, deterministic uptrend with waves around the example snapshot's levels."""
    days = [d for d in trade_dates(date(2024, 6, 1), end)][-sessions:]
    closes = [
        2300.0 + 1.0 * i + 60.0 * math.sin(i / 9.0) - (300 - sessions) for i in range(len(days))
    ]
    opens = [closes[0], *closes[:-1]]
    frame = pl.DataFrame(
        {
            "session_date": days,
            "open": opens,
            "high": [max(o, c) + 8.0 for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) - 8.0 for o, c in zip(opens, closes, strict=True)],
            "close": closes,
        }
    )
    return frame.with_columns(
        sma50=pl.col("close").rolling_mean(50),
        sma200=pl.col("close").rolling_mean(200),
    )


def png_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def png_chunk_types(png: bytes) -> list[bytes]:
    """The chunk types of a PNG, read straight from its bytes (length, type, data, crc)."""
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        chunks.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return chunks


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return synthetic_bars()


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return example_snapshot()


@pytest.fixture(scope="module")
def chart(bars: pl.DataFrame, snapshot: Snapshot) -> bytes:
    return render_chart(bars, snapshot)


def test_chart_is_a_1400_by_800_png_without_software_metadata(chart: bytes) -> None:
    assert chart.startswith(PNG_SIGNATURE)
    assert png_size(chart) == (1400, 800)
    chunks = png_chunk_types(chart)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(chunks)
    assert b"matplotlib" not in chart.lower()


def test_same_input_gives_identical_bytes(
    bars: pl.DataFrame, snapshot: Snapshot, chart: bytes
) -> None:
    assert render_chart(bars, snapshot) == chart


def test_rows_after_as_of_and_row_order_do_not_matter(
    bars: pl.DataFrame, snapshot: Snapshot, chart: bytes
) -> None:
    known = bars.filter(pl.col("session_date") <= AS_OF)
    assert known.height < bars.height
    assert render_chart(known.reverse(), snapshot) == chart


def test_a_changed_level_changes_the_chart(
    bars: pl.DataFrame, snapshot: Snapshot, chart: bytes
) -> None:
    moved = dataclasses.replace(
        snapshot,
        levels=(
            Level("line_in_the_sand", "support", 2480.0, 2500.0, 0.0, 0, ()),
            *snapshot.levels[1:],
        ),
    )
    assert render_chart(bars, moved) != chart


def test_demo_and_projected_levels_and_window_change_the_chart(
    bars: pl.DataFrame, snapshot: Snapshot, chart: bytes
) -> None:
    projected = dataclasses.replace(
        snapshot,
        levels=(*snapshot.levels[:2], dataclasses.replace(snapshot.levels[2], projected=True)),
    )
    renders = {
        chart,
        render_chart(bars, snapshot, demo=True),
        render_chart(bars, projected),
        render_chart(bars, snapshot, sessions=60),
    }
    assert len(renders) == 4


def test_warm_up_without_sma200_still_renders(snapshot: Snapshot) -> None:
    short = synthetic_bars(end=AS_OF, sessions=80)
    assert short["sma200"].null_count() == short.height
    assert png_size(render_chart(short, snapshot, sessions=120)) == (1400, 800)


def test_no_bar_on_or_before_as_of_is_a_clear_error(snapshot: Snapshot) -> None:
    late = synthetic_bars().filter(pl.col("session_date") > AS_OF)
    with pytest.raises(ValueError, match="no row on or before as_of 2026-02-04"):
        render_chart(late, snapshot)


@pytest.mark.parametrize("column", REQUIRED_BAR_COLUMNS)
def test_a_missing_column_is_named(bars: pl.DataFrame, snapshot: Snapshot, column: str) -> None:
    with pytest.raises(ValueError, match=f"miss required column\\(s\\) \\['{column}'\\]"):
        render_chart(bars.drop(column), snapshot)


def test_duplicated_sessions_and_bad_window_are_errors(
    bars: pl.DataFrame, snapshot: Snapshot
) -> None:
    with pytest.raises(ValueError, match="repeat session_date"):
        render_chart(pl.concat([bars, bars.filter(pl.col("session_date") == AS_OF)]), snapshot)
    with pytest.raises(ValueError, match="sessions must be >= 1"):
        render_chart(bars, snapshot, sessions=0)


# --- label placement ---------------------------------------------------------------------------


@given(
    st.lists(st.floats(min_value=0.0, max_value=100.0), min_size=1, max_size=8),
    st.floats(min_value=0.5, max_value=5.0),
)
def test_spread_labels_keeps_the_gap_order_and_bounds(positions: list[float], gap: float) -> None:
    placed = spread_labels(positions, gap=gap, low=0.0, high=100.0)
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    ys = [placed[i] for i in order]
    assert all(b - a >= gap - 1e-9 for a, b in itertools.pairwise(ys))
    assert ys[-1] <= 100.0 - gap / 2 + 1e-9
    if len(positions) * gap <= 100.0 - gap:
        assert ys[0] >= 0.0 - 1e-9
    # Labels that already were far enough apart stay exactly where they were.
    apart = all(b - a >= gap for a, b in itertools.pairwise(sorted(positions)))
    if apart and max(positions) <= 100.0 - gap / 2:
        assert placed == positions


# --- reliability diagram -----------------------------------------------------------------------


def reliability_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "scenario": ["bear", "bear", "sideways", "sideways", "bull", "bull"],
            "mean_forecast": [0.15, 0.3, 0.35, 0.45, 0.25, 0.5],
            "observed_frequency": [0.12, 0.33, 0.30, 0.50, 0.20, None],
            "count": [40, 120, 150, 90, 60, 0],
            "low": [0.05, 0.25, 0.23, 0.40, 0.12, None],
            "high": [0.25, 0.42, 0.38, 0.60, 0.31, None],
        }
    )


def test_reliability_chart_is_a_deterministic_800_square_png() -> None:
    png = render_reliability_chart(reliability_table(), title="RTY v1")
    assert png.startswith(PNG_SIGNATURE) and png_size(png) == (800, 800)
    assert png == render_reliability_chart(reliability_table(), title="RTY v1")
    assert png != render_reliability_chart(reliability_table(), title="RTY v2")
    empty = render_reliability_chart(reliability_table().clear(), title="nothing yet")
    assert png_size(empty) == (800, 800)


def test_reliability_chart_rejects_bad_tables() -> None:
    with pytest.raises(ValueError, match=r"misses column\(s\) \['high'\]"):
        render_reliability_chart(reliability_table().drop("high"), title="x")
    bad = reliability_table().with_columns(pl.lit("up").alias("scenario"))
    with pytest.raises(ValueError, match="unknown scenario"):
        render_reliability_chart(bad, title="x")
