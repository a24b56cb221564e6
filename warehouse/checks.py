"""The coherence checker's findings kept between runs, one Parquet file per bar source, root and
methodology: ``<data dir>/reports/coherence/<source>/<root>-<methodology>.parquet``.

A call's findings are a pure function of the call, the call before it and the code that renders
and checks them (flows/coherence.py names that code by one hash, ``code``): `callbook audit
--quality` and the site's call-quality page check only calls they have not seen. A file kept
under another code, or unreadable, is read as empty (every call is checked again and the file
replaced). Written to a temporary name and renamed into place; losing a file costs time only.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from warehouse.reports import REPORTS_DIR

CHECKS_DIR = REPORTS_DIR / "coherence"

#: One row per call: its snapshot, the previous call's ("" for the first), the code hash and the
#: findings (pipeline.audit.coherence.CallCheck.as_json).
CHECKS_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_id": pl.String(),
    "previous_id": pl.String(),
    "code": pl.String(),
    "findings": pl.String(),
}


def checks_path(data_dir: Path, *, source: str, root: str, methodology: str) -> Path:
    """Where the findings of one source's calls of ``root`` and ``methodology`` are kept.

    >>> checks_path(Path("/d"), source="demo", root="RTY", methodology="v2").as_posix()
    '/d/reports/coherence/demo/RTY-v2.parquet'
    """
    return data_dir / CHECKS_DIR / source / f"{root}-{methodology}.parquet"


def read_checks(path: Path, *, code: str) -> pl.DataFrame:
    """The findings kept at ``path`` under ``code`` (CHECKS_SCHEMA; none: an empty frame)."""
    empty = pl.DataFrame(schema=CHECKS_SCHEMA)
    try:
        kept = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError):
        return empty
    if kept.schema != pl.Schema(CHECKS_SCHEMA):
        return empty
    return kept.filter(pl.col("code") == code)


def write_checks(path: Path, checks: pl.DataFrame) -> None:
    """Keep ``checks`` (CHECKS_SCHEMA) at ``path``, replacing what was there, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        checks.select(*CHECKS_SCHEMA).write_parquet(tmp, compression="zstd", statistics=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
