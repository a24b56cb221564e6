"""Daily bars from a CSV or Parquet file the user points at.

The Yahoo export layout (``Date,Close,High,Low,Open,Volume``) works with no options; any other
layout takes a column mapping from canonical name to the file's column name. A file without a
``contract`` column is a front-month feed: its contract is the root's continuous symbol
(``ES`` -> ``ES=F``), which tells validation to expect roll gaps at quarterly expiries.

A front-month feed may come with its cash index (``index_path``, e.g. ^DJI next to YM=F): the
index file's rows join the same batch, under the root's ``RootSpec.cash_index`` symbol as the
contract (``^DJI``), so they are landed, validated and stored like any bar; the continuous
series measures the feed's roll gaps against them (:mod:`pipeline.market.rolls`). The batch's
raw table is then both files, each row tagged with its file name (column ``file``), futures
rows first; index rows before the futures' first session pair with nothing and are not part of
the batch. Every futures row is (``--start`` included: validation names the rows before it).
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.market.contracts import is_index_symbol
from pipeline.market.roots import Registry, builtin_registry
from pipeline.schema import Batch, SchemaError, conform_bars, empty_bars
from pipeline.sources.base import SourceError
from pipeline.text import excerpt

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
    """The file exactly as stored: CSV cells stay strings (so the raw batch keeps their text).

    Errors name the file and what is wrong with it, never its contents: the path may lead
    (through a symlink) to any file on the machine.
    """
    suffix = _table_file(path)
    try:
        if suffix == ".parquet":
            return _read_parquet(path)
        check_utf8(path)
        return _read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path.name}: {_without_contents(exc)}") from exc


def _read_parquet(path: Path, *, schema_only: bool = False) -> Any:
    """The table (or only its schema) of a Parquet file; one error for a file that is none."""
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(
            f"{path.name}: not a Parquet file ({type(exc).__name__}: no readable footer)"
        ) from exc
    return file.schema_arrow if schema_only else file.read()


def check_file(
    path: Path, columns: Mapping[str, str] | None = None, *, index: bool = False
) -> list[str]:
    """Refuse, from its header alone, a file :meth:`FileSource.fetch` would refuse whole:
    missing, not a regular file, of another type, not UTF-8 text, not a table, or without the
    required columns (``columns``: the user's mapping; ``index``: a cash index file, which may
    lack a volume). Its column names when it passes.

    Cheap (one pass over the bytes for UTF-8, one streamed parse, no table kept), so a command
    refuses such a file before it starts any machinery; the fetch checks everything again.
    """
    suffix = _table_file(path)
    try:
        if suffix == ".parquet":
            names = _read_parquet(path, schema_only=True).names
        else:
            check_utf8(path)
            names = _csv_names(path)
            _parse_csv(path, keep=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path.name}: {_without_contents(exc)}") from exc
    resolved = resolve_columns(names, columns)
    if not index and "volume" not in resolved:  # conform_bars needs it; an index may lack it
        raise SchemaError(f"missing required columns: volume (the file has {_shown(names)})")
    return names


def _csv_names(path: Path) -> list[str]:
    """The column names of a CSV file (its first block parsed, the rest not read)."""
    with pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 16, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
    ) as reader:
        return list(reader.schema.names)


def _table_file(path: Path) -> str:
    """The suffix of a regular file of a table type, or the error naming what ``path`` is."""
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    if not path.is_file():  # a directory, a device such as /dev/zero, a pipe
        raise SourceError(f"{path}: not a regular file")
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv", ".txt"}:
        raise SourceError(f"{path}: unsupported file type {suffix!r} (expected .csv or .parquet)")
    return suffix


#: Bytes decoded at a time when a text file is checked for UTF-8.
_UTF8_BLOCK = 1 << 20
#: Byte-order marks of encodings a spreadsheet may save "Unicode text" in.
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def check_utf8(path: Path) -> None:
    """Refuse a text file that is not UTF-8, naming the line of the first byte that is not
    (a UTF-16 file by its byte-order mark), never its contents. Reads in blocks: a file of any
    size is checked in constant memory. A NUL byte is refused too: no table's text holds one."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_UTF8_BLOCK)
            if offset == 0 and block.startswith(_UTF16_BOMS):
                raise SourceError(
                    f"{path.name}: not UTF-8 text (UTF-16, by its byte-order mark); "
                    "save the file as UTF-8 CSV"
                )
            nul = block.find(b"\0")
            if nul >= 0:  # valid UTF-8, but no text: a binary file, or UTF-16 without its mark
                at = line + block.count(b"\n", 0, nul)
                raise SourceError(
                    f"{path.name}: not UTF-8 text (a NUL byte on line {at:,}: a binary or "
                    "UTF-16 file); "
                    "save the file as UTF-8 CSV"
                )
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                at, byte = line + block.count(b"\n", 0, exc.start), offset + exc.start
                raise SourceError(
                    f"{path.name}: not UTF-8 text (line {at:,}, byte offset {byte:,}: "
                    "not valid UTF-8); save the file as UTF-8 CSV"
                ) from None
            if not block:
                return
            line += block.count(b"\n")
            offset += len(block)


