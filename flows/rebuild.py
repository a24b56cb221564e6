"""``callbook rebuild``: recreate ``warehouse.duckdb`` and its replica from the lake alone.

The lake keeps every unit of work the warehouse committed (warehouse/record.py) besides the raw
batches (warehouse/lake.py). A rebuild, holding the writer lock from start to end:

1. refuses when the warehouse and its replica both open and read whole, unless ``force``
   (``callbook verify`` is the check for a warehouse that opens);
2. reads the record's units in commit order, checking the chain of manifests (a unit missing,
   replaced or reordered is named) and, as each part file is replayed, its sha256 and row count;
3. replays them into a new temporary file next to the warehouse: every migration at the place it
   was applied, every row as it was written (snapshots with their ``kind``, ``created_at`` and
   versions; analyst calls with every version; bars and rolls with their ``recorded_at`` and
   ``superseded_at``), then the derived call changes and the analyst views;
4. checks what it rebuilt: every snapshot's content hash against its stored values, every level
   and scenario row against its snapshot, every raw batch in the lake against the sha256 it was
   recorded with; and that no table that only grows holds fewer rows than the file it replaces
   (the old warehouse, if it still opens, and the replica) — a lake that lost units never
   replaces a better record;
5. renames the new file into place (after removing a damaged file's stale WAL) and publishes
   the replica.

Not a Prefect flow: like ``verify`` it runs without a Prefect server. A pending unit the lake
cannot confirm as committed (a writer died between writing it and moving it into place, and the
warehouse that knew is lost) is left out and removed; the summary says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from warehouse import record
from warehouse.lock import WriterLock, WriterLockTimeout
from warehouse.store import (
    APPEND_ONLY_TABLES,
    Warehouse,
    WarehouseError,
    WarehouseLockedError,
    fewer_rows,
    replica_path,
    statement,
    unpublished_marker,
)

Progress = Callable[[int, int, str], None]  # (units replayed, units in all, the unit's label)


class RebuildRefusedError(WarehouseError):
    """Nothing was replaced: the warehouse is healthy (without ``--force``), the lake holds no
    record, its record is damaged, or it holds fewer rows than the record it would replace."""


@dataclass
class RebuildResult:
    """What a rebuild restored."""

    path: Path
    units: int = 0
    parts: int = 0
    rows: int = 0  # rows in the record's part files
    counts: dict[str, int] = field(default_factory=dict)  # rows per table, rebuilt
    live: int = 0  # snapshots of kind live
    analyst: int = 0  # analyst call versions
    replaced: list[str] = field(default_factory=list)  # what was wrong with what it replaced
    left_out: list[str] = field(default_factory=list)  # pending units it could not confirm
    seconds: float = 0.0

    def summary(self) -> str:
        """One line of at most 100 columns (without the bars' count if it would not fit)."""
        c = self.counts
        line = (
            f"rebuilt {self.units:,} lake units ({self.seconds:.0f} s, hashes ok): "
            f"{c.get('snapshots', 0):,} calls ({self.live:,} live, {self.analyst:,} analyst), "
            f"{c.get('outcomes', 0):,} outcomes"
        )
        bars = f", {c.get('bars', 0):,} bars"
        return line + bars if len(line + bars) <= 100 else line


def health(path: Path) -> str | None:
    """None if the DuckDB file ``path`` opens and every table reads whole; else what is wrong.
    (A file that needs migrations is healthy: the next writer applies them.)"""
    if not path.exists():
        return "missing"
    try:
        con = duckdb.connect(str(path), read_only=True)
        con.execute(statement("no_progress_bar")).fetchall()
        with Warehouse(path, con, read_only=True) as wh:
            wh.read_whole()
    except (WarehouseError, duckdb.Error, OSError) as exc:
        text = str(exc).replace(str(path), path.name).strip()
        return f"cannot be read ({text.splitlines()[0] if text else type(exc).__name__})"
    return None


def rebuild(
    data_dir: Path,
    *,
    force: bool = False,
    on_progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
    write_lock_timeout: float | None = None,
) -> RebuildResult:
    """Recreate ``data_dir``'s warehouse and replica from its lake (see the module docstring).
    RebuildRefusedError (nothing replaced) names the reason."""
    path = data_dir / "warehouse.duckdb"
    started = time.monotonic()
    lock = WriterLock(path, timeout=write_lock_timeout, on_wait=on_wait)
    try:
        lock.acquire()
    except WriterLockTimeout as exc:
        raise WarehouseLockedError(str(exc)) from None
    try:
        result = _rebuild(data_dir, path, lock, force=force, on_progress=on_progress)
    except BaseException:
        lock.release()
        raise
    result.seconds = time.monotonic() - started
    return result


def _rebuild(
    data_dir: Path, path: Path, lock: WriterLock, *, force: bool, on_progress: Progress | None
) -> RebuildResult:
    result = RebuildResult(path)
    replica = replica_path(path)
    problems = {p: health(p) for p in (path, replica)}
    result.replaced = [f"{p.name}: {problem}" for p, problem in problems.items() if problem]
    if not result.replaced and not force:
        raise RebuildRefusedError(
            f"{path.name} and {replica.name} open and read whole: nothing to rebuild "
            "(`callbook verify` checks their content; --force rebuilds from the lake anyway)"
        )
    try:
        found = record.scan(record.record_dir(path))
    except record.RecordError as exc:
        raise RebuildRefusedError(f"the lake's record is damaged: {exc}; nothing replaced") from exc
    if not found.units:
        raise RebuildRefusedError(
            f"no record in {record.record_dir(path) / record.UNITS_DIR}: nothing to rebuild from (a data "
            "directory written before the lake kept the record)"
        )
    result.units, result.parts, result.rows = len(found.units), found.parts, found.rows
    result.left_out = [
        f"unit {u.seq} ({u.manifest.label}): pending, not confirmed committed"
        for u in found.unconfirmed
    ]
    tmp = path.with_name(f".{path.name}.rebuild-{os.getpid()}.tmp")
    _remove(tmp)
    try:
        _replay(tmp, found, result, data_dir, on_progress)
        for old in (path, replica):
            fewer = fewer_rows(result.counts, old) if problems[old] is None else []
            if fewer:
                raise RebuildRefusedError(
                    f"the lake's record holds fewer rows than {old.name} ({'; '.join(fewer)}): "
                    f"nothing replaced ({old.name} is the better record; a copy of the replica "
                    "is the warehouse as of its last publication)"
                )
        _install(tmp, path)
    finally:
        _remove(tmp)
    record.remove_unconfirmed(found)
    unpublished_marker(path).touch()  # the replica is stale until the writer below publishes
    with Warehouse.open(path, writer_lock=lock):
        pass  # publishes on open (marked stale) and on close
    return result


def _replay(
    tmp: Path,
    found: record.Scan,
    result: RebuildResult,
    data_dir: Path,
    on_progress: Progress | None,
) -> None:
    """Replay the record into the new file ``tmp``, check it, and count what it holds."""
    built = Warehouse.create_for_rebuild(tmp)
    try:
        total = len(found.units)
        for done, unit in enumerate(found.units, start=1):
            try:
                built.replay(unit)
            except duckdb.Error as exc:
                raise RebuildRefusedError(
                    f"unit {unit.seq} ({unit.manifest.label}) cannot be replayed: "
                    f"{str(exc).strip().splitlines()[0]}; nothing replaced"
                ) from exc
            if on_progress is not None:
                on_progress(done, total, unit.manifest.label)
        built.finish_rebuild()
        snapshots = built.table_rows("snapshots")
        _check(built, data_dir, snapshots)
        result.counts = {t: n for t, n in built.table_counts().items() if t in APPEND_ONLY_TABLES}
        kinds = snapshots["kind"].value_counts()
        by_kind = dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True))
        result.live, result.analyst = by_kind.get("live", 0), by_kind.get("analyst", 0)
    except record.RecordError as exc:
        raise RebuildRefusedError(f"the lake's record is damaged: {exc}; nothing replaced") from exc
    finally:
        built.close(publish=False)


