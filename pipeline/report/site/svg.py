"""Charts of the static site as inline SVG text: a call's daily chart, a root's timeline of calls,
reliability diagrams and small sparklines.

Written by hand (string building, no plotting library) because the site draws one chart per call
— tens of thousands — and each costs well under a millisecond this way (matplotlib takes ~0.3 s
per figure). Every chart renders without JavaScript; the values a reader hovers for are in SVG
``<title>`` elements (the browser's own tooltip), which the site's small script turns into
instant tooltips. Colours come from CSS classes (``assets/site.css``), so the SVG stays small.

Prices are formatted on the root's tick grid (pipeline.report.format); the same call drawn twice
gives the same text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape
from itertools import pairwise
from typing import Any

import numpy as np

from pipeline.analysis.snapshot import SCENARIO_TITLES, SCENARIOS, Snapshot
from pipeline.report.chart import LEVEL_LABELS, _month_ticks, spread_labels
from pipeline.report.format import (
    format_price,
    format_zone,
    prices_on_grid,
    root_spec,
)
from pipeline.report.site.series import ChartWindow
from pipeline.text import MONTH_ABBREVIATIONS

# Call chart geometry (SVG user units ~ CSS px at 960 wide).
CHART_WIDTH, CHART_HEIGHT = 960, 430
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 58.0, 740.0, 12.0, 396.0
LABEL_X = 952.0  # right edge of the level labels
LABEL_CHAR_WIDTH = 6.3  # average width of a label character at 11 px
LABEL_HEIGHT = 15.0
CANDLE_BODY_FRACTION = 0.64  # of the session's width
Y_PAD_FRACTION = 0.04
PRICE_TICKS = 6

# Timeline geometry.
TIMELINE_WIDTH, TIMELINE_HEIGHT = 960, 300
TL_LEFT, TL_RIGHT, TL_TOP, TL_PRICE_BOTTOM = 58.0, 950.0, 10.0, 228.0
TL_TREND_TOP, TL_BAND_HEIGHT, TL_PERSPECTIVE_TOP = 236.0, 12.0, 252.0
TL_AXIS_Y = 284.0
#: A long timeline keeps at most this many price points (the last close of each x slot).
TL_MAX_POINTS = 900
#: Timelines spanning at most this many days are labelled by month instead of by year.
MONTH_TICK_SPAN_DAYS = 400
#: Longer timelines draw one column per ISO week instead of one per session, and beyond
#: MONTHLY_SPAN_DAYS one per month: a column stays at least ~3 px wide on the 892 px plot
#: (20 years of sessions would be 0.17 px columns: a barcode).
WEEKLY_SPAN_DAYS = 800
MONTHLY_SPAN_DAYS = 2200
#: The trend band of an aggregated column stacks its calls' trends in this order, top down.
TREND_ORDER: tuple[str, ...] = ("Bullish", "Neutral", "Bearish")

# Reliability diagram geometry.
REL_SIZE, REL_MARGIN = 340, 44
REL_MARKER_MIN, REL_MARKER_MAX = 3.0, 11.0  # radius, grows with the bin's count

PERSPECTIVE_CLASSES: dict[str, str] = {
    "trending higher": "p-up",
    "consolidation near highs": "p-hi",
    "pullback within uptrend": "p-pb",
    "range": "p-rg",
    "consolidation near lows": "p-lo",
    "trending lower": "p-dn",
    "rebound within downtrend": "p-rb",
    # v2's regimes (pipeline/analysis/v2/regime.py PERSPECTIVES) beyond v1's seven.
    "breakout to new highs": "p-bo",
    "breakdown to new lows": "p-bd",
    "selloff": "p-so",
    "crash": "p-cr",
    "rebound after selloff": "p-rs",
    "rebound after crash": "p-rc",
}
TREND_CLASSES: dict[str, str] = {"Bullish": "t-bull", "Bearish": "t-bear", "Neutral": "t-neutral"}


def _n(value: float) -> str:
    """A coordinate with one decimal (0.1 px is below what a screen shows)."""
    return f"{value:.1f}"


def _watermark(x: float, y: float, *, rotate: int | None = None, small: bool = False) -> str:
    """The DEMO DATA watermark centred on (x, y), turned ``rotate`` degrees about it.

    >>> _watermark(10, 20.04, rotate=-16)
    '<text class="watermark" x="10.0" y="20.0" transform="rotate(-16 10.0 20.0)">DEMO DATA</text>'
    """
    cx, cy = _n(x), _n(y)
    turn = "" if rotate is None else f' transform="rotate({rotate} {cx} {cy})"'
    css = "watermark small" if small else "watermark"
    return f'<text class="{css}" x="{cx}" y="{cy}"{turn}>DEMO DATA</text>'


class _YScale:
    def __init__(self, low: float, high: float, top: float, bottom: float) -> None:
        pad = (high - low) * Y_PAD_FRACTION or 1.0
        self.low, self.high = low - pad, high + pad
        self.top, self.bottom = top, bottom
        self.k = (bottom - top) / (self.high - self.low)

    def __call__(self, price: float) -> float:
        return self.bottom - (price - self.low) * self.k

    def array(self, prices: np.ndarray) -> np.ndarray:
        return self.bottom - (prices - self.low) * self.k


def nice_ticks(low: float, high: float, count: int = PRICE_TICKS) -> list[float]:
    """About ``count`` round values spanning [low, high] (steps of 1, 2 or 5 times a power of 10).

    >>> nice_ticks(2412.0, 2688.0)
    [2450.0, 2500.0, 2550.0, 2600.0, 2650.0]
    """
    span = high - low
    if not span > 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [float(round(first + i * step, 10)) for i in range(int((high - first) / step) + 1)]


def call_chart(
    snapshot: Snapshot, window: ChartWindow | None, *, demo: bool, known_at: str = ""
) -> str:
    """The call's daily chart: candles, SMA50/SMA200, its levels as bands, the scenario barriers
    and the as-of settlement, in the as-of front contract's points. ``window`` None (no bars for
    the as-of session, e.g. an analyst call on a session the series lacks) draws the levels only.
    ``known_at`` (text) names when the bars were known, for the chart's description.

    Levels, barriers and the close carry ``<title>`` tooltips; each session's values (date,
    open, high, low, close, SMAs on the tick grid) are in the ``data-bars`` attribute, which the
    site's script shows on hover (one attribute instead of 120 tooltip elements keeps a call
    page near 25 kB).
    """
    spec = root_spec(snapshot.root)
    tick = spec.tick

    def price(v: float) -> str:
        return format_price(float(v), tick=tick, notation=spec.notation)

    candidates = [snapshot.upper_barrier, snapshot.lower_barrier, snapshot.raw_close]
    for level in snapshot.levels:
        candidates += [level.low, level.high]
    n = 0
    if window is not None:
        n = len(window.days)
        for values in (window.low, window.high, window.sma50, window.sma200):
            finite = values[np.isfinite(values)]
            if finite.size:
                candidates += [float(finite.min()), float(finite.max())]
    finite_candidates = [c for c in candidates if c is not None and math.isfinite(c)]
    y = _YScale(min(finite_candidates), max(finite_candidates), PLOT_TOP, PLOT_BOTTOM)
    step = (PLOT_RIGHT - PLOT_LEFT) / max(n, 1)

    def x(i: float) -> float:
        return PLOT_LEFT + (i + 0.5) * step

    data = ""
    if window is not None and n:
        data = (
            f' data-x0="{_n(x(0))}" data-step="{step:.4f}" data-top="{_n(PLOT_TOP)}" '
            f'data-bottom="{_n(PLOT_BOTTOM)}" data-bars="{_bars_data(window, tick)}"'
        )
    out: list[str] = [
        f'<svg class="chart call-chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        f'aria-label="{escape(_chart_label(snapshot, n, known_at))}"{data} '
        'xmlns="http://www.w3.org/2000/svg">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" class="hatch"/>'
        "</pattern></defs>",
    ]
    if demo:
        out.append(
            _watermark((PLOT_LEFT + PLOT_RIGHT) / 2, (PLOT_TOP + PLOT_BOTTOM) / 2, rotate=-16)
        )
    # Grid and price axis.
    for value in nice_ticks(y.low, y.high):
        yy = _n(y(value))
        out.append(
            f'<line class="grid" x1="{_n(PLOT_LEFT)}" x2="{_n(PLOT_RIGHT)}" y1="{yy}" y2="{yy}"/>'
            f'<text class="axis" x="{_n(PLOT_LEFT - 6)}" y="{yy}" text-anchor="end" '
            f'dominant-baseline="middle">{_axis_price(value, tick, spec.notation)}</text>'
        )
    # Levels as bands.
    labels: list[tuple[float, str, str]] = []
    for level in snapshot.levels:
        role = "sup" if level.role == "support" else "res"
        top, bottom = y(level.high), y(level.low)
        css = f"band {role}" + (" line" if level.kind == "line_in_the_sand" else "")
        if level.projected:
            css += " projected"
        name = LEVEL_LABELS.get(level.kind, level.kind)
        zone = format_zone(level.low, level.high, tick=tick, notation=spec.notation)
        detail = f"{name} {zone}: {level.role}"
        if level.projected:
            detail += ", projected (no tested zone beyond)"
        elif level.touches or level.sources:
            detail += f", {level.touches} touches ({', '.join(level.sources) or 'no sources'})"
        out.append(
            f'<rect class="{css}" x="{_n(PLOT_LEFT)}" y="{_n(top)}" '
            f'width="{_n(PLOT_RIGHT - PLOT_LEFT)}" height="{_n(max(bottom - top, 1.5))}">'
            f"<title>{escape(detail)}</title></rect>"
        )
        label = f"{name} {zone}" + (" (proj.)" if level.projected else "")
        labels.append((y(level.mid), label, role))
    # Scenario barriers.
    for value, css, text in (
        (snapshot.upper_barrier, "barrier bull", "Bull trigger: acceptance above"),
        (snapshot.lower_barrier, "barrier bear", "Bear trigger: acceptance below"),
    ):
        if value is None or not math.isfinite(value):
            continue
        yy = _n(y(value))
        out.append(
            f'<line class="{css}" x1="{_n(PLOT_LEFT)}" x2="{_n(PLOT_RIGHT)}" y1="{yy}" y2="{yy}">'
            f"<title>{text} {price(value)}</title></line>"
        )
    if window is not None and n:
        xs = PLOT_LEFT + (np.arange(n) + 0.5) * step
        out += _candles(window, xs, y, step)
        for values, css in ((window.sma50, "sma50"), (window.sma200, "sma200")):
            path = _polyline(xs, y.array(values))
            if path:
                out.append(f'<path class="{css}" d="{path}"/>')
        positions, names = _month_ticks(window.days)
        for i, name in zip(positions, names, strict=True):
            out.append(
                f'<text class="axis" x="{_n(x(i))}" y="{_n(PLOT_BOTTOM + 18)}" '
                f'text-anchor="middle">{name}</text>'
            )
    # The as-of settlement.
    close = snapshot.raw_close
    if close is not None and math.isfinite(close):
        cx, cy = _n(x(n - 1) if n else PLOT_RIGHT - 4), _n(y(close))
        out.append(
            f'<line class="close-line" x1="{cx}" x2="{_n(PLOT_RIGHT)}" y1="{cy}" y2="{cy}"/>'
            f'<circle class="close-dot" cx="{cx}" cy="{cy}" r="4">'
            f"<title>Settlement {snapshot.as_of.isoformat()}: {price(close)}</title></circle>"
        )
        labels.append((y(close), f"Close {price(close)}", "close"))
    out += _right_labels(labels)
    out.append(
        f'<rect class="frame" x="{_n(PLOT_LEFT)}" y="{_n(PLOT_TOP)}" '
        f'width="{_n(PLOT_RIGHT - PLOT_LEFT)}" height="{_n(PLOT_BOTTOM - PLOT_TOP)}"/>'
    )
    out.append("</svg>")
    return "".join(out)


def _chart_label(snapshot: Snapshot, sessions: int, known_at: str) -> str:
    text = (
        f"{snapshot.root} daily chart to {snapshot.as_of.isoformat()}: {sessions} sessions, "
        f"{snapshot.primary_trend}, {snapshot.perspective}"
    )
    return text + (f"; bars as known at {known_at}" if known_at else "")


def _axis_price(value: float, tick: float, notation: str = "decimal") -> str:
    if notation != "decimal":
        return format_price(value, tick=tick, notation=notation)
    return f"{value:,.0f}" if tick >= 0.1 and value >= 100 else format_price(value, tick=tick)


#: ``_bars_data``'s text of a session by (tick, day, o, h, l, c, sma50, sma200): consecutive
#: calls' charts share all but one of their sessions (their values, in the as-of front
#: contract's points, change only at a roll). Emptied when full.
_BAR_TEXTS: dict[tuple[Any, ...], str] = {}
_BAR_TEXTS_MAX = 1 << 15  # ~8 MB


def _bars_data(window: ChartWindow, tick: float) -> str:
    """``date o h l c sma50 sma200`` per session, ``;``-separated, prices on the tick grid."""
    arrays = (window.open, window.high, window.low, window.close, window.sma50, window.sma200)
    keys = [
        (tick, *row)
        for row in zip(window.days, *(values.tolist() for values in arrays), strict=True)
    ]
    rows = [_BAR_TEXTS.get(key) for key in keys]
    new = [i for i, row in enumerate(rows) if row is None]
    if new:
        columns = [prices_on_grid(values[new], tick=tick) for values in arrays]
        for j, i in enumerate(new):
            rows[i] = " ".join([window.days[i].isoformat(), *(c[j] or "" for c in columns)])
        if len(_BAR_TEXTS) + len(new) > _BAR_TEXTS_MAX:
            _BAR_TEXTS.clear()
        _BAR_TEXTS.update({keys[i]: rows[i] for i in new})
    return ";".join(rows)  # type: ignore[arg-type]  # every row is text now


def _candles(window: ChartWindow, xs: np.ndarray, y: _YScale, step: float) -> list[str]:
    half = step * CANDLE_BODY_FRACTION / 2
    o, h, lo, c = window.open, window.high, window.low, window.close
    ok = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
    top = y.array(np.maximum(o, c))
    height = np.maximum(y.array(np.minimum(o, c)) - top, 0.8)
    rising = c >= o
    wicks = "".join(
        f"M{a:.1f} {b:.1f}V{d:.1f}"
        for a, b, d in zip(
            xs[ok].tolist(), y.array(h[ok]).tolist(), y.array(lo[ok]).tolist(), strict=True
        )
    )
    bodies = []
    for mask in (ok & rising, ok & ~rising):
        bodies.append(
            "".join(
                f"M{a:.1f} {b:.1f}h{2 * half:.1f}v{d:.1f}h{-2 * half:.1f}z"
                for a, b, d in zip(
                    (xs[mask] - half).tolist(),
                    top[mask].tolist(),
                    height[mask].tolist(),
                    strict=True,
                )
            )
        )
    return [
        f'<path class="wick" d="{wicks}"/>',
        f'<path class="body up" d="{bodies[0]}"/>',
        f'<path class="body down" d="{bodies[1]}"/>',
    ]


def _polyline(xs: np.ndarray, ys: np.ndarray) -> str:
    parts, pen = [], "M"
    for a, b in zip(xs.tolist(), ys.tolist(), strict=True):
        if not math.isfinite(b):
            pen = "M"
            continue
        parts.append(f"{pen}{a:.1f} {b:.1f}")
        pen = "L"
    return "".join(parts)


def _right_labels(labels: list[tuple[float, str, str]]) -> list[str]:
    if not labels:
        return []
    ys = spread_labels(
        [y for y, _, _ in labels],
        gap=LABEL_HEIGHT + 2,
        low=PLOT_TOP + LABEL_HEIGHT / 2,
        high=PLOT_BOTTOM - LABEL_HEIGHT / 2,
    )
    out = []
    for (_, text, css), yy in zip(labels, ys, strict=True):
        width = len(text) * LABEL_CHAR_WIDTH + 10
        out.append(
            f'<g class="label {css}"><rect x="{_n(LABEL_X - width)}" '
            f'y="{_n(yy - LABEL_HEIGHT / 2)}" width="{_n(width)}" height="{_n(LABEL_HEIGHT)}" '
            f'rx="3"/><text x="{_n(LABEL_X - 5)}" y="{_n(yy)}" text-anchor="end" '
            f'dominant-baseline="central">{escape(text)}</text></g>'
        )
    return out


def timeline(
    prices_days: Sequence[date],
    prices: Sequence[float | None],
    calls: Sequence[dict],
    *,
    tick: float,
    demo: bool,
    links: dict[int, str] | None = None,
    call_links: bool = False,
    label: str = "",
) -> str:
    """A root's history of calls: price (re-anchored on the current front contract), each call's
    line in the sand and bias-defining level over it, and two bands below: the primary trend
    and the perspective. ``calls``: dicts with as_of, primary_trend, perspective, line_mid,
    bias_mid, href, title (sorted by as_of). ``links``: year -> href for the year labels.
    ``call_links``: make each call's column a link to its page (for a year, not a decade).
    Beyond WEEKLY_SPAN_DAYS (and without ``call_links``) a column is a week or a month of calls
    (:func:`timeline_unit`): its trend band stacks the trends of its calls, its perspective band
    shows the most frequent one, its levels are where they stood at its last call; the year
    labels link to the year pages, which draw every session."""
    if not prices_days:
        return '<p class="empty">No bars to draw.</p>'
    first, last = prices_days[0], prices_days[-1]
    span_days = max((last - first).days, 1)
    width = TL_RIGHT - TL_LEFT

    def x(day: date) -> float:
        return TL_LEFT + (day - first).days / span_days * width

    price_values = [p for p in prices if p is not None]
    level_values = [
        v for c in calls for v in (c.get("line_mid"), c.get("bias_mid")) if v is not None
    ]
    y = _YScale(
        min(price_values + level_values), max(price_values + level_values), TL_TOP, TL_PRICE_BOTTOM
    )
    out = [
        f'<svg class="chart timeline" viewBox="0 0 {TIMELINE_WIDTH} {TIMELINE_HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if demo:
        out.append(_watermark((TL_LEFT + TL_RIGHT) / 2, TL_PRICE_BOTTOM / 2 + 20))
    for value in nice_ticks(y.low, y.high, 5):
        yy = _n(y(value))
        out.append(
            f'<line class="grid" x1="{_n(TL_LEFT)}" x2="{_n(TL_RIGHT)}" y1="{yy}" y2="{yy}"/>'
            f'<text class="axis" x="{_n(TL_LEFT - 6)}" y="{yy}" text-anchor="end" '
            f'dominant-baseline="middle">{_axis_price(value, tick)}</text>'
        )
    # Bands: runs of one trend / one perspective; a long timeline's columns are weeks or
    # months, each showing its calls' mix (aggregated: see _bucketed).
    unit = timeline_unit(span_days) if not call_links else None
    if unit is not None:
        calls = _bucketed(calls, unit)
    call_x = [x(c["as_of"]) for c in calls]
    edges = _column_edges(call_x, TL_LEFT, TL_RIGHT)
    if unit is not None:
        out += _mix_columns(calls, edges)
    else:
        for key, classes, top in (
            ("primary_trend", TREND_CLASSES, TL_TREND_TOP),
            ("perspective", PERSPECTIVE_CLASSES, TL_PERSPECTIVE_TOP),
        ):
            for start, end, state in _runs([c.get(key) for c in calls]):
                x0, x1 = edges[start][0], edges[end][1]
                title = f"{state}: {calls[start]['as_of']} to {calls[end]['as_of']}"
                css = classes.get(state or "", "none")
                out.append(
                    f'<rect class="run {css}" x="{_n(x0)}" y="{_n(top)}" '
                    f'width="{_n(max(x1 - x0, 0.6))}" height="{_n(TL_BAND_HEIGHT)}">'
                    f"<title>{escape(title)}</title></rect>"
                )
    out.append(
        f'<text class="band-label" x="{_n(TL_LEFT - 6)}" y="{_n(TL_TREND_TOP + 9)}" '
        'text-anchor="end">trend</text>'
        f'<text class="band-label" x="{_n(TL_LEFT - 6)}" y="{_n(TL_PERSPECTIVE_TOP + 9)}" '
        'text-anchor="end">view</text>'
    )
    # Price, then the called levels as steps.
    slots = _thin(list(prices_days), list(prices), TL_MAX_POINTS)
    path = "".join(
        f"{'M' if k == 0 else 'L'}{_n(x(d))} {_n(y(p))}" for k, (d, p) in enumerate(slots)
    )
    out.append(f'<path class="price" d="{path}"/>')
    for key, css in (("line_mid", "tl-line"), ("bias_mid", "tl-bias")):
        out.append(f'<path class="{css}" d="{_steps(calls, call_x, edges, key, y)}"/>')
    if span_days <= MONTH_TICK_SPAN_DAYS:
        # A year or less: a tick per month.
        month = date(first.year, first.month, 1)
        while month <= last:
            if month >= first or (month.year, month.month) == (first.year, first.month):
                xx = x(max(month, first))
                out.append(
                    f'<line class="year" x1="{_n(xx)}" x2="{_n(xx)}" y1="{_n(TL_TOP)}" '
                    f'y2="{_n(TL_PERSPECTIVE_TOP + TL_BAND_HEIGHT)}"/>'
                    f'<text class="axis" x="{_n(xx + 2)}" y="{_n(TL_AXIS_Y)}">'
                    f"{MONTH_ABBREVIATIONS[month.month - 1]}</text>"
                )
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    # Year ticks (links to the year pages).
    for year in range(first.year + (first.month > 1 or first.day > 7), last.year + 1):
        if span_days <= MONTH_TICK_SPAN_DAYS:
            break
        xx = x(date(year, 1, 1))
        text = str(year) if span_days < 3000 or year % 2 == 0 else ""
        tick_line = (
            f'<line class="year" x1="{_n(xx)}" x2="{_n(xx)}" y1="{_n(TL_TOP)}" '
            f'y2="{_n(TL_PERSPECTIVE_TOP + TL_BAND_HEIGHT)}"/>'
        )
        label_text = (
            f'<text class="axis" x="{_n(xx + 2)}" y="{_n(TL_AXIS_Y)}">{text}</text>' if text else ""
        )
        href = (links or {}).get(year)
        if href and label_text:
            label_text = f'<a href="{escape(href)}">{label_text}</a>'
        out.append(tick_line + label_text)
    if call_links:
        for c, (x0, x1) in zip(calls, edges, strict=True):
            out.append(
                f'<a href="{escape(c["href"])}"><rect class="hit" x="{_n(x0)}" y="{_n(TL_TOP)}" '
                f'width="{_n(max(x1 - x0, 0.6))}" height="{_n(TL_PERSPECTIVE_TOP + TL_BAND_HEIGHT - TL_TOP)}">'
                f"<title>{escape(c['title'])}</title></rect></a>"
            )
    out.append("</svg>")
    return "".join(out)


def timeline_unit(span_days: int) -> str | None:
    """What one column of a timeline spanning ``span_days`` stands for: None (a session),
    ``week`` or ``month``.

    >>> timeline_unit(365), timeline_unit(4 * 365), timeline_unit(20 * 365)
    (None, 'week', 'month')
    """
    if span_days > MONTHLY_SPAN_DAYS:
        return "month"
    return "week" if span_days > WEEKLY_SPAN_DAYS else None


def _bucketed(calls: Sequence[dict], unit: str) -> list[dict]:
    """One pseudo-call per ISO week (``unit`` "week") or calendar month ("month") of ``calls``
    (sorted by as_of): placed at the middle session of its calls; its levels, orientation and
    perspective those of its last call (where the levels stood at the bucket's end); ``trends``
    and ``perspectives``: how many of its calls had each; ``first``/``last``: its calls' span.

    >>> from datetime import date
    >>> rows = [{"as_of": date(2020, 1, d), "primary_trend": t, "perspective": "range"}
    ...         for d, t in ((2, "Bullish"), (3, "Bullish"), (31, "Bearish"))]
    >>> [(b["calls"], b["trends"]) for b in _bucketed(rows, "month")]
    [(3, {'Bullish': 2, 'Bearish': 1})]
    """
    from collections import Counter
    from itertools import groupby

    def key(c: dict) -> tuple[int, int]:
        day = c["as_of"]
        return (day.year, day.month) if unit == "month" else day.isocalendar()[:2]

    out = []
    for _, group in groupby(calls, key=key):
        part = list(group)
        last = part[-1]
        out.append(
            {
                **last,
                "as_of": part[len(part) // 2]["as_of"],
                "first": part[0]["as_of"],
                "last": last["as_of"],
                "calls": len(part),
                "trends": dict(Counter(c.get("primary_trend") for c in part)),
                "perspectives": dict(Counter(c.get("perspective") for c in part)),
            }
        )
    return out


def _mix_columns(buckets: Sequence[dict], edges: Sequence[tuple[float, float]]) -> list[str]:
    """Per bucket (:func:`_bucketed`): the trend band stacked by its calls' trends (Bullish on
    top) and the perspective band in its most frequent perspective; the counts in the title."""
    out = []
    for b, (x0, x1) in zip(buckets, edges, strict=True):
        width = _n(max(x1 - x0, 0.6))
        rects, top = [], TL_TREND_TOP
        known = [t for t in TREND_ORDER if b["trends"].get(t)]
        others = [t for t in b["trends"] if t not in TREND_ORDER]
        for trend in known + others:
            height = TL_BAND_HEIGHT * b["trends"][trend] / b["calls"]
            rects.append(
                f'<rect class="run {TREND_CLASSES.get(trend or "", "none")}" x="{_n(x0)}" '
                f'y="{_n(top)}" width="{width}" height="{_n(height)}"/>'
            )
            top += height
        view = max(b["perspectives"].items(), key=lambda kv: (kv[1], str(kv[0])))[0]
        rects.append(
            f'<rect class="run {PERSPECTIVE_CLASSES.get(view or "", "none")}" x="{_n(x0)}" '
            f'y="{_n(TL_PERSPECTIVE_TOP)}" width="{width}" height="{_n(TL_BAND_HEIGHT)}"/>'
        )
        mix = ", ".join(f"{t} {n}" for t, n in sorted(b["trends"].items(), key=lambda kv: -kv[1]))
        views = ", ".join(
            f"{v} {n}" for v, n in sorted(b["perspectives"].items(), key=lambda kv: -kv[1])
        )
        title = f"{b['first']} to {b['last']}: {b['calls']} calls; trend {mix}; view {views}"
        out.append(f"<g><title>{escape(title)}</title>{''.join(rects)}</g>")
    return out


def _column_edges(xs: Sequence[float], left: float, right: float) -> list[tuple[float, float]]:
    """Each point's column: from halfway to its left neighbour to halfway to its right one."""
    if not xs:
        return []
    mids = [(a + b) / 2 for a, b in pairwise(xs)]
    lefts = [max(left, xs[0] - (mids[0] - xs[0] if mids else 1.0)), *mids]
    rights = [*mids, min(right, xs[-1] + (xs[-1] - mids[-1] if mids else 1.0))]
    return list(zip(lefts, rights, strict=True))


