"""Outcome resolution and the status so far of open calls, as plain functions (no Prefect).

The nightly and backfill flows call them through the ``resolve-outcomes`` task; `callbook resolve`,
`calls add` and `audit` call them directly, so these commands start no Prefect server (`show`
reads the status so far the last resolution recorded: the ``open_calls`` view).
Every call is resolved on the bars of the source it names (``resolved_on_source``): a data
directory holding several sources never resolves one source's calls on another's series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import polars as pl

from flows import clock
from flows.series import LOG, Log, root_series, series_by_root
from flows.settings import load_registry_from_env
from pipeline.analysis.methodology import get, registered
from pipeline.audit.outcomes import call_progress, describe_progress, resolve_outcomes
from pipeline.market.calendar import EQUITY, last_completed_session
from pipeline.market.roots import Registry
from warehouse.store import Warehouse


def _counts_trade_dates(version: str) -> bool:
    """Whether calls of ``version`` count their horizon in trade dates (v4 on) rather than in
    rows of the series (v1-v3 and analyst calls, as they were stored and verified)."""
    return version in registered() and get(version).on_trade_calendar


def by_resolution(
    calls: pl.DataFrame, series: pl.DataFrame, *, registry: Registry | None = None
) -> list[tuple[pl.DataFrame, list[date] | None]]:
    """The calls of ONE root in the groups :func:`pipeline.audit.outcomes.resolve_outcomes`
    takes: one horizon each, with the root's trade dates over ``series`` for the calls of a
    methodology on the trade calendar and None (rows of the series) for the others."""
    if calls.height == 0:
        return []
    versions = calls["methodology_version"].unique().to_list()
    on_calendar = [v for v in versions if _counts_trade_dates(str(v))]
    trade_dates: list[date] | None = None
    if on_calendar:
        known = registry if registry is not None else load_registry_from_env()
        spec = known.get(str(calls["root"][0]))
        calendar = spec.trading_calendar if spec is not None else EQUITY
        first, last = series["session_date"].min(), series["session_date"].max()
        assert isinstance(first, date) and isinstance(last, date)
        trade_dates = calendar.trade_dates(first, last)
    keyed = calls.with_columns(_on_calendar=pl.col("methodology_version").is_in(on_calendar))
    return [
        (group.drop("_on_calendar"), trade_dates if counted else None)
        for (_, counted), group in keyed.group_by(
            "horizon_sessions", "_on_calendar", maintain_order=True
        )
    ]


def _each_group(
    calls: pl.DataFrame, series: pl.DataFrame, step: Callable[..., pl.DataFrame]
) -> pl.DataFrame:
    """``step`` (resolve_outcomes or call_progress) over :func:`by_resolution`'s groups."""
    groups = by_resolution(calls, series)
    return pl.concat([step(group, series, trade_dates=dates) for group, dates in groups])


def append_outcomes_of(warehouse: Warehouse, pending: pl.DataFrame, series: pl.DataFrame) -> int:
    """Resolve ``pending`` snapshots of one root on its ``series`` and append the outcomes whose
    horizon has passed (one transaction). Returns how many were appended."""
    through = series["session_date"].max()
    assert isinstance(through, date)
    if pending.height == 0:
        return 0
    outcomes = _each_group(pending, series, resolve_outcomes)
    return warehouse.append_outcomes(outcomes, series_through=through, recorded_at=clock.utcnow())


def progress_of(calls: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """The status so far of the open ``calls`` of one root on its ``series``, with its one-line
    ``summary`` (pipeline.audit.outcomes.call_progress; never a score)."""
    if calls.height == 0:
        return pl.DataFrame()
    progress = _each_group(calls, series, call_progress)
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
