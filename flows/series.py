"""Continuous series of stored bars, as the analysis and the outcome resolution read them.

Plain functions (no Prefect): the nightly and backfill flows call them through their tasks, and
commands that need no flow (`callbook resolve`, `callbook calls add`) call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

import polars as pl

from flows import clock
from pipeline.analysis.assemble import PEERS
from pipeline.market.continuous import continuous_series_and_rolls
from warehouse.store import Warehouse

Log = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]
LOG = logging.getLogger("callbook")


def series_by_root(
    warehouse: Warehouse,
    roots: Sequence[str],
    *,
    source: str,
    as_of: date,
    record_rolls: bool = False,
    log: Log = LOG,
) -> dict[str, pl.DataFrame]:
    """Continuous series (internal frame, cut at ``as_of``) of the roots and their peers. With
    ``record_rolls`` their rolls (gap, method, evidence) are stored in the ``rolls`` table."""
    series = {}
    for root in dict.fromkeys([*roots, *PEERS]):
        bars = warehouse.current_bars(root, source=source, end=as_of)
        if bars.height == 0:
            if root in roots:
                log.warning("%s: no %s bars on or before %s: no analysis", root, source, as_of)
            continue
        series[root], rolls = continuous_series_and_rolls(bars)
        if not record_rolls:
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
