"""``callbook verify``: is the stored record what was written? Read-only on the data directory.

It checks, and reports one line per difference (:class:`pipeline.audit.verify.Difference`):

1. every snapshot's content hash against the hash of its stored values;
2. the ``snapshot_levels`` and ``snapshot_scenarios`` rows against their wide row;
3. a seeded sample of the model's snapshots (or all) re-derived from the stored inputs: the bars
   of its source as they were when it was computed (``bars_known_at``: as stored then for a
   ``current`` call, as known then for an ``as_known`` backfill; peers included), its
   methodology and parameters;
4. every outcome against a fresh resolution on the bars of the source it is resolved on
   (``resolved_on_source``) as stored when it was recorded, cut at the session it was resolved
   through;
5. every landed lake file against the sha256 its batch was recorded with, and every file in the
   lake against the record;
6. the published replica readers read: it opens, and every table holds what the warehouse holds
   (a replica a writer died before refreshing, or a damaged one, is a difference: the next
   ``callbook`` command republishes it);
7. the lake's record of every unit of work (warehouse/record.py), what ``callbook rebuild``
   recreates the warehouse from: every unit the warehouse committed is in the lake, chained, with
   the manifest sha256 the warehouse recorded, and every part file has the sha256 and row count
   its manifest names.

A warehouse file that cannot be read (a checksum that does not match, a truncated file) is not a
difference but an error naming ``callbook rebuild``.

Not a Prefect flow: it writes nothing (no flow run, no artifact), and the warehouse is opened
read-only, under the writer lock (see :func:`verify`). Snapshots whose bars-as-known are identical (no bar recorded or superseded between
their creation times) share one computation, so ``--all`` costs one analysis per root and
methodology on an unrevised history.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from flows.outcomes import by_resolution
from pipeline.analysis.assemble import PEERS
from pipeline.analysis.canonical import ROW_SCHEME
from pipeline.analysis.methodology import (
    ANALYST_METHODOLOGY,
    Methodology,
    content_columns,
    get,
    registered,
)
from pipeline.audit.outcomes import CALL_COLUMNS, OUTCOME_SCHEMA, resolve_outcomes
from pipeline.audit.verify import (
    Difference,
    content_hash_differences,
    frame_differences,
    long_row_differences,
)
from pipeline.market.continuous import continuous_series_and_rolls
from warehouse import record
from warehouse.lake import landed_files, landed_sha256
from warehouse.lock import WriterLock
from warehouse.store import (
    Warehouse,
    WarehouseDamagedError,
    WarehouseError,
    damaged_message,
    is_damage,
    replica_path,
)

DEFAULT_SAMPLE = 200
DEFAULT_SEED = 0


@dataclass
class VerifyReport:
    """What was checked (counts per check) and every difference found."""

    checked: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def verify(
    data_dir: Path,
    *,
    sample: int | None = DEFAULT_SAMPLE,
    seed: int = DEFAULT_SEED,
    on_wait: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Run every check on ``data_dir``; ``sample=None`` re-derives every model snapshot.

    Unlike the other readers it reads the warehouse file itself, not the published replica, and
    holds the writer lock, shared, while it checks (waiting for a running writer, ``on_wait``
    told so; writing nothing, not even the lock file's holder record):
    the record and the lake files are then of one moment (a run in progress lands lake files
    before the replica that records them is published: against the replica they would show as
    unrecorded). A writer that starts meanwhile waits for the check to end.
    """
    path = data_dir / "warehouse.duckdb"
    if not path.exists():
        if replica_path(path).exists():
            raise WarehouseDamagedError(
                f"{path} is missing (its replica {replica_path(path).name} is there): restore "
                "the warehouse with `callbook rebuild` (from the lake, checking every hash)"
            )
        raise WarehouseError(
            f"no warehouse at {path}: run `callbook nightly` first (or pass --data-dir)"
        )
    with WriterLock(path, timeout=None, on_wait=on_wait, shared=True):
        try:
            return _verify(data_dir, path, sample=sample, seed=seed)
        except duckdb.Error as exc:  # damage found past the header, in a table's blocks
            if is_damage(exc):
                raise WarehouseDamagedError(damaged_message(path, exc)) from exc
            raise


