"""Fan-out: the per-root work of a run on a configurable Prefect task runner.

``CALLBOOK_TASK_RUNNER`` picks where the work runs (flows/settings.py):

- ``thread`` (default): a ``ThreadPoolTaskRunner`` of ``CALLBOOK_WORKERS`` threads in the flow's
  process. polars releases the GIL in its kernels, and the writer works while the threads compute.
- ``process``: a ``ProcessPoolTaskRunner`` of ``CALLBOOK_WORKERS`` processes on this machine.
- ``dask``: ``prefect_dask.DaskTaskRunner``: a local ``distributed.LocalCluster`` of
  ``CALLBOOK_WORKERS`` single-threaded worker processes, or the running scheduler at
  ``CALLBOOK_DASK_ADDRESS`` (its workers must see the data directory at the same path).

Two kinds of per-root work run there, and workers never open DuckDB: the flow's one writer stores
each result as it arrives (:func:`run` yields them in completion order), so writing overlaps
the work still running.

- The nightly's ingest: each root's fetch -> land (the lake's write-once file) -> validate
  (flows/tasks.py ``prepare_root``); the writer records and loads the batch.
- The analysis of ``nightly`` and ``backfill`` (:func:`compute`): one root's calls under one
  methodology, from the continuous series the flow hands it (the root's and its peers'), written
  as immutable Parquet files under the run's work directory (warehouse/results.py, the snapshot
  rows and, for the note, the chart frame); the writer loads them.

Process and Dask workers report their task runs to the flow's Prefect API. Without
``PREFECT_API_URL`` the flow runs on a temporary server started by its process; the workers are
pointed at that same server (otherwise each would start its own, 15-25 s apiece).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.logging import get_run_logger
from prefect.task_runners import TaskRunner
from prefect.tasks import Task

from flows.settings import Settings
from pipeline.analysis.engine import chart_frame
from pipeline.analysis.methodology import get
from pipeline.market.roots import RootSpec, builtin_registry
from warehouse.results import read_result, write_result

R = TypeVar("R")


@dataclass(frozen=True)
class Job:
    """One root under one methodology: the calls of sessions in [start, end] (``last_only``: the
    call of the series' last session, the nightly's), and the chart frame when ``chart``."""

    root: str
    methodology: str
    source: str
    end: date
    start: date | None = None
    last_only: bool = False
    chart: bool = False
    spec: RootSpec | None = None  # the root's registry entry (None: the built-in registry's)


@dataclass(frozen=True)
class Computed:
    """What a job wrote: snapshot rows (wide, with content hashes) and maybe the chart frame."""

    job: Job
    snapshots_path: Path
    rows: int
    chart_path: Path | None
    seconds: float

    @property
    def root(self) -> str:
        return self.job.root

    @property
    def methodology(self) -> str:
        return self.job.methodology

    def snapshots(self) -> pl.DataFrame:
        return read_result(self.snapshots_path)

    def chart(self) -> pl.DataFrame | None:
        return read_result(self.chart_path) if self.chart_path is not None else None


def inputs_of(
    root: str, series: Mapping[str, pl.DataFrame], spec: RootSpec | None = None
) -> dict[str, pl.DataFrame]:
    """The series a job of ``root`` needs: its own and its registered peers' (those available;
    ``spec``: the root's registry entry)."""
    known = spec if spec is not None else builtin_registry().get(root)
    peers = known.peers if known is not None else ()
    return {r: series[r] for r in dict.fromkeys([root, *peers]) if r in series}


