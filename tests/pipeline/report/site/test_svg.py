"""The site's hand-written SVG charts: exact contents for small hand-made inputs."""

from __future__ import annotations

import re
from datetime import date

import numpy as np

from pipeline.analysis.snapshot import example_snapshot
from pipeline.report.site import svg
from pipeline.report.site.series import ChartWindow

DAYS = [date(2026, 2, 2), date(2026, 2, 3), date(2026, 2, 4)]


def window() -> ChartWindow:
    nan = float("nan")
    return ChartWindow(
        days=DAYS,
        open=np.array([2550.0, 2580.0, 2600.0]),
        high=np.array([2590.05, 2595.0, 2610.0]),
        low=np.array([2540.0, 2570.0, 2590.0]),
        close=np.array([2580.0, 2575.0, 2600.0]),  # up, down, flat (drawn as up)
        sma50=np.array([nan, 2560.04, 2562.0]),
        sma200=np.array([nan, nan, nan]),
    )


def test_nice_ticks() -> None:
    assert svg.nice_ticks(0.0, 1.0, 5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(2412.0, 2688.0) == [2450.0, 2500.0, 2550.0, 2600.0, 2650.0]
    assert svg.nice_ticks(5.0, 5.0) == [5.0]


def test_call_chart_carries_each_session_on_the_tick_grid() -> None:
    snapshot = example_snapshot()  # RTY: tick 0.1
    text = svg.call_chart(snapshot, window(), demo=False, known_at="2026-02-05 00:00Z")
    bars = re.search(r'data-bars="([^"]*)"', text)
    assert bars is not None
    assert bars.group(1) == (
        "2026-02-02 2550.0 2590.1 2540.0 2580.0  ;"
        "2026-02-03 2580.0 2595.0 2570.0 2575.0 2560.0 ;"
        "2026-02-04 2600.0 2610.0 2590.0 2600.0 2562.0 "
    )
    wicks = re.search(r'<path class="wick" d="([^"]*)"', text).group(1)
    up = re.search(r'<path class="body up" d="([^"]*)"', text).group(1)
    down = re.search(r'<path class="body down" d="([^"]*)"', text).group(1)
    assert (wicks.count("M"), up.count("M"), down.count("M")) == (3, 2, 1)
    # The SMA50 starts where it has a value; the SMA200 (all warm-up) is not drawn.
    assert re.search(r'<path class="sma50" d="M[^M]*"', text) and 'class="sma200"' not in text
    # Every named level is a band with its zone and role in a tooltip.
    titles = re.findall(r'<rect class="band[^"]*"[^>]*><title>([^<]*)</title>', text)
    assert titles[0].startswith("Line in the sand 2,500.0–2,520.0: support")
    assert len(titles) == len(snapshot.levels)
    assert "Bull trigger: acceptance above 2,700.0" in text
    assert "Bear trigger: acceptance below 2,500.0" in text
    assert "Settlement 2026-02-04: 2,600.0" in text
    assert "bars as known at 2026-02-05 00:00Z" in text
    assert "DEMO DATA" not in text
    assert "DEMO DATA" in svg.call_chart(snapshot, window(), demo=True)


def test_call_chart_without_bars_draws_the_levels_only() -> None:
    text = svg.call_chart(example_snapshot(), None, demo=True)
    assert "data-bars" not in text and 'class="wick"' not in text
    assert text.count('<rect class="band') == 4 and "DEMO DATA" in text


def test_the_same_call_draws_the_same_text() -> None:
    assert svg.call_chart(example_snapshot(), window(), demo=True) == svg.call_chart(
        example_snapshot(), window(), demo=True
    )


def test_timeline_breaks_the_line_in_the_sand_where_the_orientation_flips() -> None:
    days = [date(2026, 2, d) for d in (2, 3, 4, 5, 6)]
    calls = [
        {"as_of": d, "primary_trend": t, "perspective": "range", "orientation": o,
         "line_mid": lm, "bias_mid": None, "href": f"{d}.html", "title": str(d)}
        for d, t, o, lm in zip(
            days,
            ["Bullish", "Bullish", "Bearish", "Bearish", "Bullish"],
            ["up", "up", "down", "down", "up"],
            [100.0, 101.0, 120.0, 119.0, 102.0],
            strict=True,
        )
    ]  # fmt: skip
    text = svg.timeline(days, [110.0] * 5, calls, tick=0.1, demo=False, call_links=True)
    line = re.search(r'<path class="tl-line" d="([^"]*)"', text).group(1)
    assert line.count("M") == 3 and line.count("L") == 2  # up,up | down,down | up
    trend_runs = re.findall(r'<rect class="run (t-[a-z]+)"', text)
    assert trend_runs == ["t-bull", "t-bear", "t-bull"]
    assert text.count("<a href=") == 5  # every call linked
    assert 'class="axis" x=' in text and ">Feb<" in text  # a short span is labelled by month


def test_reliability_diagram_draws_each_bin_with_its_interval() -> None:
    rows = [
        {"scenario": "bull", "bucket_low": 0.3, "bucket_high": 0.4, "count": 10,
         "mean_forecast": 0.35, "observed_frequency": 0.3, "frequency_low": 0.1,
         "frequency_high": 0.6},
        {"scenario": "bear", "bucket_low": 0.1, "bucket_high": 0.2, "count": 40,
         "mean_forecast": 0.15, "observed_frequency": 0.2, "frequency_low": 0.1,
         "frequency_high": 0.35},
    ]  # fmt: skip
    text = svg.reliability_diagram(rows, title="Reliability: RTY", demo=True)
    assert text.count("<circle") == 2 and text.count('class="interval"') == 2
    assert "observed 0.300 [0.100, 0.600], 10 calls" in text
    assert "DEMO DATA" in text


def test_every_perspective_of_every_methodology_has_a_band_colour() -> None:
    from pathlib import Path

    from pipeline.analysis.snapshot import PERSPECTIVES
    from pipeline.analysis.v2.regime import PERSPECTIVES as V2_PERSPECTIVES

    assert set(PERSPECTIVES) | set(V2_PERSPECTIVES) == set(svg.PERSPECTIVE_CLASSES)
    css = (Path(svg.__file__).parent / "assets" / "site.css").read_text()
    legend = (Path(svg.__file__).parent / "templates" / "root.html.j2").read_text()
    for name in set(svg.PERSPECTIVE_CLASSES.values()):
        assert f".run.{name}," in css and f'class="k {name}"' in legend, name


def test_a_twenty_year_timeline_draws_one_column_per_month_with_its_calls_mix() -> None:
    from collections import Counter
    from datetime import timedelta

    rng = np.random.default_rng(7)
    days = [date(2005, 1, 3) + timedelta(days=k) for k in range(20 * 365)]
    days = [d for d in days if d.weekday() < 5]
    trends = rng.choice(["Bullish", "Neutral", "Bearish"], size=len(days), p=[0.5, 0.2, 0.3])
    calls = [
        {"as_of": d, "primary_trend": str(t), "perspective": "range", "line_mid": 100.0,
         "bias_mid": 101.0, "orientation": "up", "href": "x", "title": "t"}
        for d, t in zip(days, trends, strict=True)
    ]  # fmt: skip
    text = svg.timeline(days, [100.0] * len(days), calls, tick=0.25, demo=True)
    columns = re.findall(r"<g><title>([^<]*)</title>(.*?)</g>", text)
    months = Counter((d.year, d.month) for d in days)
    assert len(columns) == len(months)  # 240 columns, not 5,200 one-session slivers
    for (title, rects), ((year, month), n) in zip(columns, sorted(months.items()), strict=True):
        assert title.startswith(f"{year}-{month:02d}-") and f": {n} calls;" in title
        pieces = [(float(y), float(h)) for y, h in
                  re.findall(r'y="([^"]*)" width="[^"]*" height="([^"]*)"', rects)]  # fmt: skip
        band = [h for y, h in pieces if svg.TL_TREND_TOP <= y < svg.TL_PERSPECTIVE_TOP]
        # The trend band's pieces fill it (coordinates are rounded to 0.1).
        assert abs(sum(band) - svg.TL_BAND_HEIGHT) <= 0.05 * len(band) + 1e-9
        mix = Counter(str(t) for d, t in zip(days, trends, strict=True) if (d.year, d.month)
                      == (year, month))  # fmt: skip
        for trend, count in mix.items():
            assert f"{trend} {count}" in title
    # A year is still drawn session by session.
    year = [c for c in calls if c["as_of"].year == 2010]
    one = svg.timeline([c["as_of"] for c in year], [1.0] * len(year), year, tick=0.25,
                       demo=False, call_links=True)  # fmt: skip
    assert "<g><title>" not in one and one.count('class="hit"') == len(year)
