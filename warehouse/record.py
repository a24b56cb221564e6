"""The lake's record: every unit of work the warehouse commits, also written write-once as Parquet,
so ``callbook rebuild`` can recreate ``warehouse.duckdb`` (and its replica) from the lake alone.

Layout under the data directory (next to the raw batches of warehouse/lake.py)::

    lake/record/units/<seq>/manifest.json                 one directory per committed unit
    lake/record/units/<seq>/<nn>-<table>-<op>.parquet     the rows it wrote, in the order written
    lake/record/pending/<seq>/...                         a unit between its files and its commit

``seq`` counts units in commit order (ten digits). A part file holds the rows one statement of the
unit wrote, exactly as the table stores them (DuckDB's ``RETURNING *``), with one of three
operations: ``append`` (rows added), ``upsert`` (rows that replaced the row with the same primary
key: ``methodologies``) and ``close`` (current versions the unit superseded: ``bars`` and
``rolls``, with their new ``superseded_at``). ``call_change_rows`` is not recorded: it is derived
from the snapshots and recomputed by a rebuild. A unit is one of three kinds: ``base`` (every
table as it was when the record started: a warehouse made before the record existed, or a new
one), ``migration`` (a schema migration applied later, replayed by running its SQL at that point)
and ``work`` (one transaction of the warehouse's write functions).

The manifest names the unit (kind, label, when it was sealed), every part with its row count and
the sha256 of its bytes, the sha256 of the SQL of the migrations it relies on, and the sha256 of
the previous unit's manifest: the units form a chain, so a unit that is missing, replaced or
reordered is found by reading the lake alone. The sha256 of each manifest is also stored in the
warehouse (table ``record_units``, migration 012), in the same transaction as the unit's rows.

Why the lake and the warehouse never disagree after a crash. Inside the unit's transaction the
writer (1) writes the part files and then the manifest to ``pending/<seq>/``, each fsynced,
(2) inserts the unit's ``record_units`` row, then (3) commits, and (4) renames ``pending/<seq>`` to
``units/<seq>`` (one atomic rename) and fsyncs the directory. A crash or a failure

- before the commit leaves a pending unit whose seq ``record_units`` lacks (the transaction rolled
  back): the next writer deletes it (:func:`reconcile`) before it writes anything, and a failure
  the writer sees deletes it at once;
- after the commit, before the rename, leaves a pending unit whose seq and manifest sha256
  ``record_units`` holds: the next writer renames it into place.

So after the next writer opens, ``units/`` holds exactly the committed units. Every writer
reconciles before its first unit, so at most the newest unit can be pending. If the warehouse file
itself is lost, :func:`scan` decides from the lake alone: a pending unit that a later unit's
manifest chains to was committed (the later unit's writer saw its row), and a trailing pending unit
with no successor cannot be confirmed: a rebuild leaves it out and says so (a writer dies or
fails between steps (1) and (4) only, so no command ever reported it as done).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

RECORD_DIR = Path("lake") / "record"
UNITS_DIR = "units"
PENDING_DIR = "pending"
MANIFEST = "manifest.json"
#: The manifest format this code writes and reads (a newer one is refused, never guessed at).
FORMAT = 1
OPS = ("append", "upsert", "close")
KINDS = ("base", "migration", "work")
_COMPRESSION = "zstd"


class RecordError(RuntimeError):
    """The lake's record is damaged or incomplete (a missing, changed or unchained unit)."""


