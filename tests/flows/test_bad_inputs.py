"""Inputs that cannot bend the record, through the command line: a batch that loads nothing
fails, a file that is not a bar file is refused without its contents echoed, and a bad analyst
call file is refused in one line naming the field, with nothing written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.cli import EXIT_FAILED, EXIT_OK, main
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from tests.warehouse.small_book import SEED_CALL, build_small_data_dir
from warehouse.store import TABLES, Warehouse

NOW = datetime(2026, 2, 6, 23, 0, tzinfo=UTC)  # every session through 2026-02-06 had closed
#: A line of a passwd file: what a symlink can lead the file source to.
PASSWD = "root:x:0:0:root:/root:/bin/bash"


def run(data_dir: Path, *argv: str) -> int:
    return main(["--data-dir", str(data_dir), *argv])


def problems(err: str) -> list[str]:
    """callbook's own lines on stderr, less the note saying which Prefect API a flow uses."""
    return [
        line
        for line in err.splitlines()
        if line.startswith("callbook:") and not line.startswith("callbook: using Prefect")
    ]


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return problems(capsys.readouterr().err)


def test_a_batch_with_every_row_quarantined_fails(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = tmp_path / "es.csv"
    bars.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        # High below the close on a liquid session (a thin one, under 5,000 contracts, may settle
        # outside its few trades: pipeline/quality/rules.py thin_sessions, named and kept).
        "2026-02-03,6900,6890,6880,6905,250000\n"
        "2026-02-04,6900,6950,6880,6905,1e30\n"  # a volume no session trades
        "2026-02-05,1e300,1e300,1e300,1e300,1000\n"  # prices of 1e300
    )
    with frozen_clock(NOW):
        status = run(
            tmp_path / "data", "ingest", "--root", "ES", "--source", "file", "--path", str(bars)
        )
    assert status == EXIT_FAILED
    out = capsys.readouterr()
    assert "quarantined 3, deferred 0 — quarantined" in " ".join(out.out.split())
    errors = problems(out.err)
    assert errors == [
        "callbook: ES quarantined: every row was quarantined, nothing loaded (3 rows; "
        "`callbook quarantine --root ES` lists them with the rule each broke)"
    ]
    with Warehouse.open(tmp_path / "data" / "warehouse.duckdb", read_only=True) as wh:
        assert wh.table_counts()["bars"] == 0
        rules = query(wh, "select row_index, rule from quarantine order by row_index")
    assert rules.rows() == [
        (0, "ohlc.high_bound"),
        (1, "volume.plausible"),
        (2, "price.plausible"),
    ]


def test_a_file_that_is_not_a_bar_file_is_refused_without_echoing_it(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "passwd"
    secret.write_text(f"{PASSWD}\ndaemon:x:1:1:daemon,,,:/usr/sbin:/usr/sbin/nologin\n")
    link = tmp_path / "bars.csv"
    link.symlink_to(secret)  # the user points at a CSV; it leads elsewhere
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(f"Date,Close\n2026-02-03,6900\n{PASSWD},1,2\n")
    one_column = tmp_path / "one.csv"
    one_column.write_text(f"{PASSWD}\n{PASSWD}\n")
    expected = {
        link: "bars.csv: line 2 has another number of cells than the header (CSV parse error; "
        "the row is not shown)",
        ragged: "ragged.csv: line 3 has another number of cells than the header (CSV parse "
        "error; the row is not shown)",
        one_column: "missing required columns: session_date, open, high, low, close (the file "
        "has 1 column(s): 'root:x:0:0:root:/ro…'; pass a column mapping such as close=Settle)",
        Path("/dev/zero"): "/dev/zero: not a regular file",
    }
    for path, message in expected.items():
        with frozen_clock(NOW):
            status = run(
                tmp_path / "data", "ingest", "--root", "ES", "--source", "file", "--path", str(path)
            )
        assert status == EXIT_FAILED
        captured = capsys.readouterr()
        errors = problems(captured.err)
        assert len(errors) == 1 and message in errors[0], errors
        everything = captured.out + captured.err
        assert PASSWD not in everything and "nologin" not in everything


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("calls") / "data"
    data_dir.mkdir()
    build_small_data_dir(data_dir)
    return data_dir


def table_hashes(data_dir: Path) -> dict[str, str]:
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        return {t: wh.content_hash(t) for t in TABLES}


SEED = SEED_CALL.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("line_in_the_sand = [2500, 2520]", "line_in_the_sand = [2500, inf]",
         "field 'levels.line_in_the_sand': need finite numbers"),
        ('author = "seed-note"', 'author = "desk/alice"',
         "field 'author': 'desk/alice' is not a valid name"),
        ("probability = 0.20", "probabilty = 0.20",
         "field 'scenarios.bear.probabilty': unknown field"),
        ("extension = [2750, 2800]", "extension = [2750, 1e300]",
         "field 'levels.extension': [2750, 1e+300] is outside the plausible range"),
    ],
)  # fmt: skip
def test_a_bad_call_file_is_refused_in_one_line_and_nothing_is_written(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    assert SEED.count(old) == 1
    call = tmp_path / "call.toml"
    call.write_text(SEED.replace(old, new))
    before = table_hashes(book)
    assert run(book, "calls", "add", str(call)) == EXIT_FAILED
    errors = stderr_lines(capsys)
    assert len(errors) == 1 and message in errors[0], errors
    assert table_hashes(book) == before


def test_the_seed_call_is_still_recorded(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The checks refuse what is wrong, not what is right (the seed is already stored: identical)."""
    before = table_hashes(book)
    assert run(book, "calls", "add", str(SEED_CALL)) == EXIT_OK
    assert "already recorded (identical content)" in capsys.readouterr().out
    assert table_hashes(book)["snapshots"] == before["snapshots"]


def test_rows_dated_after_the_window_are_quarantined_not_lost(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16's case as users run it: 30 good rows and two dated after the window end. The
    two were in no table and not in the landed batch; now they are quarantined by rule."""
    from tests.pipeline.quality.corpus import WINDOW_END, bad_files

    (bad,) = [f for f in bad_files() if f.name == "two_future_rows.csv"]
    path = tmp_path / bad.name
    path.write_bytes(bad.content)
    data_dir = tmp_path / "data"
    argv = ["ingest", "--root", "ES", "--source", "file", "--path", str(path)]
    assert run(data_dir, *argv, "--end", WINDOW_END.isoformat()) == EXIT_OK
    said = " ".join(capsys.readouterr().out.split())
    assert "ES: received 32, new 30, revised 0, unchanged 0, quarantined 2, deferred 0 — ok" in said
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        rules = query(wh, "select rule, session_date::varchar d from quarantine order by d")
        lake = query(
            wh,
            "select count(*) n from read_parquet($p)",
            {"p": str(data_dir / "lake" / "raw" / "**" / "*.parquet")},
        )
    assert rules.rows() == [
        ("session.not_future", "2026-01-05"),
        ("session.not_future", "2026-01-06"),
    ]
    assert lake["n"][0] == 32  # the landed raw batch holds every row received
