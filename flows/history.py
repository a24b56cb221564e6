"""History flows: point-in-time backfill of snapshots, and outcome resolution.

``backfill`` makes the snapshot of every session in a range, for a set of roots, in ONE vectorised
pass per root and methodology (the call table is causal, so row D of the full table is exactly what
the nightly run computes from bars cut at D). The passes run on the configured task runner
(flows/fanout.py: threads, processes or Dask workers), each writing its rows to a result file; the
flow's one writer loads each file as it arrives, in chunks (each its own transaction: an interrupted
backfill keeps what it wrote, and a re-run skips identical snapshots), resolves the outcomes of a
root once all its methodologies are in, and republishes the readers' replica every
``CALLBOOK_PUBLISH_INTERVAL`` seconds.


``backfill(as_known=True)`` computes each date from the bars as known then (vendor revisions
recorded after the date are not used): only the dates a later revision reaches are recomputed on
their own bars (pipeline.market.as_known); every other date's call is the current-bars call.
Each snapshot stores which (``bars_mode``, ``bars_known_at``).

``resolve`` appends the outcome of every stored snapshot whose horizon has passed.

No ``from __future__ import annotations`` here (see flows/nightly.py: served flows are pickled by
value and their parameter annotations must resolve in the run's process).
"""

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

import polars as pl
from prefect import flow, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from flows import analysis, clock, fanout, writer
from flows.ingestion import default_as_of
from flows.outcomes import resolve_root_outcomes, resolve_stored
from flows.prefect_api import decoration, remembered
from flows.series import series_by_root
from flows.settings import Settings, code_version, load_settings
from pipeline.analysis.engine import peers_of
from pipeline.analysis.methodology import Methodology, get
from pipeline.market.as_known import bars_known_at, sessions_needing_own_bars
from warehouse import results
from warehouse.store import SnapshotWrite, Warehouse

#: Snapshots per transaction: one root's history per methodology (~6,300 calls in 25 years) in
#: one commit. Commits cost: chunks of 1,000 took 2.5x the CPU of whole roots (bench/RESULTS.md).
BACKFILL_CHUNK = 10_000
#: Seconds between two updates of the run's progress artifact (each is a call to the Prefect API).
PROGRESS_EVERY_SECONDS = 2.0


@dataclass(frozen=True)
class BackfillStep:
    """How far a backfill is: ``jobs_done`` of ``jobs`` (root x methodology) stored, and the job
    being stored (``stored`` of its ``total`` snapshots; none before the first result)."""

    jobs_done: int
    jobs: int
    job: str = ""  # "RTY v2"
    stored: int = 0
    total: int = 0

    @property
    def done(self) -> float:
        """Jobs done, counting the one being stored by the fraction of its snapshots stored."""
        return self.jobs_done + (self.stored / self.total if self.total else 0.0)

    def describe(self) -> str:
        """The job under way, for a progress line."""
        if not self.job:
            return "computing calls"
        return f"{self.job}, {self.stored:,} of {self.total:,} snapshots stored"


#: Called with each BackfillStep as the backfill writes (the CLI draws its progress line).
ProgressHook = Callable[[BackfillStep], None]
_progress_hooks: list[ProgressHook] = []


def _report(step: BackfillStep) -> None:
    for hook in _progress_hooks:
        hook(step)


@contextmanager
def progress_hook(hook: ProgressHook) -> Iterator[None]:
    """Report backfill progress to ``hook`` while the block runs (not a flow parameter: Prefect
    stores parameters as JSON)."""
    _progress_hooks.append(hook)
    try:
        yield
    finally:
        _progress_hooks.remove(hook)


@dataclass(frozen=True)
class RootBackfill:
    root: str
    methodology: str
    sessions: int  # calls computed in the range
    written: int
    unchanged: int


@dataclass
class BackfillResult:
    roots: list[RootBackfill] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # outcomes appended per root

    @property
    def written(self) -> int:
        return sum(r.written for r in self.roots)

    @property
    def computed(self) -> int:
        return sum(r.sessions for r in self.roots)

    def lines(self) -> list[str]:
        """What the backfill did, per root and methodology, then outcomes per root."""
        return [
            f"{r.root} {r.methodology}: {r.sessions:,} calls computed, {r.written:,} written, "
            f"{r.unchanged:,} already stored"
            for r in self.roots
        ] + [f"{root}: {n:,} outcomes appended" for root, n in self.outcomes.items()]


