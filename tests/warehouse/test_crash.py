"""A writer killed at any phase never blocks the next one, and no failure makes the published
replica a worse record than it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from flows.verify import verify
from warehouse.store import (
    MethodologyEntry,
    ReplicaRegressionError,
    Warehouse,
    WarehouseDamagedError,
    replica_path,
    unpublished_marker,
)

AT = datetime(2026, 11, 21, 12, tzinfo=UTC)


def add_methodology(wh: Warehouse, version: str) -> None:
    wh.record_methodologies([MethodologyEntry(version, "hash", {}, published=False)], at=AT)


def replica_methodologies(path: Path) -> list[str]:
    """What a reader of the replica file itself sees (no refresh on the way)."""
    with duckdb.connect(str(replica_path(path)), read_only=True) as con:
        return sorted(
            r[0] for r in con.execute("select methodology_version from methodologies").fetchall()
        )


def reader_methodologies(path: Path) -> list[str]:
    """What a callbook reader sees (it republishes a replica a dead writer left stale)."""
    with Warehouse.open_reader(path) as reader:
        return sorted(reader.query("select methodology_version from methodologies")[:, 0])


#: A writer in another process, stopped at a phase until killed. Phases: ``locked`` (the lock is
#: taken, nothing written), ``committed`` (a unit of work committed, not yet published) and
#: ``publishing`` (in the middle of copying the replica: the temporary copy exists).
WRITER = """
    import shutil, sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    import warehouse.store as store
    from warehouse.store import MethodologyEntry, Warehouse

    path, phase = Path(sys.argv[1]), sys.argv[2]
    wh = Warehouse.open(path)
    (path.parent / "work" / "run-1").mkdir(parents=True)
    (path.parent / "work" / "run-1" / "snapshots-RTY.parquet").write_bytes(b"PAR1")
    if phase != "locked":
        at = datetime(2026, 11, 21, tzinfo=UTC)
        wh.record_methodologies([MethodologyEntry("new", "h", {}, published=False)], at=at)
    if phase == "publishing":
        copy = shutil.copyfile

        def stuck(src, dst):
            copy(src, dst)
            print(phase, flush=True)
            time.sleep(600)

        store.shutil.copyfile = stuck
        wh.publish()
    print(phase, flush=True)
    time.sleep(600)
    """


def killed_writer(path: Path, phase: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(path), phase],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == phase
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("phase", ["locked", "committed", "publishing"])
def test_a_writer_killed_at_any_phase_never_blocks_the_next_one(tmp_path: Path, phase: str) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "old")
    killed_writer(path, phase)
    committed = ["new", "old"] if phase != "locked" else ["old"]
    assert replica_methodologies(path) == ["old"]  # the dead writer never published
    assert unpublished_marker(path).exists()
    assert (tmp_path / "work" / "run-1").is_dir()  # the dead run's work files

    started = time.monotonic()
    with Warehouse.open(path, write_lock_timeout=10.0) as wh:
        assert time.monotonic() - started < 10.0
        # The next writer published what the dead one committed as soon as it opened ...
        assert wh.published_at_open
        assert replica_methodologies(path) == committed
        # ... and removed the dead run's work files.
        assert not (tmp_path / "work").exists()
        add_methodology(wh, "next")
    assert replica_methodologies(path) == sorted([*committed, "next"])
    assert not unpublished_marker(path).exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_reader_republishes_what_a_dead_writer_committed(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "old")
    killed_writer(path, "committed")
    assert replica_methodologies(path) == ["old"]
    report = verify(tmp_path)
    stale = [d.line() for d in report.differences if d.check == "replica"]
    assert stale == [
        "replica warehouse.read.duckdb:methodologies: 1 rows, the warehouse 2: not the "
        "warehouse's content (stale: the next callbook command publishes it)"
    ]
    assert reader_methodologies(path) == ["new", "old"]  # the next command published it
    assert not unpublished_marker(path).exists()
    assert verify(tmp_path).ok


def test_a_reader_never_publishes_while_a_writer_runs(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "old")
    writer = Warehouse.open(path)
    try:
        add_methodology(writer, "uncommitted-run")  # committed by the writer, not yet published
        started = time.monotonic()
        assert reader_methodologies(path) == ["old"]
        assert time.monotonic() - started < 2.0  # the reader did not wait for the writer
    finally:
        writer.close()
    assert reader_methodologies(path) == ["old", "uncommitted-run"]


def test_a_missing_writer_file_is_never_recreated_empty_over_its_replica(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "kept")
    before = replica_path(path).read_bytes()
    path.unlink()
    with pytest.raises(WarehouseDamagedError) as raised:
        Warehouse.open(path)
    assert str(raised.value) == (
        f"warehouse.duckdb is missing but its published replica warehouse.read.duckdb exists in "
        f"{tmp_path}: nothing was written. Restore the warehouse with `callbook rebuild` (from "
        "the lake, checking every hash)."
    )
    assert not path.exists()
    assert replica_path(path).read_bytes() == before
    assert reader_methodologies(path) == ["kept"]  # readers still read the record
    with pytest.raises(WarehouseDamagedError, match=r"is missing .* `callbook rebuild`"):
        verify(tmp_path)


def test_a_publication_that_would_lose_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
        add_methodology(wh, "b")
    before = replica_path(path).read_bytes()
    # Another warehouse file with fewer rows in its place (a restored old copy, a bug):
    path.unlink()
    unpublished_marker(path).unlink(missing_ok=True)
    replica_path(path).rename(tmp_path / "kept.duckdb")
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    (tmp_path / "kept.duckdb").rename(replica_path(path))
    wh = Warehouse.open(path)
    with pytest.raises(ReplicaRegressionError) as raised:
        wh.publish()
    wh.close(publish=False)
    assert str(raised.value) == (
        "not publishing: the record would lose rows the published replica warehouse.read.duckdb "
        "holds (methodologies 2 -> 1); the replica is kept as it was"
    )
    assert replica_path(path).read_bytes() == before


def test_a_damaged_replica_is_reported_then_published_again(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    replica = replica_path(path)
    replica.write_bytes(replica.read_bytes()[: replica.stat().st_size // 3])  # truncated
    report = verify(tmp_path)
    assert [d.check for d in report.differences] == ["replica"]
    assert "cannot be opened" in report.differences[0].detail
    assert reader_methodologies(path) == ["a"]  # the reader republished it from the warehouse
    assert verify(tmp_path).ok


def test_a_damaged_writer_file_names_the_way_back(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    data = bytearray(path.read_bytes())
    data[:4096] = bytes(4096)  # the header: zeros
    path.write_bytes(bytes(data))
    with pytest.raises(WarehouseDamagedError, match=r"cannot be opened \(.*`callbook rebuild`"):
        Warehouse.open(path, write_lock_timeout=1.0)
    with pytest.raises(WarehouseDamagedError, match="`callbook rebuild`"):
        verify(tmp_path)
    assert reader_methodologies(path) == ["a"]  # readers keep reading the last publication
