"""The bad-input corpus through the ingest path: every row of a bar file ends in exactly one
place, or the file is refused whole in one line, and the landed raw batch is the file as received.

Each file of :func:`tests.pipeline.quality.corpus.bad_files` (the validation corpus as files,
defects of cells, dates and framing, and files that are no table at all) goes through the steps
`callbook ingest --source file` takes, in this process: the command's up-front check
(:func:`pipeline.sources.file.check_file`), the file source's fetch, landing in the lake,
validation, and recording and loading into one warehouse. For a file that reaches the
warehouse:

- received (rows of the file, counted by Python's csv module: an independent reader) =
  new + revised + unchanged + quarantined + deferred, and each row is in one of bars,
  quarantine or deferred, never two;
- the landed Parquet holds every cell of the file as written (compared with the csv module's);
- the finding the case plants is reported on its rows.

A file refused whole is refused by the up-front check and by the fetch alike (the drop folder
has no up-front check), in one line, before anything is landed or stored. No case may raise
anything else (a traceback). A few run as users run them: through `.venv/bin/callbook`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from flows.cli import EXIT_FAILED, main
from pipeline.quality.result import ValidationResult
from pipeline.quality.suite import validate_batch
from pipeline.schema import SchemaError
from pipeline.sources.base import SourceError
from pipeline.sources.file import FileSource, check_file
from tests.pipeline.quality.corpus import (
    ROOT,
    WINDOW_END,
    BadCall,
    BadFile,
    bad_call_files,
    bad_files,
)
from tests.support.cli import run_callbook
from tests.support.sql import query
from warehouse.lake import RAW_DIR, land_batch
from warehouse.store import Warehouse

FILES: dict[str, BadFile] = {f.name: f for f in bad_files()}


def test_the_corpus_has_at_least_100_bad_inputs_of_every_kind() -> None:
    refused = [f for f in FILES.values() if f.refused]
    validated = [f for f in FILES.values() if not f.refused]
    assert len(refused) >= 30 and len(validated) >= 40 and len(CALLS) >= 25
    assert len(FILES) + len(CALLS) + len(DROPPED) >= 100
    assert len(FILES) == len(bad_files()) and len(CALLS) == len(bad_call_files())  # unique


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def written(folder: Path, bad: BadFile) -> Path:
    path = folder / "files" / bad.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bad.content)
    return path


def csv_rows(content: bytes) -> list[list[str]]:
    """The file's data rows as Python's csv module reads them (blank lines are no rows)."""
    text = content.decode("utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    return rows[1:]


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    """One warehouse for every file, as one user's: a later file's rows of sessions an earlier
    one stored count as unchanged or revised."""
    wh = Warehouse.in_memory()
    yield wh
    wh.close()


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and len(text) < 400, text
    return text


@pytest.mark.parametrize("name", [n for n, f in FILES.items() if f.refused])
def test_a_file_that_is_no_table_is_refused_whole_in_one_line(name: str, folder: Path) -> None:
    bad = FILES[name]
    path = written(folder, bad)
    with pytest.raises((SourceError, SchemaError)) as up_front:
        check_file(path)
    with pytest.raises((SourceError, SchemaError)) as fetched:
        FileSource(path).fetch(ROOT, start=None, end=bad.window_end, fetched_at=bad.fetched_at)
    assert bad.refused is not None
    assert bad.refused in one_line(up_front.value)
    assert bad.refused in one_line(fetched.value)


@pytest.mark.parametrize("name", [n for n, f in FILES.items() if not f.refused])
def test_every_row_of_a_bar_file_ends_in_exactly_one_place(
    name: str, folder: Path, warehouse: Warehouse
) -> None:
    account_for_every_row(FILES[name], folder / "data" / name, folder, warehouse)


#: Files ingested again with `--start` (the session of their row 15) into a warehouse of their
#: own: planted defects before and after the start, copies, reversed rows, framing.
WITH_START = (
    "text_in_price_cell.csv",
    "unparseable_date.csv",
    "future_session.csv",
    "unfinished_session.csv",
    "exact_duplicate.csv",
    "every_row_twice.csv",
    "reversed.csv",
    "negative_close.csv",
    "crlf.csv",
)


@pytest.mark.parametrize("name", WITH_START)
def test_with_a_start_every_row_still_ends_in_exactly_one_place(name: str, folder: Path) -> None:
    """`ingest --start`: the landed batch is still the whole file, and each row before the
    start is quarantined by session.before_window (with its other findings), not loaded."""
    bad = FILES[name]
    day = pl.col("session_date")
    all_rows = FileSource(written(folder, bad)).fetch(
        ROOT, start=None, end=bad.window_end, fetched_at=bad.fetched_at
    )
    start = all_rows.bars["session_date"][15]
    with Warehouse.in_memory() as own:
        validation = account_for_every_row(
            bad, folder / "data-start" / name, folder, own, start=start
        )
    before = set(
        all_rows.bars.with_row_index("row_index").filter(day < start)["row_index"].to_list()
    )
    findings = validation.findings
    named = set(findings.filter(pl.col("rule") == "session.before_window")["row_index"])
    quarantined = set(findings.filter(pl.col("severity") == "error")["row_index"])
    # Each row before the start is quarantined: by session.before_window, or, an exact copy of
    # an earlier row, by key.unique alone (copies are set aside before every other rule).
    assert named and named <= before <= quarantined
    copies = set(findings.filter(pl.col("detail").str.starts_with("duplicate of row"))["row_index"])
    assert before - named <= copies
    assert validation.clean.filter(day < start).is_empty()


def account_for_every_row(
    bad: BadFile, data_dir: Path, folder: Path, warehouse: Warehouse, *, start: date | None = None
) -> ValidationResult:
    """check -> fetch -> land -> validate -> record and load ``bad``, asserting where each of
    its rows ended (the module docstring); its validation."""
    path = written(folder, bad)
    check_file(path)  # the command's up-front check lets it through
    batch = FileSource(path).fetch(ROOT, start=start, end=bad.window_end, fetched_at=bad.fetched_at)
    received = csv_rows(bad.content)
    assert batch.raw.num_rows == len(received)

    # The landed raw batch is the file: every cell as written, row for row.
    landed = land_batch(data_dir, batch)
    stored = pq.read_table(data_dir / landed.path)
    assert stored.schema.names == batch.raw.schema.names
    for i, column in enumerate(stored.schema.names):
        as_written = [row[i] if row[i] != "" else None for row in received]
        assert stored.column(column).to_pylist() == as_written, column
    assert [p.name for p in (data_dir / RAW_DIR).rglob("*.parquet")] == [f"{batch.sha256}.parquet"]

    validation = validate_batch(batch)
    warehouse.record_batch(
        batch, lake_path=str(landed.path), run_id=None, recorded_at=bad.fetched_at
    )
    outcome = warehouse.load_batch(batch, validation, run_id=None, recorded_at=bad.fetched_at)
    findings = validation.findings
    in_bars = query(
        warehouse, "select count(*) n from bars where batch_id = $b", {"b": batch.sha256}
    )["n"][0]
    errors = findings.filter(pl.col("severity") == "error")
    quarantined = set(errors["row_index"].to_list())
    deferred = set(findings.filter(pl.col("severity") == "deferred")["row_index"].to_list())
    # Every quarantined row is on record: under this batch, or (the same bad bar sent again in
    # a later file) under the batch that brought it first (warehouse/sql/statements/
    # new_quarantine.sql records a bar's finding once).
    here = query(
        warehouse,
        "select row_index, rule from quarantine where batch_id = $b",
        {"b": batch.sha256},
    )
    before = query(
        warehouse,
        "select distinct rule, contract, session_date from quarantine where batch_id <> $b",
        {"b": batch.sha256},
    )
    on_record = errors.join(
        here.with_columns(pl.lit(True).alias("here")), on=["row_index", "rule"], how="left"
    ).join(
        before.with_columns(pl.lit(True).alias("before")),
        on=["rule", "contract", "session_date"],
        how="left",
        nulls_equal=True,
    )
    assert on_record.filter(pl.col("here").is_null() & pl.col("before").is_null()).is_empty()
    assert here.height <= errors.height

    if bad.severity == "batch":  # rejected whole by a named rule: nothing of it stored
        assert validation.status == "rejected"
        assert validation.rejection and bad.rule in validation.rejection
        assert (outcome.inserted, outcome.quarantined, outcome.deferred, in_bars) == (0, 0, 0, 0)
        return validation
    assert validation.status != "rejected", validation.rejection
    loaded = outcome.inserted + outcome.revised + outcome.unchanged
    assert loaded + outcome.quarantined + outcome.deferred == len(received)
    assert loaded == validation.clean.height
    assert in_bars == outcome.inserted + outcome.revised  # unchanged rows keep their version
    assert len(quarantined) == outcome.quarantined and len(deferred) == outcome.deferred
    assert not quarantined & deferred
    assert all(0 <= i < len(received) for i in quarantined | deferred)
    if bad.rule:
        reported = findings.filter(
            (pl.col("rule") == bad.rule) & (pl.col("severity") == bad.severity)
        )["row_index"]
        assert reported.len() > 0, findings
        if bad.rows:
            assert sorted(reported.unique().to_list()) == list(bad.rows)
        if bad.severity == "error":
            assert set(bad.rows) <= quarantined
    elif start is None:  # nothing wrong but the framing: every row loads
        assert outcome.quarantined == outcome.deferred == 0
    return validation


@pytest.mark.parametrize("name", ["utf16.csv", "nul_byte.csv", "extra_cell.csv", "no_close.csv"])
def test_the_command_refuses_a_bad_file_in_one_line_before_any_server_starts(
    name: str, folder: Path
) -> None:
    """As users run it: exit 1, one line, nothing before it (no Prefect server was started:
    it would announce itself), and no data directory made."""
    bad = FILES[name]
    path = written(folder, bad)
    data_dir = folder / "cli" / name
    ran = run_callbook(
        "ingest", "--root", ROOT, "--source", "file", "--path", str(path), data_dir=data_dir
    )
    assert ran.code == 1 and ran.out == ""
    (line,) = ran.err_lines
    assert line.startswith("callbook: error: ") and bad.refused and bad.refused in line
    assert not data_dir.exists()


def test_a_directory_and_a_missing_file_are_refused_before_any_server_starts(
    folder: Path,
) -> None:
    for path, said in ((folder, "not a regular file"), (folder / "absent.csv", "no such file")):
        ran = run_callbook(
            "ingest", "--root", ROOT, "--source", "file", "--path", str(path), data_dir=folder / "d"
        )
        assert ran.code == 1 and ran.out == ""
        (line,) = ran.err_lines
        assert said in line


# -- analyst call files ---------------------------------------------------------------------------

CALLS: dict[str, BadCall] = {c.name: c for c in bad_call_files()}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_bad_call_file_is_refused_in_one_line_with_nothing_stored(
    name: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`callbook calls add` in this process: exit 1, one line naming the field or the file's
    fault, and no data directory made (the file is checked before any writer opens)."""
    bad = CALLS[name]
    path = folder / "calls" / bad.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bad.content)
    data_dir = folder / "calls-data" / name
    assert main(["--data-dir", str(data_dir), "calls", "add", str(path)]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("callbook: error: ") and bad.refused in line, line
    assert not data_dir.exists()


# -- the drop folder ------------------------------------------------------------------------------

#: Files dropped in the inbox (taken in name order) and files being written, which stay.
DROPPED = {
    "a_future.csv": FILES["two_future_rows.csv"].content,
    "b_half_volume.csv": FILES["half_contract_volume.csv"].content,
    "c_utf16.csv": FILES["utf16.csv"].content,
    "d_ragged.csv": FILES["extra_cell.csv"].content,
    "e_header_only.csv": FILES["empty_batch.csv"].content,
    "f_same_as_a.csv": FILES["two_future_rows.csv"].content,
    "g_no_close.csv": FILES["no_close.csv"].content,
    "h_text.parquet": FILES["broken.parquet"].content,
}
BEING_WRITTEN = {
    ".hidden.csv": FILES["two_future_rows.csv"].content,
    "upload.csv.part": FILES["two_future_rows.csv"].content,
    "upload.tmp": FILES["two_future_rows.csv"].content,
    "readme.txt": b"vendor notes\n",
}
#: Where each dropped file must end: (archive folder, status in inbox_files).
ENDS = {
    "a_future.csv": ("done", "loaded"),
    "b_half_volume.csv": ("done", "loaded"),
    "c_utf16.csv": ("rejected", "failed"),
    "d_ragged.csv": ("rejected", "failed"),
    "e_header_only.csv": ("rejected", "rejected"),
    "f_same_as_a.csv": ("done", "duplicate"),
    "g_no_close.csv": ("rejected", "failed"),
    "h_text.parquet": ("rejected", "failed"),
}


def test_every_dropped_file_ends_in_one_place_with_its_rows_accounted(
    prefect_harness: None, tmp_path: Path
) -> None:
    """`nightly --source file`'s drop folder, through the real flow tasks: a loaded file's rows
    add up, a refused one is archived with its reason, a copy is a duplicate, a file being
    written stays where it is, and every archived file keeps its bytes."""
    from prefect import flow

    from flows import writer
    from flows.inbox import ingest_inbox
    from flows.settings import load_settings
    from flows.tasks import RootSummary

    data_dir = tmp_path / "data"
    inbox = data_dir / "inbox" / ROOT
    inbox.mkdir(parents=True)
    for name, content in {**DROPPED, **BEING_WRITTEN}.items():
        (inbox / name).write_bytes(content)
    settings = load_settings(data_dir=data_dir, roots=[ROOT], source="file")

    @flow(name="corpus-inbox")
    def take() -> list[RootSummary]:
        with writer.open_warehouse(settings) as wh:
            return ingest_inbox(wh, settings, end=WINDOW_END, run_id=None)

    summaries = take()
    assert len(summaries) == len(DROPPED)
    for name, content in BEING_WRITTEN.items():
        assert (inbox / name).read_bytes() == content  # left alone
    for name, content in DROPPED.items():
        folder, _ = ENDS[name]
        assert not (inbox / name).exists()
        assert (inbox / folder / name).read_bytes() == content, name
        assert (inbox / "rejected" / f"{name}.reason.txt").exists() == (folder == "rejected")
    by_name = {s.message.split(":")[0]: s for s in summaries}
    for name in ("a_future.csv", "b_half_volume.csv"):
        s = by_name[name]
        received = len(csv_rows(DROPPED[name]))
        assert s.received == received
        assert s.inserted + s.revised + s.unchanged + s.quarantined + s.deferred == received
    assert by_name["a_future.csv"].quarantined == 2  # the two future-dated rows
    assert by_name["b_half_volume.csv"].quarantined == 1  # 12.5 contracts
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        taken = query(wh, "select file_name, status from inbox_files order by file_name")
        future = query(
            wh,
            "select count(*) n from quarantine where rule = 'session.not_future'",
        )["n"][0]
    assert dict(taken.iter_rows()) == {name: status for name, (_, status) in ENDS.items()}
    assert future == 2
