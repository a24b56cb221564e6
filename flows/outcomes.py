"""Outcome resolution as plain functions (no Prefect).

The nightly and backfill flows call them through the ``resolve-outcomes`` task; `callbook resolve`
and `callbook calls add` call them directly, so these commands start no Prefect server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from flows import clock
from flows.series import LOG, Log, series_by_root
from pipeline.audit.outcomes import resolve_outcomes
from pipeline.market.calendar import last_completed_session
from warehouse.store import Warehouse


def append_outcomes_of(warehouse: Warehouse, pending: pl.DataFrame, series: pl.DataFrame) -> int:
    """Resolve ``pending`` snapshots of one root on its ``series`` and append the outcomes whose
    horizon has passed (one transaction). Returns how many were appended."""
    through = series["session_date"].max()
    assert isinstance(through, date)
    if pending.height == 0:
        return 0
    outcomes = pl.concat(
        [
            resolve_outcomes(group, series)
            for _, group in pending.group_by("horizon_sessions", maintain_order=True)
        ]
    )
    return warehouse.append_outcomes(outcomes, series_through=through, recorded_at=clock.utcnow())


def resolve_root_outcomes(
    warehouse: Warehouse, root: str, series: pl.DataFrame, *, log: Log = LOG
) -> int:
    """Resolve every stored snapshot of ``root`` whose horizon ended within ``series``."""
    through = series["session_date"].max()
    assert isinstance(through, date)
    pending = warehouse.unresolved_snapshots(root, through=through)
    written = append_outcomes_of(warehouse, pending, series)
    if pending.height:
        log.info(
            "%s: %s outcome(s) appended (%s snapshot(s) were due, series through %s)",
            root,
            f"{written:,}",
            f"{pending.height:,}",
            through,
        )
    return written


def resolve_stored(
    warehouse: Warehouse, roots: Sequence[str], *, source: str, log: Log = LOG
) -> dict[str, int]:
    """Append the outcome of every stored snapshot of ``roots`` whose horizon has passed in the
    stored bars (up to the last completed session). Returns the outcomes appended per root."""
    series = series_by_root(
        warehouse, roots, source=source, as_of=last_completed_session(clock.utcnow()), log=log
    )
    return {
        root: resolve_root_outcomes(warehouse, root, series[root], log=log)
        for root in roots
        if root in series
    }