def _read_csv(path: Path) -> pa.Table:
    """Every cell as text; a malformed row fails with its row number (and not its text)."""
    table = _parse_csv(path, keep=True)
    assert table is not None
    return table


def _parse_csv(path: Path, *, keep: bool) -> pa.Table | None:
    """Parse every row, cells as text, and return the table (``keep``) or nothing: then the
    file is streamed block by block, in constant memory. A malformed row fails with its row
    number (and not its text)."""
    bad: list[int | None] = []

    def invalid_row(row: Any) -> str:
        bad.append(row.number)
        return "error"

    parse = pacsv.ParseOptions(invalid_row_handler=invalid_row)
    try:
        # The header only (a streaming reader parses the first block, not the file).
        with pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 16, use_threads=False),
            parse_options=parse,
        ) as reader:
            names = reader.schema.names
        # one thread: Arrow then knows the line number of a malformed row
        # Only an empty cell is null: 'n/a', 'NaN', 'null' stay the text the file holds (the
        # raw batch is the file as received; validation reads such cells as no value).
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[""],
            strings_can_be_null=True,
        )
        if keep:
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(use_threads=False),
                parse_options=parse,
                convert_options=convert,
            )
        with pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 22, use_threads=False),
            parse_options=parse,
            convert_options=convert,
        ) as reader:
            for _ in reader:  # parsed and let go: only whether every row parses counts
                pass
        return None
    except pa.ArrowInvalid as exc:
        if bad:
            where = f"line {bad[0]:,}" if bad[0] is not None else "a line"
            raise SourceError(
                f"{path.name}: {where} has another number of cells than the header "
                "(CSV parse error; the row is not shown)"
            ) from exc
        raise


def _without_contents(exc: BaseException) -> str:
    """The kind of a read error, cut before the quoted contents Arrow appends ("...: <row>")."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    head = text.split(": ", 2)
    return ": ".join(head[:2]) if len(head) > 2 else excerpt(text, 80).strip("'")


def resolve_columns(names: list[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Canonical column -> file column, from an explicit mapping or the default aliases.

    >>> resolve_columns(["Date", "Close", "High", "Low", "Open", "Volume"])["session_date"]
    'Date'
    """
    twice = sorted(n for n, k in Counter(names).items() if k > 1)
    if twice:
        raise SchemaError(
            f"column name(s) {', '.join(excerpt(n) for n in twice[:8])} appear more than once "
            "in the header"
        )
    by_lower = {n.lower(): n for n in names}
    out: dict[str, str] = {}
    for canonical, aliases in DEFAULT_ALIASES.items():
        if mapping and canonical in mapping:
            if mapping[canonical] not in names:
                raise SchemaError(
                    f"column mapping {canonical}={mapping[canonical]!r}: no such column "
                    f"(the file has {_shown(names)})"
                )
            out[canonical] = mapping[canonical]
            continue
        found = next((by_lower[a] for a in aliases if a in by_lower), None)
        if found is not None:
            out[canonical] = found
    missing = [c for c in REQUIRED if c not in out]
    if missing:
        raise SchemaError(
            f"missing required columns: {', '.join(missing)} (the file has {_shown(names)}; "
            "pass a column mapping such as close=Settle)"
        )
    return out


