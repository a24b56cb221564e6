"""The daily chart of a call and the audit's reliability diagram, rendered to PNG bytes.

Pure: frames and a Snapshot in, PNG bytes out. matplotlib is imported inside the renderers (so
importing this module stays cheap) and drives a ``Figure`` on an Agg canvas directly, never pyplot,
so no global figure state is created or leaked; every style is set on the artists, not through
``rcParams``. The PNG carries no software or time metadata, so the same input gives the same bytes.

The daily chart shows the last ``sessions`` candles up to the as-of session, the SMA50 and SMA200,
each named level as a shaded band (support green, resistance red; projected levels hatched) labelled
at the right edge, the as-of settlement, and the two scenario barriers as dashed lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from pipeline.analysis.snapshot import SCENARIO_TITLES, SCENARIOS, Level, Snapshot
from pipeline.market.notation import PriceWriter
from pipeline.report.format import (
    format_zone,
    root_spec,
    tick_decimals,
)
from pipeline.report.note import DEMO_LABEL, DEMO_SOURCE
from pipeline.text import MONTH_ABBREVIATIONS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REQUIRED_BAR_COLUMNS: tuple[str, ...] = (
    "session_date",
    "open",
    "high",
    "low",
    "close",
    "sma50",
    "sma200",
)
RELIABILITY_COLUMNS: tuple[str, ...] = (
    "scenario",
    "mean_forecast",
    "observed_frequency",
    "count",
    "low",
    "high",
)

# Geometry: 14 x 8 inches at 100 dpi is a 1400 x 800 px PNG.
CHART_SIZE_INCHES = (14.0, 8.0)
RELIABILITY_SIZE_INCHES = (8.0, 8.0)
DPI = 100
LEFT_MARGIN = 0.04  # figure fraction
AXES_TOP = 0.85  # figure fraction; the title lines sit above
TITLE_TOP = 0.955
TITLE_LINE_STEP = 0.04
CANDLE_BODY_WIDTH = 0.6  # sessions
LABEL_MARGIN_FRACTION = 0.3  # empty x-space right of the last candle for level labels (of n)
LABEL_INSET = 0.995  # labels end this far across the axes (axes fraction), inside the frame
Y_PADDING_FRACTION = 0.04  # of the price span, above and below everything drawn
LABEL_GAP_FRACTION = 0.04  # right-edge labels are kept this fraction of the y-span apart
MAX_DATE_TICKS = 10
#: Price axes spanning more than this many points are labelled in whole points.
WHOLE_POINT_SPAN = 20.0

# Colours and alphas.
UP_BODY, DOWN_BODY, CANDLE_EDGE = "#ffffff", "#3b3f46", "#3b3f46"
SMA50_COLOUR, SMA200_COLOUR = "#1f6fb4", "#8e44ad"
SUPPORT_COLOUR, RESISTANCE_COLOUR = "#2e8b57", "#c0392b"
LEVEL_ALPHA, LINE_IN_THE_SAND_ALPHA = 0.14, 0.24
CLOSE_COLOUR = "#111111"
DEMO_COLOUR = "#d35400"
GRID_COLOUR = "#d9d9d9"
SCENARIO_COLOURS: dict[str, str] = {"bear": "#c0392b", "sideways": "#7f8c8d", "bull": "#2e8b57"}

LEVEL_LABELS: dict[str, str] = {
    "line_in_the_sand": "Line in the sand",
    "bias_defining": "Bias-defining",
    "extension": "Extension",
    "deeper": "Deeper",
}

# Reliability diagram: marker area (points^2) grows with the bin's count up to the largest bin.
MARKER_AREA_MIN = 30.0
MARKER_AREA_MAX = 500.0


def render_chart(
    bars: pl.DataFrame, snapshot: Snapshot, *, sessions: int = 120, demo: bool = False
) -> bytes:
    """The call's daily chart as PNG bytes (1400 x 800 px).

    ``bars``: ``REQUIRED_BAR_COLUMNS`` (session_date a Date, the rest numbers in index points of
    the snapshot's price frame), any order; rows after ``snapshot.as_of`` are ignored, null
    prices leave a gap (an SMA is null during its warm-up). ``sessions``: how many of the last
    sessions up to the as-of session to draw. ``demo`` (or a snapshot from the demo source) adds a
    DEMO DATA watermark and subtitle. The as-of settlement is marked on the last drawn session.

    Raises ValueError naming the missing columns, a duplicated session, or the as-of date when no
    bar is on or before it.
    """
    window = _chart_window(bars, as_of=snapshot.as_of, sessions=sessions, root=snapshot.root)

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=CHART_SIZE_INCHES, dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=LEFT_MARGIN, right=0.93, top=AXES_TOP, bottom=0.11)
    ax = fig.add_subplot()
    prices = root_spec(snapshot.root).prices  # the root's tick and notation (ZN 112'30)
    n = window.height
    x = list(range(n))

    _draw_candles(ax, window)
    sma50, sma200 = window["sma50"].to_list(), window["sma200"].to_list()
    ax.plot(x, _nan_for_null(sma50), color=SMA50_COLOUR, linewidth=1.6, zorder=3)
    ax.plot(x, _nan_for_null(sma200), color=SMA200_COLOUR, linewidth=1.6, zorder=3)

    low, high = _price_span(window, snapshot)
    pad = (high - low) * Y_PADDING_FRACTION
    ax.set_ylim(low - pad, high + pad)
    right_edge = n - 0.5 + n * LABEL_MARGIN_FRACTION
    ax.set_xlim(-0.75, right_edge)

    days = window["session_date"].to_list()
    labels = [
        _draw_level(ax, level, prices=prices, start=_first_session_from(days, level.since))
        for level in snapshot.levels
    ]
    ax.axhline(snapshot.upper_barrier, color=SUPPORT_COLOUR, linestyle="--", linewidth=1.2)
    ax.axhline(snapshot.lower_barrier, color=RESISTANCE_COLOUR, linestyle="--", linewidth=1.2)
    close = snapshot.structure.close if snapshot.structure is not None else snapshot.raw_close
    ax.scatter([n - 1], [close], s=60, color=CLOSE_COLOUR, zorder=6, edgecolors="white")
    ax.hlines(close, n - 1, right_edge, colors=CLOSE_COLOUR, linestyles=":", linewidth=1.0)
    labels.append((close, f"Close {prices(close)}", CLOSE_COLOUR))
    _draw_right_labels(ax, labels, span=(low - pad, high + pad))

    _style_axes(ax, window["session_date"].to_list(), span=high - low, prices=prices)
    legend_handles = [
        Line2D([], [], color=SMA50_COLOUR, linewidth=1.6, label="SMA50"),
        Line2D([], [], color=SMA200_COLOUR, linewidth=1.6, label="SMA200"),
        Line2D(
            [],
            [],
            color=SUPPORT_COLOUR,
            linestyle="--",
            label=f"Bull trigger: acceptance above {prices(snapshot.upper_barrier)}",
        ),
        Line2D(
            [],
            [],
            color=RESISTANCE_COLOUR,
            linestyle="--",
            label=f"Bear trigger: acceptance below {prices(snapshot.lower_barrier)}",
        ),
    ]
    fig.legend(handles=legend_handles, loc="lower center", ncol=4, frameon=False, fontsize=10.5)
    _titles(fig, snapshot, prices=prices, demo=demo or snapshot.source == DEMO_SOURCE, ax=ax)
    return _png_bytes(fig)


def _demo_watermark(ax: Any, *, fontsize: float, rotation: float) -> None:
    """The faint DEMO DATA watermark across the middle of ``ax``, behind everything drawn."""
    ax.text(
        0.5,
        0.5,
        "DEMO DATA",
        transform=ax.transAxes,
        fontsize=fontsize,
        color=DEMO_COLOUR,
        alpha=0.08,
        rotation=rotation,
        ha="center",
        va="center",
        zorder=0,
    )


def render_reliability_chart(table: pl.DataFrame, *, title: str, demo: bool = False) -> bytes:
    """A reliability diagram as PNG bytes (800 x 800 px).

    ``demo``: the calls were resolved on synthetic demo bars; the diagram says so in its title
    and a watermark.

    ``table``: ``RELIABILITY_COLUMNS``, one row per (scenario, forecast bin): scenario in
    bear/sideways/bull, mean_forecast and observed_frequency in 0..1, count of calls, and the
    Wilson interval [low, high] of the observed frequency. Rows with a null forecast or frequency
    (an empty bin) are skipped. Points lie on the diagonal when the forecasts are calibrated;
    marker area grows with the count, error bars show the interval.
    """
    missing = [c for c in RELIABILITY_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"reliability table misses column(s) {missing}; need {list(RELIABILITY_COLUMNS)}"
        )
    unknown = sorted(set(table["scenario"].drop_nulls().to_list()) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"reliability table has unknown scenario(s) {unknown}; need {SCENARIOS}")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=RELIABILITY_SIZE_INCHES, dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(
        [0, 1], [0, 1], color="#888888", linestyle="--", linewidth=1, label="Perfect calibration"
    )
    rows = table.drop_nulls(["mean_forecast", "observed_frequency"])
    largest = max(rows["count"].max() or 1, 1) if rows.height else 1
    for name in SCENARIOS:
        part = rows.filter(pl.col("scenario") == name).sort("mean_forecast")
        if part.height == 0:
            continue
        forecast = part["mean_forecast"].to_list()
        observed = part["observed_frequency"].to_list()
        lows = part["low"].fill_null(part["observed_frequency"]).to_list()
        highs = part["high"].fill_null(part["observed_frequency"]).to_list()
        counts = part["count"].to_list()
        colour = SCENARIO_COLOURS[name]
        ax.errorbar(
            forecast,
            observed,
            yerr=[
                [max(o - lo, 0.0) for o, lo in zip(observed, lows, strict=True)],
                [max(hi - o, 0.0) for o, hi in zip(observed, highs, strict=True)],
            ],
            fmt="none",
            ecolor=colour,
            elinewidth=1.2,
            capsize=3,
            alpha=0.8,
        )
        ax.plot(forecast, observed, color=colour, linewidth=1, alpha=0.5)
        ax.scatter(
            forecast,
            observed,
            s=[MARKER_AREA_MIN + (MARKER_AREA_MAX - MARKER_AREA_MIN) * c / largest for c in counts],
            color=colour,
            alpha=0.85,
            edgecolors="white",
            zorder=4,
            label=f"{SCENARIO_TITLES[name]} (n={sum(counts)})",
        )
    if rows.height == 0:
        ax.text(0.5, 0.55, "no resolved calls yet", ha="center", color="#666666", fontsize=12)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("Forecast probability (mean of bin)", fontsize=11)
    ax.set_ylabel("Observed frequency (Wilson interval)", fontsize=11)
    if demo:
        _demo_watermark(ax, fontsize=64, rotation=30)
        ax.set_title(f"{title}\n{DEMO_LABEL}", fontsize=13, loc="left", color=DEMO_COLOUR)
    else:
        ax.set_title(title, fontsize=13, loc="left")
    ax.grid(color=GRID_COLOUR, linewidth=0.6)
    ax.legend(loc="upper left", fontsize=10, frameon=False)
    return _png_bytes(fig)


def spread_labels(
    positions: Sequence[float], *, gap: float, low: float, high: float
) -> list[float]:
    """Move label positions apart so neighbours are at least ``gap`` apart, inside [low, high].

    Returns the new positions in the input order; each moves as little as this greedy pass
    allows (push up from the bottom, then back down from the top if the stack overflows).

    >>> spread_labels([10.0, 10.5, 20.0], gap=2.0, low=0.0, high=100.0)
    [10.0, 12.0, 20.0]
    >>> spread_labels([99.0, 99.5], gap=2.0, low=0.0, high=100.0)
    [97.0, 99.0]
    """
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    placed = [max(positions[i], low) for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    if placed and placed[-1] > high - gap / 2:
        placed[-1] = min(placed[-1], high - gap / 2)
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    result = [0.0] * len(positions)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


# --- helpers ----------------------------------------------------------------------------------


def _chart_window(bars: pl.DataFrame, *, as_of: date, sessions: int, root: str) -> pl.DataFrame:
    if sessions < 1:
        raise ValueError(f"sessions must be >= 1, got {sessions}")
    missing = [c for c in REQUIRED_BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(
            f"bars for {root} miss required column(s) {missing}; need {list(REQUIRED_BAR_COLUMNS)}"
        )
    if bars.schema["session_date"] != pl.Date:
        raise ValueError(f"bars.session_date must be a Date, got {bars.schema['session_date']}")
    known = bars.filter(pl.col("session_date") <= as_of)
    if known.height == 0:
        first = bars["session_date"].min() if bars.height else None
        raise ValueError(
            f"bars for {root} have no row on or before as_of {as_of.isoformat()} "
            f"(first bar: {first!s})"
        )
    duplicated = known.filter(pl.col("session_date").is_duplicated())["session_date"]
    if duplicated.len():
        raise ValueError(
            f"bars for {root} repeat session_date {duplicated[0]}: one row per session"
        )
    prices = [pl.col(c).cast(pl.Float64) for c in REQUIRED_BAR_COLUMNS[1:]]
    return known.sort("session_date").tail(sessions).select(pl.col("session_date"), *prices)


def _nan_for_null(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def _draw_candles(ax: Axes, window: pl.DataFrame) -> None:
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Rectangle

    wicks, bodies, faces = [], [], []
    for i, (o, h, lo, c) in enumerate(window.select("open", "high", "low", "close").iter_rows()):
        if None in (o, h, lo, c):
            continue
        wicks.append([(i, lo), (i, h)])
        bottom, top = min(o, c), max(o, c)
        bodies.append(
            Rectangle((i - CANDLE_BODY_WIDTH / 2, bottom), CANDLE_BODY_WIDTH, top - bottom)
        )
        faces.append(UP_BODY if c >= o else DOWN_BODY)
    ax.add_collection(LineCollection(wicks, colors=CANDLE_EDGE, linewidths=1.0, zorder=4))
    ax.add_collection(
        PatchCollection(bodies, facecolors=faces, edgecolors=CANDLE_EDGE, linewidths=0.8, zorder=5)
    )


def _price_span(window: pl.DataFrame, snapshot: Snapshot) -> tuple[float, float]:
    """Lowest and highest price drawn: candles, averages, levels, barriers and the close."""
    candidates = [snapshot.upper_barrier, snapshot.lower_barrier, snapshot.raw_close]
    for level in snapshot.levels:
        candidates += [level.low, level.high]
    for column in ("low", "high", "sma50", "sma200"):
        lo, hi = window[column].min(), window[column].max()
        candidates += [float(v) for v in (lo, hi) if isinstance(v, int | float)]
    return min(candidates), max(candidates)


def _first_session_from(days: list[date], since: date | None) -> int | None:
    """The window's first session on or after ``since`` (None: no date, or before the window)."""
    if since is None or not days or since <= days[0]:
        return None
    return next((i for i, day in enumerate(days) if day >= since), len(days) - 1)


def _draw_level(
    ax: Axes, level: Level, *, prices: PriceWriter, start: int | None = None
) -> tuple[float, str, str]:
    """The level as a band across the chart, or from session ``start`` on (a methodology that
    keeps its levels says since when: the band begins where the level was drawn)."""
    colour = SUPPORT_COLOUR if level.role == "support" else RESISTANCE_COLOUR
    style: dict[str, Any]
    if level.projected:
        style = {"facecolor": "none", "edgecolor": colour, "hatch": "///", "alpha": 0.55}
    else:
        alpha = LINE_IN_THE_SAND_ALPHA if level.kind == "line_in_the_sand" else LEVEL_ALPHA
        style = {"color": colour, "alpha": alpha}
    if start is None:
        ax.axhspan(level.low, level.high, linewidth=0.0, zorder=1, **style)
    else:
        from matplotlib.patches import Rectangle

        right = ax.get_xlim()[1]
        ax.add_patch(
            Rectangle(
                (start - 0.5, level.low),
                right - start + 0.5,
                level.high - level.low,
                linewidth=0.0,
                zorder=1,
                **style,
            )
        )
    name = LEVEL_LABELS.get(level.kind, level.kind)
    text = (
        f"{name} {format_zone(level.low, level.high, tick=prices.tick, notation=prices.notation)}"
    )
    if level.projected:
        text += " (projected)"
    return level.mid, text, colour


def _draw_right_labels(
    ax: Axes, labels: list[tuple[float, str, str]], *, span: tuple[float, float]
) -> None:
    """Right-aligned inside the frame (x in axes fraction, y in prices), pushed apart vertically."""
    low, high = span
    transform = ax.get_yaxis_transform()
    ys = spread_labels(
        [y for y, _, _ in labels], gap=(high - low) * LABEL_GAP_FRACTION, low=low, high=high
    )
    for (_, text, colour), y in zip(labels, ys, strict=True):
        ax.text(
            LABEL_INSET,
            y,
            text,
            transform=transform,
            ha="right",
            va="center",
            fontsize=9.5,
            color=colour,
            fontweight="bold" if text.startswith(("Line", "Close")) else "normal",
            bbox={
                "boxstyle": "round,pad=0.25",
                "facecolor": "white",
                "edgecolor": colour,
                "linewidth": 0.6,
                "alpha": 0.9,
            },
            zorder=7,
        )


def _style_axes(ax: Axes, days: list[date], *, span: float, prices: PriceWriter) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter

    positions, names = _month_ticks(days)
    ax.xaxis.set_major_locator(FixedLocator(positions))
    ax.set_xticklabels(names, fontsize=10)
    if prices.notation != "decimal":  # the exchange's notation (ZN 112'30), on the tick grid
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: prices(v)))
    else:
        decimals = 0 if span > WHOLE_POINT_SPAN else tick_decimals(prices.tick)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.{decimals}f}"))
    ax.yaxis.tick_right()
    ax.tick_params(axis="y", labelsize=10)
    ax.grid(color=GRID_COLOUR, linewidth=0.6, alpha=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "left"):
        ax.spines[side].set_visible(False)


