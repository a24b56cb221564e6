"""Fan-out and one writer: `callbook backfill` through the installed command stores the same
calls on every task runner (threads, a process pool, a local Dask cluster, a separately started
`dask scheduler` with two `dask worker`s), and a reader in another process answers from the
published replica while a backfill writes."""

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

from flows.nightly import nightly
from flows.settings import load_settings
from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.lock import lock_path, read_holder
from warehouse.store import Warehouse, replica_is_stale, replica_path

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ROOTS = ["RTY", "ES", "NQ"]
#: The demo history starts here: six years (each backfill computes every call table whole, so
#: a shorter history keeps the runner tests quick; the window still has every root's calls).
DEMO_START = date(2021, 1, 4)


@pytest.fixture(scope="module")
def ingested(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("fanout") / "data"
    with frozen_clock(NOW):
        nightly(
            roots=ROOTS,
            source="demo",
            as_of=AS_OF,
            data_dir=str(data_dir),
            source_options={"demo_start": DEMO_START},
        )
    return data_dir


def copy_of(data_dir: Path, target: Path) -> Path:
    shutil.copytree(data_dir, target)
    return target


def stored(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    """What a backfill decides: every snapshot (id, content hash), level, scenario and outcome
    (everything but the provenance: run id, creation and recording times)."""
    with Warehouse.open_reader(data_dir / "warehouse.duckdb") as wh:
        return {
            "snapshots": query(
                wh, "select snapshot_id, content_hash, kind from snapshots order by snapshot_id"
            ).rows(),
            "levels": query(
                wh, "select * exclude (snapshot_id), snapshot_id from snapshot_levels order by all"
            ).rows(),
            "scenarios": query(
                wh,
                "select * exclude (snapshot_id), snapshot_id from snapshot_scenarios order by all",
            ).rows(),
            "outcomes": query(
                wh, "select * exclude (recorded_at) from outcomes order by snapshot_id"
            ).rows(),
        }


CALLBOOK = Path(sys.executable).with_name("callbook")
#: The backfill the runner tests make: a short window (each call table is still computed whole).
RUNNER_WINDOW = ("--start", "2026-10-01", "--end", AS_OF.isoformat())
RUNNER_TIMEOUT = 900.0  # seconds: a loaded 2-core machine


def backfill_through_the_command(data_dir: Path, **env: str) -> str:
    """`callbook backfill` of ROOTS over RUNNER_WINDOW as a user runs it (the installed command,
    its own process), against the session's Prefect server; its standard output."""
    from prefect.settings import PREFECT_API_URL

    done = subprocess.run(
        [
            *(str(CALLBOOK), "--data-dir", str(data_dir), "backfill"),
            *("--roots", ",".join(ROOTS), "--source", "demo", *RUNNER_WINDOW),
        ],
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), **env},
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert not (data_dir / "work").exists()  # the run's work files are gone once loaded
    return done.stdout


@pytest.fixture(scope="module")
def thread_backfill(
    ingested: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, list[tuple[object, ...]]]]:
    """The reference: the backfill on the default runner (threads), its output and what it
    stored."""
    data_dir = copy_of(ingested, tmp_path_factory.mktemp("thread") / "data")
    out = backfill_through_the_command(
        data_dir, CALLBOOK_TASK_RUNNER="thread", CALLBOOK_WORKERS="2"
    )
    return out, stored(data_dir)


def per_job_lines(out: str) -> list[str]:
    """The backfill's summary lines: calls computed and written per root and methodology, then
    outcomes per root."""
    return [ln for ln in out.splitlines() if " calls computed, " in ln or "outcomes appended" in ln]


def test_the_thread_backfill_stores_every_call_of_the_window(
    thread_backfill: tuple[str, dict[str, list[tuple[object, ...]]]],
) -> None:
    out, rows = thread_backfill
    methodologies = load_settings().methodologies
    assert methodologies == DEFAULT_METHODOLOGIES == ("v5", "v2", "v1")  # v5 published
    lines = per_job_lines(out)
    # 2026-10-01..2026-11-20: 37 CME sessions (22 weekdays in October from Thursday the 1st,
    # 15 in November to Friday the 20th, no exchange holiday); the last was the nightly's
    assert lines[: len(ROOTS) * len(methodologies)] == [
        f"{root} {m}: 37 calls computed, 36 written, 1 already stored"
        for root in ROOTS
        for m in methodologies
    ]
    assert len(rows["snapshots"]) == len(ROOTS) * len(methodologies) * 37
    assert len({h for _, h, _ in rows["snapshots"]}) == len(rows["snapshots"])  # all distinct
    assert rows["outcomes"] and rows["levels"] and rows["scenarios"]