def _verify(data_dir: Path, path: Path, *, sample: int | None, seed: int) -> VerifyReport:
    report = VerifyReport()
    with Warehouse.open(path, read_only=True) as wh:
        snapshots = wh.table_rows("snapshots")
        report.checked["snapshots hashed"] = snapshots.height
        report.differences += content_hash_differences(snapshots, content_columns)
        levels, scenarios = wh.table_rows("snapshot_levels"), wh.table_rows("snapshot_scenarios")
        report.checked["level and scenario rows"] = levels.height + scenarios.height
        report.differences += long_row_differences(snapshots, levels, scenarios)
        chosen = _sample(snapshots, sample=sample, seed=seed)
        report.checked["snapshots re-derived"] = chosen.height
        report.differences += rederive(wh, chosen)
        outcomes = wh.table_rows("outcomes")
        report.checked["outcomes resolved again"] = outcomes.height
        report.differences += reresolve(wh, outcomes, snapshots)
        batches = wh.table_rows("ingest_batches")
        units = wh.table_rows("record_units")
        fingerprints = {
            table: (n, wh.content_hash(table)) for table, n in wh.table_counts().items()
        }
    report.checked["lake files"] = batches.height
    report.differences += lake_differences(data_dir, batches)
    report.checked["replica tables"] = len(fingerprints)
    report.differences += replica_differences(path, fingerprints)
    report.checked["record units"] = units.height
    report.differences += record_differences(record.record_dir(path), units)
    report.differences.sort()
    return report


def _sample(snapshots: pl.DataFrame, *, sample: int | None, seed: int) -> pl.DataFrame:
    """The model's snapshots to re-derive: all, or ``sample`` of them drawn with ``seed``
    (analyst calls are written by hand: there is nothing to re-derive them from)."""
    model = snapshots.filter(pl.col("methodology_version") != ANALYST_METHODOLOGY).sort(
        "snapshot_id"
    )
    if sample is None or sample >= model.height:
        return model
    picked = sorted(random.Random(seed).sample(range(model.height), sample))
    return model[picked]


def rederive(wh: Warehouse, chosen: pl.DataFrame) -> list[Difference]:
    """Compute the ``chosen`` snapshots again from the bars they say they read: as stored at
    ``bars_known_at`` (mode ``current``) or as known then (mode ``as_known``)."""
    out: list[Difference] = []
    unknown = chosen.filter(~pl.col("methodology_version").is_in(list(registered())))
    out += [
        Difference("rederive", sid, f"methodology {version!r} is not registered")
        for sid, version in unknown.select("snapshot_id", "methodology_version").iter_rows()
    ]
    known = chosen.filter(pl.col("methodology_version").is_in(list(registered()))).with_columns(
        pl.col("bars_mode").fill_null("current"),
        pl.coalesce("bars_known_at", "created_at").alias("bars_known_at"),
    )
    for (source, root, version, mode), group in known.group_by(
        "source", "root", "methodology_version", "bars_mode", maintain_order=True
    ):
        methodology = get(str(version))
        out += [
            Difference(
                "rederive",
                sid,
                f"parameters hash {stored} is not {version}'s ({methodology.params_hash})",
            )
            for sid, stored in group.filter(pl.col("params_hash") != methodology.params_hash)
            .select("snapshot_id", "params_hash")
            .iter_rows()
        ]
        roots = list(dict.fromkeys([str(root), *PEERS]))
        change_times = {r: wh.bar_change_times(r, source=str(source)) for r in roots}
        # Snapshots that read the same state of the bars share one computation.
        keyed = group.with_columns(
            pl.Series(
                "_bars",
                [_bars_version(change_times, t) for t in group["bars_known_at"]],
                dtype=pl.String,
            )
        )
        for _, same in keyed.group_by("_bars", maintain_order=True):
            at = same["bars_known_at"].min()
            end = same["as_of"].max()
            assert isinstance(at, datetime) and isinstance(end, date)
            series = {}
            for r in roots:
                bars = (
                    wh.bars_as_known(r, source=str(source), known_at=at, end=end)
                    if mode == "as_known"
                    else wh.bars_stored_at(r, source=str(source), stored_at=at, end=end)
                )
                if bars.height:
                    series[r] = continuous_series_and_rolls(bars)[0]
            if str(root) not in series:
                out += [
                    Difference("rederive", sid, f"no {source} bars of {root} known at {at}")
                    for sid in same["snapshot_id"]
                ]
                continue
            # One pass over the history for every call of the group: a call computed alone
            # (the nightly run, an as-known backfill) is by construction the row of its session
            # in a whole-history pass (pipeline.analysis.assemble.assemble_rows, prices.py).
            out += _Computation(methodology, series, str(root), str(source)).differences(same)
    return out


