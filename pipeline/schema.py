"""The canonical shapes every stage agrees on.

A *bar* is one settlement-day summary of one futures contract. Prices are in index points
(RTY: $50 per point), ``session_date`` is the CME trade date (a trade date D runs from 18:00 ET
on D-1 to 17:00 ET on D), and volume is in contracts.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:  # pyarrow loads where a batch is hashed, not for every reader of BAR_SCHEMA
    import pyarrow as pa

#: The canonical bar frame: one row per (contract, session_date).
BAR_SCHEMA: dict[str, Any] = {
    "root": pl.String(),
    "contract": pl.String(),  # e.g. "RTYH26"; for a vendor continuous series "RTY=F"
    "session_date": pl.Date(),  # CME trade date
    "open": pl.Float64(),  # index points
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),  # settlement (or the vendor's last) in index points
    "volume": pl.Int64(),  # contracts; null when the vendor has none
    "open_interest": pl.Int64(),  # contracts; nullable
}
BAR_COLUMNS: tuple[str, ...] = tuple(BAR_SCHEMA)
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")


def empty_bars() -> pl.DataFrame:
    return pl.DataFrame(schema=BAR_SCHEMA)


def conform_bars(frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast ``frame`` to BAR_SCHEMA (missing open_interest becomes null).

    Raises ``SchemaError`` naming the missing columns, so a bad batch is rejected with a clear message.
    """
    missing = [c for c in BAR_COLUMNS if c not in frame.columns and c != "open_interest"]
    if missing:
        raise SchemaError(f"missing required columns: {', '.join(missing)}")
    if "open_interest" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("open_interest"))
    return frame.select(pl.col(c).cast(t, strict=False) for c, t in BAR_SCHEMA.items())


class SchemaError(ValueError):
    """A batch whose shape is wrong: it is rejected whole."""


@dataclass(frozen=True)
class Batch:
    """One fetch from one source for one root, exactly as received plus its canonical form.

    ``raw`` is the vendor's table untouched (vendor column names and types) and is what lands in the
    lake; ``bars`` is the canonical frame (BAR_SCHEMA) derived from it. ``fetched_at`` is a UTC
    timestamp supplied by the caller (pipeline code never reads the clock).
    """

    source: str
    root: str
    raw: pa.Table
    bars: pl.DataFrame
    fetched_at: datetime
    window_start: date | None
    window_end: date
    metadata: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def sha256(self) -> str:
        """The batch id: :func:`table_sha256` of ``raw`` (computed once per batch)."""
        return table_sha256(self.raw)

    @property
    def row_count(self) -> int:
        """Rows received."""
        return self.raw.num_rows

    def received(self) -> ReceivedBatch:
        """What the record keeps of this batch once it is landed and validated: no rows."""
        return ReceivedBatch(
            source=self.source,
            root=self.root,
            sha256=self.sha256,
            row_count=self.row_count,
            fetched_at=self.fetched_at,
            window_start=self.window_start,
            window_end=self.window_end,
            metadata=self.metadata,
        )


@dataclass(frozen=True)
class ReceivedBatch:
    """A batch's identity and size without its rows (:meth:`Batch.received`): what recording and
    loading a landed, validated batch need. The ingest's load step holds this, not the
    :class:`Batch`, so that a large file's rows are not in memory beside the warehouse's work
    (10^6 rows: ~200 MiB of raw table and canonical bars)."""

    source: str
    root: str
    sha256: str
    row_count: int
    fetched_at: datetime
    window_start: date | None
    window_end: date
    metadata: dict[str, Any] = field(default_factory=dict)


def table_sha256(table: pa.Table) -> str:
    """Content hash of an Arrow table (schema + values, via the IPC stream format).

    Stable across runs for identical content; schema-level metadata is dropped first so that
    incidental metadata (e.g. pandas index info) never changes the hash.
    """
    import pyarrow as pa

    table = table.replace_schema_metadata(None)
    sink = _HashingSink()
    # The stream goes into the hash as it is written: the serialised table is never held whole.
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.digest.hexdigest()


class _HashingSink(io.RawIOBase):
    """A write-only file that feeds a sha256 instead of keeping the bytes."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        return view.nbytes
