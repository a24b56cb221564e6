"""`callbook sql` as users run it: every DuckDB type printed in every format (golden values by
hand), empty results that say so, limits that come from the settings, and the bounded child
process itself (warehouse/sandbox_process.py) failing in one line whatever the job does.

The command tests run the installed entry point (.venv/bin/callbook) in its own process, which
forks the query process; the in-process tests run inside pytest's threads, where the query
process is a fresh interpreter instead: both ways are covered.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.cli import EXIT_FAILED, EXIT_OK, main
from flows.settings import load_settings
from flows.sql import read_query, sql_limits
from pipeline.report.table import render_output
from tests.support import sandbox_jobs
from tests.support.cli import run_callbook
from tests.warehouse.small_book import build_small_data_dir
from warehouse.sandbox import SqlSandbox, open_sandbox
from warehouse.sandbox_process import SandboxLimits, SqlRefused, run_bounded
from warehouse.store import Warehouse, WarehouseError

REPO = Path(__file__).resolve().parents[2]
FORMATS = ("table", "vertical", "csv", "json", "markdown")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real data directory (bars, snapshots, outcomes)."""
    data_dir = tmp_path_factory.mktemp("sql") / "data"
    data_dir.mkdir()
    build_small_data_dir(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def empty_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose warehouse has its tables and views but no rows."""
    data_dir = tmp_path_factory.mktemp("sql-empty") / "data"
    data_dir.mkdir()
    Warehouse.open(data_dir / "warehouse.duckdb").close()
    return data_dir


@pytest.fixture(scope="module")
def sandbox(empty_book: Path) -> Iterator[SqlSandbox]:
    with open_sandbox(empty_book / "warehouse.duckdb") as opened:
        yield opened


# --- every type in every format ------------------------------------------------------------

#: (name, SQL expression, human cell (table, vertical, markdown), CSV cell, JSON value). Human
#: layouts round to meaning and group digits; CSV and JSON keep the stored value. Binary data
#: is hex in PostgreSQL's form; types polars cannot hold arrive as DuckDB's text of the value.
TYPES: tuple[tuple[str, str, str, str, Any], ...] = (
    ("boolean", "true", "true", "true", True),
    ("tinyint", "(-128)::tinyint", "-128", "-128", -128),
    (
        "ubigint",
        "18446744073709551615::ubigint",
        "18,446,744,073,709,551,615",
        "18446744073709551615",
        18446744073709551615,
    ),
    (  # 39 digits: DuckDB hands HUGEINT to Arrow as a 38-digit decimal; here it is exact text
        "hugeint",
        "(-170141183460469231731687303715884105727)::hugeint",
        "-170141183460469231731687303715884105727",
        "-170141183460469231731687303715884105727",
        "-170141183460469231731687303715884105727",
    ),
    (
        "uhugeint",
        "340282366920938463463374607431768211455::uhugeint",
        "340282366920938463463374607431768211455",
        "340282366920938463463374607431768211455",
        "340282366920938463463374607431768211455",
    ),
    ("double", "0.1::double", "0.1000", "0.1", 0.1),
    ("nan", "'nan'::double", "NaN", "NaN", None),
    ("minus infinity", "'-inf'::float", "-inf", "-inf", None),
    (
        "decimal",
        "(-1234567.8900)::decimal(18,4)",
        "-1,234,567.8900",
        "-1234567.8900",
        "-1234567.8900",
    ),
    (
        "decimal(38)",
        "12345678901234567890123456789.123::decimal(38,3)",
        "12,345,678,901,234,567,890,123,456,789.123",
        "12345678901234567890123456789.123",
        "12345678901234567890123456789.123",
    ),
    ("varchar", "'a|b,\"c\"'", 'a|b,"c"', 'a|b,"c"', 'a|b,"c"'),
    ("blob", "'\\xAA\\x00abc'::blob", "\\xaa00616263", "\\xaa00616263", "\\xaa00616263"),
    (
        "uuid",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    ),
    ("date", "date '2026-02-05'", "2026-02-05", "2026-02-05", "2026-02-05"),
    ("infinite date", "'infinity'::date", "infinity", "infinity", "infinity"),
    ("time", "time '12:34:56.789'", "12:34:56.789000", "12:34:56.789000000", "12:34:56.789"),
    ("time with time zone", "'12:34:56+02'::timetz", "12:34:56+02", "12:34:56+02", "12:34:56+02"),
    (
        "timestamp",
        "timestamp '2026-02-05 18:15:03.5'",
        "2026-02-05 18:15:03",
        "2026-02-05T18:15:03.500000",
        "2026-02-05 18:15:03.500",
    ),
    (
        "timestamp_ns",
        "'2026-02-05 18:15:03.123456789'::timestamp_ns",
        "2026-02-05 18:15:03",
        "2026-02-05T18:15:03.123456789",
        "2026-02-05 18:15:03.123456789",
    ),
    (
        "timestamptz",
        "timestamptz '2026-02-05 18:15:03+00'",
        "2026-02-05 18:15:03Z",
        "2026-02-05T18:15:03.000000+0000",
        "2026-02-05T18:15:03+00:00",
    ),
    ("infinite timestamp", "'-infinity'::timestamp", "-infinity", "-infinity", "-infinity"),
    (
        "interval",
        "interval '1 month 2 days 03:04:05'",
        "1 month 2 days 03:04:05",
        "1 month 2 days 03:04:05",
        "1 month 2 days 03:04:05",
    ),
    ("enum", "'b'::enum('a', 'b')", "b", "b", "b"),
    ("bit", "'0101'::bit", "0101", "0101", "0101"),
    (
        "bignum",
        "123456789012345678901234567890123456789012::bignum",
        "123456789012345678901234567890123456789012",
        "123456789012345678901234567890123456789012",
        "123456789012345678901234567890123456789012",
    ),
    ("json", "'{\"a\": [1, 2]}'::json", '{"a": [1, 2]}', '{"a": [1, 2]}', '{"a": [1, 2]}'),
    ("list", "[1, 2, null]", "[1, 2, null]", "[1,2,null]", [1, 2, None]),
    ("array", "[1.5, 2.5]::double[2]", "[1.500, 2.500]", "[1.5,2.5]", [1.5, 2.5]),
    ("struct", "{'a': 1, 'b': 'x'}", '{"a":1,"b":"x"}', '{"a":1,"b":"x"}', {"a": 1, "b": "x"}),
    ("map", "map {'k': [1, 2]}", '{"k":[1,2]}', '{"k":[1,2]}', {"k": [1, 2]}),
    ("union", "union_value(s := 'x')::union(n int, s varchar)", "x", "x", "x"),
    ("list of intervals", "[interval 1 day]", "[1 day]", "[1 day]", "[1 day]"),
    ("struct holding a blob", "{'b': 'ab'::blob}", "{'b': ab}", "{'b': ab}", "{'b': ab}"),
    (
        "list holding infinity",
        "['infinity'::date, date '2026-01-01']",
        "[infinity, 2026-01-01]",
        "[infinity, 2026-01-01]",
        "[infinity, 2026-01-01]",
    ),
    ("null", "null", "", "", None),
)


@pytest.mark.parametrize(("name", "expr", "human", "csv_cell", "json_value"), TYPES)
def test_every_type_prints_in_every_format(
    sandbox: SqlSandbox, name: str, expr: str, human: str, csv_cell: str, json_value: Any
) -> None:
    frame = sandbox.query(f"select {expr} as v")
    out = {fmt: render_output(frame, fmt=fmt, width=200) for fmt in FORMATS}

    table_lines = out["table"].splitlines()
    assert table_lines[0].strip() == "v"
    assert table_lines[2].strip() == human
    assert out["vertical"].splitlines()[1].split(maxsplit=1)[1:] == [human or "null"]
    assert out["markdown"].splitlines()[2] == f"| {human.replace('|', chr(92) + '|')} |"
    rows = list(csv.reader(io.StringIO(out["csv"])))
    assert rows[0] == ["v"] and (rows[1] or [""]) == [csv_cell]
    assert json.loads(out["json"]) == [{"v": json_value}]


def test_the_golden_table_covers_the_types_duckdb_has(sandbox: SqlSandbox) -> None:
    """Every DuckDB type test_all_types() holds (min, max and null of each) prints in every
    format; the golden table above names one value of each kind by hand."""
    frame = sandbox.query("select * from test_all_types()")
    assert frame.height == 3 and frame.width > 50
    for fmt in FORMATS:
        text = render_output(frame, fmt=fmt, width=200, limit=None)
        assert text.strip()
    parsed = json.loads(render_output(frame, fmt="json"))
    assert len(parsed) == 3 and set(parsed[0]) == set(frame.columns)
    rows = list(csv.reader(io.StringIO(render_output(frame, fmt="csv"))))
    assert len(rows) == 4 and all(len(r) == frame.width for r in rows)


def test_a_long_cell_is_cut_in_the_human_layouts_only(sandbox: SqlSandbox) -> None:
    frame = sandbox.query("select repeat('ab', 6000) as v")
    table_text = render_output(frame, fmt="vertical", width=100)
    assert "… [2,000 more characters: --format csv or json]" in table_text.replace("\n", "")
    assert json.loads(render_output(frame, fmt="json")) == [{"v": "ab" * 6000}]


# --- the installed command -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_result_prints_its_header_and_0_rows(book: Path, fmt: str) -> None:
    run = run_callbook("sql", "select * from bars limit 0", "--format", fmt, data_dir=book)
    assert (run.code, run.err) == (EXIT_OK, "")
    columns = "source,root,contract,session_date,open,high,low,close,volume,open_interest"
    columns += ",batch_id,recorded_at,superseded_at"
    lines = run.out.splitlines()
    if fmt == "csv":
        assert lines == [columns]
    elif fmt == "json":
        assert run.out == "[]\n"
    else:
        assert lines[-1] == "0 rows"
        shown = " ".join(run.out.split())
        # table: the header folds narrow columns; the names are all there, in order
        names = columns.split(",") if fmt != "table" else ["root", "contract", "volume"]
        positions = [shown.find(n) for n in names]
        assert -1 not in positions and positions == sorted(positions), shown
        if fmt != "markdown":  # a Markdown row is one line, however wide
            assert all(len(line) <= 100 for line in lines)


def test_an_empty_scoreboard_says_so(empty_book: Path) -> None:
    """The issue's case: the shipped scoreboard query on a warehouse without scored calls."""
    query = f"@{REPO / 'warehouse' / 'queries' / '05_scoreboard.sql'}"
    run = run_callbook("sql", query, data_dir=empty_book)
    assert (run.code, run.err) == (EXIT_OK, "")
    assert run.out.splitlines()[-1] == "0 rows"
    assert "columns: root, kind, author, methodology_version" in run.out
    run = run_callbook("sql", query, "--format", "csv", data_dir=empty_book)
    assert run.out.startswith("root,kind,author,methodology_version,")
    assert len(run.out.splitlines()) == 1


def test_the_scoreboard_prints_its_rows(book: Path) -> None:
    query = f"@{REPO / 'warehouse' / 'queries' / '05_scoreboard.sql'}"
    run = run_callbook("sql", query, "--format", "csv", data_dir=book)
    assert run.code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert {r["root"] for r in rows} == {"RTY", "ES", "NQ"}


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("csv", "b\n\\x616263\n"),
        ("json", '[{"b":"\\\\x616263"}]\n'),
        ("markdown", "| b |\n|---|\n| \\x616263 |\n"),
        ("table", " b        \n──────────\n \\x616263 \n"),
        ("vertical", "record 1 ─"),
    ],
)
def test_a_blob_prints_as_hex_in_every_format(book: Path, fmt: str, expected: str) -> None:
    run = run_callbook("sql", "select 'abc'::blob b", "--format", fmt, data_dir=book)
    assert (run.code, run.err) == (EXIT_OK, "")
    if fmt == "vertical":
        assert run.out.startswith(expected) and run.out.splitlines()[1].split() == [
            "b",
            "\\x616263",
        ]
    else:
        assert run.out == expected


