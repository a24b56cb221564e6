"""Prefect tasks: each wraps one pipeline or warehouse call. Retries live on the fetch only."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.logging import get_run_logger
from prefect.states import State
from prefect.tasks import Task, exponential_backoff

from flows import clock, site
from flows.fanout import importable
from flows.site import SiteBuild
from pipeline.market.roots import RootSpec
from pipeline.quality.result import ValidationResult
from pipeline.schema import Batch, ReceivedBatch
from pipeline.sources.base import Source, TransientSourceError
from warehouse.store import Warehouse

FETCH_RETRIES = 4
FETCH_BACKOFF_SECONDS = 2.0
FETCH_JITTER = 0.5


def utcnow() -> datetime:
    """The wall clock: ``flows.clock.utcnow`` (the one place tests stop it)."""
    return clock.utcnow()


def _is_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    try:
        state.result()
    except TransientSourceError:
        return True
    except Exception:
        return False
    return False


#: yfinance keeps process-wide state (cookie, crumb, response cache) that each attempt resets:
#: threads of one process fetch from Yahoo one at a time (processes and Dask workers in parallel).
_YFINANCE_LOCK = threading.Lock()


def _reset_source(source: Source) -> None:
    # yfinance caches responses in-process, failures included: a retry must not see them.
    if source.name == "yahoo":
        from pipeline.sources.yahoo import reset_yfinance_state

        reset_yfinance_state()


@task(
    name="fetch",
    retries=FETCH_RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=FETCH_BACKOFF_SECONDS),
    retry_jitter_factor=FETCH_JITTER,
    retry_condition_fn=_is_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
    task_run_name="fetch-{root}",
)
def fetch_bars(source: Source, root: str, start: date | None, end: date) -> Batch:
    """One fetch attempt; transient failures (rate limit, 5xx, transport) are retried with backoff."""
    logger = get_run_logger()
    logger.info("%s: fetching from %s, %s..%s", root, source.name, start or "the beginning", end)
    with _YFINANCE_LOCK if source.name == "yahoo" else nullcontext():
        _reset_source(source)
        batch = source.fetch(root, start=start, end=end, fetched_at=utcnow())
    logger.info(
        "%s: received %s rows (sha256 %s)", root, f"{batch.raw.num_rows:,}", batch.sha256[:12]
    )
    return batch


@task(name="land", cache_policy=NO_CACHE, persist_result=False, task_run_name="land-{batch.root}")
def land_batch(data_dir: Path, batch: Batch) -> str:
    """Write the raw batch as received to the lake (write-once, content-addressed): its path
    relative to the data directory. Any worker may land; the writer records the batch."""
    from warehouse.lake import land_batch as land

    landed = land(data_dir, batch)
    get_run_logger().info(
        # The file is named by the batch's sha256: the folder and the hash's head fit a line.
        "%s: batch %s %s %s/",
        batch.root,
        batch.sha256[:12],
        "landed in" if landed.is_new else "already in the lake:",
        Path(landed.path).parent,
    )
    return str(landed.path)


@task(
    name="validate",
    cache_policy=NO_CACHE,
    persist_result=False,
    task_run_name="validate-{batch.root}",
)
def validate_batch(batch: Batch, context: pl.DataFrame | None, spec: RootSpec) -> ValidationResult:
    from pipeline.quality.suite import validate_batch as validate

    with _VALIDATION_LOCK:  # one Great Expectations context per process, not made for threads
        result = validate(batch, context=context, spec=spec)
    logger = get_run_logger()
    if result.status == "rejected":
        logger.error("%s: batch rejected: %s", batch.root, result.rejection)
    else:
        counts = result.findings.group_by("rule", "severity").len().sort("rule")
        for rule, severity, n in counts.iter_rows():
            log = logger.warning if severity == "error" else logger.info
            log("%s: %s row(s) %s by rule %s", batch.root, n, _VERB[severity], rule)
    return result


_VALIDATION_LOCK = threading.Lock()
_VERB = {"error": "quarantined", "warning": "flagged", "deferred": "deferred (session not final)"}


@dataclass(frozen=True)
class RootSummary:
    """What happened to one root in one run (a row of the run's summary table)."""

    root: str
    source: str
    window: str
    received: int = 0
    landed: bool = False
    duplicate: bool = False
    inserted: int = 0
    revised: int = 0
    unchanged: int = 0
    quarantined: int = 0
    warnings: int = 0
    deferred: int = 0
    status: str = "ok"  # ok | rejected | quarantined (nothing loaded) | failed
    message: str = ""
    batch_id: str = ""  # the sha256 of the batch received (empty when the fetch failed)

    def line(self) -> str:
        """The counts of the run in one line (`callbook ingest` prints it)."""
        return (
            f"{self.root}: received {self.received:,}, new {self.inserted:,}, revised "
            f"{self.revised:,}, unchanged {self.unchanged:,}, quarantined {self.quarantined:,}, "
            f"deferred {self.deferred:,} — {self.status}"
        )


def _forget_landing(warehouse: Warehouse, batch: Batch | ReceivedBatch, lake_path: str) -> None:
    """The batch's record did not commit: its landed file goes too, unless a batch recorded
    before holds the same content (then it is that batch's file). Best effort: the failure being
    reported is the record's, not this."""
    from warehouse.lake import remove_landed

    with suppress(Exception):
        if not warehouse.batch_recorded(batch.sha256):
            remove_landed(warehouse.path.parent, lake_path)


@task(name="load", cache_policy=NO_CACHE, persist_result=False, task_run_name="load-{batch.root}")
def load_batch(
    warehouse: Warehouse,
    batch: Batch | ReceivedBatch,
    lake_path: str,
    validation: ValidationResult,
    run_id: str | None,
) -> RootSummary:
    """Record the landed batch (an identical batch received before is only logged), then store
    the validation run, the quarantined rows and the clean bars in one transaction."""
    try:
        duplicate = warehouse.record_batch(
            batch, lake_path=lake_path, run_id=run_id, recorded_at=utcnow()
        )
    except Exception:
        _forget_landing(warehouse, batch, lake_path)
        raise
    if duplicate:
        get_run_logger().info("%s: identical batch received before: %s", batch.root, lake_path)
    outcome = warehouse.load_batch(
        batch, validation, run_id=run_id, recorded_at=utcnow(), duplicate=duplicate
    )
    summary = RootSummary(
        root=batch.root,
        source=batch.source,
        window=f"{batch.window_start or 'start'}..{batch.window_end}",
        received=batch.row_count,
        landed=True,
        duplicate=outcome.duplicate,
        inserted=outcome.inserted,
        revised=outcome.revised,
        unchanged=outcome.unchanged,
        quarantined=outcome.quarantined,
        warnings=outcome.warnings,
        deferred=outcome.deferred,
        status="rejected"
        if validation.status == "rejected"
        else "quarantined"
        if validation.loads_nothing
        else "ok",
        message=validation.rejection
        or (
            f"every row was quarantined, nothing loaded ({outcome.quarantined:,} rows; "
            f"`callbook quarantine --root {batch.root}` lists them with the rule each broke)"
            if validation.loads_nothing
            else ""
        ),
        batch_id=batch.sha256,
    )
    get_run_logger().info(
        "%s: %s new, %s revised, %s unchanged, %s quarantined, %s deferred",
        batch.root,
        f"{summary.inserted:,}",
        summary.revised,
        f"{summary.unchanged:,}",
        summary.quarantined,
        summary.deferred,
    )
    return summary


class RootsFailed(Exception):
    """A run in which some root failed (fetch failed for good, batch rejected).

    Raised by a flow at its very end, after its summary artifact is written, so that the run ends
    Failed in Prefect with a message naming the roots, exactly when the CLI exits 1 (a flow that
    returns normally ends Completed). ``result`` is what the flow would have returned.
    """

    def __init__(self, failed: Sequence[RootSummary], total: int, result: Any = None) -> None:
        self.failed = list(failed)
        self.total = total
        self.result = result
        roots = "; ".join(f"{s.root} {s.status}: {_clip(s.message)}" for s in self.failed)
        super().__init__(f"{len(self.failed)} of {total} root(s) failed: {roots}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable with its own arguments
        return (type(self), (self.failed, self.total, self.result))


def _clip(message: str, limit: int = 160) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def raise_if_roots_failed(summaries: Sequence[RootSummary], result: Any) -> None:
    """End the run Failed (``RootsFailed``) when a root did not load; see ``RootsFailed``."""
    failed = [s for s in summaries if s.status != "ok"]
    if failed:
        raise RootsFailed(failed, len(summaries), result)


def failure_message(exc: BaseException) -> str:
    """What a fetch that failed for good (after retries) is recorded and reported as."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TransientSourceError):
        message = f"gave up after {FETCH_RETRIES + 1} attempts: {message}"
    return message


def fetch_failed(
    warehouse: Warehouse, root: str, source: str, message: str, run_id: str | None
) -> RootSummary:
    """Record a fetch that failed for good and summarise it; nothing else is written."""
    warehouse.record_fetch_failure(root, source, utcnow(), run_id, message)
    return RootSummary(root=root, source=source, window="", status="failed", message=message)


@task(name="build-site", cache_policy=NO_CACHE, persist_result=False)
def build_site(data_dir: str) -> SiteBuild:
    """The nightly flow's last step: bring the static site up to date (flows/site.py; it redraws
    only the pages whose inputs changed)."""
    logger = get_run_logger()

    def progress(drawn: int, to_draw: int) -> None:
        # A first nightly after a backfill draws every page (minutes): say so as it goes.
        if drawn < to_draw:
            logger.info(f"site: {drawn:,} of about {to_draw:,} pages drawn")

    result = site.build_site(data_dir=data_dir, progress=progress, quality_weekly=True)
    logger.info(result.summary())
    return result


@dataclass(frozen=True)
class Prepared:
    """One root's batch fetched, landed and validated by a worker, for the writer to load; or the
    reason its fetch failed for good."""

    root: str
    source: str
    batch: Batch | None = None
    lake_path: str = ""
    validation: ValidationResult | None = None
    failure: str = ""


@importable  # run on process and Dask workers (flows/fanout.py)
@task(
    name="prepare",
    task_run_name="prepare-{root}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def prepare_root(
    source: Source,
    data_dir: Path,
    root: str,
    start: date | None,
    end: date,
    context: pl.DataFrame | None,
    spec: RootSpec,
) -> Prepared:
    """fetch -> land -> validate for one root, on a worker (no DuckDB here). A fetch that fails
    for good is returned as such, not raised: a failed root must not stop the others."""
    try:
        batch = fetch_bars(source, root, start, end)
    except Exception as exc:
        get_run_logger().error("%s: fetch failed for good: %s", root, exc)
        return Prepared(root, source.name, failure=failure_message(exc))
    lake_path = land_batch(data_dir, batch)
    return Prepared(root, source.name, batch, lake_path, validate_batch(batch, context, spec))


@task(
    name="store", task_run_name="store-{prepared.root}", cache_policy=NO_CACHE, persist_result=False
)
def store_prepared(warehouse: Warehouse, prepared: Prepared, run_id: str | None) -> RootSummary:
    """The writer's half of one root's ingest: record and load its batch, or its failure."""
    if prepared.batch is None or prepared.validation is None:
        return fetch_failed(warehouse, prepared.root, prepared.source, prepared.failure, run_id)
    return load_batch.fn(warehouse, prepared.batch, prepared.lake_path, prepared.validation, run_id)
