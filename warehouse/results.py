"""Run-scoped result files: what fan-out workers computed, waiting for the one writer to load it.

Workers (threads, processes or Dask workers, see flows/fanout.py) never open DuckDB: each writes
its per-root result as an immutable Parquet file under ``<data dir>/work/<run id>/`` and returns
the path; the writer task reads the files and loads them into the warehouse. A file is written to
a temporary name and renamed into place, so the writer never reads half a file; the directory is
removed once the run has loaded everything (a failed run leaves it for inspection, and the next
run of the same id starts afresh). On a real Dask cluster the data directory must be a shared
file system.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl

WORK_DIR = Path("work")


def run_dir(data_dir: Path, run_id: str) -> Path:
    """The directory of one run's result files (created empty: leftovers of an earlier attempt of
    the same run are removed)."""
    path = data_dir / WORK_DIR / (run_id or "local")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def write_result(directory: Path, name: str, frame: pl.DataFrame) -> Path:
    """Write ``frame`` as ``<directory>/<name>.parquet`` atomically; returns the path."""
    target = directory / f"{name}.parquet"
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    try:
        frame.write_parquet(tmp, compression="lz4", statistics=False)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def read_result(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def discard(directory: Path) -> None:
    """Remove a run's result files once they are loaded."""
    shutil.rmtree(directory, ignore_errors=True)
    parent = directory.parent
    if parent.name == WORK_DIR.name and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
