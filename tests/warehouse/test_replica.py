"""One writer, many readers: the writer lock queues writers; readers read the published replica."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from warehouse.lock import lock_path, read_holder
from warehouse.store import MethodologyEntry, Warehouse, WarehouseLockedError, replica_path

AT = datetime(2026, 11, 21, 12, tzinfo=UTC)


def add_methodology(wh: Warehouse, version: str) -> None:
    wh.record_methodologies([MethodologyEntry(version, "hash", {}, published=False)], at=AT)


def methodologies(path: Path) -> list[str]:
    with Warehouse.open_reader(path) as reader:
        return sorted(reader.query("select methodology_version from methodologies")[:, 0])


def holder_process(path: Path) -> subprocess.Popen[str]:
    """Another process that opens the warehouse for writing and holds it until told to go."""
    code = f"""
        import sys
        from warehouse.store import Warehouse
        wh = Warehouse.open({str(path)!r})
        print("holding", flush=True)
        sys.stdin.readline()
        wh.close()
        """
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "holding"
    return process


def release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()
    assert process.wait(timeout=30) == 0


def test_readers_read_the_last_published_state_while_the_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    wh = Warehouse.open(path)
    add_methodology(wh, "a")
    published = wh.publish()
    assert published.path == replica_path(path) == tmp_path / "warehouse.read.duckdb"
    assert published.bytes == published.path.stat().st_size > 0
    add_methodology(wh, "b")  # committed, not yet published
    assert methodologies(path) == ["a"]
    assert wh.publish_if_due(3600) is None  # a checkpoint only once the interval has passed
    assert wh.publish_if_due(0) is not None
    assert methodologies(path) == ["a", "b"]
    add_methodology(wh, "c")
    wh.close()  # the writer publishes when it closes
    assert methodologies(path) == ["a", "b", "c"]
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary copy left behind


def test_a_session_left_open_on_the_replica_never_blocks_the_writer(tmp_path: Path) -> None:
    """An analyst's DuckDB session on the replica in another process (even opened read-write)
    keeps the state it opened; the writer publishes over it; a new session sees the new state."""
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    code = f"""
        import sys, duckdb
        con = duckdb.connect({str(replica_path(path))!r})  # read-write: the worst case
        count = "select count(*) from methodologies"
        print(con.execute(count).fetchone()[0], flush=True)
        sys.stdin.readline()
        print(con.execute(count).fetchone()[0], flush=True)
        """
    session = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert session.stdout is not None and session.stdin is not None
    try:
        assert session.stdout.readline().strip() == "1"
        started = time.monotonic()
        with Warehouse.open(path, lock_timeout=1.0) as wh:
            add_methodology(wh, "b")
        assert time.monotonic() - started < 1.0
        assert methodologies(path) == ["a", "b"]
        session.stdin.write("\n")
        session.stdin.flush()
        assert session.stdout.readline().strip() == "1"  # its own snapshot of the state
    finally:
        session.communicate(timeout=30)
    assert methodologies(path) == ["a", "b"]


def test_a_second_writer_waits_for_the_first_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse.open(path).close()
    holder = holder_process(path)
    try:
        messages: list[str] = []
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as raised:
            Warehouse.open(path, write_lock_timeout=1.0, on_wait=messages.append)
        assert time.monotonic() - started >= 1.0
        text = str(raised.value)
        assert "\n" not in text
        assert f"is being written by PID {holder.pid} (" in text
        assert text.endswith("waited 1 s for it to finish (CALLBOOK_WRITE_LOCK_TIMEOUT)")
        assert messages and f"writer lock held by PID {holder.pid}" in messages[0]
        assert read_holder(lock_path(path)).pid == holder.pid  # type: ignore[union-attr]

        # Without a limit the second writer waits, then writes once the first has finished.
        done: list[float] = []

        def second_writer() -> None:
            with Warehouse.open(path) as wh:
                add_methodology(wh, "second")
            done.append(time.monotonic())

        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and not done
        released = time.monotonic()
    finally:
        release(holder)
    thread.join(timeout=30)
    assert done and done[0] >= released
    assert methodologies(path) == ["second"]


def test_a_killed_writer_leaves_no_lock_behind(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse.open(path).close()
    holder = holder_process(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.monotonic()
    with Warehouse.open(path, write_lock_timeout=5.0) as wh:
        add_methodology(wh, "after")
    assert time.monotonic() - started < 5.0
    assert methodologies(path) == ["after"]


def test_a_reader_of_an_older_data_dir_without_a_replica_publishes_it_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    replica_path(path).unlink()
    with Warehouse.open_reader(path) as reader:
        assert reader.path == replica_path(path) and reader.read_only
        assert reader.query("select count(*) as n from methodologies")["n"].item() == 1


def test_callbook_sql_answers_from_the_replica_while_another_process_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sandbox of `callbook sql` attaches the replica: a writer holding the warehouse file in
    another process neither delays it nor shows it uncommitted or unpublished rows."""
    from flows.cli import EXIT_OK, main

    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    holder = holder_process(path)
    try:
        started = time.monotonic()
        code = main(
            [
                *("--data-dir", str(tmp_path), "sql", "--format", "csv"),
                "select methodology_version from methodologies order by 1",
            ]
        )
        answered = time.monotonic() - started
    finally:
        release(holder)
    assert code == EXIT_OK
    assert capsys.readouterr().out.split() == ["methodology_version", "a"]
    assert answered < 1.0


def test_verify_waits_for_the_writer_so_record_and_lake_are_of_one_moment(
    tmp_path: Path,
) -> None:
    """`callbook verify` reads the warehouse file itself under the writer lock: it waits for a
    writer in another process (saying so) and checks what that writer committed."""
    from flows.verify import verify

    path = tmp_path / "warehouse.duckdb"
    Warehouse.open(path).close()
    holder = holder_process(path)
    messages: list[str] = []
    releaser = threading.Timer(1.5, release, args=(holder,))
    releaser.start()
    started = time.monotonic()
    try:
        report = verify(tmp_path, on_wait=messages.append)
    finally:
        releaser.join()
    assert time.monotonic() - started >= 1.5
    assert report.ok and report.checked["snapshots hashed"] == 0
    assert messages and f"PID {holder.pid}" in messages[0]
    recorded = read_holder(lock_path(path))
    assert recorded is not None and recorded.pid == holder.pid  # verify recorded nothing itself


def test_the_writer_s_duckdb_memory_is_capped_by_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.settings import DEFAULT_WRITER_MEMORY_MB, load_settings
    from flows.writer import open_for_writing

    def limit(wh: Warehouse) -> str:
        return str(wh.query("select current_setting('memory_limit') as m")["m"][0])

    monkeypatch.delenv("CALLBOOK_WRITER_MEMORY_MB", raising=False)
    assert load_settings(data_dir=tmp_path).writer_memory_mb == DEFAULT_WRITER_MEMORY_MB == 1024
    monkeypatch.setenv("CALLBOOK_WRITER_MEMORY_MB", "256")
    with open_for_writing(load_settings(data_dir=tmp_path)) as wh:
        assert limit(wh) == "256.0 MiB"
    with Warehouse.open(tmp_path / "other.duckdb") as wh:  # no cap asked: DuckDB's own default
        assert limit(wh) != "256.0 MiB"
    monkeypatch.setenv("CALLBOOK_WRITER_MEMORY_MB", "10")
    with pytest.raises(ValueError, match="CALLBOOK_WRITER_MEMORY_MB='10': must be at least 64"):
        load_settings(data_dir=tmp_path)