@dataclass(frozen=True)
class _Computation:
    """One methodology's calls of one root on one set of series."""

    methodology: Methodology
    series: dict[str, pl.DataFrame]
    root: str
    source: str

    def differences(self, stored: pl.DataFrame) -> list[Difference]:
        """``stored`` snapshots against the calls of their sessions in one pass over the
        history: content, hash and hash scheme."""
        fresh = self.methodology.analyse(self.series, self.root, source=self.source).snapshots
        if "hash_scheme" not in fresh.columns:
            fresh = fresh.with_columns(pl.lit(ROW_SCHEME).alias("hash_scheme"))
        stored = stored.with_columns(pl.col("hash_scheme").fill_null(ROW_SCHEME))
        columns = [*self.methodology.content_columns, "content_hash", "hash_scheme"]
        return frame_differences(
            stored.select("snapshot_id", *columns),
            stored.select("snapshot_id", "as_of").join(fresh, on="as_of", how="inner"),
            key=["snapshot_id"],
            check="rederive",
            columns=columns,
            not_expected="stored, but its inputs give no call on its as-of session",
        )


def _bars_version(change_times: dict[str, list[datetime]], at: datetime) -> str:
    """Which state of the bars (of the root and its peers) was current at ``at``: the number of
    changes made by then, per root."""
    return ",".join(f"{bisect.bisect_right(times, at)}" for times in change_times.values())


def reresolve(wh: Warehouse, outcomes: pl.DataFrame, snapshots: pl.DataFrame) -> list[Difference]:
    """Resolve every outcome's call again on the bars of the source it is resolved on, as they
    were stored when the outcome was recorded, cut at the session it was resolved through."""
    out: list[Difference] = []
    calls = snapshots.select(*CALL_COLUMNS, "resolved_on_source", "methodology_version")
    orphans = outcomes.join(calls, on="snapshot_id", how="anti")
    out += [Difference("outcome", sid, "no such snapshot") for sid in orphans["snapshot_id"]]
    due = outcomes.join(calls, on="snapshot_id", how="inner", suffix="_call")
    sources_of = {root: wh.root_sources(root) for root in due["root"].unique().to_list()}
    for (root, source, recorded_at, through), group in due.group_by(
        "root", "resolved_on_source", "recorded_at", "series_through", maintain_order=True
    ):
        # A call stored before its source was recorded (an analyst call of migration 008 whose
        # bars were ambiguous) must match a fresh resolution on one of the root's sources.
        candidates = [str(source)] if source is not None else sources_of[root]
        found: list[Difference] = []
        for i, bar_source in enumerate(candidates):
            bars = wh.bars_stored_at(
                str(root), source=bar_source, stored_at=recorded_at, end=through
            )
            resolved, unresolvable = _resolve(group, bars)
            unscored = [d.subject for d in unresolvable]
            found = unresolvable + frame_differences(
                group.filter(~pl.col("snapshot_id").is_in(unscored)).select(*OUTCOME_SCHEMA),
                resolved,
                key=["snapshot_id"],
                check="outcome",
                columns=[c for c in OUTCOME_SCHEMA if c != "snapshot_id"],
                not_expected=(
                    f"stored, but the {bar_source} bars stored when it was recorded "
                    f"({recorded_at:%Y-%m-%d %H:%M} UTC) do not resolve it"
                ),
            )
            if not found or i == len(candidates) - 1:
                break
        out += found
    return out


def _resolve(calls: pl.DataFrame, bars: pl.DataFrame) -> tuple[pl.DataFrame, list[Difference]]:
    """Fresh outcomes of ``calls`` on ``bars``, and the calls that cannot be scored at all (a
    stored probability edited so the row no longer sums to 1): those are reported one by one
    instead of stopping the whole check."""
    if bars.height == 0:
        return pl.DataFrame(schema=OUTCOME_SCHEMA), []
    series = continuous_series_and_rolls(bars)[0]
    frames: list[pl.DataFrame] = []
    unresolvable: list[Difference] = []
    for group, trade_dates in by_resolution(calls, series):
        try:
            frames.append(
                resolve_outcomes(group.select(CALL_COLUMNS), series, trade_dates=trade_dates)
            )
        except ValueError:
            for call in group.iter_slices(1):
                try:
                    one = call.select(CALL_COLUMNS)
                    frames.append(resolve_outcomes(one, series, trade_dates=trade_dates))
                except ValueError as error:
                    detail = f"cannot be resolved again: {error}"
                    unresolvable.append(Difference("outcome", call["snapshot_id"][0], detail))
    resolved = pl.concat(frames) if frames else pl.DataFrame(schema=OUTCOME_SCHEMA)
    return resolved, unresolvable