def _check(built: Warehouse, data_dir: Path, snapshots: pl.DataFrame) -> None:
    """Every hash of the rebuilt record (snapshot content, long rows, raw batches)."""
    from flows.verify import lake_differences
    from pipeline.analysis.methodology import content_columns
    from pipeline.audit.verify import content_hash_differences, long_row_differences

    differences = content_hash_differences(snapshots, content_columns)
    differences += long_row_differences(
        snapshots, built.table_rows("snapshot_levels"), built.table_rows("snapshot_scenarios")
    )
    differences += [
        d
        for d in lake_differences(data_dir, built.table_rows("ingest_batches"))
        if "not recorded" not in d.detail  # a raw file a failed run landed: left alone
    ]
    if differences:
        shown = "; ".join(d.line() for d in differences[:3])
        raise RebuildRefusedError(
            f"the rebuilt record has {len(differences):,} differences ({shown}"
            f"{'; ...' if len(differences) > 3 else ''}): nothing replaced"
        )


def _install(tmp: Path, path: Path) -> None:
    """Rename the rebuilt file into place. A damaged file's WAL goes first: DuckDB would replay
    it onto the new file."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    for stale in (path.with_name(path.name + ".wal"),):
        stale.unlink(missing_ok=True)
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _remove(tmp: Path) -> None:
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        with suppress(FileNotFoundError):
            leftover.unlink()