def _month_ticks(days: list[date]) -> tuple[list[int], list[str]]:
    """Ticks at each month's first session in the window (every k-th when there are many)."""
    starts = [i for i in range(1, len(days)) if days[i].month != days[i - 1].month]
    if not starts:
        starts = [0]
    step = max(1, -(-len(starts) // MAX_DATE_TICKS))
    starts = starts[::step]
    names = []
    for k, i in enumerate(starts):
        month = MONTH_ABBREVIATIONS[days[i].month - 1]
        names.append(f"{month} {days[i].year}" if k == 0 or days[i].month == 1 else month)
    return starts, names


def _titles(fig: Figure, snapshot: Snapshot, *, prices: PriceWriter, demo: bool, ax: Axes) -> None:
    spec = root_spec(snapshot.root)
    top = TITLE_TOP
    if demo:
        fig.text(LEFT_MARGIN, top, DEMO_LABEL, fontsize=13, color=DEMO_COLOUR, fontweight="bold")
        top -= TITLE_LINE_STEP
        _demo_watermark(ax, fontsize=96, rotation=18)
    fig.text(
        LEFT_MARGIN,
        top,
        f"{spec.name} ({snapshot.root}) daily, {snapshot.as_of.isoformat()}: "
        f"{snapshot.primary_trend}, {snapshot.perspective}",
        fontsize=16,
        fontweight="bold",
    )
    fig.text(
        LEFT_MARGIN,
        top - TITLE_LINE_STEP,
        f"Front {snapshot.contract}, settlement {prices(snapshot.raw_close)}; "
        f"prices in {snapshot.contract} points. Scenarios resolve over {snapshot.horizon_sessions} "
        f"sessions (to {snapshot.horizon_end.isoformat()}). Methodology "
        f"{snapshot.methodology_version}.",
        fontsize=11,
        color="#444444",
    )


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" (matplotlib version) chunk: the bytes depend on the input only.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buffer.getvalue()
