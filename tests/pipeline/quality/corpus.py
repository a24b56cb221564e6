"""The bad-input corpus: small batches with exactly one planted defect each.

Every case starts from the same clean batch: 40 consecutive CME trade dates (2025-11-03 ..
2025-12-30) of one contract, ESH26, as a vendor would send them (a table of text cells: Date,
Contract, Open, High, Low, Close, Volume), turned into canonical bars by the file source's own
parser, so the raw and canonical rows are aligned exactly as in ingest. One defect is planted in
the raw text; the case says which rule must report it, with which severity, on which rows.

The clean path moves at most 30 points a session, ranges are 26 to ~80 points and the ATR(14) is
about 50, so no clean row is near any threshold; the planted defects are far beyond them.
Reusable by flow tests: ``corpus()`` returns fresh batches, ``clean_batch()`` the unplanted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from pipeline.market.calendar import ET, trade_dates
from pipeline.schema import Batch
from pipeline.sources.file import canonical_from_raw, resolve_columns

ROOT = "ES"
CONTRACT = "ESH26"
SESSIONS: tuple[date, ...] = tuple(trade_dates(date(2025, 11, 3), date(2025, 12, 31))[:40])
WINDOW_END = SESSIONS[-1]  # 2025-12-30
#: 18:00 ET on the last session: every session in the batch had closed.
FETCHED_AT = datetime(2025, 12, 30, 23, 0, tzinfo=UTC)
#: 15:00 ET on the last session: the last bar is provisional.
FETCHED_BEFORE_CLOSE = datetime(2025, 12, 30, 15, 0, tzinfo=ET).astimezone(UTC)
RAW_COLUMNS: tuple[str, ...] = ("Date", "Contract", "Open", "High", "Low", "Close", "Volume")

#: Close-to-close moves, cycled (index points); opens gap from the previous close by OPEN_GAPS.
CLOSE_MOVES = (15, -10, 25, -20, 5, 30, -15, -5, 20, -25)
OPEN_GAPS = (-3, 2, 4, -1)
FIRST_CLOSE = 6800.0

Severity = str  # "error" | "warning" | "deferred" | "batch" (the batch is rejected)


@dataclass(frozen=True)
class CorpusCase:
    """One planted defect: ``rule`` must report exactly ``rows`` (batch positions) with
    ``severity``; for ``severity == "batch"`` the batch is rejected and ``rows`` is empty."""

    name: str
    description: str
    batch: Batch
    rule: str
    severity: Severity
    rows: tuple[int, ...]


def clean_rows() -> list[dict[str, str]]:
    """The 40 clean vendor rows, every cell text (as a CSV reader keeps it)."""
    rows = []
    close = FIRST_CLOSE
    for i, session in enumerate(SESSIONS):
        open_ = close + OPEN_GAPS[i % len(OPEN_GAPS)]
        close = close + CLOSE_MOVES[i % len(CLOSE_MOVES)]
        high = max(open_, close) + 12 + 4 * (i % 3)
        low = min(open_, close) - 14 - 3 * (i % 4)
        rows.append(
            {
                "Date": session.isoformat(),
                "Contract": CONTRACT,
                "Open": str(open_),
                "High": str(high),
                "Low": str(low),
                "Close": str(close),
                "Volume": str(1_200_000 + 7_919 * i),
            }
        )
    return rows


def make_batch(
    rows: list[dict[str, str]],
    *,
    fetched_at: datetime = FETCHED_AT,
    window_end: date = WINDOW_END,
    window_start: date = SESSIONS[0],
    without: str | None = None,
) -> Batch:
    """A file-source-like batch from vendor rows: the raw text table and the canonical bars the
    file source derives from it, row for row. ``without`` names a vendor column the vendor left
    out (it is dropped from both, as a permissive source would hand it over)."""
    raw = pa.table({c: pa.array([r[c] for r in rows], type=pa.string()) for c in RAW_COLUMNS})
    columns = resolve_columns(list(RAW_COLUMNS))
    bars = canonical_from_raw(raw, ROOT, columns)
    if without is not None:
        raw = raw.drop_columns([without])
        bars = bars.drop(without.lower())
    return Batch(
        source="corpus",
        root=ROOT,
        raw=raw,
        bars=bars,
        fetched_at=fetched_at,
        window_start=window_start,
        window_end=window_end,
        # as the file source records it: which vendor column became which canonical one
        metadata={"corpus": True, "columns": columns},
    )


def clean_batch() -> Batch:
    return make_batch(clean_rows())


def _num(row: dict[str, str], column: str) -> float:
    return float(row[column])


def _planted(edit: Callable[[list[dict[str, str]]], None]) -> list[dict[str, str]]:
    rows = clean_rows()
    edit(rows)
    return rows


def _set(index: int, **cells: str) -> Callable[[list[dict[str, str]]], None]:
    def edit(rows: list[dict[str, str]]) -> None:
        rows[index].update(cells)

    return edit


def _insert_copy(after: int, **cells: str) -> Callable[[list[dict[str, str]]], None]:
    def edit(rows: list[dict[str, str]]) -> None:
        rows.insert(after + 1, {**rows[after], **cells})

    return edit


def _shift_prices(
    index: int, *, by: float = 0.0, times: float = 1.0
) -> Callable[[list[dict[str, str]]], None]:
    def edit(rows: list[dict[str, str]]) -> None:
        for c in ("Open", "High", "Low", "Close"):
            rows[index][c] = str(_num(rows[index], c) * times + by)

    return edit


def _low_above_body(rows: list[dict[str, str]]) -> None:
    row = rows[13]
    row["Low"] = str(min(_num(row, "Open"), _num(row, "Close")) + 1.0)


def _high_below_body(rows: list[dict[str, str]]) -> None:
    row = rows[14]
    row["High"] = str(max(_num(row, "Open"), _num(row, "Close")) - 1.0)


def _narrow_range(rows: list[dict[str, str]]) -> None:
    row = rows[28]  # 2025-12-12, a full-length Friday session
    close = _num(row, "Close")
    row.update(Open=str(close), High=str(close + 1.0), Low=str(close - 1.0))


def _inverted(rows: list[dict[str, str]]) -> None:
    row = rows[17]  # high and low exchanged: high below low
    row["High"], row["Low"] = row["Low"], row["High"]


def _settlement_only(rows: list[dict[str, str]]) -> None:
    row = rows[19]  # a quiet session recorded as its settlement alone
    close = row["Close"]
    row.update(Open=close, High=close, Low=close, Volume="0")


def _off_tick(rows: list[dict[str, str]]) -> None:
    row = rows[21]  # 0.1 off the 0.25 grid: not a float32 rounding of a tick multiple
    row["Close"] = str(_num(row, "Close") + 0.1)


def _thin_settlement_apart(rows: list[dict[str, str]]) -> None:
    """A thin market (every session ~2,000 contracts, as ZC=F's electronic session before 2006)
    whose row 23 settles 2 points above its few trades: the exchange's settlement, kept."""
    for i, row in enumerate(rows):
        row["Volume"] = str(2_000 + 13 * i)
    row = rows[23]
    row["Close"] = str(_num(row, "High") + 2.0)


def _swap(i: int, j: int) -> Callable[[list[dict[str, str]]], None]:
    def edit(rows: list[dict[str, str]]) -> None:
        rows[i], rows[j] = rows[j], rows[i]

    return edit


def _future(rows: list[dict[str, str]]) -> None:
    rows.append({**rows[-1], "Date": "2025-12-31", "Volume": "1555555"})


def corpus() -> list[CorpusCase]:
    """Every planted defect (fresh batches on each call)."""
    clean = clean_rows()
    cases = [
        CorpusCase(
            "text_in_price_cell",
            "wrong dtype: the Close cell of row 10 is the text 'n/a'",
            make_batch(_planted(_set(10, Close="n/a"))),
            "price.not_null",
            "error",
            (10,),
        ),
        CorpusCase(
            "nan_price",
            "the Open cell of row 11 is 'NaN'",
            make_batch(_planted(_set(11, Open="NaN"))),
            "price.not_null",
            "error",
            (11,),
        ),
        CorpusCase(
            "zero_price",
            "the Low of row 12 is 0",
            make_batch(_planted(_set(12, Low="0"))),
            "price.positive",
            "error",
            (12,),
        ),
        CorpusCase(
            "low_above_body",
            "row 13: low 1 point above min(open, close)",
            make_batch(_planted(_low_above_body)),
            "ohlc.low_bound",
            "error",
            (13,),
        ),
        CorpusCase(
            "high_below_body",
            "row 14: high 1 point below max(open, close)",
            make_batch(_planted(_high_below_body)),
            "ohlc.high_bound",
            "error",
            (14,),
        ),
        CorpusCase(
            "inverted_bar",
            "row 17: high and low exchanged (high below low)",
            make_batch(_planted(_inverted)),
            "ohlc.inverted",
            "error",
            (17,),
        ),
        CorpusCase(
            "settlement_only",
            "row 19: open = high = low = close, volume 0 (a settlement-only record): kept",
            make_batch(_planted(_settlement_only)),
            "bar.settlement_only",
            "warning",
            (19,),
        ),
        CorpusCase(
            "off_tick_close",
            "row 21: close 0.1 off ES's 0.25 tick grid: kept, named",
            make_batch(_planted(_off_tick)),
            "price.tick_grid",
            "warning",
            (21,),
        ),
        CorpusCase(
            "thin_settlement_apart",
            "a thin market; row 23's settlement 2 points above its traded high: kept, named",
            make_batch(_planted(_thin_settlement_apart)),
            "ohlc.settlement_outside_range",
            "warning",
            (23,),
        ),
        CorpusCase(
            "negative_volume",
            "row 15: volume -500",
            make_batch(_planted(_set(15, Volume="-500"))),
            "volume.non_negative",
            "error",
            (15,),
        ),
        CorpusCase(
            "unparseable_date",
            "row 16: Date '2025-11-31' (no such day)",
            make_batch(_planted(_set(16, Date="2025-11-31"))),
            "session.parsed",
            "error",
            (16,),
        ),
        CorpusCase(
            "sunday_bar",
            "a bar dated Sunday 2025-11-16 inserted after Friday 2025-11-14 (row 9)",
            make_batch(_planted(_insert_copy(9, Date="2025-11-16", Volume="11644"))),
            "session.trade_date",
            "error",
            (10,),
        ),
        CorpusCase(
            "holiday_bar",
            "a bar dated Thanksgiving 2025-11-27 inserted after 2025-11-26 (row 17)",
            make_batch(_planted(_insert_copy(17, Date="2025-11-27", Volume="250000"))),
            "session.trade_date",
            "error",
            (18,),
        ),
        CorpusCase(
            "future_session",
            "a bar for 2025-12-31, after the window end and the fetch date, appended",
            make_batch(_planted(_future)),
            "session.not_future",
            "error",
            (40,),
        ),
        CorpusCase(
            "before_window",
            "`ingest --start` at the fourth session: the three rows before it are not asked for",
            make_batch(clean, window_start=SESSIONS[3]),
            "session.before_window",
            "error",
            (0, 1, 2),
        ),
        CorpusCase(
            "unfinished_session",
            "fetched at 15:00 ET on the last session: its bar is provisional",
            make_batch(clean, fetched_at=FETCHED_BEFORE_CLOSE),
            "session.final",
            "deferred",
            (39,),
        ),
        CorpusCase(
            "exact_duplicate",
            "row 20 sent twice, identical (the copy is row 21)",
            make_batch(_planted(_insert_copy(20))),
            "key.unique",
            "error",
            (21,),
        ),
        CorpusCase(
            "conflicting_duplicate",
            "row 20 sent twice with different closes (rows 20 and 21)",
            make_batch(_planted(_insert_copy(20, Close=str(_num(clean[20], "Close") + 0.25)))),
            "key.unique",
            "error",
            (20, 21),
        ),
        CorpusCase(
            "out_of_order",
            "rows 24 and 25 swapped",
            make_batch(_planted(_swap(24, 25))),
            "rows.out_of_order",
            "warning",
            (25,),
        ),
        CorpusCase(
            "price_jump",
            "row 26: every price 600 points (~12 ATR) higher, OHLC still consistent",
            make_batch(_planted(_shift_prices(26, by=600.0))),
            "price.jump",
            "error",
            (26,),
        ),
        CorpusCase(
            "price_10x",
            "row 27: every price multiplied by 10 (a decimal shift; still inside the plausible range, so the jump rule must catch it); row 28 is back to normal",
            make_batch(_planted(_shift_prices(27, times=10.0))),
            "price.jump",
            "error",
            (27,),
        ),
        CorpusCase(
            "partial_session",
            "row 28 (2025-12-12): range 2 points (open = close, high/low 1 point away)",
            make_batch(_planted(_narrow_range)),
            "range.partial",
            "error",
            (28,),
        ),
        CorpusCase(
            "zero_volume",
            "row 29: volume 0",
            make_batch(_planted(_set(29, Volume="0"))),
            "volume.zero",
            "warning",
            (29,),
        ),
        CorpusCase(
            "repeated_volume",
            "row 30 repeats row 29's volume",
            make_batch(_planted(_set(30, Volume=clean[29]["Volume"]))),
            "volume.repeated",
            "warning",
            (30,),
        ),
        CorpusCase(
            "price_1e300",
            "row 31: every price 1e300 (consistent OHLC, no jump check without a good close)",
            make_batch(_planted(_set(31, Open="1e300", High="1e300", Low="1e300", Close="1e300"))),
            "price.plausible",
            "error",
            (31,),
        ),
        CorpusCase(
            "price_infinite",
            "row 32: the High cell is 'inf'",
            make_batch(_planted(_set(32, High="inf"))),
            "price.plausible",
            "error",
            (32,),
        ),
        CorpusCase(
            "price_unit_error",
            "row 33: prices a thousandth of the real ones (6.8 for 6,800)",
            make_batch(_planted(_shift_prices(33, times=0.001))),
            "price.plausible",
            "error",
            (33,),
        ),
        CorpusCase(
            "volume_1e30",
            "row 34: volume '1e30' (does not fit a 64-bit count: stored as NULL before)",
            make_batch(_planted(_set(34, Volume="1e30"))),
            "volume.plausible",
            "error",
            (34,),
        ),
        CorpusCase(
            "volume_text",
            "row 35: volume 'lots'",
            make_batch(_planted(_set(35, Volume="lots"))),
            "volume.plausible",
            "error",
            (35,),
        ),
        CorpusCase(
            "volume_implausible",
            "row 36: volume 2,000,000,000 contracts in one session",
            make_batch(_planted(_set(36, Volume="2000000000"))),
            "volume.plausible",
            "error",
            (36,),
        ),
        CorpusCase(
            "invented_contract",
            "row 37: contract 'ESX26' (X is not a quarterly month code)",
            make_batch(_planted(_set(37, Contract="ESX26"))),
            "contract.listed",
            "error",
            (37,),
        ),
        CorpusCase(
            "other_roots_contract",
            "row 5: contract 'NQH26' in an ES batch",
            make_batch(_planted(_set(5, Contract="NQH26"))),
            "contract.listed",
            "error",
            (5,),
        ),
        CorpusCase(
            "expired_contract",
            "row 6: contract 'ESZ24', expired a year before the session",
            make_batch(_planted(_set(6, Contract="ESZ24"))),
            "contract.listed",
            "error",
            (6,),
        ),
        CorpusCase(
            "empty_batch",
            "the vendor returned a header and no rows",
            make_batch([]),
            "batch.not_empty",
            "batch",
            (),
        ),
        CorpusCase(
            "missing_close_column",
            "the vendor table has no Close column",
            make_batch(clean, without="Close"),
            "schema.required_columns",
            "batch",
            (),
        ),
        CorpusCase(
            "text_price_column",
            "every Close cell is text",
            make_batch([{**r, "Close": "n/a"} for r in clean]),
            "schema.column_types",
            "batch",
            (),
        ),
    ]
    return cases


# -- bad input files ------------------------------------------------------------------------------
#
# The same defects as files a user points `callbook ingest --source file` at (or drops in the
# inbox), and defects only a file can have: its encoding, its CSV framing, its header, its type.
# A file either reaches validation, where every row it holds must end in exactly one place
# (loaded, quarantined or deferred), or is refused whole in one line naming what is wrong.


@dataclass(frozen=True)
class BadFile:
    """One bad input file. ``refused``: a fragment of the one-line error that refuses it whole
    (None: it reaches validation). ``rule``/``severity``/``rows``: a finding validation must
    make (``severity == "batch"``: the batch is rejected whole by ``rule``); empty ``rule``: only
    the row accounting is checked."""

    name: str
    description: str
    content: bytes
    refused: str | None = None
    rule: str = ""
    severity: Severity = "error"
    rows: tuple[int, ...] = ()
    fetched_at: datetime = FETCHED_AT
    window_end: date = WINDOW_END


def csv_bytes(
    rows: list[dict[str, str]],
    columns: tuple[str, ...] = RAW_COLUMNS,
    *,
    newline: str = "\n",
    quote: bool = False,
) -> bytes:
    """Vendor rows as a UTF-8 CSV file (cells quoted when ``quote``, or when they need it)."""

    def cell(text: str) -> str:
        if quote or any(ch in text for ch in ',"\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    lines = [",".join(columns)] + [",".join(cell(r.get(c, "")) for c in columns) for r in rows]
    return (newline.join(lines) + newline).encode("utf-8")


def _case_file(case: CorpusCase) -> BadFile:
    """A validation corpus case as the CSV file it came from (its raw text cells). A file
    without a required column is refused whole before validation."""
    raw = case.batch.raw
    refused = MISSING if case.rule == "schema.required_columns" else None
    columns = tuple(raw.schema.names)
    rows = [{c: ("" if v is None else str(v)) for c, v in r.items()} for r in raw.to_pylist()]
    return BadFile(
        f"{case.name}.csv",
        case.description,
        csv_bytes(rows, columns),
        refused=refused,
        rule=case.rule,
        severity=case.severity,
        rows=case.rows,
        fetched_at=case.batch.fetched_at,
        window_end=case.batch.window_end,
    )


def _rows_with(edit: Callable[[list[dict[str, str]]], None]) -> list[dict[str, str]]:
    return _planted(edit)


def _two_future_rows(rows: list[dict[str, str]]) -> None:
    """The issue's case: two rows dated after the window end appended to good ones."""
    del rows[30:]
    rows.append({**rows[-1], "Date": "2026-01-05", "Volume": "1300001"})
    rows.append({**rows[-1], "Date": "2026-01-06", "Volume": "1300002"})


NOT_UTF8 = "not UTF-8 text"
RAGGED = "has another number of cells than the header"
MISSING = "missing required columns"


def _text_variants() -> list[BadFile]:
    """Files that reach validation: defects in cells, dates and framing."""
    clean = clean_rows()
    with_oi = [{**r, "Open Interest": str(2_000_000 + i)} for i, r in enumerate(clean)]
    with_oi[7]["Open Interest"] = "3.5"
    oi_columns = (*RAW_COLUMNS, "Open Interest")
    extra = [{**r, "Note": "vendor remark, with a comma"} for r in clean]
    header_again = [*clean[:20], {c: c for c in RAW_COLUMNS}, *clean[20:]]
    shuffled = ("Volume", "Close", "Contract", "Low", "Date", "High", "Open")

    def lower(rows: list[dict[str, str]]) -> bytes:
        return csv_bytes(rows).replace(
            ",".join(RAW_COLUMNS).encode(), b"date,contract,open,high,low,close,volume", 1
        )

    return [
        BadFile(
            "two_future_rows.csv",
            "30 good rows and two dated after the window end (the issue's case): quarantined",
            csv_bytes(_rows_with(_two_future_rows)),
            rule="session.not_future",
            rows=(30, 31),
        ),
        BadFile(
            "half_contract_volume.csv",
            "row 12: volume 12.5 (not a whole number of contracts): refused, never rounded",
            csv_bytes(_rows_with(_set(12, Volume="12.5"))),
            rule="volume.plausible",
            rows=(12,),
        ),
        BadFile(
            "half_contract_open_interest.csv",
            "row 7: open interest 3.5",
            csv_bytes(with_oi, oi_columns),
            rule="volume.plausible",
            rows=(7,),
        ),
        BadFile(
            "thousands_separator.csv",
            "row 9: volume '1,208,000' (quoted, with separators)",
            csv_bytes(_rows_with(_set(9, Volume="1,208,000"))),
            rule="volume.plausible",
            rows=(9,),
        ),
        BadFile(
            "decimal_comma.csv",
            "row 4: close '6800,25' (a decimal comma)",
            csv_bytes(_rows_with(_set(4, Close="6800,25"))),
            rule="price.not_null",
            rows=(4,),
        ),
        BadFile(
            "padded_cells.csv",
            "row 3: open ' 6800 ' padded with spaces",
            csv_bytes(_rows_with(_set(3, Open=" 6800.0 "))),
            rule="price.not_null",
            rows=(3,),
        ),
        BadFile(
            "us_date.csv",
            "row 8: date '11/13/2025' (month first)",
            csv_bytes(_rows_with(_set(8, Date="11/13/2025"))),
            rule="session.parsed",
            rows=(8,),
        ),
        BadFile(
            "year_one.csv",
            "row 2: date 0001-01-01 (outside the CME calendar)",
            csv_bytes(_rows_with(_set(2, Date="0001-01-01"))),
            rule="session.trade_date",
            rows=(2,),
        ),
        BadFile(
            "year_9999.csv",
            "row 2: date 9999-12-31",
            csv_bytes(_rows_with(_set(2, Date="9999-12-31"))),
            rule="session.not_future",
            rows=(2,),
        ),
        BadFile(
            "empty_row.csv",
            "row 5: every cell empty",
            csv_bytes(_rows_with(_set(5, **dict.fromkeys(RAW_COLUMNS, "")))),
            rule="session.parsed",
            rows=(5,),
        ),
        BadFile(
            "header_repeated.csv",
            "the header line again as row 20 (two exports concatenated)",
            csv_bytes(header_again),
            rule="session.parsed",
            rows=(20,),
        ),
        BadFile(
            "every_row_twice.csv",
            "the whole file sent twice in one file (rows 40..79 copy rows 0..39)",
            csv_bytes(clean + clean),
            rule="key.unique",
            rows=tuple(range(40, 80)),
        ),
        BadFile(
            "reversed.csv",
            "newest row first",
            csv_bytes(clean[::-1]),
            rule="rows.out_of_order",
            severity="warning",
        ),
        BadFile(
            "negative_close.csv",
            "row 18: close -6800",
            csv_bytes(_rows_with(_set(18, Close="-6800.0"))),
            rule="price.positive",
            rows=(18,),
        ),
        BadFile(
            "tiny_price.csv",
            "row 22: every price 1e-300",
            csv_bytes(
                _rows_with(_set(22, Open="1e-300", High="1e-300", Low="1e-300", Close="1e-300"))
            ),
            rule="price.plausible",
            rows=(22,),
        ),
        BadFile(
            "long_contract.csv",
            "row 24: a contract cell of 10,000 characters",
            csv_bytes(_rows_with(_set(24, Contract="ESH26" * 2000))),
            rule="contract.listed",
            rows=(24,),
        ),
        BadFile(
            "fullwidth_contract.csv",
            "row 25: the contract in full-width letters (ＥＳＨ２６)",
            csv_bytes(_rows_with(_set(25, Contract="ＥＳＨ２６"))),
            rule="contract.listed",
            rows=(25,),
        ),
        BadFile(
            "empty_contract.csv",
            "row 26: no contract",
            csv_bytes(_rows_with(_set(26, Contract=""))),
            rule="contract.listed",
            rows=(26,),
        ),
        BadFile(
            "crlf.csv",
            "Windows line endings: every row loads",
            csv_bytes(clean, newline="\r\n"),
        ),
        BadFile(
            "utf8_bom.csv",
            "a UTF-8 byte-order mark before the header: every row loads",
            b"\xef\xbb\xbf" + csv_bytes(clean),
        ),
        BadFile("quoted.csv", "every cell quoted: every row loads", csv_bytes(clean, quote=True)),
        BadFile(
            "extra_column.csv",
            "a column callbook does not know (with commas in its cells)",
            csv_bytes(extra, (*RAW_COLUMNS, "Note")),
        ),
        BadFile("shuffled.csv", "columns in another order", csv_bytes(clean, shuffled)),
        BadFile("lower_case.csv", "a lower-case header", lower(clean)),
        BadFile(
            "datetime_cells.csv",
            "dates with a time of day ('2025-11-03 00:00:00')",
            csv_bytes([{**r, "Date": r["Date"] + " 00:00:00"} for r in clean]),
        ),
        BadFile(
            "blank_lines.csv",
            "blank lines between rows (not rows: nothing to account for)",
            csv_bytes(clean).replace(b"\n2025-11-1", b"\n\n2025-11-1"),
        ),
        BadFile(
            "no_trailing_newline.csv",
            "the last line without its newline",
            csv_bytes(clean).rstrip(b"\n"),
        ),
    ]


def _refused_files() -> list[BadFile]:
    """Files refused whole, in one line, before validation."""
    text = csv_bytes(clean_rows())
    header = ",".join(RAW_COLUMNS)

    def refused(name: str, description: str, content: bytes, message: str) -> BadFile:
        return BadFile(name, description, content, refused=message)

    big_then_latin1 = text * 400 + "2025-12-31,ESH26,1,2,0.5,1.5,caf\xe9\n".encode("latin-1")
    return [
        refused(
            "utf16.csv", "UTF-16 with its byte-order mark", text.decode().encode("utf-16"), NOT_UTF8
        ),
        refused(
            "utf16le.csv",
            "UTF-16 without a byte-order mark",
            text.decode().encode("utf-16-le"),
            NOT_UTF8,
        ),
        refused("utf16be.csv", "UTF-16 big-endian", text.decode().encode("utf-16-be"), NOT_UTF8),
        refused("utf32.csv", "UTF-32", text.decode().encode("utf-32"), NOT_UTF8),
        refused(
            "latin1.csv",
            "a Latin-1 'é' in a cell",
            text + "2025-12-31,ESH26,1,2,0.5,1.5,caf\xe9\n".encode("latin-1"),
            NOT_UTF8,
        ),
        refused(
            "cp1252.csv",
            "a Windows-1252 euro sign",
            text.replace(b"ESH26", "ESH26\u20ac".encode("cp1252"), 1),
            NOT_UTF8,
        ),
        refused(
            "late_latin1.csv",
            "a Latin-1 byte after 1 MB of good text (past the first block)",
            big_then_latin1,
            NOT_UTF8,
        ),
        refused(
            "nul_byte.csv",
            "a NUL byte inside a cell",
            text.replace(b"ESH26", b"ES\x00H26", 1),
            NOT_UTF8,
        ),
        refused("binary.csv", "random binary bytes", bytes(range(256)) * 8, NOT_UTF8),
        refused(
            "gzip.csv", "a gzip file under a .csv name", b"\x1f\x8b\x08\x00" + bytes(64), NOT_UTF8
        ),
        refused(
            "png.csv", "a PNG image under a .csv name", b"\x89PNG\r\n\x1a\n" + bytes(32), NOT_UTF8
        ),
        refused(
            "zip.csv", "a zip (xlsx) file under a .csv name", b"PK\x03\x04" + bytes(40), NOT_UTF8
        ),
        refused(
            "truncated_utf8.csv",
            "a multi-byte character cut at the end of the file",
            text + "é".encode()[:1],
            NOT_UTF8,
        ),
        refused("overlong_utf8.csv", "an overlong UTF-8 encoding", text + b"\xc0\xaf\n", NOT_UTF8),
        refused(
            "surrogate_utf8.csv", "an encoded UTF-16 surrogate", text + b"\xed\xa0\x80\n", NOT_UTF8
        ),
        refused("zero_bytes.csv", "an empty file", b"", "Empty CSV file"),
        refused("newline_only.csv", "a single newline", b"\n", "Empty CSV file"),
        refused(
            "extra_cell.csv",
            "row 3 has one cell too many",
            text.replace(b"ESH26", b"ESH26,x", 3),
            RAGGED,
        ),
        refused(
            "missing_cell.csv",
            "row 5 has one cell too few",
            text.replace(b",ESH26", b"", 5),
            RAGGED,
        ),
        refused(
            "unclosed_quote.csv",
            "a quote opened and never closed",
            text.replace(b",ESH26", b',"ESH26', 1),
            RAGGED,
        ),
        refused(
            "no_close.csv",
            "no Close column",
            csv_bytes(clean_rows(), tuple(c for c in RAW_COLUMNS if c != "Close")),
            MISSING,
        ),
        refused(
            "no_date.csv",
            "no Date column",
            csv_bytes(clean_rows(), tuple(c for c in RAW_COLUMNS if c != "Date")),
            MISSING,
        ),
        refused(
            "no_volume.csv",
            "no Volume column",
            csv_bytes(clean_rows(), tuple(c for c in RAW_COLUMNS if c != "Volume")),
            MISSING,
        ),
        refused(
            "no_header.csv", "rows without their header line", text.split(b"\n", 1)[1], MISSING
        ),
        refused(
            "semicolons.csv", "a semicolon-separated export", text.replace(b",", b";"), MISSING
        ),
        refused("tabs.csv", "a tab-separated export", text.replace(b",", b"\t"), MISSING),
        refused(
            "json.csv",
            "a JSON document under a .csv name",
            b'{"Date": "2025-11-03", "Close": 6800}\n',
            MISSING,
        ),
        refused(
            "html.csv",
            "an HTML error page saved as the file",
            b"<html><body>502 Bad Gateway</body></html>\n",
            MISSING,
        ),
        refused(
            "passwd.csv",
            "a passwd file (a symlink's target)",
            b"root:x:0:0:root:/root:/bin/bash\n",
            MISSING,
        ),
        refused(
            "repeated_column.csv",
            "two columns named Close",
            (header + ",Close\n").encode() + text.split(b"\n", 1)[1].replace(b"\n", b",1\n"),
            "appear more than once",
        ),
        refused("bars.json", "a .json file", b"[]", "unsupported file type"),
        refused(
            "bars.xlsx", "an Excel workbook", b"PK\x03\x04" + bytes(40), "unsupported file type"
        ),
        refused("bars", "a file without a suffix", text, "unsupported file type"),
        refused(
            "broken.parquet",
            "a .parquet file that is text",
            text,
            "not a Parquet file",
        ),
        refused(
            "truncated.parquet",
            "a Parquet file cut in half",
            b"PAR1" + bytes(100),
            "not a Parquet file",
        ),
    ]


#: The validation corpus cases that also come as files: those whose defect is in the cells'
#: text, the dates or the keys, which decide where a row ends (a price rule's case is one more
#: quarantined row through the same path; test_suite validates them all).
AS_FILES = (
    "text_in_price_cell",
    "nan_price",
    "unparseable_date",
    "sunday_bar",
    "holiday_bar",
    "future_session",
    "unfinished_session",
    "exact_duplicate",
    "conflicting_duplicate",
    "price_infinite",
    "volume_1e30",
    "volume_text",
    "empty_batch",
    "missing_close_column",
    "text_price_column",
)


def bad_files() -> list[BadFile]:
    """Every bad input file: validation corpus cases as files, then the file-level defects."""
    cases = [_case_file(c) for c in corpus() if c.name in AS_FILES]
    return cases + _text_variants() + _refused_files()


# -- analyst call files ---------------------------------------------------------------------------

#: The seed call every bad call file is made from (a valid call of RTY on 2026-02-04).
SEED_CALL_FILE = (
    Path(__file__).resolve().parents[3]
    / "pipeline"
    / "audit"
    / "examples"
    / "rty-2026-02-04-seed.toml"
)


@dataclass(frozen=True)
class BadCall:
    """One bad analyst call file: ``refused`` is a fragment of its one-line error."""

    name: str
    description: str
    content: bytes
    refused: str


def bad_call_files() -> list[BadCall]:
    """Call files `callbook calls add` must refuse in one line, each with one defect."""
    seed = SEED_CALL_FILE.read_text(encoding="utf-8")

    def edited(old: str, new: str) -> bytes:
        assert seed.count(old) == 1, old
        return seed.replace(old, new).encode("utf-8")

    def call(name: str, description: str, content: bytes, refused: str) -> BadCall:
        return BadCall(name, description, content, refused)

    return [
        call(
            "latin1.toml",
            "a Latin-1 byte in the notes",
            edited("Small caps", "Small caps caf").replace(b"caf", "caf\xe9".encode("latin-1"), 1),
            "not UTF-8",
        ),
        call("utf16.toml", "the file saved as UTF-16", seed.encode("utf-16"), "not UTF-8"),
        call("empty.toml", "an empty file", b"", "root"),
        call("broken.toml", "a bracket never closed", edited("[levels]", "[levels"), "TOML"),
        call(
            "duplicate_key.toml",
            "root given twice",
            edited('root = "RTY"', 'root = "RTY"\nroot = "ES"'),
            "TOML",
        ),
        call("no_root.toml", "no root", edited('root = "RTY"\n', ""), "root"),
        call(
            "unknown_root.toml",
            "a root callbook does not know",
            edited('root = "RTY"', 'root = "XYZ"'),
            "XYZ",
        ),
        call(
            "bad_date.toml",
            "as_of 2026-02-30",
            edited("as_of = 2026-02-04", 'as_of = "2026-02-30"'),
            "as_of",
        ),
        call(
            "text_date.toml",
            "as_of 'yesterday'",
            edited("as_of = 2026-02-04", 'as_of = "yesterday"'),
            "as_of",
        ),
        call(
            "empty_author.toml",
            "an empty author",
            edited('author = "seed-note"', 'author = ""'),
            "author",
        ),
        call(
            "path_author.toml",
            "an author with a slash",
            edited('author = "seed-note"', 'author = "../etc"'),
            "author",
        ),
        call(
            "probabilities_sum.toml",
            "probabilities adding to 1.1",
            edited("probability = 0.20", "probability = 0.30"),
            "probabilit",
        ),
        call(
            "negative_probability.toml",
            "a negative probability",
            edited("probability = 0.20", "probability = -0.20"),
            "probabilit",
        ),
        call(
            "text_probability.toml",
            "probability 'high'",
            edited("probability = 0.20", 'probability = "high"'),
            "probability",
        ),
        call(
            "zero_horizon.toml",
            "horizon 0 sessions",
            edited("horizon_sessions = 20", "horizon_sessions = 0"),
            "horizon_sessions",
        ),
        call(
            "huge_horizon.toml",
            "horizon 10^9 sessions",
            edited("horizon_sessions = 20", "horizon_sessions = 1000000000"),
            "horizon_sessions",
        ),
        call(
            "fraction_horizon.toml",
            "horizon 20.5 sessions",
            edited("horizon_sessions = 20", "horizon_sessions = 20.5"),
            "horizon_sessions",
        ),
        call(
            "reversed_zone.toml",
            "a zone whose bottom is above its top",
            edited("line_in_the_sand = [2500, 2520]", "line_in_the_sand = [2520, 2500]"),
            "line_in_the_sand",
        ),
        call(
            "nan_level.toml",
            "a level of nan",
            edited("deeper = [2400, 2420]", "deeper = [nan, 2420]"),
            "deeper",
        ),
        call(
            "text_level.toml",
            "a level of text",
            edited("deeper = [2400, 2420]", 'deeper = ["low", "lower"]'),
            "deeper",
        ),
        call(
            "three_bounds.toml",
            "a zone of three numbers",
            edited("deeper = [2400, 2420]", "deeper = [2400, 2410, 2420]"),
            "deeper",
        ),
        call("no_levels.toml", "no [levels] table", edited("[levels]\n", "[levelz]\n"), "level"),
        call(
            "no_bear.toml",
            "no bear scenario",
            edited("[scenarios.bear]", "[scenarios.moon]"),
            "scenarios",
        ),
        call(
            "bad_trend.toml",
            "primary_trend 'Up?'",
            edited('primary_trend = "Bullish"', 'primary_trend = "Up?"'),
            "primary_trend",
        ),
        call(
            "table_notes.toml",
            "notes as a table",
            edited('perspective = "consolidation near highs"', "perspective = { a = 1 }"),
            "perspective",
        ),
        call(
            "too_big.toml",
            "a file over 64 KB",
            seed.encode("utf-8") + b"#" * 70_000,
            "more than a call file holds",
        ),
        call("call.json", "a .json file", b"{}", "unknown call file format"),
        call("broken.yaml", "YAML that does not parse", b"root: [RTY\n", "YAML"),
        call(
            "python_tag.yaml",
            "a YAML Python object tag",
            b"root: !!python/object/apply:os.system ['true']\n",
            "YAML",
        ),
        call(
            "list.yaml", "a YAML list, not a mapping", b"- RTY\n- 2026-02-04\n", "table of fields"
        ),
    ]
