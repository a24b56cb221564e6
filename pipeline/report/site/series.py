"""The price data the site draws: a call's chart window, the timeline of a root, and how an open
call is doing so far.

A :class:`ChartSeries` holds one root's continuous series (internal, forward-anchored frame) as
numpy arrays with the moving averages the chart overlays. Because the internal frame is
forward-anchored, rows up to D are the same whether the series was built on bars up to D or
later (pipeline.market.continuous), so one series built from the bars as known at a moment T
serves every call whose bars were those known at T (the site groups calls by that moment).
A call's window is re-expressed in the as-of front contract's points, the frame its levels are
published in: ``(price - offset(D)) / factor(D)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pipeline.analysis import indicators as ind
from pipeline.analysis.params import AnalysisParams
from pipeline.market.continuous import anchor_on_last

#: Sessions a call's chart shows, ending on its as-of session (as the PNG chart).
CHART_SESSIONS = 120


@dataclass(frozen=True)
class ChartSeries:
    """One root's continuous series (internal frame) with SMA50 and SMA200, as arrays."""

    root: str
    days: np.ndarray  # datetime64[D], sorted
    open: np.ndarray  # index points, internal frame (NaN where null)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    sma50: np.ndarray  # NaN during warm-up
    sma200: np.ndarray
    offset: np.ndarray  # cumulative difference adjustment per session
    factor: np.ndarray  # cumulative ratio adjustment per session

    def index_of(self, day: date) -> int | None:
        """Row of ``day``, or None when the series has no bar that session."""
        target = np.datetime64(day, "D")
        i = int(np.searchsorted(self.days, target))
        return i if i < self.days.size and self.days[i] == target else None

    @property
    def last_day(self) -> date | None:
        return self.days[-1].astype(date) if self.days.size else None


@dataclass(frozen=True)
class ChartWindow:
    """The sessions of one call's chart, in the as-of front contract's points."""

    days: list[date]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    sma50: np.ndarray
    sma200: np.ndarray


def with_moving_averages(series: pl.DataFrame, *, params: AnalysisParams) -> pl.DataFrame:
    """A ``continuous_series`` frame, sorted, with ``sma50`` and ``sma200``: the methodology's
    moving averages (``params.sma_mid``, ``params.sma_slow`` sessions of the internal close) as
    the charts draw them. With offset and factor it is what ``engine.chart_frame`` reads."""
    return series.sort("session_date").with_columns(
        ind.sma("close", params.sma_mid).alias("sma50"),
        ind.sma("close", params.sma_slow).alias("sma200"),
    )


def chart_series(series: pl.DataFrame, *, root: str, params: AnalysisParams) -> ChartSeries:
    """A :class:`ChartSeries` from a ``continuous_series`` frame (internal frame, any length)."""
    frame = with_moving_averages(series, params=params)

    def values(column: str) -> np.ndarray:
        return frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()

    return ChartSeries(
        root=root,
        days=frame["session_date"].to_numpy().astype("datetime64[D]"),
        open=values("open"),
        high=values("high"),
        low=values("low"),
        close=values("close"),
        sma50=values("sma50"),
        sma200=values("sma200"),
        offset=values("offset"),
        factor=values("factor"),
    )


def chart_window(
    series: ChartSeries, as_of: date, *, sessions: int = CHART_SESSIONS
) -> ChartWindow | None:
    """The last ``sessions`` sessions up to ``as_of`` in the as-of front contract's points, or
    None when ``as_of`` is not a session of the series."""
    end = series.index_of(as_of)
    if end is None:
        return None
    start = max(0, end - sessions + 1)
    offset, factor = series.offset[end], series.factor[end]

    def front(values: np.ndarray) -> np.ndarray:
        return (values[start : end + 1] - offset) / factor

    return ChartWindow(
        days=series.days[start : end + 1].tolist(),
        open=front(series.open),
        high=front(series.high),
        low=front(series.low),
        close=front(series.close),
        sma50=front(series.sma50),
        sma200=front(series.sma200),
    )


def assign_vintages(
    calls: pl.DataFrame, events: pl.DataFrame, *, bar_source: str, at: str = "bars_known_at"
) -> pl.DataFrame:
    """Add ``vintage``: the last moment the bars of (``bar_source``, root) changed at or before each
    call's ``at`` (the moment whose bars it was computed from; null when no bar was known yet).
    Calls with one vintage were made on the same bars.

    ``calls``: root and ``at``. ``events``: source, root, changed_at (UTC).
    """
    moments = (
        events.filter(pl.col("source") == bar_source)
        .select("root", pl.col("changed_at").alias("vintage"))
        .sort("vintage")
    )
    return (
        calls.with_row_index("_order")
        .sort(at)
        .join_asof(
            moments,
            left_on=at,
            right_on="vintage",
            by="root",
            strategy="backward",
            check_sortedness=False,  # both sides are sorted on the time column above
        )
        .sort("_order")
        .drop("_order")
    )


def timeline_frame(series: pl.DataFrame, calls: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Price and called levels of one root on one scale: the series re-anchored on its current
    front contract (``anchor_on_last``, as analysts read a long chart), and each call's line in
    the sand and bias-defining level moved into that frame (``L * factor(D) + offset(D)``).

    Returns (prices: session_date, close; calls with ``line_mid`` and ``bias_mid`` added).
    """
    anchored = anchor_on_last(series.sort("session_date"))
    prices = anchored.select("session_date", "close")
    frame = anchored.select(
        pl.col("session_date").alias("as_of"),
        pl.col("offset").alias("_offset"),
        pl.col("factor").alias("_factor"),
    )
    placed = calls.join(frame, on="as_of", how="left").with_columns(
        (
            ((pl.col("line_low") + pl.col("line_high")) / 2) * pl.col("_factor") + pl.col("_offset")
        ).alias("line_mid"),
        (
            ((pl.col("bias_low") + pl.col("bias_high")) / 2) * pl.col("_factor") + pl.col("_offset")
        ).alias("bias_mid"),
    )
    return prices, placed.drop("_offset", "_factor")