def _runs(values: Sequence[str | None]) -> list[tuple[int, int, str | None]]:
    """(first index, last index, value) of each run of equal values.

    >>> _runs(["a", "a", "b", None, None])
    [(0, 1, 'a'), (2, 2, 'b'), (3, 4, None)]
    """
    runs: list[tuple[int, int, str | None]] = []
    for i, value in enumerate(values):
        if runs and runs[-1][2] == value:
            runs[-1] = (runs[-1][0], i, value)
        else:
            runs.append((i, i, value))
    return runs


def _thin(days: list[date], values: list[float | None], limit: int) -> list[tuple[date, float]]:
    """At most ``limit`` points: the last value of each of ``limit`` equal slots of the list."""
    points = [(d, v) for d, v in zip(days, values, strict=True) if v is not None]
    if len(points) <= limit:
        return points
    per = len(points) / limit
    return [points[min(int((k + 1) * per) - 1, len(points) - 1)] for k in range(limit)]


def _steps(calls, call_x, edges, key: str, y) -> str:  # type: ignore[no-untyped-def]
    """A step line through each call's value across its column. It breaks where a call has no
    value and where the orientation flips (the line in the sand moves from support below price to
    resistance above it: a jump between two different levels, not a move of one). Consecutive
    calls at the same level make one segment (a level often stands for weeks)."""
    segments: list[list] = []  # [pen, x0, y, x1]
    previous_side = None
    for c, (x0, x1) in zip(calls, edges, strict=True):
        value = c.get(key)
        if value is None:
            previous_side = None
            continue
        side = c.get("orientation")
        yy = _n(y(value))
        joined = previous_side is not None and previous_side == side
        if joined and segments[-1][2] == yy:
            segments[-1][3] = x1
        else:
            segments.append(["L" if joined else "M", x0, yy, x1])
        previous_side = side
    return "".join(f"{pen}{_n(x0)} {yy}H{_n(x1)}" for pen, x0, yy, x1 in segments)


