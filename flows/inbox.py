"""``nightly --source file``: take each root's new vendor files from the drop folder, once.

Per root, every file waiting in ``<inbox>/<ROOT>/`` (pipeline/sources/inbox.py), in name order, is
fetched with the file source (the root's ``file_columns`` from the roots registry map its column
names), landed, validated and loaded like any batch (flows/nightly.py ``ingest_root``), recorded in
``inbox_files`` by the sha256 of its bytes, and archived (warehouse/inbox.py): to ``done/`` when
loaded, to ``rejected/`` with a reason file when it could not be read or was rejected whole. A file
whose bytes were taken before is not loaded again: it is archived and recorded as a duplicate.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from prefect.logging import get_run_logger

from flows import clock, tasks
from flows.ingestion import ingest_root
from flows.settings import Settings
from pipeline.sources.file import FileSource
from pipeline.sources.inbox import DroppedFile, pending_files
from warehouse.inbox import archive_path, move_to_archive
from warehouse.store import Warehouse


def ingest_inbox(
    warehouse: Warehouse, settings: Settings, *, end: date, run_id: str | None
) -> list[tasks.RootSummary]:
    """A summary per file taken (or one per root saying no file was waiting)."""
    summaries = []
    for root in settings.roots:
        files = pending_files(settings.inbox_dir, root)
        if not files:
            get_run_logger().info("%s: no new file in %s", root, settings.inbox_dir / root)
            summaries.append(
                tasks.RootSummary(root=root, source="file", window="", message="no new file")
            )
        summaries += [take_file(warehouse, settings, f, end=end, run_id=run_id) for f in files]
    return summaries


def take_file(
    warehouse: Warehouse,
    settings: Settings,
    dropped: DroppedFile,
    *,
    end: date,
    run_id: str | None,
) -> tasks.RootSummary:
    """Load one dropped file like any batch (or recognise it as taken before), then archive it."""
    logger = get_run_logger()
    name = dropped.path.name
    before = warehouse.inbox_file_taken(dropped.sha256)
    if before is not None:
        first_name, first_status, taken_at = before
        message = f"{name}: identical to {first_name}, taken {taken_at:%Y-%m-%d %H:%M} UTC ({first_status})"
        logger.warning("%s: %s; not loaded again", dropped.root, message)
        summary = tasks.RootSummary(
            root=dropped.root, source="file", window="", duplicate=True, message=message
        )
        _archive(
            warehouse,
            settings,
            dropped,
            summary,
            "duplicate",
            rejected=first_status != "loaded",
            run_id=run_id,
        )
        return summary
    spec = settings.registry.spec(dropped.root)
    source = FileSource(dropped.path, columns=spec.columns, registry=settings.registry)
    summary = ingest_root(
        warehouse,
        source,
        settings.data_dir,
        dropped.root,
        start=None,
        end=end,
        run_id=run_id,
        spec=spec,
    )
    status = {"ok": "loaded"}.get(
        summary.status, summary.status
    )  # loaded | rejected | quarantined | failed
    detail = f"{name}: {summary.message}" if summary.message else name
    summary = replace(summary, message=detail)
    _archive(
        warehouse, settings, dropped, summary, status, rejected=status != "loaded", run_id=run_id
    )
    return summary


def _archive(
    warehouse: Warehouse,
    settings: Settings,
    dropped: DroppedFile,
    summary: tasks.RootSummary,
    status: str,
    *,
    rejected: bool,
    run_id: str | None,
) -> None:
    target = archive_path(dropped, settings.inbox_dir, rejected=rejected)
    relative = target.relative_to(settings.inbox_dir)
    warehouse.record_inbox_file(
        file_sha256=dropped.sha256,
        root=dropped.root,
        file_name=dropped.path.name,
        size=dropped.size,
        status=status,
        batch_id=summary.batch_id or None,
        archived_path=str(relative),
        message=summary.message or None,
        run_id=run_id,
        taken_at=clock.utcnow(),
    )
    move_to_archive(dropped, target, reason=summary.message if rejected else None)
    get_run_logger().info("%s: %s %s -> %s", dropped.root, status, dropped.path.name, relative)
