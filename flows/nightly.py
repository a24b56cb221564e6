"""The nightly flow: per root fetch -> land -> validate -> load, then analysis and snapshots.

Thin by design: every step is a pipeline or warehouse call wrapped in a task (flows/tasks.py).

No ``from __future__ import annotations`` in flow modules: a served flow is pickled by value into
its run's process, and string annotations (``date``) would no longer resolve there when Prefect
validates the parameters.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows import analysis, history, tasks
from flows.settings import load_settings
from flows.sources import make_source
from pipeline.market.calendar import last_completed_session, previous_trade_date
from pipeline.sources.base import Source
from warehouse.store import SnapshotWrite, Warehouse

#: Sessions re-fetched before the last stored one, to pick up vendor revisions.
REVISION_OVERLAP_SESSIONS = 5
#: Stored bars handed to validation as context (previous close, ATR across the batch boundary):
#: about 60 sessions.
CONTEXT_CALENDAR_DAYS = 90


def default_as_of() -> date:
    return last_completed_session(tasks.utcnow())


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


def ingest_root(
    warehouse: Warehouse,
    source: Source,
    data_dir: Path,
    root: str,
    *,
    start: date | None,
    end: date,
    run_id: str | None,
) -> tasks.RootSummary:
    """fetch -> land -> validate -> load for one root. A failed fetch is recorded, not raised."""
    try:
        batch = tasks.fetch_bars(source, root, start, end)
    except Exception as exc:  # a failed root must not stop the others
        get_run_logger().error("%s: fetch failed for good: %s", root, exc)
        return tasks.fetch_failed(warehouse, root, source.name, exc, run_id)
    landing = tasks.land_batch(warehouse, data_dir, batch, run_id)
    context = None
    if start is not None:
        context = warehouse.current_bars(
            root,
            source=source.name,
            start=start - timedelta(days=CONTEXT_CALENDAR_DAYS),
            end=previous_trade_date(start),
        )
    validation = tasks.validate_batch(batch, context)
    return tasks.load_batch(warehouse, batch, landing, validation, run_id)


@dataclass(frozen=True)
class NightlyResult:
    as_of: date
    source: str
    ingest: list[tasks.RootSummary]
    snapshots: SnapshotWrite
    reports: list[analysis.Report] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # outcomes appended per root

    @property
    def failed(self) -> list[tasks.RootSummary]:
        return [s for s in self.ingest if s.status != "ok"]


def summary_markdown(
    summaries: Sequence[tasks.RootSummary],
    *,
    as_of: date,
    source: str,
    reports: Sequence[analysis.Report] = (),
) -> str:
    label = " (DEMO DATA - synthetic, not market prices)" if source == "demo" else ""
    lines = [
        f"# callbook nightly — {as_of}{label}",
        "",
        "| root | window | received | landed | new | revised | unchanged | quarantined | deferred | status |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in summaries:
        landed = "duplicate" if s.duplicate else ("yes" if s.landed else "no")
        status = s.status if not s.message else f"{s.status}: {s.message}"
        lines.append(
            f"| {s.root} | {s.window} | {s.received:,} | {landed} | {s.inserted:,} | {s.revised:,} "
            f"| {s.unchanged:,} | {s.quarantined:,} | {s.deferred:,} | {status} |"
        )
    if reports:
        lines += ["", "## Calls", ""]
        lines += [f"- {r.summary} — `{r.note_path}`" for r in reports]
    return "\n".join(lines)


@flow(name="callbook-nightly", log_prints=True)
def nightly(
    roots: list[str] | None = None,
    source: str | None = None,
    as_of: date | None = None,
    data_dir: str | None = None,
    source_options: Mapping[str, Any] | None = None,
    methodologies: list[str] | None = None,
) -> NightlyResult:
    """Ingest the day's bars for every root, validate and load them, then make the day's calls.

    ``as_of`` defaults to the last completed CME session (a trade date is final at 17:00 ET).
    Per root: fetch -> land -> validate -> load; then continuous series -> the calls of every
    configured methodology -> snapshots -> note and chart of the published one. A root whose
    fetch fails is reported and skipped; the others go on.
    """
    settings = load_settings(
        data_dir=data_dir, roots=roots, source=source, methodologies=methodologies
    )
    last_completed = default_as_of()
    as_of = as_of or last_completed
    kind = "live" if as_of == last_completed else "backfill"
    logger = get_run_logger()
    logger.info(
        "callbook nightly: as of %s (%s), source %s, roots %s, methodologies %s (%s published), "
        "data dir %s",
        as_of,
        kind,
        settings.source,
        ",".join(settings.roots),
        ",".join(settings.methodologies),
        settings.published_methodology,
        settings.data_dir,
    )
    src = make_source(settings.source, **dict(source_options or {}))
    run_id = str(flow_run.get_id() or "")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    with Warehouse.open(settings.warehouse_path) as warehouse:
        for root in settings.roots:
            start = incremental_start(warehouse.last_session(root, source=src.name))
            summaries.append(
                ingest_root(
                    warehouse, src, settings.data_dir, root, start=start, end=as_of, run_id=run_id
                )
            )
        methods = analysis.record_methodologies(warehouse, settings.methodologies)
        series = analysis.build_series(warehouse, settings.roots, source=src.name, as_of=as_of)
        analysed = {
            (root, m.version): analysis.analyse_root(
                series, root, source=src.name, as_of=as_of, methodology=m
            )
            for m in methods
            for root in settings.roots
            if root in series
        }
        rows = [a.snapshots for a in analysed.values() if a.snapshots.height]
        written = analysis.store_snapshots(
            warehouse,
            pl.concat(rows, how="diagonal_relaxed") if rows else pl.DataFrame(),
            kind=kind,
            run_id=run_id,
        )
        outcomes = {
            root: history.resolve_root(warehouse, root, series[root], source=src.name)
            for root in settings.roots
            if root in series
        }
        published = [
            analysed[(root, settings.published_methodology)]
            for root in settings.roots
            if (root, settings.published_methodology) in analysed
        ]
        reports = [
            report
            for a in published
            if (
                report := analysis.publish_report(
                    warehouse, settings.data_dir, a.root, a, demo=src.name == "demo"
                )
            )
        ]
    create_markdown_artifact(
        key="callbook-nightly-summary",
        markdown=summary_markdown(summaries, as_of=as_of, source=settings.source, reports=reports),
        description=f"callbook nightly summary for {as_of}",
    )
    result = NightlyResult(as_of, settings.source, summaries, written, reports, outcomes)
    tasks.raise_if_roots_failed(summaries, result)  # any root failed: the run ends Failed
    return result


@flow(name="callbook-ingest")
def ingest(
    root: str,
    source: str,
    start: date | None = None,
    end: date | None = None,
    data_dir: str | None = None,
    source_options: Mapping[str, Any] | None = None,
) -> tasks.RootSummary:
    """Ingest one root from one source over a date range (no analysis)."""
    settings = load_settings(data_dir=data_dir, roots=[root], source=source)
    end = end or default_as_of()
    src = make_source(settings.source, **dict(source_options or {}))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Warehouse.open(settings.warehouse_path) as warehouse:
        summary = ingest_root(
            warehouse,
            src,
            settings.data_dir,
            settings.roots[0],
            start=start,
            end=end,
            run_id=str(flow_run.get_id() or ""),
        )
    create_markdown_artifact(
        key="callbook-ingest-summary",
        markdown=summary_markdown([summary], as_of=end, source=settings.source),
    )
    tasks.raise_if_roots_failed([summary], summary)
    return summary