def test_storage_info_prints_as_json(book: Path) -> None:
    """The issue's other case: a BLOB-free table function whose output once panicked polars."""
    run = run_callbook(
        "sql", "select * from pragma_storage_info('bars')", "--format", "json", data_dir=book
    )
    assert (run.code, run.err) == (EXIT_OK, "")
    rows = json.loads(run.out)
    assert len(rows) > 10 and {r["column_name"] for r in rows} >= {"root", "close"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_duckdb_type_prints_from_the_command(book: Path, fmt: str) -> None:
    run = run_callbook("sql", "select * from test_all_types()", "--format", fmt, data_dir=book)
    assert (run.code, run.err) == (EXIT_OK, "")
    if fmt == "json":
        assert len(json.loads(run.out)) == 3
    elif fmt == "csv":
        assert len(list(csv.reader(io.StringIO(run.out)))) == 4
    elif fmt == "vertical":
        assert "record 3" in run.out
    else:
        assert run.out.strip()


def test_the_ceiling_comes_from_the_settings_and_a_flag_only_lowers_it(book: Path) -> None:
    lower = {"CALLBOOK_SQL_MEMORY_MB": "128"}
    run = run_callbook("sql", "select 1", "--memory-mb", "256", data_dir=book, env=lower)
    assert run.code == EXIT_FAILED
    assert run.err_lines == [
        "callbook: error: SqlRefused: refused: --memory-mb above the ceiling 128 "
        "(CALLBOOK_SQL_MEMORY_MB)"
    ]
    run = run_callbook("sql", "select length(repeat('x', 2000000000))", data_dir=book, env=lower)
    assert run.err_lines == [
        "callbook: error: SqlRefused: refused: the query needs over 128 MiB "
        "(memory limit, --memory-mb)"
    ]
    run = run_callbook(
        "sql",
        "select 41 + 1 as n",
        "--memory-mb",
        "64",
        "--format",
        "csv",
        data_dir=book,
        env=lower,
    )
    assert (run.code, run.out) == (EXIT_OK, "n\n42\n")
    timeout = {"CALLBOOK_SQL_TIMEOUT": "5"}
    run = run_callbook("sql", "select 1", "--timeout", "6", data_dir=book, env=timeout)
    assert run.err_lines == [
        "callbook: error: SqlRefused: refused: --timeout above the ceiling 5 (CALLBOOK_SQL_TIMEOUT)"
    ]


def test_a_query_file_is_bounded_and_named(tmp_path: Path) -> None:
    big = tmp_path / "big.sql"
    big.write_text("select 1 -- " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(SqlRefused, match=r"big.sql is larger than 1 MiB"):
        read_query(f"@{big}")
    binary = tmp_path / "binary.sql"
    binary.write_bytes(b"select \xff\xfe")
    with pytest.raises(SqlRefused, match=r"binary.sql is not UTF-8 text"):
        read_query(f"@{binary}")
    with pytest.raises(SqlRefused, match=r"cannot read the query file .*nowhere.sql"):
        read_query(f"@{tmp_path / 'nowhere.sql'}")
    assert read_query("select 1") == "select 1"


def test_the_settings_set_the_ceilings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TIMEOUT": "7.5",
        "MEMORY_MB": "300",
        "THREADS": "1",
        "MAX_ROWS": "10",
        "MAX_RESULT_MB": "2",
    }.items():
        monkeypatch.setenv(f"CALLBOOK_SQL_{name}", value)
    assert sql_limits(load_settings()) == SandboxLimits(
        timeout=7.5, memory_limit_mb=300, threads=1, max_rows=10, max_result_mb=2
    )
    monkeypatch.setenv("CALLBOOK_SQL_MEMORY_MB", "8")
    with pytest.raises(ValueError, match="CALLBOOK_SQL_MEMORY_MB='8': must be at least 16"):
        load_settings()


def test_in_process_the_query_process_is_a_fresh_interpreter(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inside pytest (threads running) the query process is spawned, not forked; the answer is
    the same and errors are still one line of the same class."""
    argv = ["--data-dir", str(book), "sql", "--format", "json"]
    assert main([*argv, "select 'abc'::blob b, 2 as n"]) == EXIT_OK
    assert capsys.readouterr().out == '[{"b":"\\\\x616263","n":2}]\n'
    assert main(["--data-dir", str(book / "nowhere"), "sql", "select 1"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("callbook: error: WarehouseError: no warehouse at")


# --- the bounded child process ---------------------------------------------------------------

SMALL = SandboxLimits(timeout=0.5, memory_limit_mb=64, threads=1, max_result_mb=1)


@pytest.mark.parametrize(
    ("job", "error"),
    [
        (functools.partial(sandbox_jobs.allocate, 1024), "needs over 64 MiB (memory limit"),
        (sandbox_jobs.abort, "needs over 64 MiB (memory limit, ended on SIGABRT)"),
        (functools.partial(sandbox_jobs.shout, 2 * 1024 * 1024), "result is over 1 MiB"),
        (sandbox_jobs.never_arms, "query failed: RuntimeError: the sandboxed job never armed"),
        (sandbox_jobs.fail_oddly, "query failed: KeyError: 'a bug"),
        (sandbox_jobs.spin, "(time limit, --timeout)"),
    ],
    ids=["memory", "abort", "size", "unarmed", "bug", "cpu"],
)
def test_a_child_that_fails_is_one_line(job: Any, error: str) -> None:
    with pytest.raises(SqlRefused) as info:
        run_bounded(job, SMALL)
    assert error in str(info.value)
    assert "\n" not in str(info.value)


def test_the_parent_kills_a_child_whose_memory_grows_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Memory touched a little at a time stays inside the address-space bound (64 + 128 MiB
    here) for a while: the parent's RSS poll is what stops it, at 64 MiB. (The refusal is
    marked in this process only, so it can only come from the parent.)"""
    from warehouse import sandbox_process

    monkeypatch.setattr(sandbox_process, "memory_refusal", lambda limits, how="": "by the poll")
    started = time.monotonic()
    with pytest.raises(SqlRefused, match=r"^by the poll$"):
        run_bounded(sandbox_jobs.grow, SMALL)
    assert time.monotonic() - started < 30


def test_the_child_answers_and_errors_keep_their_class() -> None:
    assert run_bounded(functools.partial(sandbox_jobs.answer, "héllo"), SMALL) == "héllo".encode()
    assert run_bounded(functools.partial(sandbox_jobs.allocate, 16), SMALL) == b"allocated 16 MiB"
    with pytest.raises(WarehouseError, match="no warehouse at /nowhere"):
        run_bounded(sandbox_jobs.fail_like_the_warehouse, SMALL)


def test_a_single_threaded_caller_forks() -> None:
    """The command's case: a process running one thread forks the query process (no second
    interpreter) and the limits hold there too."""
    script = textwrap.dedent(
        """
        import functools, json
        from tests.support import sandbox_jobs as jobs
        from warehouse.sandbox_process import SandboxLimits, SqlRefused, _single_threaded
        from warehouse.sandbox_process import run_bounded

        limits = SandboxLimits(timeout=5, memory_limit_mb=64, threads=1)
        out = {"single": _single_threaded()}
        for name, job in {
            "answer": functools.partial(jobs.answer, "forked"),
            "memory": functools.partial(jobs.allocate, 1024),
            "abort": jobs.abort,
        }.items():
            try:
                out[name] = run_bounded(job, limits).decode()
            except SqlRefused as exc:
                out[name] = str(exc)
        print(json.dumps(out))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["single"] is True and out["answer"] == "forked"
    assert "needs over 64 MiB (memory limit" in out["memory"]
    assert out["abort"].endswith("(memory limit, ended on SIGABRT)")


def test_a_flag_may_lower_a_ceiling_never_raise_it() -> None:
    ceiling = SandboxLimits(timeout=60, memory_limit_mb=1024)
    assert ceiling.lowered(timeout=0.5, memory_limit_mb=64) == SandboxLimits(
        timeout=0.5, memory_limit_mb=64
    )
    assert ceiling.lowered() == ceiling
    with pytest.raises(SqlRefused, match=r"--timeout above the ceiling 60"):
        ceiling.lowered(timeout=61)
    with pytest.raises(SqlRefused, match=r"--memory-mb 0 is not a size"):
        ceiling.lowered(memory_limit_mb=0)