def series_for_outcomes(
    warehouse: Warehouse,
    settings: Settings,
    series: dict[str, pl.DataFrame],
    *,
    calls_through: date,
) -> dict[str, pl.DataFrame]:
    """The series outcomes are resolved on: every stored bar through the last completed session.
    Calls see the bars up to their date, but an outcome (and an open call's status so far) is a
    fact of every stored bar, so a run whose calls end in the past (``calls_through``: the series
    ``series`` is cut there) builds the series again through the last completed session."""
    through = default_as_of()
    if calls_through >= through:
        return series
    return analysis.build_series(warehouse, settings.roots, source=settings.source, as_of=through)


@task(
    name="resolve-outcomes",
    task_run_name="resolve-{root}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def resolve_root(warehouse: Warehouse, root: str, series: pl.DataFrame, *, source: str) -> int:
    """Resolve every stored snapshot of ``root`` resolved on ``source`` whose horizon ended
    within ``series``; record the status so far of the open ones."""
    return resolve_root_outcomes(warehouse, root, series, source=source, log=get_run_logger())


def bars_mode_lines(*, as_known: bool) -> list[str]:
    """What `callbook backfill` says first: which bars it computes each date from (and the
    other mode's option)."""
    mode = "as_known" if as_known else "current"
    lines = [f"bars: {mode} — {BARS_MODES[mode]}"]
    if not as_known:
        lines.append(f"(--as-known: {BARS_MODES['as_known']})")
    return lines


#: What each bars mode of a backfill means (printed by `callbook backfill`, stored per snapshot).
BARS_MODES: dict[str, str] = {
    "current": (
        "each date computed from the bars as stored now (a vendor revision recorded after the "
        "date is used for it)"
    ),
    "as_known": (
        "each date computed from the bars as known at the end of the next session (revisions "
        "recorded later are not used; history loaded later counts in its first version)"
    ),
}


def as_known_rows(
    warehouse: Warehouse,
    rows: pl.DataFrame,
    *,
    root: str,
    source: str,
    peers: list[str],
    methodology: Methodology,
) -> tuple[pl.DataFrame, int]:
    """``rows`` (current-bars snapshots of ``root``) as computed from the bars as known on each
    date: the dates a later revision reaches (of the root or a peer) are recomputed on their own
    bars, the others are identical by construction. Returns the rows (with ``bars_mode`` and
    ``bars_known_at``) and how many dates were recomputed."""
    revisions = pl.concat(
        [warehouse.superseded_bars(r, source=source) for r in dict.fromkeys([root, *peers])]
    )
    dates = sessions_needing_own_bars(rows["as_of"].to_list(), revisions)
    replaced = []
    for day in dates:
        series = series_by_root(
            warehouse, [root], source=source, as_of=day, known_at=bars_known_at(day)
        )
        fresh = methodology.analyse(series, root, source=source, sessions=[day]).snapshots
        replaced.append(fresh)
    if replaced:
        rows = pl.concat(
            [rows.filter(~pl.col("as_of").is_in(dates)), *replaced], how="diagonal_relaxed"
        ).sort("as_of")
    known_at = pl.Series(
        "bars_known_at",
        [bars_known_at(d) for d in rows["as_of"].to_list()],
        dtype=pl.Datetime("us", "UTC"),
    )
    return rows.with_columns(pl.lit("as_known").alias("bars_mode"), known_at), len(dates)


class Progress:
    """One progress artifact per run, updated at most every PROGRESS_EVERY_SECONDS (each update
    is a call to the Prefect API) and when the last job is done."""

    def __init__(self, description: str, total: int) -> None:
        self.total, self.done = total, 0
        artifact = decoration(
            "the progress artifact", create_progress_artifact, progress=0.0, description=description
        )
        assert artifact is None or isinstance(artifact, UUID)  # the synchronous call: the id
        self.artifact = artifact
        self.reported = time.monotonic()

    def advance(self) -> None:
        self.done += 1
        if self.artifact is None:
            return
        if self.done == self.total or time.monotonic() - self.reported >= PROGRESS_EVERY_SECONDS:
            decoration(
                "the progress artifact",
                update_progress_artifact,
                artifact_id=self.artifact,
                progress=100.0 * self.done / max(self.total, 1),
            )
            self.reported = time.monotonic()


@task(
    name="store-backfill",
    task_run_name="store-backfill-{computed.job.root}-{computed.job.methodology}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def store_backfill(
    warehouse: Warehouse,
    computed: fanout.Computed,
    *,
    run_id: str | None,
    peers: list[str],
    as_known: bool = False,
    jobs: tuple[int, int] = (0, 1),
) -> tuple[int, SnapshotWrite]:
    """Write one job's computed calls in chunks (the run's one writer); ``as_known``: first
    recompute the dates a later revision reaches on the bars as known then (as_known_rows).
    ``jobs``: (jobs stored before this one, jobs in the run), for the progress hooks."""
    logger = get_run_logger()
    root, version = computed.root, computed.methodology
    rows = computed.snapshots()
    if as_known and rows.height:
        rows, recomputed = as_known_rows(
            warehouse,
            rows,
            root=root,
            source=computed.job.source,
            peers=peers,
            methodology=get(version),
        )
        logger.info(
            "%s %s: %s date(s) recomputed on the bars as known then", root, version, recomputed
        )
    total = rows.height
    written = unchanged = superseding = 0
    for offset in range(0, total, BACKFILL_CHUNK):
        chunk = rows.slice(offset, BACKFILL_CHUNK)
        outcome = warehouse.write_snapshots(
            chunk,
            kind="backfill",
            flow_run_id=run_id,
            code_version=code_version(),
            created_at=clock.utcnow(),
        )
        written += outcome.written
        unchanged += outcome.unchanged
        superseding += outcome.superseding
        _report(BackfillStep(*jobs, f"{root} {version}", offset + chunk.height, total))
    logger.info(
        "%s %s: %s snapshots computed in %.1f s, %s written (%s new versions), %s already stored",
        root,
        version,
        f"{total:,}",
        computed.seconds,
        f"{written:,}",
        f"{superseding:,}",
        f"{unchanged:,}",
    )
    return total, SnapshotWrite(written, unchanged, superseding)


@fanout.importable  # its run context goes to the workers: by reference, not by value
@flow(name="callbook-backfill")
@remembered
def backfill(
    roots: list[str] | None = None,
    source: str | None = None,
    start: date | None = None,
    end: date | None = None,
    data_dir: str | None = None,
    methodologies: list[str] | None = None,
    as_known: bool = False,
) -> BackfillResult:
    """Point-in-time snapshots (kind ``backfill``) of every configured methodology for every
    session in [start, end], then the outcomes of every stored call on every stored bar.

    ``end`` defaults to the last completed CME session; ``start`` to the first session with a call.
    ``as_known``: each date from the bars as known then (BARS_MODES); default: as stored now.
    """
    settings = load_settings(
        data_dir=data_dir, roots=roots, source=source, methodologies=methodologies
    )
    end = end or default_as_of()
    run_id = str(flow_run.get_id() or "")
    result = BackfillResult()
    with writer.open_warehouse(settings) as warehouse:
        methods = analysis.record_methodologies(
            warehouse, settings.methodologies, settings.registry
        )
        series = analysis.build_series(warehouse, settings.roots, source=settings.source, as_of=end)
        outcome_series = series_for_outcomes(warehouse, settings, series, calls_through=end)
        jobs = [
            fanout.Job(
                root,
                m.version,
                settings.source,
                end,
                start=start,
                spec=settings.registry.spec(root),
            )
            for root in settings.roots
            if root in series
            for m in methods
        ]
        remaining = Counter(job.root for job in jobs)
        stored: dict[tuple[str, str], RootBackfill] = {}
        outcomes: dict[str, int] = {}
        work = results.run_dir(settings.data_dir, run_id)
        progress = Progress(f"callbook backfill: {len(jobs)} root x methodology job(s)", len(jobs))
        _report(BackfillStep(0, len(jobs)))
        for computed in fanout.compute(settings, jobs, series, work):
            total, written = store_backfill(
                warehouse,
                computed,
                run_id=run_id,
                peers=peers_of(computed.root, list(series), settings.registry.spec(computed.root)),
                as_known=as_known,
                jobs=(progress.done, len(jobs)),
            )
            progress.advance()
            stored[(computed.root, computed.methodology)] = RootBackfill(
                computed.root, computed.methodology, total, written.written, written.unchanged
            )
            remaining[computed.root] -= 1
            if remaining[computed.root] == 0:
                outcomes[computed.root] = resolve_root(
                    warehouse, computed.root, outcome_series[computed.root], source=settings.source
                )
            warehouse.publish_if_due(settings.publish_interval)
        results.discard(work)
    result.roots = [stored[(job.root, job.methodology)] for job in jobs]
    result.outcomes = {root: outcomes[root] for root in remaining}
    return result


@flow(name="callbook-resolve")
@remembered
def resolve(
    roots: list[str] | None = None,
    source: str | None = None,
    data_dir: str | None = None,
) -> dict[str, int]:
    """Append the outcome of every snapshot whose horizon has passed in the stored bars (the
    flow of a deployment; `callbook resolve` calls ``flows.outcomes.resolve_stored`` directly)."""
    settings = load_settings(data_dir=data_dir, roots=roots, source=source)
    with writer.open_warehouse(settings) as warehouse:
        return resolve_stored(
            warehouse, settings.roots, source=settings.source, log=get_run_logger()
        )
