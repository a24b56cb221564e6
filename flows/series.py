"""Continuous series of stored bars, as the analysis, the analyst calls and the outcome resolution
read them: ONE way to build a root's series (:func:`root_series_and_rolls`, on
:func:`pipeline.market.continuous.continuous_series_and_rolls`), so an analyst call is resolved on
exactly the series the model's calls of the same bars are.

Plain functions (no Prefect): the flows call them through their tasks, and commands that need no
flow (`callbook calls add`, `show`, `audit`) call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

import polars as pl

from flows import clock
from flows.settings import load_registry_from_env
from pipeline.analysis.assemble import PEERS
from pipeline.analysis.engine import peers_of
from pipeline.market.continuous import continuous_series_and_rolls
from pipeline.market.roots import Registry
from warehouse.store import Warehouse

Log = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]
LOG = logging.getLogger("callbook")


def root_series_and_rolls(
    warehouse: Warehouse,
    root: str,
    *,
    source: str,
    end: date | None = None,
    known_at: datetime | None = None,
    registry: Registry | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The continuous series (internal frame) of ``root`` from ``source``'s bars up to ``end``,
    and its rolls: from the bars as stored now, or as known at ``known_at`` (vendor revisions
    recorded later left out, :meth:`warehouse.store.Warehouse.bars_as_known`). None when there
    is no bar. ``registry``: the roots registry (None: this configuration's,
    flows/settings.py), whose entry for ``root`` gives its contracts and roll rules."""
    if known_at is None:
        bars = warehouse.current_bars(root, source=source, end=end)
    else:
        if end is None:
            raise ValueError("bars as known at a moment need the last session (end)")
        bars = warehouse.bars_as_known(root, source=source, known_at=known_at, end=end)
    if bars.height == 0:
        return None
    known = registry if registry is not None else load_registry_from_env()
    return continuous_series_and_rolls(bars, spec=known.spec(root))


def root_series(
    warehouse: Warehouse,
    root: str,
    *,
    source: str,
    end: date | None = None,
    known_at: datetime | None = None,
    registry: Registry | None = None,
) -> pl.DataFrame | None:
    """:func:`root_series_and_rolls` without the rolls."""
    built = root_series_and_rolls(
        warehouse, root, source=source, end=end, known_at=known_at, registry=registry
    )
    return None if built is None else built[0]


def series_by_root(
    warehouse: Warehouse,
    roots: Sequence[str],
    *,
    source: str,
    as_of: date,
    known_at: datetime | None = None,
    log: Log = LOG,
    registry: Registry | None = None,
) -> dict[str, pl.DataFrame]:
    """Continuous series (internal frame, cut at ``as_of``) of the roots and their peers. From
    the current bars their rolls (gap, method, evidence) are stored in the ``rolls`` table; bars
    as known at an earlier moment (``known_at``) store nothing."""
    known = registry if registry is not None else load_registry_from_env()
    series = {}
    peers = (p for r in roots for p in peers_of(r, PEERS, known.get(r)))
    for root in dict.fromkeys([*roots, *peers]):
        built = root_series_and_rolls(
            warehouse, root, source=source, end=as_of, known_at=known_at, registry=known
        )
        if built is None:
            if root in roots:
                log.warning("%s: no %s bars on or before %s: no analysis", root, source, as_of)
            continue
        series[root], rolls = built
        if known_at is not None:
            continue
        stored = warehouse.write_rolls(rolls, source=source, recorded_at=clock.utcnow())
        log.info(
            "%s: continuous series of %s sessions (%s rolls: %s estimated, %s new, %s revised) to %s",
            root,
            f"{series[root].height:,}",
            rolls.height,
            int(rolls["estimated"].sum()),
            stored.new,
            stored.revised,
            series[root]["session_date"].max(),
        )
    return series