@pytest.mark.parametrize("runner", ["process", "dask"])
def test_each_runner_from_the_installed_command_stores_what_threads_store(
    runner: str,
    ingested: Path,
    thread_backfill: tuple[str, dict[str, list[tuple[object, ...]]]],
    tmp_path: Path,
) -> None:
    """`process` (a process pool) and `dask` (a local Dask cluster) through `.venv/bin/callbook`:
    the same snapshots (ids, content hashes), levels, scenarios and outcomes as threads."""
    data_dir = copy_of(ingested, tmp_path / "data")
    out = backfill_through_the_command(data_dir, CALLBOOK_TASK_RUNNER=runner, CALLBOOK_WORKERS="2")
    reference_out, reference = thread_backfill
    assert per_job_lines(out) == per_job_lines(reference_out)
    assert stored(data_dir) == reference


def test_a_backfill_on_a_separately_started_dask_cluster_stores_what_threads_store(
    ingested: Path,
    thread_backfill: tuple[str, dict[str, list[tuple[object, ...]]]],
    tmp_path: Path,
) -> None:
    """`dask scheduler` and two `dask worker` processes started as a user starts them (given
    PREFECT_API_URL, as a real cluster's workers must be), `callbook backfill` pointed at them
    with CALLBOOK_DASK_ADDRESS: every call is computed on those workers, and the store equals
    the thread runner's."""
    from prefect.settings import PREFECT_API_URL

    from tests.support.dask_cluster import dask_cluster

    data_dir = copy_of(ingested, tmp_path / "data")
    worker_env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_LOGGING_LEVEL": "INFO",  # each task run's line in the worker's log
    }
    with dask_cluster(tmp_path / "cluster", env=worker_env) as cluster:
        out = backfill_through_the_command(
            data_dir, CALLBOOK_TASK_RUNNER="dask", CALLBOOK_DASK_ADDRESS=cluster.address
        )
        logs = cluster.worker_logs()
    reference_out, reference = thread_backfill
    assert per_job_lines(out) == per_job_lines(reference_out)
    assert stored(data_dir) == reference
    jobs = [f"compute-{root}-{m}" for root in ROOTS for m in load_settings().methodologies]
    ran = [
        {job for job in jobs if f"Task run '{job}' - Finished in state Completed()" in log}
        for log in logs
    ]
    assert set().union(*ran) == set(jobs)  # every job ran on one of the two workers
    assert all(ran) and not ran[0] & ran[1]  # both worked, and no job ran twice
    assert all("Starting temporary server" not in log for log in logs)  # they used the session's


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
            during = query(
                reader, "select snapshot_id, content_hash, kind from snapshots order by snapshot_id"
            ).rows()
            query(reader, "select * from scoreboard")
        answered = time.perf_counter() - started
        assert writing(path, writer.pid)  # the writer was still at work when the answer came
    finally:
        _, err = writer.communicate(timeout=600)
    assert writer.returncode == 0, err
    assert during == before  # the last published state, whole
    assert answered < 5.0  # it did not wait for the writer (the benchmark measures the latency)
    after = stored(data_dir)["snapshots"]
    # Published when the backfill finished: every call since the warm-up, of each root and
    # methodology (about 1,230 calls each after 250 sessions of warm-up).
    assert len(after) > len(before) + 9 * 1_000


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
    monkeypatch.setattr(fanout, "in_flight_limit", lambda workers: 2)

    @flow
    def all_of_them() -> list[int]:
        settings = load_settings(data_dir=tmp_path)
        assert settings.workers == 4
        return sorted(fanout.run(settings, work, [{"i": i} for i in range(7)]))

    assert all_of_them() == [i * i for i in range(7)]
    assert running["peak"] == 2


def test_tasks_and_flows_that_workers_run_are_pickled_by_reference() -> None:
    """What a process or Dask worker receives names the installed code: the compute and prepare
    tasks and the backfill and nightly flows pickle as references to themselves, and a flow whose
    module holds a lock (here: a progress hook closing over one, as the CLI's progress bar does)
    still pickles: cloudpickle does not copy its function and what that reaches."""
    import pickle
    import threading

    import cloudpickle

    from flows import fanout, history, nightly, tasks

    for work in (fanout.compute_root, tasks.prepare_root, history.backfill, nightly.nightly):
        assert pickle.loads(pickle.dumps(work)) is work
        assert len(pickle.dumps(work)) < 200  # a module and a name, not the function's code
    lock = threading.RLock()

    def hook(*step: object) -> None:
        with lock:
            pass

    with history.progress_hook(hook):
        with pytest.raises(TypeError, match="RLock"):
            cloudpickle.dumps(lock)
        assert cloudpickle.loads(cloudpickle.dumps(history.backfill)) is history.backfill
    # an unmarked task still pickles by value, as before
    assert cloudpickle.loads(cloudpickle.dumps(history.store_backfill)).name == "store-backfill"


def test_a_task_that_no_worker_can_import_is_refused_by_name() -> None:
    from prefect import task

    from flows import fanout

    @task
    def local_work() -> None:
        """Defined in a function: no worker process can import it."""

    with pytest.raises(TypeError, match=r"local_work cannot run on the dask task runner"):
        fanout.check_importable(local_work, "dask")
    fanout.check_importable(fanout.compute_root, "dask")  # no error
