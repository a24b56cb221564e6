from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.schema import BAR_SCHEMA, SchemaError, table_sha256
from pipeline.sources.base import SourceError
from pipeline.sources.file import FileSource, read_raw, resolve_columns

FETCHED_AT = datetime(2026, 2, 24, 23, 0, tzinfo=UTC)

YAHOO_CSV = """Date,Close,High,Low,Open,Volume
2026-02-18,6890.5,6901.0,6850.25,6860.0,1200000
2026-02-19,6877.0,6899.5,6847.75,6891.75,1286455
2026-02-20,6923.25,6930.0,6847.25,6874.25,1286455
2026-02-23,6858.0,6935.5,6832.75,6918.0,1399664
"""


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yahoo_layout_needs_no_options(tmp_path: Path) -> None:
    batch = FileSource(write(tmp_path, YAHOO_CSV)).fetch(
        "ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT
    )
    assert batch.bars.schema == pl.Schema(BAR_SCHEMA)
    assert batch.bars["contract"].unique().to_list() == ["ES=F"]
    assert batch.bars.row(1, named=True) == {
        "root": "ES",
        "contract": "ES=F",
        "session_date": date(2026, 2, 19),
        "open": 6891.75,
        "high": 6899.5,
        "low": 6847.75,
        "close": 6877.0,
        "volume": 1286455,
        "open_interest": None,
    }
    # the raw batch keeps the file's text exactly
    assert batch.raw.column("Close").to_pylist()[0] == "6890.5"
    assert batch.raw.schema.names == ["Date", "Close", "High", "Low", "Open", "Volume"]
    assert batch.source == "file" and batch.metadata["file_name"] == "bars.csv"


