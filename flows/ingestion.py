"""Ingesting one root: where the next fetch starts, the stored bars that seed validation, and
fetch -> land -> validate -> load in the writer's process.

Shared by the nightly flow (flows/nightly.py), the drop folder (flows/inbox.py) and the backfill's
default end date (flows/history.py): a module of its own so that none of them imports another.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
from prefect.logging import get_run_logger

from flows import clock, tasks
from pipeline.market.calendar import (
    CALENDAR_END,
    CALENDAR_START,
    last_completed_session,
    previous_trade_date,
)
from pipeline.market.roots import RootSpec
from pipeline.sources.base import Source
from warehouse.store import Warehouse

#: Sessions re-fetched before the last stored one, to pick up vendor revisions.
REVISION_OVERLAP_SESSIONS = 5
#: Stored bars handed to validation as context (previous close, ATR across the batch boundary):
#: about 60 sessions.
CONTEXT_CALENDAR_DAYS = 90


def default_as_of() -> date:
    """The last completed CME session (a trade date is final at 17:00 ET)."""
    return last_completed_session(clock.utcnow())


def incremental_start(
    last_stored: date | None, *, overlap: int = REVISION_OVERLAP_SESSIONS
) -> date | None:
    """Where the next fetch starts: a few sessions before the last stored one (None: everything)."""
    if last_stored is None:
        return None
    start = last_stored
    for _ in range(overlap):
        start = previous_trade_date(start)
    return start


def validation_context(
    warehouse: Warehouse, root: str, source: str, first: date | None
) -> pl.DataFrame | None:
    """The stored bars just before a batch starting on ``first``: they seed validation's previous
    close and ATR across the batch boundary (None when the batch starts at the beginning)."""
    if first is None or not CALENDAR_START < first <= CALENDAR_END:
        return None
    return warehouse.current_bars(
        root,
        source=source,
        start=first - timedelta(days=CONTEXT_CALENDAR_DAYS),
        end=previous_trade_date(first),
    )


def ingest_root(
    warehouse: Warehouse,
    source: Source,
    data_dir: Path,
    root: str,
    *,
    start: date | None,
    end: date,
    run_id: str | None,
    spec: RootSpec,
) -> tasks.RootSummary:
    """fetch -> land -> validate -> load for one root, in the writer's process (one vendor file, one
    `callbook ingest`). A failed fetch is recorded, not raised. ``spec``: the root's contract
    facts (its registry entry), which validation checks the bars against."""
    try:
        batch = tasks.fetch_bars(source, root, start, end)
    except Exception as exc:  # a failed root must not stop the others
        get_run_logger().error("%s: fetch failed for good: %s", root, exc)
        return tasks.fetch_failed(warehouse, root, source.name, tasks.failure_message(exc), run_id)
    lake_path = tasks.land_batch(data_dir, batch)
    # A batch asked from the beginning may still start after stored bars (a vendor file of recent
    # days): the context is then the bars before its first session.
    first = start if start is not None else batch.bars["session_date"].min()
    context = validation_context(
        warehouse, root, source.name, first if isinstance(first, date) else None
    )
    validation = tasks.validate_batch(batch, context, spec)
    # The load needs the batch's identity, not its rows: let them go first (10^6 rows: ~200 MiB).
    received = batch.received()
    del batch
    return tasks.load_batch(warehouse, received, lake_path, validation, run_id)
