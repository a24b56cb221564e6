"""Prefect tasks of the analysis half of the nightly run: series, calls, snapshots, reports.

Each task wraps pipeline or warehouse calls; none retries (nothing here talks to the network).
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

from flows import tasks
from flows.series import series_by_root
from flows.settings import code_version
from pipeline.analysis.assemble import snapshot_from_row
from pipeline.analysis.engine import Analysis, chart_frame
from pipeline.analysis.methodology import Methodology, get
from warehouse.store import MethodologyEntry, SnapshotWrite, Warehouse


@task(name="build-series", cache_policy=NO_CACHE, persist_result=False)
def build_series(
    warehouse: Warehouse, roots: Sequence[str], *, source: str, as_of: date
) -> dict[str, pl.DataFrame]:
    """Continuous series (internal frame, cut at ``as_of``) of the roots and their peers; their
    rolls (gap, method, evidence) are stored in the warehouse's ``rolls`` table."""
    return series_by_root(warehouse, roots, source=source, as_of=as_of, log=get_run_logger())


def record_methodologies(warehouse: Warehouse, versions: Sequence[str]) -> list[Methodology]:
    """The configured methodologies (the first published), recorded in ``methodologies``."""
    methodologies = [get(v) for v in versions]
    warehouse.record_methodologies(
        [
            MethodologyEntry(
                m.version,
                m.params_hash,
                m.params.as_dict(),
                published=i == 0,
                tuning_declared=m.tuning is not None,
                tuned_through=m.tuning.through if m.tuning else None,
                tuned_sources=m.tuning.sources if m.tuning else (),
                tuning_note=m.tuning.note if m.tuning else "",
            )
            for i, m in enumerate(methodologies)
        ],
        at=tasks.utcnow(),
    )
    return methodologies


@task(
    name="analyse",
    task_run_name="analyse-{root}-{methodology.version}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def analyse_root(
    series_by_root: dict[str, pl.DataFrame],
    root: str,
    *,
    source: str,
    as_of: date,
    methodology: Methodology,
) -> Analysis:
    """The call for the last session on or before ``as_of`` (pure pipeline computation)."""
    last = series_by_root[root]["session_date"].max()
    assert isinstance(last, date)
    if last < as_of:
        get_run_logger().warning(
            "%s: the last bar is %s, before the as-of date %s: the call is for %s",
            root,
            last,
            as_of,
            last,
        )
    result = methodology.analyse(series_by_root, root, source=source, sessions=[last])
    if result.snapshots.height == 0:
        get_run_logger().warning(
            "%s: no call on %s (fewer than the warm-up sessions of history)", root, last
        )
    return result


@task(name="store-snapshots", cache_policy=NO_CACHE, persist_result=False)
def store_snapshots(
    warehouse: Warehouse, rows: pl.DataFrame, *, kind: str, run_id: str | None
) -> SnapshotWrite:
    written = warehouse.write_snapshots(
        rows, kind=kind, flow_run_id=run_id, code_version=code_version(), created_at=tasks.utcnow()
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


@task(name="publish", task_run_name="publish-{root}", cache_policy=NO_CACHE, persist_result=False)
def publish_report(
    warehouse: Warehouse, data_dir: Path, root: str, analysis: Analysis, *, demo: bool
) -> Report | None:
    """Render the stored call (latest version) as a note and a chart, and attach an artifact."""
    from pipeline.report.chart import render_chart
    from pipeline.report.note import render_note, render_summary_line
    from warehouse.reports import report_paths, write_report

    if analysis.snapshots.height == 0:
        return None
    key = analysis.snapshots.row(0, named=True)
    as_of, methodology, source = key["as_of"], key["methodology_version"], key["source"]
    stored = warehouse.snapshot_rows(
        root, author="callbook", as_of=as_of, methodology=methodology, source=source
    )
    snapshot = snapshot_from_row(stored.row(0, named=True))
    previous_rows = warehouse.query(
        "select * from latest_snapshots where root = $root and author = 'callbook'"
        " and methodology_version = $methodology and source = $source"
        " and as_of < $as_of order by as_of desc limit 1",
        {"root": root, "as_of": as_of, "methodology": methodology, "source": source},
    )
    previous = snapshot_from_row(previous_rows.row(0, named=True)) if previous_rows.height else None
    version = int(stored["version"].item())
    paths = report_paths(data_dir, root, as_of, version, methodology=methodology)
    # A stored version's chart does not change (its snapshot's content hash covers the bars it
    # draws): a re-run the same day keeps it and does not load matplotlib.
    chart = (
        None
        if paths.chart.exists()
        else render_chart(chart_frame(analysis.table, as_of), snapshot, demo=demo)
    )
    note = render_note(snapshot, chart_file=paths.chart.name, demo=demo, previous=previous)
    write_report(paths, note=note, chart=chart)
    summary = render_summary_line(snapshot)
    create_markdown_artifact(
        key=f"callbook-{root.lower()}-note",
        markdown=note.replace(f"]({paths.chart.name})", f"]({paths.chart.resolve().as_uri()})"),
        description=summary,
    )
    get_run_logger().info("%s: note %s", root, paths.note)
    return Report(root, as_of, version, paths.note, paths.chart, summary, note)
