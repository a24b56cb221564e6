"""Prefect tasks of the analysis half of the nightly run: series, calls, snapshots, reports.

Each task wraps pipeline or warehouse calls; none retries (nothing here talks to the network). The
calls themselves are computed on the configured task runner (flows/fanout.py); the tasks here that
write run in the flow's process, the run's one writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from flows import clock, fanout
from flows.prefect_api import decoration
from flows.series import series_by_root
from flows.settings import Settings, code_version
from pipeline.analysis.assemble import snapshot_from_row
from pipeline.analysis.methodology import Methodology, get
from pipeline.analysis.snapshot import MODEL_AUTHOR
from pipeline.market.roots import Registry
from warehouse import results
from warehouse.store import MethodologyEntry, SnapshotWrite, Warehouse


@task(name="build-series", cache_policy=NO_CACHE, persist_result=False)
def build_series(
    warehouse: Warehouse, roots: Sequence[str], *, source: str, as_of: date
) -> dict[str, pl.DataFrame]:
    """Continuous series (internal frame, cut at ``as_of``) of the roots and their peers; their
    rolls (gap, method, evidence) are stored in the warehouse's ``rolls`` table."""
    return series_by_root(warehouse, roots, source=source, as_of=as_of, log=get_run_logger())


def record_methodologies(
    warehouse: Warehouse, versions: Sequence[str], registry: Registry
) -> list[Methodology]:
    """The configured methodologies (the first published), recorded in ``methodologies`` with
    their tuning periods per root (``tuning_periods``, an underlying index expanded to the roots
    of ``registry`` on it)."""
    methodologies = [get(v) for v in versions]
    underlyings = {root: spec.cash_index for root, spec in registry.specs.items()}
    warehouse.record_methodologies(
        [
            MethodologyEntry(
                m.version,
                m.params_hash,
                m.params.as_dict(),
                published=i == 0,
                tuning_declared=m.tuning is not None,
                tuned_through=m.tuning.through if m.tuning else None,
                tuned_on=m.tuning.describe() if m.tuning else "",
                tuning_note=m.tuning.note if m.tuning else "",
                tuned_roots=tuple(m.tuning.tuned_roots(underlyings)) if m.tuning else (),
            )
            for i, m in enumerate(methodologies)
        ],
        at=clock.utcnow(),
    )
    return methodologies


@dataclass(frozen=True)
class ComputedCalls:
    """The nightly's computed calls, one result per (root, methodology), in the run's work dir."""

    work: Path
    by_job: dict[tuple[str, str], fanout.Computed]
    published_methodology: str

    def in_order(self) -> list[fanout.Computed]:
        return list(self.by_job.values())

    def published(self, roots: Sequence[str]) -> list[fanout.Computed]:
        """The published methodology's results, in ``roots`` order (those with a call)."""
        return [
            c
            for root in roots
            if (c := self.by_job.get((root, self.published_methodology))) is not None and c.rows
        ]

    def discard(self) -> None:
        results.discard(self.work)


def compute_calls(
    settings: Settings,
    series: dict[str, pl.DataFrame],
    methodologies: Sequence[Methodology],
    *,
    source: str,
    as_of: date,
    run_id: str,
) -> ComputedCalls:
    """The call of the last session on or before ``as_of`` of every root and methodology, computed
    on the configured task runner (flows/fanout.py)."""
    jobs = [
        fanout.Job(
            root,
            m.version,
            source,
            as_of,
            last_only=True,
            chart=m.version == settings.published_methodology,
            spec=settings.registry.spec(root),
        )
        for m in methodologies
        for root in settings.roots
        if root in series
    ]
    work = results.run_dir(settings.data_dir, run_id)
    done = {(c.root, c.methodology): c for c in fanout.compute(settings, jobs, series, work)}
    ordered = {(j.root, j.methodology): done[(j.root, j.methodology)] for j in jobs}
    return ComputedCalls(work, ordered, settings.published_methodology)


@task(name="store-snapshots", cache_policy=NO_CACHE, persist_result=False)
def store_calls(
    warehouse: Warehouse, computed: ComputedCalls, *, kind: str, run_id: str | None
) -> SnapshotWrite:
    """Write every computed call of the run in one transaction (the run's one writer)."""
    frames = [c.snapshots() for c in computed.in_order() if c.rows]
    rows = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    written = warehouse.write_snapshots(
        rows, kind=kind, flow_run_id=run_id, code_version=code_version(), created_at=clock.utcnow()
    )
    get_run_logger().info(
        "snapshots: %s written (%s superseding an earlier version), %s unchanged",
        written.written,
        written.superseding,
        written.unchanged,
    )
    return written


@dataclass(frozen=True)
class Report:
    root: str
    as_of: date
    version: int
    note_path: Path
    chart_path: Path
    summary: str
    note: str


@task(
    name="publish",
    task_run_name="publish-{computed.job.root}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def publish_report(
    warehouse: Warehouse, data_dir: Path, computed: fanout.Computed, *, demo: bool
) -> Report | None:
    """Render the stored call (latest version) as a note and a chart, and attach an artifact."""
    from pipeline.report.chart import render_chart
    from pipeline.report.note import render_note, render_summary_line
    from warehouse.reports import report_paths, write_report

    frame = computed.chart()
    if computed.rows == 0 or frame is None:
        return None
    root = computed.root
    key = computed.snapshots().row(0, named=True)
    as_of, methodology, source = key["as_of"], key["methodology_version"], key["source"]
    stored = warehouse.snapshot_rows(
        root, author="callbook", as_of=as_of, methodology=methodology, source=source
    )
    snapshot = snapshot_from_row(stored.row(0, named=True))
    previous_rows = warehouse.previous_call(
        root, author=MODEL_AUTHOR, methodology=methodology, source=source, as_of=as_of
    )
    previous = snapshot_from_row(previous_rows.row(0, named=True)) if previous_rows.height else None
    version = int(stored["version"].item())
    paths = report_paths(data_dir, root, as_of, version, methodology=methodology)
    # A stored version's chart does not change (its snapshot's content hash covers the bars it
    # draws): a re-run the same day keeps it and does not load matplotlib.
    chart = None if paths.chart.exists() else render_chart(frame, snapshot, demo=demo)
    note = render_note(snapshot, chart_file=paths.chart.name, demo=demo, previous=previous)
    write_report(paths, note=note, chart=chart)
    summary = render_summary_line(snapshot)
    decoration(
        f"{root}'s note artifact",
        create_markdown_artifact,
        key=f"callbook-{root.lower()}-note",
        markdown=note.replace(f"]({paths.chart.name})", f"]({paths.chart.resolve().as_uri()})"),
        description=summary,
    )
    get_run_logger().info("%s: note %s", root, paths.note)
    return Report(root, as_of, version, paths.note, paths.chart, summary, note)
