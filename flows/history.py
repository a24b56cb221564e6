"""History flows: point-in-time backfill of snapshots, and outcome resolution.

``backfill`` makes the snapshot of every session in a range, for a set of roots, in ONE vectorised
pass per root (the call table is causal, so row D of the full table is exactly what the nightly
run computes from bars cut at D), writes them in chunks (each its own transaction: an interrupted
backfill keeps what it wrote, and a re-run skips identical snapshots), then resolves outcomes.

``backfill(as_known=True)`` computes each date from the bars as known then (vendor revisions
recorded after the date are not used): only the dates a later revision reaches are recomputed on
their own bars (pipeline.market.as_known); every other date's call is the current-bars call.
Each snapshot stores which (``bars_mode``, ``bars_known_at``).

``resolve`` appends the outcome of every stored snapshot whose horizon has passed.

No ``from __future__ import annotations`` here (see flows/nightly.py: served flows are pickled by
value and their parameter annotations must resolve in the run's process).
"""

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

from flows import analysis, clock
from flows.outcomes import resolve_root_outcomes, resolve_stored
from flows.series import series_by_root
from flows.settings import code_version, load_settings
from pipeline.analysis.engine import peers_of
from pipeline.analysis.methodology import Methodology
from pipeline.market.as_known import bars_known_at, sessions_needing_own_bars
from warehouse.store import SnapshotWrite, Warehouse

BACKFILL_CHUNK = 1000  # snapshots per transaction

#: Called with (root, done, total) as the backfill writes; the CLI shows a progress bar with it.
ProgressHook = Callable[[str, int, int], None]
_progress_hooks: list[ProgressHook] = []


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


@task(
    name="backfill-root",
    task_run_name="backfill-{root}-{methodology.version}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def backfill_root(
    warehouse: Warehouse,
    series_by_root: dict[str, pl.DataFrame],
    root: str,
    *,
    source: str,
    start: date | None,
    end: date,
    run_id: str | None,
    methodology: Methodology,
    as_known: bool = False,
) -> tuple[int, SnapshotWrite]:
    """Compute every call of ``root`` in [start, end] in one pass and write them in chunks."""
    logger = get_run_logger()
    result = methodology.analyse(series_by_root, root, source=source)
    rows = result.snapshots.filter(pl.col("as_of") <= end)
    if start is not None:
        rows = rows.filter(pl.col("as_of") >= start)
    if as_known and rows.height:
        rows, recomputed = as_known_rows(
            warehouse,
            rows,
            root=root,
            source=source,
            peers=peers_of(root, list(series_by_root)),
            methodology=methodology,
        )
        logger.info(
            "%s %s: bars as known: %s date(s) reached by a later revision recomputed",
            root,
            methodology.version,
            recomputed,
        )
    total = rows.height
    artifact = create_progress_artifact(
        progress=0.0,
        description=f"callbook backfill {root} {methodology.version}: {total:,} snapshots",
    )
    assert isinstance(artifact, UUID)  # the synchronous call returns the id
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
        done = offset + chunk.height
        update_progress_artifact(artifact_id=artifact, progress=100.0 * done / total)
        for hook in _progress_hooks:
            hook(f"{root} {methodology.version}", done, total)
    logger.info(
        "%s %s: %s snapshots computed, %s written (%s new versions), %s already stored",
        root,
        methodology.version,
        f"{total:,}",
        f"{written:,}",
        f"{superseding:,}",
        f"{unchanged:,}",
    )
    return total, SnapshotWrite(written, unchanged, superseding)


@flow(name="callbook-backfill")
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
    session in [start, end], then outcomes.

    ``end`` defaults to the last completed CME session; ``start`` to the first session with a call.
    ``as_known``: each date from the bars as known then (BARS_MODES); default: as stored now.
    """
    from flows.nightly import default_as_of

    settings = load_settings(
        data_dir=data_dir, roots=roots, source=source, methodologies=methodologies
    )
    end = end or default_as_of()
    run_id = str(flow_run.get_id() or "")
    result = BackfillResult()
    with Warehouse.open(settings.warehouse_path) as warehouse:
        methods = analysis.record_methodologies(warehouse, settings.methodologies)
        series = analysis.build_series(warehouse, settings.roots, source=settings.source, as_of=end)
        for root in settings.roots:
            if root not in series:
                continue
            computed = [
                (
                    m.version,
                    backfill_root(
                        warehouse,
                        series,
                        root,
                        source=settings.source,
                        start=start,
                        end=end,
                        run_id=run_id,
                        methodology=m,
                        as_known=as_known,
                    ),
                )
                for m in methods
            ]
            result.roots.extend(
                RootBackfill(root, version, total, written.written, written.unchanged)
                for version, (total, written) in computed
            )
            result.outcomes[root] = resolve_root(
                warehouse, root, series[root], source=settings.source
            )
    return result


@flow(name="callbook-resolve")
def resolve(
    roots: list[str] | None = None,
    source: str | None = None,
    data_dir: str | None = None,
) -> dict[str, int]:
    """Append the outcome of every snapshot whose horizon has passed in the stored bars (the
    flow of a deployment; `callbook resolve` calls ``flows.outcomes.resolve_stored`` directly)."""
    settings = load_settings(data_dir=data_dir, roots=roots, source=source)
    with Warehouse.open(settings.warehouse_path) as warehouse:
        return resolve_stored(
            warehouse, settings.roots, source=settings.source, log=get_run_logger()
        )
