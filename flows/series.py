"""Continuous series of stored bars, as the analysis, the analyst calls and the outcome resolution
read them: ONE way to build a root's series (:func:`root_series`), so an analyst call is resolved
on exactly the series the model's calls of the same bars are.

Plain functions (no Prefect): the flows call them through their tasks, and commands that need no
flow (`callbook calls add`, `show`, `audit`) call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

import polars as pl

from pipeline.analysis.assemble import PEERS
from pipeline.market.continuous import continuous_series
from pipeline.market.contracts import ROOT_SPECS
from warehouse.store import Warehouse

Log = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]
LOG = logging.getLogger("callbook")


def root_series(
    warehouse: Warehouse,
    root: str,
    *,
    source: str,
    end: date | None = None,
    known_at: datetime | None = None,
) -> pl.DataFrame | None:
    """The continuous series (internal frame) of ``root`` from ``source``'s bars up to ``end``:
    the bars as stored now, or as known at ``known_at`` (vendor revisions recorded later left
    out, :meth:`warehouse.store.Warehouse.bars_as_known`). None when there is no bar."""
    if known_at is None:
        bars = warehouse.current_bars(root, source=source, end=end)
    else:
        if end is None:
            raise ValueError("bars as known at a moment need the last session (end)")
        bars = warehouse.bars_as_known(root, source=source, known_at=known_at, end=end)
    if bars.height == 0:
        return None
    return continuous_series(bars, known_rolls=observed_rolls(warehouse, root, source))


def series_by_root(
    warehouse: Warehouse,
    roots: Sequence[str],
    *,
    source: str,
    as_of: date,
    known_at: datetime | None = None,
    log: Log = LOG,
) -> dict[str, pl.DataFrame]:
    """Continuous series (internal frame, cut at ``as_of``) of the roots and their peers."""
    series = {}
    for root in dict.fromkeys([*roots, *PEERS]):
        frame = root_series(warehouse, root, source=source, end=as_of, known_at=known_at)
        if frame is None:
            if root in roots:
                log.warning("%s: no %s bars on or before %s: no analysis", root, source, as_of)
            continue
        series[root] = frame
        if known_at is None:
            log.info(
                "%s: continuous series of %s sessions (%s rolls) to %s",
                root,
                f"{frame.height:,}",
                int(frame["is_roll"].sum()),
                frame["session_date"].max(),
            )
    return series


def observed_rolls(warehouse: Warehouse, root: str, source: str) -> list[date]:
    """Roll sessions of Yahoo's ``=F`` feed seen as shortName changes between nightly fetches."""
    if source != "yahoo" or root not in ROOT_SPECS:
        return []
    from pipeline.sources.yahoo import observed_roll_sessions

    symbol = ROOT_SPECS[root].yahoo_continuous
    return observed_roll_sessions(warehouse.contract_month_observations(root, symbol=symbol))
