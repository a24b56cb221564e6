"""Fan-out and one writer: the backfill on a real Dask LocalCluster equals the serial one, and a
reader in another process answers from the published replica while a backfill writes."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from flows.history import backfill
from flows.nightly import nightly
from flows.settings import load_settings
from tests.fakes.clock import frozen_clock
from warehouse.lock import lock_path, read_holder
from warehouse.store import Warehouse, replica_is_stale, replica_path

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ROOTS = ["RTY", "ES", "NQ"]
WINDOW_START = date(2026, 6, 1)  # a short window keeps the writes small; each call table is full


@pytest.fixture(scope="module")
def ingested(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("fanout") / "data"
    with frozen_clock(NOW):
        nightly(roots=ROOTS, source="demo", as_of=AS_OF, data_dir=str(data_dir))
    return data_dir


def copy_of(data_dir: Path, target: Path) -> Path:
    shutil.copytree(data_dir, target)
    return target


def stored(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    """What a backfill decides: every snapshot (id, content hash), level, scenario and outcome
    (everything but the provenance: run id, creation and recording times)."""
    with Warehouse.open_reader(data_dir / "warehouse.duckdb") as wh:
        return {
            "snapshots": wh.query(
                "select snapshot_id, content_hash, kind from snapshots order by snapshot_id"
            ).rows(),
            "levels": wh.query(
                "select * exclude (snapshot_id), snapshot_id from snapshot_levels order by all"
            ).rows(),
            "scenarios": wh.query(
                "select * exclude (snapshot_id), snapshot_id from snapshot_scenarios order by all"
            ).rows(),
            "outcomes": wh.query(
                "select * exclude (recorded_at) from outcomes order by snapshot_id"
            ).rows(),
        }


def test_the_backfill_on_a_dask_local_cluster_equals_the_serial_one(
    ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {}
    for runner, workers in (("thread", "1"), ("dask", "2")):
        monkeypatch.setenv("CALLBOOK_TASK_RUNNER", runner)
        monkeypatch.setenv("CALLBOOK_WORKERS", workers)
        data_dir = copy_of(ingested, tmp_path / runner)
        with frozen_clock(NOW):
            result = backfill(
                roots=ROOTS, source="demo", start=WINDOW_START, end=AS_OF, data_dir=str(data_dir)
            )
        results[runner] = (result, stored(data_dir))
        assert not (data_dir / "work").exists()  # the run's result files are gone once loaded
    (serial, serial_rows), (dask, dask_rows) = results["thread"], results["dask"]
    methodologies = load_settings().methodologies
    assert methodologies == ("v2", "v1")  # the default: v2 published, v1 computed beside it
    # every root under every methodology, each computed by a worker
    assert [(r.root, r.methodology) for r in dask.roots] == [
        (r, m) for r in ROOTS for m in methodologies
    ]
    assert dask.roots == serial.roots and dask.outcomes == serial.outcomes
    assert all(r.written > 100 for r in dask.roots)  # ~120 sessions each since June
    assert sum(dask.outcomes.values()) > 250
    assert dask_rows == serial_rows
    # + each root's nightly call by each methodology
    assert len(dask_rows["snapshots"]) == dask.written + len(ROOTS) * len(methodologies)


def test_a_reader_answers_from_the_published_state_while_a_backfill_writes(
    ingested: Path, tmp_path: Path
) -> None:
    """Two processes at once: `callbook backfill` writing, this test reading the replica."""
    from prefect.settings import PREFECT_API_URL

    data_dir = copy_of(ingested, tmp_path / "data")
    path = data_dir / "warehouse.duckdb"
    before = stored(data_dir)["snapshots"]
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the session's test server
        "CALLBOOK_PUBLISH_INTERVAL": "3600",  # no checkpoint: readers keep the state before
    }
    writer = subprocess.Popen(
        [
            *(sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), "backfill"),
            *("--roots", ",".join(ROOTS), "--end", AS_OF.isoformat(), "--source", "demo"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not writing(path, writer.pid):
            assert writer.poll() is None, writer.communicate()[1]
            assert time.monotonic() < deadline, "the backfill never took the writer lock"
            time.sleep(0.1)
        started = time.perf_counter()
        with Warehouse.open_reader(path) as reader:
            during = reader.query(
                "select snapshot_id, content_hash, kind from snapshots order by snapshot_id"
            ).rows()
            reader.query("select * from scoreboard")
        answered = time.perf_counter() - started
        assert writing(path, writer.pid)  # the writer was still at work when the answer came
    finally:
        _, err = writer.communicate(timeout=600)
    assert writer.returncode == 0, err
    assert during == before  # the last published state, whole
    assert answered < 5.0  # it did not wait for the writer (the benchmark measures the latency)
    after = stored(data_dir)["snapshots"]
    assert len(after) > len(before) + 15_000  # published when the backfill finished


def test_a_backfill_killed_while_writing_never_blocks_the_next_one(
    ingested: Path, tmp_path: Path
) -> None:
    """`callbook backfill` through the installed command, killed with SIGKILL once it writes
    (writer lock taken, work files on disk), against the session's Prefect server: the next
    backfill takes the writer lock without waiting for anyone (a wait is logged the moment it
    starts), publishes and leaves no work files. How long it takes to start is measured in
    bench/RESULTS.md ("Crash recovery"), not here: a timed assertion fails on a loaded machine."""
    from prefect.settings import PREFECT_API_URL

    data_dir = copy_of(ingested, tmp_path / "data")
    path = data_dir / "warehouse.duckdb"
    callbook = Path(sys.executable).with_name("callbook")
    command = [
        *(str(callbook), "--data-dir", str(data_dir), "backfill"),
        *("--roots", ",".join(ROOTS), "--end", AS_OF.isoformat(), "--source", "demo"),
    ]
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while not (writing(path, first.pid) and any((data_dir / "work").glob("*/*.parquet"))):
        assert first.poll() is None, first.communicate()[1]
        assert time.monotonic() < deadline, "the backfill never wrote its work files"
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert any((data_dir / "work").iterdir())  # what the dead run left

    second = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        while not writing(path, second.pid):
            assert second.poll() is None, second.communicate()[1]
            time.sleep(0.05)
    finally:
        _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert "waiting for the warehouse writer lock" not in err  # never waited for the dead run
    assert not (data_dir / "work").exists()
    assert not replica_is_stale(path)
    with Warehouse.open(path, read_only=True) as writer_view:
        written = writer_view.table_counts()
    with Warehouse.open(replica_path(path), read_only=True) as published:
        assert published.table_counts() == written


def writing(path: Path, pid: int) -> bool:
    """Whether process ``pid`` holds the warehouse's writer lock now."""
    holder = read_holder(lock_path(path))
    if holder is None or holder.pid != pid:
        return False
    fd = os.open(lock_path(path), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_run_keeps_at_most_its_in_flight_limit_submitted(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Four threads, but two tasks submitted at a time: never more than two run at once, and
    every result comes back (the parameters of waiting tasks are not yet handed to the runner)."""
    import threading

    from prefect import flow, task

    from flows import fanout

    lock = threading.Lock()
    running = {"now": 0, "peak": 0}

    @task(cache_policy=fanout.NO_CACHE, persist_result=False)
    def work(i: int) -> int:
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
        time.sleep(0.2)
        with lock:
            running["now"] -= 1
        return i * i

    monkeypatch.setenv("CALLBOOK_WORKERS", "4")
    monkeypatch.setattr(fanout, "in_flight_limit", lambda settings: 2)

    @flow
    def all_of_them() -> list[int]:
        settings = load_settings(data_dir=tmp_path)
        assert settings.workers == 4
        return sorted(fanout.run(settings, work, [{"i": i} for i in range(7)]))

    assert all_of_them() == [i * i for i in range(7)]
    assert running["peak"] == 2
