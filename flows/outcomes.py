"""Outcome resolution and the status so far of open calls, as plain functions (no Prefect).

The nightly and backfill flows call them through the ``resolve-outcomes`` task; `callbook resolve`,
`calls add` and `audit` call them directly, so these commands start no Prefect server (`show`
reads the status so far the last resolution recorded: the ``open_calls`` view).
Every call is resolved on the bars of the source it names (``resolved_on_source``): a data
directory holding several sources never resolves one source's calls on another's series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from flows import clock
from flows.series import LOG, Log, root_series, series_by_root
from pipeline.audit.outcomes import call_progress, describe_progress, resolve_outcomes
from pipeline.market.calendar import last_completed_session
from warehouse.store import Warehouse


def _by_horizon(calls: pl.DataFrame) -> list[pl.DataFrame]:
    return [group for _, group in calls.group_by("horizon_sessions", maintain_order=True)]


def append_outcomes_of(warehouse: Warehouse, pending: pl.DataFrame, series: pl.DataFrame) -> int:
    """Resolve ``pending`` snapshots of one root on its ``series`` and append the outcomes whose
    horizon has passed (one transaction). Returns how many were appended."""
    through = series["session_date"].max()
    assert isinstance(through, date)
    if pending.height == 0:
        return 0
    outcomes = pl.concat([resolve_outcomes(group, series) for group in _by_horizon(pending)])
    return warehouse.append_outcomes(outcomes, series_through=through, recorded_at=clock.utcnow())


def progress_of(calls: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """The status so far of the open ``calls`` of one root on its ``series``, with its one-line
    ``summary`` (pipeline.audit.outcomes.call_progress; never a score)."""
    if calls.height == 0:
        return pl.DataFrame()
    progress = pl.concat([call_progress(group, series) for group in _by_horizon(calls)])
    return progress.with_columns(
        pl.Series("summary", [describe_progress(row) for row in progress.iter_rows(named=True)])
    )


def resolve_root_outcomes(
    warehouse: Warehouse, root: str, series: pl.DataFrame, *, source: str, log: Log = LOG
) -> int:
    """Resolve every stored snapshot of ``root`` resolved on ``source`` whose horizon ended
    within ``series`` (that source's series), and record the status so far of the others."""
    through = series["session_date"].max()
    assert isinstance(through, date)
    pending = warehouse.unresolved_snapshots(root, source=source, through=through)
    written = append_outcomes_of(warehouse, pending, series)
    if pending.height:
        log.info(
            "%s: %s outcome(s) appended (%s snapshot(s) were due, series through %s)",
            root,
            f"{written:,}",
            f"{pending.height:,}",
            through,
        )
    progress = progress_of(warehouse.open_snapshots(root, source=source), series)
    if progress.height:
        warehouse.append_progress(progress, source=source, recorded_at=clock.utcnow())
    return written


def resolve_stored(
    warehouse: Warehouse, roots: Sequence[str], *, source: str, log: Log = LOG
) -> dict[str, int]:
    """Append the outcome of every stored snapshot of ``roots`` resolved on ``source`` whose
    horizon has passed in the stored bars (up to the last completed session). Returns the
    outcomes appended per root."""
    series = series_by_root(
        warehouse, roots, source=source, as_of=last_completed_session(clock.utcnow()), log=log
    )
    return {
        root: resolve_root_outcomes(warehouse, root, series[root], source=source, log=log)
        for root in roots
        if root in series
    }


def open_call_status(
    warehouse: Warehouse,
    *,
    root: str | None = None,
    source: str | None = None,
    author: str | None = None,
    as_of: date | None = None,
    kind: str | None = None,
) -> pl.DataFrame:
    """The status so far of the open calls selected (None: any), each read now on the stored
    bars of the source it is resolved on. Writes nothing (a read-only warehouse will do)."""
    calls = warehouse.open_snapshots(root, source=source, author=author, as_of=as_of, kind=kind)
    parts = []
    for (call_root, call_source), group in calls.group_by(
        "root", "resolved_on_source", maintain_order=True
    ):
        if call_source is None:
            continue  # stored before its bars were named (migration 008): resolved on none
        series = root_series(warehouse, str(call_root), source=str(call_source))
        progress = progress_of(group, series) if series is not None else pl.DataFrame()
        if progress.height:
            keys = group.select(
                "snapshot_id", "root", "as_of", "author", "kind", "methodology_version",
                "source", "resolved_on_source", "recorded_late",
            )  # fmt: skip
            parts.append(keys.join(progress, on="snapshot_id", how="inner"))
    return pl.concat(parts) if parts else pl.DataFrame()
