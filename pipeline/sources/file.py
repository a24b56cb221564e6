"""Daily bars from a CSV or Parquet file the user points at.

The Yahoo export layout (``Date,Close,High,Low,Open,Volume``) works with no options; any other
layout takes a column mapping from canonical name to the file's column name. A file without a
``contract`` column is a front-month feed: its contract is the root's continuous symbol
(``ES`` -> ``ES=F``), which tells validation to expect roll gaps at quarterly expiries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.market.contracts import ROOT_SPECS
from pipeline.schema import Batch, SchemaError, conform_bars
from pipeline.sources.base import SourceError

#: Canonical column -> accepted file column names (matched case-insensitively), first match wins.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "session_date": ("session_date", "date", "trade_date", "datetime"),
    "contract": ("contract", "symbol", "ticker"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close", "settle", "settlement", "last"),
    "volume": ("volume", "vol"),
    "open_interest": ("open_interest", "prev. day open interest", "open interest", "oi"),
}
REQUIRED = ("session_date", "open", "high", "low", "close")


def read_raw(path: Path) -> pa.Table:
    """The file exactly as stored: CSV cells stay strings (so the raw batch keeps their text)."""
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pq.read_table(path)
    if suffix in {".csv", ".txt"}:
        names = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(block_size=1 << 16)
        ).schema.names
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True
            ),
        )
    raise SourceError(f"{path}: unsupported file type {suffix!r} (expected .csv or .parquet)")


def resolve_columns(names: list[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Canonical column -> file column, from an explicit mapping or the default aliases.

    >>> resolve_columns(["Date", "Close", "High", "Low", "Open", "Volume"])["session_date"]
    'Date'
    """
    by_lower = {n.lower(): n for n in names}
    out: dict[str, str] = {}
    for canonical, aliases in DEFAULT_ALIASES.items():
        if mapping and canonical in mapping:
            if mapping[canonical] not in names:
                raise SchemaError(
                    f"column mapping {canonical}={mapping[canonical]!r}: no such column "
                    f"(the file has {', '.join(names)})"
                )
            out[canonical] = mapping[canonical]
            continue
        found = next((by_lower[a] for a in aliases if a in by_lower), None)
        if found is not None:
            out[canonical] = found
    missing = [c for c in REQUIRED if c not in out]
    if missing:
        raise SchemaError(
            f"missing required columns: {', '.join(missing)} (the file has {', '.join(names)}; "
            "pass a column mapping such as close=Settle)"
        )
    return out


def canonical_from_raw(raw: pa.Table, root: str, columns: Mapping[str, str]) -> pl.DataFrame:
    """Canonical bars aligned 1:1 with ``raw``; unparseable cells become null (validation names them)."""
    frame = pl.from_arrow(raw)
    assert isinstance(frame, pl.DataFrame)
    date_col = pl.col(columns["session_date"])
    if frame.schema[columns["session_date"]] == pl.String:
        session_date = date_col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    else:
        session_date = date_col.cast(pl.Date, strict=False)
    contract = (
        pl.col(columns["contract"]).cast(pl.String)
        if "contract" in columns
        else pl.lit(ROOT_SPECS[root].yahoo_continuous if root in ROOT_SPECS else f"{root}=F")
    )
    exprs = [
        pl.lit(root).alias("root"),
        contract.alias("contract"),
        session_date.alias("session_date"),
        *(
            pl.col(columns[c]).cast(pl.Float64, strict=False).alias(c)
            for c in ("open", "high", "low", "close")
        ),
    ]
    for c in ("volume", "open_interest"):
        if c in columns:
            exprs.append(pl.col(columns[c]).cast(pl.Float64, strict=False).round(0).alias(c))
    return conform_bars(frame.select(exprs))


class FileSource:
    """Bars from one file for one root. ``columns`` maps canonical names to the file's names."""

    name = "file"

    def __init__(self, path: str | Path, *, columns: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.columns = dict(columns or {})

    def fetch(self, root: str, *, start: date | None, end: date, fetched_at: datetime) -> Batch:
        raw = read_raw(self.path)
        if raw.num_rows == 0:
            bars = conform_bars(pl.DataFrame(schema={c: pl.String for c in REQUIRED}))
            return self._batch(root, raw, bars, start, end, fetched_at)
        columns = resolve_columns(raw.schema.names, self.columns)
        bars = canonical_from_raw(raw, root, columns)
        # Rows outside the window are not part of this batch; unparseable dates stay in (validation
        # quarantines them by rule) so nothing the file holds is silently dropped.
        in_window = pl.col("session_date").is_null() | (pl.col("session_date") <= end)
        if start is not None:
            in_window = in_window & (
                pl.col("session_date").is_null() | (pl.col("session_date") >= start)
            )
        keep = bars.select(in_window.alias("keep"))["keep"].to_arrow()
        return self._batch(root, raw.filter(keep), bars.filter(in_window), start, end, fetched_at)

    def _batch(
        self,
        root: str,
        raw: pa.Table,
        bars: pl.DataFrame,
        start: date | None,
        end: date,
        fetched_at: datetime,
    ) -> Batch:
        return Batch(
            source=self.name,
            root=root,
            raw=raw,
            bars=bars,
            fetched_at=fetched_at,
            window_start=start,
            window_end=end,
            metadata={"path": str(self.path.resolve()), "file_name": self.path.name},
        )