def reliability_diagram(rows: Sequence[dict], *, title: str, demo: bool) -> str:
    """Forecast probability (x) against observed frequency (y) per scenario and bin, with the
    Wilson interval as a vertical bar; marker size grows with the bin's count. ``rows``: dicts with
    scenario, bucket_low, bucket_high, count, mean_forecast, observed_frequency, frequency_low,
    frequency_high."""
    size, m = REL_SIZE, REL_MARGIN
    total = size + 2 * m

    def px(v: float) -> float:
        return m + v * size

    def py(v: float) -> float:
        return m + (1 - v) * size

    largest = max((r["count"] for r in rows), default=1) or 1
    out = [
        f'<svg class="chart reliability" viewBox="0 0 {total} {total}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if demo:  # in the top margin: a bin can sit anywhere in the square
        out.append(_watermark(px(0.5), m / 2, small=True))
    for k in range(6):
        v = k / 5
        out.append(
            f'<line class="grid" x1="{_n(px(0))}" x2="{_n(px(1))}" y1="{_n(py(v))}" y2="{_n(py(v))}"/>'
            f'<line class="grid" x1="{_n(px(v))}" x2="{_n(px(v))}" y1="{_n(py(0))}" y2="{_n(py(1))}"/>'
            f'<text class="axis" x="{_n(px(v))}" y="{_n(py(0) + 16)}" text-anchor="middle">{v:.1f}</text>'
            f'<text class="axis" x="{_n(px(0) - 6)}" y="{_n(py(v))}" text-anchor="end" '
            f'dominant-baseline="middle">{v:.1f}</text>'
        )
    out.append(
        f'<line class="diagonal" x1="{_n(px(0))}" y1="{_n(py(0))}" x2="{_n(px(1))}" y2="{_n(py(1))}">'
        "<title>Perfect calibration</title></line>"
        f'<text class="axis-title" x="{_n(px(0.5))}" y="{_n(total - 6)}" text-anchor="middle">'
        "forecast probability (mean of bin)</text>"
        f'<text class="axis-title" x="12" y="{_n(py(0.5))}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_n(py(0.5))})">observed frequency (Wilson interval)</text>'
    )
    for name in SCENARIOS:
        part = sorted(
            (r for r in rows if r["scenario"] == name and r["mean_forecast"] is not None),
            key=lambda r: r["mean_forecast"],
        )
        if not part:
            continue
        line = "".join(
            f"{'M' if k == 0 else 'L'}{_n(px(r['mean_forecast']))} {_n(py(r['observed_frequency']))}"
            for k, r in enumerate(part)
        )
        out.append(f'<path class="rel-line s-{name}" d="{line}"/>')
        for r in part:
            cx = _n(px(r["mean_forecast"]))
            radius = REL_MARKER_MIN + (REL_MARKER_MAX - REL_MARKER_MIN) * math.sqrt(
                r["count"] / largest
            )
            tip = (
                f"{SCENARIO_TITLES[name]}, forecasts {r['bucket_low']:.1f}–{r['bucket_high']:.1f}: "
                f"mean forecast {r['mean_forecast']:.3f}, observed {r['observed_frequency']:.3f} "
                f"[{r['frequency_low']:.3f}, {r['frequency_high']:.3f}], {r['count']:,} calls"
            )
            out.append(
                f'<g class="s-{name}"><line class="interval" x1="{cx}" x2="{cx}" '
                f'y1="{_n(py(r["frequency_low"]))}" y2="{_n(py(r["frequency_high"]))}"/>'
                f'<circle cx="{cx}" cy="{_n(py(r["observed_frequency"]))}" r="{_n(radius)}">'
                f"<title>{escape(tip)}</title></circle></g>"
            )
    out.append("</svg>")
    return "".join(out)


def sparkline(values: Sequence[float], *, width: int = 220, height: int = 44) -> str:
    """A small line of recent closes (no axes; the first and last values are in the title)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if len(finite) < 2:
        return ""
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    step = width / (len(finite) - 1)
    path = "".join(
        f"{'M' if i == 0 else 'L'}{_n(i * step)} {_n(2 + (high - v) / span * (height - 4))}"
        for i, v in enumerate(finite)
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'preserveAspectRatio="none" '
        f'aria-hidden="true" xmlns="http://www.w3.org/2000/svg"><path d="{path}"/></svg>'
    )