def _shown(names: list[str], limit: int = 8) -> str:
    """A file's column names for a message: bounded excerpts, at most ``limit`` of them (a
    header is a line of the file, which may be any file)."""
    shown = ", ".join(excerpt(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{len(names)} column(s): {shown}{more}"


def canonical_from_raw(
    raw: pa.Table,
    root: str,
    columns: Mapping[str, str],
    *,
    contract: str | None = None,
    registry: Registry | None = None,
) -> pl.DataFrame:
    """Canonical bars aligned 1:1 with ``raw``; unparseable cells become null (validation names
    them), and so does a volume or open interest that is not a whole number of contracts.

    ``contract`` (a cash index symbol) overrides whatever the file says; such a file may lack a
    volume column."""
    frame = pl.from_arrow(raw)
    assert isinstance(frame, pl.DataFrame)
    date_col = pl.col(columns["session_date"])
    if frame.schema[columns["session_date"]] == pl.String:
        session_date = date_col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    else:
        session_date = date_col.cast(pl.Date, strict=False)
    code = (
        pl.lit(contract)
        if contract is not None
        else pl.col(columns["contract"]).cast(pl.String)
        if "contract" in columns
        else pl.lit(continuous_symbol(root, registry))
    )
    exprs = [
        pl.lit(root).alias("root"),
        code.alias("contract"),
        session_date.alias("session_date"),
        *(
            pl.col(columns[c]).cast(pl.Float64, strict=False).alias(c)
            for c in ("open", "high", "low", "close")
        ),
    ]
    for c in ("volume", "open_interest"):
        if c in columns:
            # A count is stored as written or not at all: 12.5 contracts become null here and
            # validation's volume.plausible names the cell (never rounded to 12).
            count = pl.col(columns[c]).cast(pl.Float64, strict=False)
            exprs.append(pl.when(count == count.round(0)).then(count).alias(c))
    if contract is not None and "volume" not in columns:  # an index file needs no volume
        exprs.append(pl.lit(None, dtype=pl.Int64).alias("volume"))
    return conform_bars(frame.select(exprs))


def continuous_symbol(root: str, registry: Registry | None = None) -> str:
    """The contract a front-month feed's bars are stored under: the root's Yahoo symbol when it has
    one, else ``<root>=F`` (the ``=F`` suffix tells validation to expect roll gaps).

    >>> continuous_symbol("ES"), continuous_symbol("ZN")
    ('ES=F', 'ZN=F')
    """
    spec = (registry if registry is not None else builtin_registry()).get(root)
    return spec.yahoo_continuous if spec and spec.yahoo_continuous else f"{root}=F"


def index_symbol(root: str, registry: Registry | None = None) -> str:
    """The cash index symbol an index file of ``root`` is stored under.

    >>> index_symbol("YM")
    '^DJI'
    """
    specs = (registry if registry is not None else builtin_registry()).specs
    spec = specs.get(root)
    if spec is None or spec.cash_index is None:
        known = ", ".join(f"{r} {s.cash_index}" for r, s in specs.items() if s.cash_index)
        raise SourceError(
            f"no cash index is known for root {root!r} (known: {known}; a root's cash_index in "
            "the roots registry)"
        )
    return spec.cash_index


def _from_start(start: date | None) -> pl.Expr:
    """Index rows from ``start`` on (the futures file's first session: an index file's earlier
    history is not the futures batch's; see the module docstring); unparseable dates stay in.

    The futures file itself is kept whole: a row before ``callbook ingest --start`` stays in the
    batch and in the landed raw table, and validation names it by rule
    ``session.before_window`` (not loaded); a row after the window end likewise
    (``session.not_future``).
    """
    day = pl.col("session_date")
    if start is None:  # every row (a column expression, so that it has the frame's length)
        return day.is_null() | day.is_not_null()
    return day.is_null() | (day >= start)


def _tagged(raw: pa.Table, name: str) -> pa.Table:
    return raw.add_column(0, "file", pa.array([name] * raw.num_rows, pa.string()))


class FileSource:
    """Bars from one file for one root, and optionally its cash index from a second file.

    ``columns`` maps canonical names to the futures file's names; the index file is read with the
    default aliases.
    """

    name = "file"

    def __init__(
        self,
        path: str | Path,
        *,
        columns: Mapping[str, str] | None = None,
        index_path: str | Path | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else builtin_registry()
        self.path = Path(path)
        self.columns = dict(columns or {})
        self.index_path = None if index_path is None else Path(index_path)
        self._resolved: dict[str, str] = {}

    def fetch(self, root: str, *, start: date | None, end: date, fetched_at: datetime) -> Batch:
        raw = read_raw(self.path)
        columns = resolve_columns(raw.schema.names, self.columns)
        self._resolved = columns
        if raw.num_rows == 0:  # a header alone: validation rejects it (batch.not_empty)
            return self._batch(root, raw, empty_bars(), start, end, fetched_at)
        bars = canonical_from_raw(raw, root, columns, registry=self.registry)
        if self.index_path is None:
            return self._batch(root, raw, bars, start, end, fetched_at)
        if any(is_index_symbol(c) for c in bars["contract"].drop_nulls().unique()):
            raise SourceError(
                f"{self.path}: the futures file holds cash index rows "
                f"({index_symbol(root, self.registry)}); "
                "pass the index as --index-path only"
            )
        symbol = index_symbol(root, self.registry)
        index_raw = read_raw(self.index_path)
        index_bars = canonical_from_raw(
            index_raw, root, resolve_columns(index_raw.schema.names), contract=symbol
        )
        first = bars["session_date"].min()
        index_window = _from_start(first if isinstance(first, date) else None)
        index_keep = index_bars.select(index_window.alias("keep"))["keep"].to_arrow()
        try:
            combined = pa.concat_tables(
                [
                    _tagged(raw, self.path.name),
                    _tagged(index_raw.filter(index_keep), self.index_path.name),
                ],
                promote_options="permissive",
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(
                f"{self.path.name} and {self.index_path.name}: columns of the same name have "
                f"incompatible types ({exc})"
            ) from exc
        return self._batch(
            root,
            combined,
            pl.concat([bars, index_bars.filter(index_window)]),
            start,
            end,
            fetched_at,
        )

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
            metadata=self._metadata(root),
        )

    def _metadata(self, root: str) -> dict[str, Any]:
        metadata: dict[str, Any] = {"path": str(self.path.resolve()), "file_name": self.path.name}
        if self._resolved:  # which file column became which canonical one (validation reads it)
            metadata["columns"] = dict(self._resolved)
        if self.index_path is not None:
            metadata |= {
                "index_path": str(self.index_path.resolve()),
                "index_file_name": self.index_path.name,
                "index_symbol": index_symbol(root, self.registry),
            }
        return metadata
