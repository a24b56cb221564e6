"""The nightly flow: per root fetch -> land -> validate -> load, then analysis and snapshots.

Thin by design: every step is a pipeline or warehouse call wrapped in a task (flows/tasks.py).

No ``from __future__ import annotations`` in flow modules: a served flow is pickled by value into
its run's process, and string annotations (``date``) would no longer resolve there when Prefect
validates the parameters.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows import analysis, fanout, history, inbox, tasks, writer
from flows.ingestion import (
    default_as_of,
    incremental_start,
    ingest_root,
    validation_context,
)
from flows.prefect_api import decoration, remembered
from flows.settings import Settings, load_settings
from flows.site import SiteBuild
from flows.sources import make_source
from pipeline.market.calendar import is_trade_date, next_trade_date, previous_trade_date
from pipeline.sources.base import Source
from warehouse.store import SnapshotWrite, Warehouse


def ingest_roots(
    warehouse: Warehouse,
    source: Source,
    settings: Settings,
    *,
    end: date,
    run_id: str | None,
) -> list[tasks.RootSummary]:
    """Every root's incremental fetch -> land -> validate on the configured task runner
    (flows/fanout.py), each loaded by this process, the one writer, as it arrives."""
    jobs = []
    for root in settings.roots:
        start = incremental_start(warehouse.last_session(root, source=source.name))
        jobs.append(
            {
                "source": source,
                "data_dir": settings.data_dir,
                "root": root,
                "start": start,
                "end": end,
                "context": validation_context(warehouse, root, source.name, start),
                "spec": settings.registry.spec(root),
            }
        )
    summaries = {
        prepared.root: tasks.store_prepared(warehouse, prepared, run_id)
        for prepared in fanout.run(settings, tasks.prepare_root, jobs)
    }
    return [summaries[root] for root in settings.roots]


@dataclass(frozen=True)
class NightlyResult:
    as_of: date
    source: str
    ingest: list[tasks.RootSummary]
    snapshots: SnapshotWrite
    reports: list[analysis.Report] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # outcomes appended per root
    site: SiteBuild | None = None  # the static site, brought up to date after the snapshots

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


def session_as_of(requested: date | None, last_completed: date) -> tuple[date, str | None]:
    """The session a nightly makes its calls for (``requested``, else the last completed one)
    and, when ``requested`` is no CME trade date, the line that says which session it takes: the
    one before it, whose call a run on that day would make.

    >>> session_as_of(date(2026, 12, 5), date(2026, 12, 7))[1]
    '2026-12-05 is not a CME trade date (the sessions around it: 2026-12-04 and 2026-12-07): \
the calls are made as of 2026-12-04'
    """
    if requested is None:
        return last_completed, None
    if is_trade_date(requested):
        return requested, None
    before, after = previous_trade_date(requested), next_trade_date(requested)
    return before, (
        f"{requested} is not a CME trade date (the sessions around it: {before} and {after}): "
        f"the calls are made as of {before}"
    )


@fanout.importable  # its run context goes to the workers: by reference, not by value
@flow(name="callbook-nightly", log_prints=True)
@remembered
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
    Per root: fetch -> land -> validate on the configured task runner (flows/fanout.py), each
    loaded by this run's one writer (``source="file"``: every new vendor file in the drop folder,
    flows/inbox.py); then continuous series -> the calls of every configured methodology (on the
    task runner too) -> snapshots -> note and chart of the published one. A root whose fetch fails
    is reported and skipped; the others go on.
    """
    settings = load_settings(
        data_dir=data_dir, roots=roots, source=source, methodologies=methodologies
    )
    last_completed = default_as_of()
    as_of, moved = session_as_of(as_of, last_completed)
    kind = "live" if as_of == last_completed else "backfill"
    logger = get_run_logger()
    if moved:
        logger.warning(moved)
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
    run_id = str(flow_run.get_id() or "")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with writer.open_warehouse(settings) as warehouse:
        if settings.source == "file" and not source_options:
            summaries = inbox.ingest_inbox(warehouse, settings, end=as_of, run_id=run_id)
        else:
            src = make_source(
                settings.source, registry=settings.registry, **dict(source_options or {})
            )
            summaries = ingest_roots(warehouse, src, settings, end=as_of, run_id=run_id)
        methods = analysis.record_methodologies(
            warehouse, settings.methodologies, settings.registry
        )
        series = analysis.build_series(
            warehouse, settings.roots, source=settings.source, as_of=as_of
        )
        computed = analysis.compute_calls(
            settings, series, methods, source=settings.source, as_of=as_of, run_id=run_id
        )
        written = analysis.store_calls(warehouse, computed, kind=kind, run_id=run_id)
        outcome_series = history.series_for_outcomes(
            warehouse, settings, series, calls_through=as_of
        )
        outcomes = {
            root: history.resolve_root(
                warehouse, root, outcome_series[root], source=settings.source
            )
            for root in settings.roots
            if root in outcome_series
        }
        reports = [
            report
            for c in computed.published(settings.roots)
            if (
                report := analysis.publish_report(
                    warehouse, settings.data_dir, c, demo=settings.source == "demo"
                )
            )
        ]
        computed.discard()
    # After the snapshots, with the writer closed (the site reads the warehouse read-only):
    # redraws only what changed.
    site = tasks.build_site(str(settings.data_dir))
    decoration(
        "the run's summary artifact",
        create_markdown_artifact,
        key="callbook-nightly-summary",
        markdown=summary_markdown(summaries, as_of=as_of, source=settings.source, reports=reports)
        + f"\n\n{site.markdown()}",
        description=f"callbook nightly summary for {as_of}",
    )
    result = NightlyResult(as_of, settings.source, summaries, written, reports, outcomes, site)
    tasks.raise_if_roots_failed(summaries, result)  # any root failed: the run ends Failed
    return result


@flow(name="callbook-ingest")
@remembered
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
    src = make_source(settings.source, registry=settings.registry, **dict(source_options or {}))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with writer.open_warehouse(settings) as warehouse:
        summary = ingest_root(
            warehouse,
            src,
            settings.data_dir,
            settings.roots[0],
            start=start,
            end=end,
            run_id=str(flow_run.get_id() or ""),
            spec=settings.registry.spec(settings.roots[0]),
        )
    decoration(
        "the run's summary artifact",
        create_markdown_artifact,
        key="callbook-ingest-summary",
        markdown=summary_markdown([summary], as_of=end, source=settings.source),
    )
    tasks.raise_if_roots_failed([summary], summary)
    return summary
