"""The raw landing zone: every fetched batch exactly as received, as write-once Parquet.

Layout under the data directory (hive-partitioned, so DuckDB and polars read it with
``hive_partitioning``)::

    lake/raw/source=<source>/root=<root>/fetch_date=<YYYY-MM-DD, UTC>/<sha256>.parquet

A file is named by the sha256 of its content (:func:`pipeline.schema.table_sha256`), written to a
temporary file and then linked into place, so a crash never leaves a half-written file under a real
name and an existing file is never overwritten. Landing a batch whose hash is already in the lake
(under any fetch date) writes nothing and returns the existing path.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.schema import Batch, table_sha256
from warehouse.files import new_file_mode

RAW_DIR = Path("lake") / "raw"


class LakeWriteError(OSError):
    """A batch could not be landed (a full disk, a file-size limit): nothing was written."""


@dataclass(frozen=True)
class Landed:
    path: Path  # relative to the data directory
    is_new: bool


def batch_dir(batch: Batch) -> Path:
    """``lake/raw/source=…/root=…/fetch_date=…`` for this batch (relative to the data dir)."""
    return (
        RAW_DIR
        / f"source={batch.source}"
        / f"root={batch.root}"
        / f"fetch_date={batch.fetched_at.date().isoformat()}"
    )


def find_landed(data_dir: Path, source: str, root: str, sha256: str) -> Path | None:
    """The relative path of an already landed batch with this hash, if any."""
    base = data_dir / RAW_DIR / f"source={source}" / f"root={root}"
    for found in sorted(base.glob(f"fetch_date=*/{sha256}.parquet")):
        return found.relative_to(data_dir)
    return None


def land_batch(data_dir: Path, batch: Batch) -> Landed:
    """Write ``batch.raw`` under the data dir unless a file with its hash exists already."""
    sha = batch.sha256
    existing = find_landed(data_dir, batch.source, batch.root, sha)
    if existing is not None:
        return Landed(existing, is_new=False)
    relative = batch_dir(batch) / f"{sha}.parquet"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    table = batch.raw.replace_schema_metadata(
        {
            **(batch.raw.schema.metadata or {}),
            b"callbook.batch": json.dumps(
                {
                    "sha256": sha,
                    "source": batch.source,
                    "root": batch.root,
                    "fetched_at": batch.fetched_at.isoformat(),
                    "window_start": batch.window_start.isoformat() if batch.window_start else None,
                    "window_end": batch.window_end.isoformat(),
                    "metadata": batch.metadata,
                },
                default=str,
            ).encode(),
        }
    )
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".landing-", suffix=".parquet")
        os.fchmod(fd, new_file_mode())  # mkstemp's 0600 would hide the lake from the group
        os.close(fd)
        tmp = Path(tmp_name)
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        try:
            # link() refuses to replace an existing file: write-once even under a race.
            os.link(tmp, target)
        except FileExistsError:
            return Landed(relative, is_new=False)
    except OSError as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LakeWriteError(
            f"{batch.root}: landing the batch in the lake failed ({text}); nothing was written"
        ) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return Landed(relative, is_new=True)


def remove_landed(data_dir: Path, relative: str | Path) -> bool:
    """Remove a landed file whose batch was never recorded (the unit recording it failed): a
    write that did not commit leaves no trace. True if there was a file. The caller checks that
    no recorded batch names it (the same content landed earlier is the same file)."""
    path = data_dir / relative
    if not path.is_relative_to(data_dir / RAW_DIR) or path.suffix != ".parquet":
        raise ValueError(f"{relative} is not a landed batch")
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def read_landed(data_dir: Path, relative: str | Path) -> pq.ParquetFile:
    return pq.ParquetFile(data_dir / relative)


def landed_sha256(data_dir: Path, relative: str | Path) -> str:
    """The sha256 of a landed file's table, computed as the batch id was
    (:func:`pipeline.schema.table_sha256`; the schema metadata callbook adds is not hashed)."""
    return table_sha256(read_landed(data_dir, relative).read())


def landed_files(data_dir: Path) -> list[Path]:
    """Every landed Parquet file, relative to the data dir (temporary files excluded)."""
    base = data_dir / RAW_DIR
    return sorted(
        p.relative_to(data_dir)
        for p in base.glob("source=*/root=*/fetch_date=*/*.parquet")
        if not p.name.startswith(".")
    )