@task(
    name="compute",
    task_run_name="compute-{job.root}-{job.methodology}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def compute_root(job: Job, series: dict[str, pl.DataFrame], out_dir: str) -> Computed:
    """The calls of one job (pure pipeline computation), written as result files."""
    started = time.perf_counter()
    logger = get_run_logger()
    methodology = get(job.methodology)
    last = series[job.root]["session_date"].max()
    assert isinstance(last, date)
    if job.last_only:
        if last < job.end:
            logger.warning(
                "%s: the last bar is %s, before the as-of date %s: the call is for %s",
                job.root,
                last,
                job.end,
                last,
            )
        analysis = methodology.analyse(
            series, job.root, source=job.source, sessions=[last], spec=job.spec
        )
        if analysis.snapshots.height == 0:
            logger.warning(
                "%s: no call on %s (fewer than the warm-up sessions of history)", job.root, last
            )
    else:
        analysis = methodology.analyse(series, job.root, source=job.source, spec=job.spec)
    rows = analysis.snapshots.filter(pl.col("as_of") <= job.end)
    if job.start is not None:
        rows = rows.filter(pl.col("as_of") >= job.start)
    name = f"{job.root}-{job.methodology}"
    snapshots_path = write_result(Path(out_dir), f"snapshots-{name}", rows)
    chart_path = None
    if job.chart and rows.height:
        chart_path = write_result(Path(out_dir), f"chart-{name}", chart_frame(analysis.table, last))
    return Computed(job, snapshots_path, rows.height, chart_path, time.perf_counter() - started)


def make_task_runner(settings: Settings) -> TaskRunner[Any]:
    """The task runner ``settings`` name (CALLBOOK_TASK_RUNNER)."""
    if settings.task_runner == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=settings.workers)
    if settings.task_runner == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=settings.workers)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": settings.workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            }
        )
    raise ValueError(f"unknown task runner {settings.task_runner!r}")


@contextmanager
def task_runner(settings: Settings) -> Iterator[TaskRunner[Any]]:
    """The configured task runner, started, its workers reporting to this flow's Prefect API."""
    runner = make_task_runner(settings)
    with _shared_api(remote_workers=settings.task_runner != "thread"), runner:
        yield runner


def _shared_api(*, remote_workers: bool) -> Any:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if not remote_workers or PREFECT_API_URL.value():
        return nullcontext()
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the temporary server this process's flow run uses
    if not server.running:
        return nullcontext()
    return temporary_settings(updates={PREFECT_API_URL: server.api_url})


def in_flight_limit(settings: Settings) -> int:
    """How many tasks :func:`run` keeps submitted at once: two per worker. Process and Dask task
    runners pickle each task's parameters (a root's series and its peers') when it is submitted
    and keep them until it ends: with all 200 jobs of a 100-root backfill submitted at once, the
    flow process of the Dask run grew to 2.1 GB (bench/RESULTS.md, "Scale")."""
    return max(2, 2 * settings.workers)


def run(
    settings: Settings, work: Task[..., R], parameters: Sequence[Mapping[str, Any]]
) -> Iterator[R]:
    """Run ``work`` once per parameter set on the configured task runner, at most
    :func:`in_flight_limit` at a time; yield each result as it completes (the caller, the one
    writer, stores it meanwhile)."""
    if not parameters:
        return
    started = time.perf_counter()
    waiting = deque(parameters)
    with task_runner(settings) as runner:
        running = [
            runner.submit(work, dict(waiting.popleft()))
            for _ in range(min(in_flight_limit(settings), len(waiting)))
        ]
        while running:
            done = next(as_completed(running))
            running.remove(done)
            if waiting:  # keep the workers busy while the writer stores this result
                running.append(runner.submit(work, dict(waiting.popleft())))
            yield done.result()
    get_run_logger().info(
        "%s: %s task(s) on the %s task runner (%s) in %.1f s",
        work.name,
        len(parameters),
        settings.task_runner,
        f"scheduler {settings.dask_address}"
        if settings.dask_address
        else f"{settings.workers} worker(s)",
        time.perf_counter() - started,
    )


def compute(
    settings: Settings,
    jobs: Sequence[Job],
    series: Mapping[str, pl.DataFrame],
    out_dir: Path,
) -> Iterator[Computed]:
    """Compute ``jobs`` on the configured task runner; yield each result as it completes."""
    return run(
        settings,
        compute_root,
        [
            {"job": job, "series": inputs_of(job.root, series, job.spec), "out_dir": str(out_dir)}
            for job in jobs
        ],
    )