def lake_differences(data_dir: Path, batches: pl.DataFrame) -> list[Difference]:
    """Every recorded batch's lake file against its recorded sha256, and every file in the lake
    against the record."""
    out = []
    recorded: set[Path] = set()
    for batch_id, lake_path in batches.select("batch_id", "lake_path").iter_rows():
        relative = Path(lake_path)
        recorded.add(relative)
        if not (data_dir / relative).is_file():
            out.append(Difference("lake", lake_path, f"missing (batch {batch_id[:16]})"))
            continue
        try:
            digest = landed_sha256(data_dir, relative)
        except Exception as exc:  # any reader error means the file is not what was written
            out.append(Difference("lake", lake_path, f"unreadable ({type(exc).__name__})"))
            continue
        if digest != batch_id:
            out.append(
                Difference(
                    "lake",
                    lake_path,
                    f"sha256 {digest[:16]} is not the recorded {batch_id[:16]}: the file changed",
                )
            )
    for relative in landed_files(data_dir):
        if relative not in recorded:
            out.append(Difference("lake", str(relative), "not recorded in ingest_batches"))
    return out


def replica_differences(path: Path, fingerprints: dict[str, tuple[int, str]]) -> list[Difference]:
    """The published replica of the warehouse ``path`` against the warehouse's tables
    (``fingerprints``: table -> (rows, content hash)): missing, unreadable, or a table that
    differs."""
    replica = replica_path(path)
    if not replica.exists():
        return [
            Difference(
                "replica",
                replica.name,
                "missing: readers have nothing to read; the next callbook command publishes it",
            )
        ]
    try:
        reader = Warehouse.open(replica, read_only=True)
    except WarehouseError as exc:
        return [Difference("replica", replica.name, str(exc).replace(str(replica), "").strip())]
    out = []
    with reader:
        counts = reader.table_counts()
        for table, (rows, digest) in fingerprints.items():
            if counts.get(table) != rows or reader.content_hash(table) != digest:
                out.append(
                    Difference(
                        "replica",
                        f"{replica.name}:{table}",
                        f"{counts.get(table, 0):,} rows, the warehouse {rows:,}: not the "
                        "warehouse's content (stale: the next callbook command publishes it)",
                    )
                )
    return out


def record_differences(root: Path, units: pl.DataFrame) -> list[Difference]:
    """The lake's record (under ``root``) against the units the warehouse committed
    (``record_units`` rows): each there, chained, with the manifest the warehouse recorded and
    the part files its manifest names; nothing pending, nothing more."""
    data_dir = f"{root.parent.parent}/"  # messages name files relative to the data directory
    try:
        found = record.scan(root)
    except record.RecordError as exc:
        detail = str(exc).replace(data_dir, "")
        return [Difference("record", "chain", f"{detail} (`callbook rebuild` would refuse)")]
    out = []
    in_lake = {u.seq: u for u in (*found.units, *found.unconfirmed)}
    for seq, sha in units.select("seq", "manifest_sha256").iter_rows():
        unit = in_lake.pop(seq, None)
        if unit is None:
            out.append(Difference("record", f"unit {seq}", "committed, missing from the lake"))
        elif unit.sha256 != sha:
            out.append(Difference("record", f"unit {seq}", "its manifest is not the one committed"))
        elif unit.pending:
            out.append(
                Difference("record", f"unit {seq}", "pending: the next callbook writer settles it")
            )
        else:
            for part in unit.manifest.parts:
                try:
                    unit.check_part(part)
                except (record.RecordError, OSError) as exc:
                    detail = str(exc).replace(f"{unit.directory}/", "").replace(data_dir, "")
                    out.append(Difference("record", f"unit {seq}", detail))
    out += [
        Difference(
            "record",
            f"unit {seq}",
            "pending, never committed: the next callbook writer removes it"
            if unit.pending
            else "in the lake, not committed in the warehouse",
        )
        for seq, unit in in_lake.items()
    ]
    return out


def summary_lines(report: VerifyReport, *, seconds: float) -> Sequence[str]:
    """What was checked and the verdict, after the difference lines."""
    checked = ", ".join(f"{n:,} {what}" for what, n in report.checked.items())
    verdict = "no differences" if report.ok else f"{len(report.differences):,} difference(s)"
    return [f"checked {checked} in {seconds:.1f} s: {verdict}"]