def test_the_batch_is_the_whole_file_whatever_the_window(tmp_path: Path) -> None:
    """--start and --end leave no row out of raw or bars: a row before the window's start stays
    (validation names it by session.before_window), a row after its end too
    (session.not_future): never silently dropped. The batch is the one read without a window."""
    path = write(tmp_path, YAHOO_CSV)
    batch = FileSource(path).fetch(
        "ES", start=date(2026, 2, 19), end=date(2026, 2, 20), fetched_at=FETCHED_AT
    )
    assert batch.bars["session_date"].to_list() == [date(2026, 2, d) for d in (18, 19, 20, 23)]
    assert batch.raw.column("Date").to_pylist() == [
        "2026-02-18",
        "2026-02-19",
        "2026-02-20",
        "2026-02-23",
    ]
    whole = FileSource(path).fetch("ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT)
    assert batch.sha256 == whole.sha256
    assert batch.window_start == date(2026, 2, 19)  # what validation judges the rows against


def test_a_file_is_read_whole_when_no_start_is_given(tmp_path: Path) -> None:
    future = YAHOO_CSV + "2026-12-30,6890.5,6901.0,6850.25,6860.0,1200000\n"
    batch = FileSource(write(tmp_path, future)).fetch(
        "ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT
    )
    assert batch.raw.num_rows == batch.bars.height == 5
    assert batch.raw.column("Date").to_pylist()[-1] == "2026-12-30"


def test_a_count_that_is_not_whole_is_not_rounded(tmp_path: Path) -> None:
    """12.5 contracts: null in the canonical bar (validation's volume.plausible names the cell,
    which the raw batch keeps as written); 12.0 is 12 as written."""
    text = YAHOO_CSV.replace("1200000", "12.5").replace("1399664", "12.0")
    batch = FileSource(write(tmp_path, text)).fetch(
        "ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT
    )
    assert batch.bars["volume"].to_list() == [None, 1286455, 1286455, 12]
    assert batch.raw.column("Volume").to_pylist()[0] == "12.5"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            YAHOO_CSV.encode("utf-16"),
            "bars.csv: not UTF-8 text (UTF-16, by its byte-order mark); save the file as UTF-8 CSV",
        ),
        (
            YAHOO_CSV.encode("utf-16-le"),
            "bars.csv: not UTF-8 text (a NUL byte on line 1: a binary or UTF-16 file); "
            "save the file as UTF-8 CSV",
        ),
        (
            (YAHOO_CSV + "2026-02-24,1,2,0.5,1.5,caf\xe9\n").encode("latin-1"),
            "bars.csv: not UTF-8 text (line 6, byte offset 253: not valid UTF-8); "
            "save the file as UTF-8 CSV",
        ),
    ],
    ids=["utf16_bom", "utf16_no_bom", "latin1"],
)
def test_a_file_that_is_not_utf8_is_named_so(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(content)
    with pytest.raises(SourceError) as refused:
        read_raw(path)
    assert str(refused.value) == message
    assert capfd.readouterr().err == ""  # no "Exception ignored" traceback from Arrow


GSPC_CSV = """Date,Open,High,Low,Close,Volume
2026-02-13,6830.11,6850.02,6801.50,6836.40,4900000000
2026-02-17,6840.05,6860.72,6820.31,6851.07,5100000000
2026-02-18,6855.19,6893.66,6845.00,6881.93,5200000000
2026-02-19,6882.02,6890.47,6840.18,6868.54,5300000000
2026-02-20,6866.90,6921.31,6839.70,6914.81,5000000000
"""


def test_index_file_joins_the_batch_under_the_index_symbol(tmp_path: Path) -> None:
    source = FileSource(
        write(tmp_path, YAHOO_CSV, "ES_F.csv"), index_path=write(tmp_path, GSPC_CSV, "GSPC.csv")
    )
    batch = source.fetch("ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT)
    # Futures rows first, then the index rows from the futures' first session (2026-02-18) on:
    # earlier index rows pair with no futures bar. The index has no bar on 23 Feb yet.
    assert batch.bars["contract"].to_list() == ["ES=F"] * 4 + ["^GSPC"] * 3
    index = batch.bars.filter(pl.col("contract") == "^GSPC")
    assert index["session_date"].to_list() == [date(2026, 2, d) for d in (18, 19, 20)]
    assert index.row(0, named=True) == {
        "root": "ES",
        "contract": "^GSPC",
        "session_date": date(2026, 2, 18),
        "open": 6855.19,
        "high": 6893.66,
        "low": 6845.0,
        "close": 6881.93,
        "volume": 5200000000,
        "open_interest": None,
    }
    # The raw batch is both files as read, each row tagged with its file, aligned with bars.
    assert batch.raw.num_rows == batch.bars.height
    assert batch.raw.column("file").to_pylist() == ["ES_F.csv"] * 4 + ["GSPC.csv"] * 3
    assert batch.raw.column("Close").to_pylist()[4] == "6881.93"
    assert batch.metadata["index_symbol"] == "^GSPC"
    assert batch.metadata["index_file_name"] == "GSPC.csv"
    # The window leaves no row of either file out (index rows from the futures' first
    # session on): rows before its start are session.before_window's, after its end
    # session.not_future's.
    window = source.fetch(
        "ES", start=date(2026, 2, 19), end=date(2026, 2, 19), fetched_at=FETCHED_AT
    )
    assert window.bars.select("contract", "session_date").rows() == [
        ("ES=F", date(2026, 2, 18)),
        ("ES=F", date(2026, 2, 19)),
        ("ES=F", date(2026, 2, 20)),
        ("ES=F", date(2026, 2, 23)),
        ("^GSPC", date(2026, 2, 18)),
        ("^GSPC", date(2026, 2, 19)),
        ("^GSPC", date(2026, 2, 20)),
    ]
    # Without an index path nothing changes: same raw table, same hash as before.
    plain = FileSource(write(tmp_path, YAHOO_CSV, "ES_F.csv")).fetch(
        "ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT
    )
    assert plain.raw.schema.names == ["Date", "Close", "High", "Low", "Open", "Volume"]
    assert "index_symbol" not in plain.metadata


def test_index_file_errors(tmp_path: Path) -> None:
    futures, index = write(tmp_path, YAHOO_CSV), write(tmp_path, GSPC_CSV, "index.csv")
    with pytest.raises(SourceError, match="no cash index is known for root 'ZZ'"):
        FileSource(futures, index_path=index).fetch(
            "ZZ", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT
        )
    with pytest.raises(SourceError, match="no such file"):
        FileSource(futures, index_path=tmp_path / "absent.csv").fetch(
            "ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT
        )
    typed = tmp_path / "index.parquet"
    pq.write_table(
        pa.table(
            {"Date": ["2026-02-18"], "Close": [6881.93], "Open": [1.0], "High": [1.0], "Low": [1.0]}
        ),
        typed,
    )
    with pytest.raises(SourceError, match="incompatible types"):
        FileSource(futures, index_path=typed).fetch(
            "ES", start=None, end=date(2026, 2, 23), fetched_at=FETCHED_AT
        )


def test_same_file_same_hash_and_edit_changes_it(tmp_path: Path) -> None:
    path = write(tmp_path, YAHOO_CSV)
    a = FileSource(path).fetch("ES", start=None, end=date(2026, 3, 1), fetched_at=FETCHED_AT)
    b = FileSource(path).fetch("ES", start=None, end=date(2026, 3, 1), fetched_at=FETCHED_AT)
    assert a.sha256 == b.sha256 == table_sha256(a.raw)
    path.write_text(YAHOO_CSV.replace("6877.0", "6877.25"))
    c = FileSource(path).fetch("ES", start=None, end=date(2026, 3, 1), fetched_at=FETCHED_AT)
    assert c.sha256 != a.sha256


def test_column_mapping_and_contract_column(tmp_path: Path) -> None:
    text = (
        "trade_day,ticker,O,H,L,Settle,Vol,OI\n"
        "2026-02-19,RTYH26,2650.1,2661.0,2640.2,2655.3,150000,450000\n"
        "2026-02-19,RTYM26,2665.0,2676.0,2655.0,2670.4,9000,120000\n"
    )
    src = FileSource(
        write(tmp_path, text),
        columns={
            "session_date": "trade_day",
            "open": "O",
            "high": "H",
            "low": "L",
            "close": "Settle",
            "volume": "Vol",
            "open_interest": "OI",
        },
    )
    bars = src.fetch("RTY", start=None, end=date(2026, 2, 20), fetched_at=FETCHED_AT).bars
    assert bars["contract"].to_list() == ["RTYH26", "RTYM26"]
    assert bars["close"].to_list() == [2655.3, 2670.4]
    assert bars["open_interest"].to_list() == [450000, 120000]


def test_parquet_input(tmp_path: Path) -> None:
    table = pa.table(
        {
            "date": pa.array([date(2026, 2, 19), date(2026, 2, 20)], pa.date32()),
            "open": [1.0, 2.0],
            "high": [3.0, 4.0],
            "low": [0.5, 1.5],
            "close": [2.0, 3.0],
            "volume": pa.array([10, 20], pa.int64()),
        }
    )
    path = tmp_path / "bars.parquet"
    pq.write_table(table, path)
    batch = FileSource(path).fetch("NQ", start=None, end=date(2026, 2, 20), fetched_at=FETCHED_AT)
    assert batch.bars["session_date"].to_list() == [date(2026, 2, 19), date(2026, 2, 20)]
    assert batch.bars["contract"].to_list() == ["NQ=F", "NQ=F"]
    assert batch.raw.equals(table)


def test_unparseable_cells_become_null_rows_not_drops(tmp_path: Path) -> None:
    text = YAHOO_CSV.replace("6877.0,", "n/a,")
    batch = FileSource(write(tmp_path, text)).fetch(
        "ES", start=None, end=date(2026, 3, 1), fetched_at=FETCHED_AT
    )
    assert batch.bars.height == batch.raw.num_rows == 4
    assert batch.bars["close"].to_list()[1] is None


def test_missing_column_names_the_column(tmp_path: Path) -> None:
    text = "Date,Close,High,Open,Volume\n2026-02-19,1,2,1,5\n"
    with pytest.raises(SchemaError, match="missing required columns: low"):
        FileSource(write(tmp_path, text)).fetch(
            "ES", start=None, end=date(2026, 3, 1), fetched_at=FETCHED_AT
        )


def test_bad_mapping_names_the_column() -> None:
    with pytest.raises(SchemaError, match="close='Settle': no such column"):
        resolve_columns(["Date", "Open", "High", "Low", "Close"], {"close": "Settle"})


def test_missing_file_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        FileSource(tmp_path / "nope.csv").fetch(
            "ES", start=None, end=date(2026, 3, 1), fetched_at=FETCHED_AT
        )
    with pytest.raises(SourceError, match=r"unsupported file type '\.xlsx'"):
        FileSource(write(tmp_path, "x", "bars.xlsx")).fetch(
            "ES", start=None, end=date(2026, 3, 1), fetched_at=FETCHED_AT
        )


def test_real_es_file_reads_every_row(shared_data: Path) -> None:
    path = shared_data / "ES_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv"
    batch = FileSource(path).fetch("ES", start=None, end=date(2026, 11, 1), fetched_at=FETCHED_AT)
    assert batch.raw.num_rows == batch.bars.height == 6423
    assert batch.bars["session_date"].null_count() == 0
    assert batch.bars["session_date"].min() == date(2000, 9, 18)
