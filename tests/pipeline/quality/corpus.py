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
        window_start=SESSIONS[0],
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
