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
  methodology, from the continuous series of the root and its peers, which the flow writes once
  per run as Parquet files in the run's work directory; the results are written there too
  (warehouse/results.py: the snapshot rows and, for the note, the chart frame); the writer loads
  them.

What a task carries to a worker is plain: a :class:`Job` (strings and dates), file paths and
small frames; never a lock, a connection, a settings object or a lazy polars expression. The
task and the flow it runs in are pickled *by reference* (:func:`importable`): a worker imports
them from the installed package, as a separate ``dask worker`` must.

Process and Dask workers report their task runs to the flow's Prefect API. The commands always
run their flows against a server (flows/prefect_api.py); a flow called directly without
``PREFECT_API_URL`` runs on the temporary server Prefect starts for its process, and the workers
are pointed at that same server (otherwise each would start its own, 15-25 s apiece). Workers of
a separately started Dask cluster need ``PREFECT_API_URL`` in their own environment.
"""

from __future__ import annotations

import copyreg
import importlib
import os
import pickle
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.flows import Flow
from prefect.futures import as_completed
from prefect.logging import get_run_logger
from prefect.task_runners import TaskRunner
from prefect.tasks import Task

from flows.settings import Settings
from pipeline.analysis.engine import chart_frame
from pipeline.analysis.methodology import get
from pipeline.market.roots import RootSpec, builtin_registry
from warehouse.results import read_result, write_result

API_URL_VARIABLE = "PREFECT_API_URL"

R = TypeVar("R")
V = TypeVar("V")
W = TypeVar("W", bound="Task[..., Any] | Flow[..., Any]")


def importable(work: W) -> W:
    """Pickle this module-level task or flow as a reference to its module attribute (apply above
    ``@task`` / ``@flow``): a worker process imports it from the installed package.

    Process and Dask task runners pickle the task they send and the flow run's context (which
    holds the flow). Prefect's decorators rebind the module's name to the Task or Flow object, so
    pickle cannot find the function under its name ("it's not the same object as
    flows.fanout.compute_root") and cloudpickle copies it by value, with every global it reaches:
    other tasks' functions, the CLI's progress bar and its lock ("cannot pickle
    '_thread.RLock' object"). A marked object is pickled as (module, name) instead (a ``copyreg``
    reducer for Prefect's Task and Flow types; unmarked ones pickle as before, and ``copy.copy``
    of a marked one is itself); nothing else about it changes (its function, its name, the
    entrypoint Prefect records for a deployment)."""
    _BY_REFERENCE.add(id(work))
    return work


def _reference(work: Task[..., Any] | Flow[..., Any]) -> tuple[str, str] | None:
    """(module, name) of a task or flow marked :func:`importable` that is that module's
    attribute under its function's name; None otherwise."""
    if id(work) not in _BY_REFERENCE:
        return None
    module, name = work.fn.__module__, work.fn.__name__
    return (module, name) if getattr(sys.modules.get(module), name, None) is work else None


def _module_attribute(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _reduce(work: Task[..., Any] | Flow[..., Any]) -> str | tuple[Any, ...]:
    reference = _reference(work)
    if reference is None:
        return work.__reduce_ex__(pickle.DEFAULT_PROTOCOL)  # as any object: by value
    return (_module_attribute, reference)


_BY_REFERENCE: set[int] = set()
copyreg.pickle(Task, _reduce)
copyreg.pickle(Flow, _reduce)


def check_importable(work: Task[..., Any] | Flow[..., Any], runner: str) -> None:
    """Raise a clear error unless ``work`` (a task, or the flow it runs in) is pickled by
    reference (:func:`importable`), as the ``runner`` task runner needs to hand it to a worker
    process."""
    if _reference(work) is None:
        raise TypeError(
            f"{work.fn.__module__}.{work.fn.__qualname__} cannot run on the {runner} task "
            "runner: a worker process imports a task and its flow by module path; define them "
            "at module level and decorate them with @flows.fanout.importable"
        )


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


def inputs_of(root: str, available: Mapping[str, V], spec: RootSpec | None = None) -> dict[str, V]:
    """What a job of ``root`` needs of ``available`` (series or their files, by root): its own and
    its registered peers' (those available; ``spec``: the root's registry entry, None: the
    built-in registry's)."""
    known = spec if spec is not None else builtin_registry().get(root)
    peers = known.peers if known is not None else ()
    return {r: available[r] for r in dict.fromkeys([root, *peers]) if r in available}


def write_inputs(out_dir: Path, series: Mapping[str, pl.DataFrame]) -> dict[str, str]:
    """Each root's continuous series as a Parquet file in the run's work directory, once per run
    (a job reads its root's and its peers'); the paths by root."""
    return {
        root: str(write_result(out_dir, f"series-{root}", frame)) for root, frame in series.items()
    }


@importable
@task(
    name="compute",
    task_run_name="compute-{job.root}-{job.methodology}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def compute_root(job: Job, series: dict[str, str], out_dir: str) -> Computed:
    """The calls of one job (pure pipeline computation) from the series files of its root and
    peers (:func:`write_inputs`), written as result files."""
    started = time.perf_counter()
    logger = get_run_logger()
    methodology = get(job.methodology)
    frames = {root: read_result(Path(path)) for root, path in series.items()}
    last = frames[job.root]["session_date"].max()
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
            frames, job.root, source=job.source, sessions=[last], spec=job.spec
        )
        if analysis.snapshots.height == 0:
            logger.warning(
                "%s: no call on %s (fewer than the warm-up sessions of history)", job.root, last
            )
    else:
        analysis = methodology.analyse(frames, job.root, source=job.source, spec=job.spec)
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


@contextmanager
def _shared_api(*, remote_workers: bool) -> Iterator[None]:
    """Point workers in other processes at the Prefect API this flow run talks to: the configured
    one, or the temporary server Prefect started for this process.

    This run's context may hold the URL alone (the commands' temporary server,
    flows/prefect_api.py, is set with ``temporary_settings``), but threads a task runner starts
    see only Prefect's process-wide settings (the process pool's message-forwarding thread would
    start a temporary server of its own, ~20 s), and worker processes only the environment:
    both are given the URL while the runner runs."""
    import prefect.context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if not remote_workers:
        yield
        return
    url = PREFECT_API_URL.value()
    if not url:
        context = prefect.context.FlowRunContext.get()
        client = context.client if context is not None else None
        candidate = str(client.api_url) if client is not None else ""
        # an in-process application ("http://ephemeral-prefect/api") no other process can reach
        url = candidate if candidate.startswith("http") and "ephemeral" not in candidate else None
    if not url:
        yield
        return
    previous = os.environ.get(API_URL_VARIABLE)
    os.environ[API_URL_VARIABLE] = url
    # Prefect's process-wide settings are rebuilt only when they lack the URL (a test harness
    # puts it there).
    refresh = prefect.context.GLOBAL_SETTINGS_CONTEXT.settings.api.url != url
    if refresh:
        prefect.context.refresh_global_settings_context()
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
    finally:
        if previous is None:
            os.environ.pop(API_URL_VARIABLE, None)
        else:
            os.environ[API_URL_VARIABLE] = previous
        if refresh:
            prefect.context.refresh_global_settings_context()


def worker_count(settings: Settings, runner: TaskRunner[Any]) -> int:
    """How many tasks run at once: the worker threads of the running Dask cluster at
    ``CALLBOOK_DASK_ADDRESS``, else ``CALLBOOK_WORKERS``."""
    if settings.task_runner == "dask" and settings.dask_address:
        client = getattr(runner, "client", None)
        threads = sum(client.nthreads().values()) if client is not None else 0
        return int(threads) or settings.workers
    return settings.workers


def in_flight_limit(workers: int) -> int:
    """How many tasks :func:`run` keeps submitted at once: two per worker. Process and Dask task
    runners pickle each task's parameters when it is submitted and keep them until it ends (when
    they were the series frames, all 200 jobs of a 100-root backfill submitted at once grew the
    Dask run's flow process to 2.1 GB: bench/RESULTS.md, "Scale"); a worker always has its next
    task waiting while the writer stores the last."""
    return max(2, 2 * workers)


def run(
    settings: Settings, work: Task[..., R], parameters: Sequence[Mapping[str, Any]]
) -> Iterator[R]:
    """Run ``work`` once per parameter set on the configured task runner, at most
    :func:`in_flight_limit` at a time; yield each result as it completes (the caller, the one
    writer, stores it meanwhile)."""
    if not parameters:
        return
    if settings.task_runner != "thread":
        from prefect.context import FlowRunContext

        check_importable(work, settings.task_runner)
        context = FlowRunContext.get()
        if context is not None and context.flow is not None:
            check_importable(context.flow, settings.task_runner)
    started = time.perf_counter()
    waiting = deque(parameters)
    with task_runner(settings) as runner:
        workers = worker_count(settings, runner)
        running = [
            runner.submit(work, dict(waiting.popleft()))
            for _ in range(min(in_flight_limit(workers), len(waiting)))
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
        f"{workers} worker(s)"
        + (f" of the scheduler at {settings.dask_address}" if settings.dask_address else ""),
        time.perf_counter() - started,
    )


def compute(
    settings: Settings,
    jobs: Sequence[Job],
    series: Mapping[str, pl.DataFrame],
    out_dir: Path,
) -> Iterator[Computed]:
    """Compute ``jobs`` on the configured task runner; yield each result as it completes. The
    series are written to ``out_dir`` first (:func:`write_inputs`); the jobs read them there."""
    needed = {root for job in jobs for root in inputs_of(job.root, series, job.spec)}
    paths = write_inputs(out_dir, {root: series[root] for root in series if root in needed})
    return run(
        settings,
        compute_root,
        [
            {"job": job, "series": inputs_of(job.root, paths, job.spec), "out_dir": str(out_dir)}
            for job in jobs
        ],
    )