@dataclass(frozen=True)
class PartFile:
    """One Parquet file of a unit: the rows one statement wrote to ``table``."""

    name: str  # file name inside the unit's directory
    table: str
    op: str  # append | upsert | close
    rows: int
    sha256: str  # of the file's bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": self.table,
            "op": self.op,
            "rows": self.rows,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Manifest:
    """What a unit holds (``manifest.json``)."""

    seq: int
    kind: str  # base | migration | work
    label: str
    sealed_at: datetime  # UTC
    prev_sha256: str | None  # the previous unit's manifest sha256 (None: the first unit)
    parts: tuple[PartFile, ...]
    #: sha256 of the SQL text of each migration the unit relies on, by version: every migration
    #: applied (base) or the one it applied (migration); empty for work.
    migrations: Mapping[int, str] = field(default_factory=dict)
    format: int = FORMAT

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)

    def to_bytes(self) -> bytes:
        return (
            json.dumps(
                {
                    "format": self.format,
                    "seq": self.seq,
                    "kind": self.kind,
                    "label": self.label,
                    "sealed_at": self.sealed_at.isoformat(),
                    "prev_sha256": self.prev_sha256,
                    "migrations": {f"{v:03d}": sha for v, sha in sorted(self.migrations.items())},
                    "parts": [part.as_json() for part in self.parts],
                },
                indent=1,
                sort_keys=True,
            )
            + "\n"
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        if int(raw["format"]) > FORMAT:
            raise RecordError(
                f"unit {raw.get('seq')} was written in record format {raw['format']}, newer than "
                f"this callbook reads ({FORMAT}): rebuild with a newer callbook"
            )
        return cls(
            seq=int(raw["seq"]),
            kind=str(raw["kind"]),
            label=str(raw["label"]),
            sealed_at=datetime.fromisoformat(raw["sealed_at"]),
            prev_sha256=raw["prev_sha256"],
            parts=tuple(
                PartFile(p["name"], p["table"], p["op"], int(p["rows"]), p["sha256"])
                for p in raw["parts"]
            ),
            migrations={int(v): str(sha) for v, sha in raw["migrations"].items()},
            format=int(raw["format"]),
        )


def record_dir(warehouse: Path) -> Path:
    """The record of the warehouse file ``warehouse``: ``<data dir>/lake/record`` for
    ``warehouse.duckdb``; a file of another name (tests, benchmarks) keeps its own beside it,
    ``lake/record-<stem>``."""
    if warehouse.name == "warehouse.duckdb":
        return warehouse.parent / RECORD_DIR
    return warehouse.parent / "lake" / f"record-{warehouse.stem}"


def unit_name(seq: int) -> str:
    """The directory name of unit ``seq``: ten digits, so names sort in commit order."""
    return f"{seq:010d}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PendingUnit:
    """A unit being written to ``lake/record/pending/<seq>/``: parts as they come, then the
    manifest (:meth:`seal`); after the commit, :func:`finalize` moves it into ``units/``."""

    def __init__(self, root: Path, seq: int) -> None:
        self.root = root
        self.seq = seq
        self.directory = root / PENDING_DIR / unit_name(seq)
        shutil.rmtree(self.directory, ignore_errors=True)  # a leftover no writer reconciled
        self.directory.mkdir(parents=True)
        self.parts: list[PartFile] = []

    def add(self, table: str, op: str, rows: pa.Table | pa.RecordBatchReader) -> PartFile | None:
        """Write ``rows`` (a table, or a stream of batches) as the next part; None if empty."""
        if op not in OPS:
            raise ValueError(f"unknown record operation {op!r}; known: {', '.join(OPS)}")
        name = f"{len(self.parts) + 1:02d}-{table}-{op}.parquet"
        path = self.directory / name
        count = 0
        if isinstance(rows, pa.Table):
            if rows.num_rows == 0:
                return None
            pq.write_table(rows, path, compression=_COMPRESSION)
            count = rows.num_rows
        else:
            with pq.ParquetWriter(path, rows.schema, compression=_COMPRESSION) as writer:
                for batch in rows:
                    writer.write_batch(batch)
                    count += batch.num_rows
            if count == 0:
                path.unlink()
                return None
        _fsync(path)
        part = PartFile(name, table, op, count, sha256_file(path))
        self.parts.append(part)
        return part

    def seal(
        self,
        *,
        kind: str,
        label: str,
        sealed_at: datetime,
        prev_sha256: str | None,
        migrations: Mapping[int, str] | None = None,
    ) -> tuple[Manifest, str]:
        """Write the manifest (the unit is complete once it is there): it and its sha256."""
        if kind not in KINDS:
            raise ValueError(f"unknown unit kind {kind!r}; known: {', '.join(KINDS)}")
        manifest = Manifest(
            seq=self.seq,
            kind=kind,
            label=label,
            sealed_at=sealed_at,
            prev_sha256=prev_sha256,
            parts=tuple(self.parts),
            migrations=dict(migrations or {}),
        )
        data = manifest.to_bytes()
        tmp = self.directory / f".{MANIFEST}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / MANIFEST)
        _fsync(self.directory)  # the files' names ...
        _fsync(self.directory.parent)  # ... and the unit's: durable before the commit
        return manifest, hashlib.sha256(data).hexdigest()

    def discard(self) -> None:
        """Remove the unit (its transaction did not commit)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def discard_pending(root: Path, seq: int) -> None:
    """Remove the pending unit ``seq`` (its transaction did not commit)."""
    shutil.rmtree(root / PENDING_DIR / unit_name(seq), ignore_errors=True)


def finalize(root: Path, seq: int) -> Path:
    """Move the committed pending unit ``seq`` into ``units/`` (atomic rename, then fsync)."""
    source = root / PENDING_DIR / unit_name(seq)
    target = root / UNITS_DIR / unit_name(seq)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise RecordError(f"{target} exists already: two units with seq {seq}")
    # No fsync of the directories: a rename lost in a power cut leaves the unit pending, and the
    # next writer moves it again (:func:`reconcile`).
    os.rename(source, target)
    return target


@dataclass(frozen=True)
class Reconciled:
    """What a writer did with the units a crashed or failed run left pending."""

    finalized: tuple[int, ...] = ()  # committed: moved into units/
    removed: tuple[int, ...] = ()  # never committed: deleted


def pending_seqs(root: Path) -> list[int]:
    base = root / PENDING_DIR
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def reconcile(root: Path, committed: Mapping[int, str]) -> Reconciled:
    """Settle every pending unit: keep (rename into place) those whose seq ``committed`` maps to
    their manifest's sha256, delete the others. ``committed`` comes from ``record_units`` (at
    least every seq at or above the lowest pending one). Stray temporary files go too."""
    finalized, removed = [], []
    for seq in pending_seqs(root):
        directory = root / PENDING_DIR / unit_name(seq)
        manifest = directory / MANIFEST
        sha = sha256_file(manifest) if manifest.is_file() else None
        if sha is not None and committed.get(seq) == sha:
            finalize(root, seq)
            finalized.append(seq)
        else:
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(seq)
    return Reconciled(tuple(finalized), tuple(removed))


def disagreement(root: Path, *, seq: int, sha256: str) -> str | None:
    """Why the lake's record cannot continue after unit ``seq`` with manifest ``sha256`` (the
    warehouse's last unit): the lake holds another unit ``seq``, or units after it. None if it
    can (a lake that lost the unit itself is ``callbook verify``'s to report)."""
    manifest = root / UNITS_DIR / unit_name(seq) / MANIFEST
    if manifest.is_file() and sha256_file(manifest) != sha256:
        return f"the lake's unit {seq} is not the one the warehouse committed"
    if (root / UNITS_DIR / unit_name(seq + 1)).exists():
        return f"the lake holds units after the warehouse's last one ({seq})"
    return None


@dataclass(frozen=True)
class Unit:
    """A unit read back from the lake."""

    directory: Path
    manifest: Manifest
    sha256: str  # of its manifest's bytes
    pending: bool  # still under pending/ (committed only if a later unit chains to it)

    @property
    def seq(self) -> int:
        return self.manifest.seq

    def part_path(self, part: PartFile) -> Path:
        return self.directory / part.name

    def check_part(self, part: PartFile) -> Path:
        """The part's file, after checking its sha256 and row count against the manifest
        (RecordError names the file otherwise)."""
        path = self.part_path(part)
        if not path.is_file():
            raise RecordError(f"{path} is missing (unit {self.seq}: {self.manifest.label})")
        digest = sha256_file(path)
        if digest != part.sha256:
            raise RecordError(
                f"{path}: sha256 {digest[:16]} is not the {part.sha256[:16]} its manifest "
                "records: the file changed"
            )
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows != part.rows:
            raise RecordError(f"{path}: {rows} rows, its manifest says {part.rows}")
        return path


def read_unit(directory: Path, *, pending: bool = False) -> Unit:
    path = directory / MANIFEST
    try:
        data = path.read_bytes()
        manifest = Manifest.from_bytes(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecordError(f"{path} cannot be read ({type(exc).__name__}: {exc})") from None
    if unit_name(manifest.seq) != directory.name:
        raise RecordError(f"{path} says it is unit {manifest.seq}, not {directory.name}")
    return Unit(directory, manifest, hashlib.sha256(data).hexdigest(), pending)


@dataclass(frozen=True)
class Scan:
    """The record as the lake holds it, in commit order, with what could not be confirmed."""

    units: tuple[Unit, ...]
    #: Pending units no later unit chains to: maybe never committed (left out of a rebuild).
    unconfirmed: tuple[Unit, ...] = ()
    #: Pending directories without a readable manifest (never sealed, so never committed).
    unsealed: tuple[Path, ...] = ()

    @property
    def rows(self) -> int:
        return sum(u.manifest.rows for u in self.units)

    @property
    def parts(self) -> int:
        return sum(len(u.manifest.parts) for u in self.units)


def unit_dirs(root: Path) -> list[Path]:
    """The committed units' directories, in commit order."""
    base = root / UNITS_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def scan(root: Path) -> Scan:
    """Every unit of the lake's record in commit order, chained: each manifest's
    ``prev_sha256`` is the sha256 of the one before, seqs run 1, 2, ... without a gap. Pending
    units count when a later unit chains to them (see the module docstring). RecordError names
    the first unit that breaks the chain. Part files are checked as they are read
    (:meth:`Unit.read_part`)."""
    final = {u.seq: u for u in (read_unit(d) for d in unit_dirs(root))}
    pending: dict[int, Unit] = {}
    unsealed: list[Path] = []
    for seq in pending_seqs(root):
        directory = root / PENDING_DIR / unit_name(seq)
        if seq in final:
            continue  # a leftover copy of a unit already in place
        try:
            pending[seq] = read_unit(directory, pending=True)
        except RecordError:
            unsealed.append(directory)
    last_final = max(final, default=0)
    ordered: list[Unit] = []
    prev: str | None = None
    for seq in range(1, max([last_final, *pending], default=0) + 1):
        unit = final.get(seq) or pending.get(seq)
        if unit is None:
            if seq > last_final:
                break
            raise RecordError(
                f"unit {seq} is missing from {root / UNITS_DIR} (units up to {last_final} "
                "are there): the record cannot be replayed past it"
            )
        if unit.manifest.prev_sha256 != prev:
            if unit.pending and seq > last_final:
                break  # a pending unit after a gap or another chain: never committed
            raise RecordError(
                f"unit {seq} ({unit.manifest.label}) does not follow unit {seq - 1}: its "
                "manifest names another predecessor (a unit was replaced or reordered)"
            )
        ordered.append(unit)
        prev = unit.sha256
    # Pending units past the last committed one: nothing chains to them.
    unconfirmed = tuple(u for u in ordered if u.pending and u.seq > last_final)
    confirmed = tuple(u for u in ordered if not (u.pending and u.seq > last_final))
    unconfirmed += tuple(
        u for seq, u in sorted(pending.items()) if seq > last_final and u not in unconfirmed
    )
    return Scan(confirmed, unconfirmed, tuple(unsealed))


def remove_unconfirmed(found: Scan) -> None:
    """Delete the pending units a rebuild left out (never confirmed committed)."""
    for unit in found.unconfirmed:
        shutil.rmtree(unit.directory, ignore_errors=True)
    for directory in found.unsealed:
        shutil.rmtree(directory, ignore_errors=True)
