"""`callbook sql` is a sandbox: a corpus of hostile statements, each refused in one line naming
what was refused, with every file of the data directory byte-identical afterwards.

The data directory is a real one (lake Parquet files and a warehouse with bars, snapshots and
outcomes; tests/warehouse/small_book.py). Each case runs the installed command
(.venv/bin/callbook) in its own process, exactly as a user types it; the test hashes every file
under the data dir before and after, and bounds the peak memory of the command's process tree
where the case sets --memory-mb.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from flows.cli import EXIT_FAILED, EXIT_OK, main
from tests.support.cli import run_callbook
from tests.warehouse.small_book import build_small_data_dir
from warehouse.sandbox import CATALOG, SandboxLimits, SqlRefused, check_statement, open_sandbox

#: A bound on the query process's size when it starts (interpreter, DuckDB, polars, rich;
#: measured at ~150 MiB), above which only the query's own memory may come.
START_RSS_BOUND_MIB = 300


@dataclass(frozen=True)
class Book:
    data_dir: Path
    warehouse: Path
    lake_file: Path
    outside: Path  # a directory outside the data dir that hostile statements aim at


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    data_dir = tmp_path_factory.mktemp("sandbox") / "data"
    data_dir.mkdir()
    warehouse = build_small_data_dir(data_dir)
    lake_file = next((data_dir / "lake").rglob("*.parquet"))
    outside = tmp_path_factory.mktemp("outside")
    return Book(data_dir, warehouse, lake_file, outside)


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> digest)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class Hostile:
    name: str
    sql: str  # {warehouse}, {lake}, {outside} are filled in
    refusal: str  # a fragment of the one-line error
    flags: tuple[str, ...] = ()


HOSTILE: tuple[Hostile, ...] = (
    Hostile(
        "attach_use_detach_rewrite",
        "attach '{outside}/s.duckdb' as s (read_only false); use s; detach warehouse; "
        "attach '{warehouse}' as w (read_only false); "
        "update w.snapshots set p_bull = 0.99 where root = 'RTY'; delete from w.outcomes; select 1",
        "refused: 7 statements (ATTACH, SET/USE, DETACH, …); one runs at a time",
    ),
    Hostile("attach_writable", "attach '{warehouse}' as w (read_only false)", "refused: ATTACH"),
    Hostile("use", "use memory", "refused: SET/USE statement"),
    Hostile("detach", "detach warehouse", "refused: DETACH statement"),
    Hostile("update", "update snapshots set p_bull = 0.99", "refused: UPDATE statement"),
    Hostile("delete", "delete from outcomes", "refused: DELETE statement"),
    Hostile("insert", "insert into outcomes select * from outcomes", "refused: INSERT statement"),
    Hostile("create", "create table x as select 1 as x", "refused: CREATE statement"),
    Hostile("drop", "drop table outcomes", "refused: DROP statement"),
    Hostile(
        "copy_onto_warehouse",
        "copy (select 1 as x) to '{warehouse}'",
        "refused: COPY statement",
    ),
    Hostile(
        "copy_onto_lake_file",
        "copy (select 1 as x) to '{lake}' (format parquet)",
        "refused: COPY statement",
    ),
    Hostile(
        "copy_onto_the_wal",
        "copy (select 1 as x) to '{warehouse}.wal' (format csv)",
        "refused: COPY statement",
    ),
    Hostile("copy_out", "copy snapshots to '{outside}/x.csv'", "refused: COPY statement"),
    Hostile("export_database", "export database '{outside}/export'", "refused: EXPORT statement"),
    Hostile("import_database", "import database '{outside}/export'", "refused:"),
    Hostile(
        "read_text",
        "select * from read_text('/etc/hostname')",
        "refused: table function read_text() is not allowed",
    ),
    Hostile(
        "read_csv",
        "select * from read_csv('/etc/passwd')",
        "refused: table function read_csv() is not allowed",
    ),
    Hostile(
        "read_csv_in_a_cte",
        "with t as (select * from read_csv_auto('/etc/passwd')) select count(*) from t",
        "refused: table function read_csv_auto() is not allowed",
    ),
    Hostile(
        "read_blob_in_a_subquery",
        "select 1 where exists (select * from read_blob('/etc/hostname'))",
        "refused: table function read_blob() is not allowed",
    ),
    Hostile(
        "glob", "select * from glob('/etc/*')", "refused: table function glob() is not allowed"
    ),
    Hostile(
        "read_parquet_lake",
        "select * from read_parquet('{lake}')",
        "refused: table function read_parquet() is not allowed",
    ),
    Hostile(
        "parquet_metadata", "select * from parquet_metadata('{lake}')", "refused: table function"
    ),
    Hostile(
        "path_as_table",
        "select * from '/etc/passwd'",
        "refused: a file path as a table (/etc/passwd)",
    ),
    Hostile("load_json", "load json", "refused: INSTALL/LOAD statement"),
    Hostile("install_httpfs", "install httpfs", "refused: INSTALL/LOAD statement"),
    Hostile("set_threads", "set threads = 64", "refused: SET/USE statement"),
    Hostile(
        "set_external_access",
        "set enable_external_access = true",
        "refused: SET/USE statement",
    ),
    Hostile("reset", "reset memory_limit", "refused:"),
    Hostile("pragma", "pragma version", "refused: PRAGMA statement"),
    Hostile("call", "call pragma_version()", "refused: CALL/CHECKPOINT statement"),
    Hostile("checkpoint", "checkpoint", "refused: CALL/CHECKPOINT statement"),
    Hostile("vacuum", "vacuum", "refused: VACUUM statement"),
    Hostile("begin", "begin transaction", "refused: BEGIN/COMMIT/ROLLBACK statement"),
    Hostile("two_selects", "select 1; select 2", "refused: 2 statements (SELECT, SELECT)"),
    Hostile("empty", "", "refused: empty query"),
    Hostile("only_comments", "  ; -- nothing here\n ;", "refused: empty query"),
    Hostile("does_not_parse", "selec 1", "refused: the query does not parse"),
    Hostile(
        "runaway",
        "select sum(hash(a.range * b.range)) from range(200000) a, range(200000) b",
        "refused: the query ran longer than 0.5 s (time limit",
        ("--timeout", "0.5"),
    ),
    Hostile(
        "memory_hungry",
        "select len(list(range)) as n from range(200000000)",
        "refused: the query needs over 64 MiB (memory limit",
        ("--memory-mb", "64"),
    ),
    # Table functions are allowed by list: these are not on it.
    Hostile("query_string", "select * from query('select 1')", "table function query() is not"),
    Hostile(
        "query_table", "select * from query_table('bars')", "table function query_table() is not"
    ),
    Hostile(
        "serialized_sql",
        "select * from json_execute_serialized_sql(json_serialize_sql('select 1'))",
        "table function json_execute_serialized_sql() is not allowed",
    ),
    Hostile(
        "settings_show_paths",
        "select name, value from duckdb_settings() where value like '%/%'",
        "refused: table function duckdb_settings() is not allowed",
    ),
    Hostile(
        "databases_show_paths",
        "select path from duckdb_databases()",
        "refused: table function duckdb_databases() is not allowed",
    ),
    Hostile(
        "extensions_show_paths",
        "select install_path from duckdb_extensions()",
        "table function duckdb_extensions() is not allowed",
    ),
    Hostile("secrets", "from duckdb_secrets()", "table function duckdb_secrets() is not allowed"),
    Hostile("which_secret", "from which_secret('s3://x', 's3')", "which_secret() is not allowed"),
    Hostile("logs", "from duckdb_logs()", "table function duckdb_logs() is not allowed"),
    Hostile("temp_files", "from duckdb_temporary_files()", "duckdb_temporary_files() is not"),
    Hostile("checkpoint_fn", "from checkpoint()", "table function checkpoint() is not allowed"),
    Hostile("logging_fn", "from enable_logging()", "table function enable_logging() is not"),
    Hostile(
        "sniff_csv_in_a_lateral",
        "select * from range(1) r, lateral (select * from sniff_csv('/etc/passwd'))",
        "table function sniff_csv() is not allowed",
    ),
    Hostile(
        "summarize_a_file",
        "summarize select * from read_csv('/etc/passwd')",
        "table function read_csv() is not allowed",
    ),
    Hostile(
        "describe_a_file",
        "describe select * from read_text('/etc/hostname')",
        "table function read_text() is not allowed",
    ),
    Hostile(
        "allowed_paths_setting",
        "select current_setting('allowed_paths')",
        "refused: current_setting('allowed_paths') shows a path",
    ),
    Hostile("pivot", "pivot bars on root using count(*)", "refused: PIVOT statement"),
    Hostile(
        "ceiling_memory",
        "select 1",
        "refused: --memory-mb above the ceiling 1,024",
        ("--memory-mb", "100000000"),
    ),
    Hostile(
        "ceiling_time",
        "select 1",
        "refused: --timeout above the ceiling 60",
        ("--timeout", "3600"),
    ),
    Hostile(
        "a_huge_string",
        "select length(repeat('x', 2000000000))",
        "refused: the query needs over 256 MiB (memory limit",
        ("--memory-mb", "256"),
    ),
    Hostile(
        "gigabytes_of_rows",
        "select repeat('x', 10000000) s from range(200)",
        "refused: the query needs over 256 MiB (memory limit",
        ("--memory-mb", "256", "--format", "csv"),
    ),
    Hostile(
        "a_result_over_the_size_limit",
        "select repeat('x', 100000) s from range(1000)",
        "refused: the result is over 64 MiB (95.4 MiB fetched; add a LIMIT)",
        ("--format", "csv"),
    ),
)


def fill(sql: str, book: Book) -> str:
    return sql.format(warehouse=book.warehouse, lake=book.lake_file, outside=book.outside)


def test_the_corpus_has_at_least_sixty_hostile_statements() -> None:
    assert len({h.name for h in HOSTILE}) == len(HOSTILE) >= 60


@pytest.mark.parametrize("case", HOSTILE, ids=[h.name for h in HOSTILE])
def test_hostile_statement_is_refused_and_nothing_on_disk_changes(
    book: Book, case: Hostile
) -> None:
    before = file_hashes(book.data_dir)
    outside_before = file_hashes(book.outside)
    run = run_callbook("sql", fill(case.sql, book), *case.flags, data_dir=book.data_dir)
    assert run.code == EXIT_FAILED
    assert run.out == ""
    assert len(run.err_lines) == 1, run.err_lines  # no traceback, no panic, no second line
    assert run.err_lines[0].startswith("callbook: error: ")
    assert case.refusal in run.err_lines[0], run.err_lines[0]
    assert len(run.err_lines[0]) <= 100 or "does not parse" in run.err_lines[0]
    assert file_hashes(book.data_dir) == before
    assert file_hashes(book.outside) == outside_before
    assert run.seconds < 60
    if "--memory-mb" in case.flags:
        budget = int(case.flags[case.flags.index("--memory-mb") + 1])
        if budget < 1024:  # the refused ceiling flags never start a query process
            # what the query process may allocate within one RSS poll before it is killed
            overshoot = 64
            ceiling = START_RSS_BOUND_MIB + budget + overshoot
            assert run.query_peak_mib is not None and run.query_peak_mib < ceiling, run
            assert run.parent_peak_mib is not None and run.parent_peak_mib < 100, run


def test_the_seven_parts_of_the_rewrite_are_each_refused_alone(book: Book) -> None:
    """Split into single statements, every part but the final SELECT is refused by type."""
    whole = fill(HOSTILE[0].sql, book)
    parts = [s.query for s in duckdb.extract_statements(whole)]
    refused = []
    for part in parts[:-1]:
        with pytest.raises(SqlRefused, match=r"^refused: \S+ statement") as info:
            check_statement(part)
        refused.append(str(info.value).split()[1])
    assert refused == ["ATTACH", "SET/USE", "DETACH", "ATTACH", "UPDATE", "DELETE"]
    assert check_statement(parts[-1]).strip().rstrip(";").strip() == "select 1"


def test_the_engine_refuses_file_access_even_past_the_statement_check(book: Book) -> None:
    """The second layer: on the sandbox connection itself (no statement check), DuckDB refuses
    to write, read or attach files, to change its configuration or to load extensions."""
    before = file_hashes(book.data_dir)
    with open_sandbox(book.warehouse) as sandbox:
        for sql, error in (
            (f"copy (select 1 as x) to '{book.warehouse}'", duckdb.PermissionException),
            (f"copy (select 1 as x) to '{book.lake_file}'", duckdb.PermissionException),
            (f"copy (select 1 as x) to '{book.warehouse}.wal'", duckdb.PermissionException),
            (f"select * from read_blob('{book.warehouse}')", duckdb.PermissionException),
            (f"export database '{book.outside}/e'", duckdb.PermissionException),
            ("select * from read_text('/etc/hostname')", duckdb.PermissionException),
            (
                f"attach '{book.outside}/s.duckdb' as s (read_only false)",
                duckdb.PermissionException,
            ),
            ("install httpfs", duckdb.PermissionException),
            ("set enable_external_access = true", duckdb.InvalidInputException),
            ("set memory_limit = '100GB'", duckdb.InvalidInputException),
            ("update snapshots set p_bull = 0.99", duckdb.Error),
            ("delete from outcomes", duckdb.Error),
            ("set disabled_filesystems = ''", duckdb.InvalidInputException),
        ):
            with pytest.raises(error):
                sandbox.con.execute(sql).fetchall()
        # Even with the default database switched and the warehouse detached, it cannot come
        # back writable: attaching is file access.
        sandbox.con.execute("use memory").fetchall()
        sandbox.con.execute(f"detach {CATALOG}").fetchall()
        with pytest.raises(duckdb.PermissionException):
            sandbox.con.execute(f"attach '{book.warehouse}' as w (read_only false)").fetchall()
        settings = dict(
            sandbox.con.execute(
                "select name, value from duckdb_settings() where name in "
                "('enable_external_access', 'lock_configuration', 'threads', 'temp_directory', "
                "'autoload_known_extensions', 'python_enable_replacements', 'secret_directory')"
            ).fetchall()
        )
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "threads": "2",
        "temp_directory": "",
        "autoload_known_extensions": "false",
        "python_enable_replacements": "false",
        "secret_directory": "",
    }  # disabled_filesystems reads back '' in DuckDB 2.0: its effect is what is asserted above
    assert file_hashes(book.data_dir) == before


def test_queries_still_answer(book: Book, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--data-dir", str(book.data_dir), "sql", "--format", "csv"]
    assert main([*argv, "select count(*) as n from outcomes"]) == EXIT_OK
    assert capsys.readouterr().out.split() == ["n", "1072"]
    assert main([*argv, "describe snapshots"]) == EXIT_OK
    assert "content_hash" in capsys.readouterr().out
    assert main([*argv, "select $x::int + 1 as y;", "--param", "x=41"]) == EXIT_OK
    assert capsys.readouterr().out.split() == ["y", "42"]
    as_of = (
        "select count(*) as n from bars_as_of(timestamptz '2026-07-01 12:00:00+00') "
        "where root = 'RTY'"
    )
    assert main([*argv, as_of]) == EXIT_OK
    assert int(capsys.readouterr().out.split()[1]) > 600
    # The catalog and generators on the allow-list answer.
    assert main([*argv, "select count(*) as n from duckdb_tables() where table_name = 'bars'"]) == 0
    assert capsys.readouterr().out.split() == ["n", "1"]
    assert main([*argv, "show databases"]) == EXIT_OK
    assert capsys.readouterr().out.split() == ["database_name", "memory", "warehouse"]
    assert main([*argv, "select count(*) as n from pragma_storage_info('bars')"]) == EXIT_OK
    assert int(capsys.readouterr().out.split()[1]) > 0


def test_no_setting_database_or_function_output_shows_a_path(book: Book) -> None:
    """Every table function on the allow-list that takes no argument, SHOW DATABASES / ALL
    TABLES, every setting current_setting() will show, and the catalog of the warehouse's
    macros: no value holds the data directory's absolute path, its parent, the home directory
    or any absolute path (the sandbox resolves neither)."""
    import os

    from warehouse.sandbox import ALLOWED_TABLE_FUNCTIONS

    forbidden = {
        str(book.data_dir.resolve()),
        str(book.data_dir.resolve().parent),
        os.path.expanduser("~"),
        "stored_secrets",
    }
    shown: list[tuple[str, str]] = []
    with open_sandbox(book.warehouse) as sandbox:
        needs_arguments = {"range", "generate_series", "unnest", "repeat", "repeat_row"}
        needs_arguments |= {"json_each", "json_tree", "summary", "pragma_table_info"}
        needs_arguments |= {"pragma_storage_info", "pragma_show"}
        queries = [
            f"select * from {f}()" for f in sorted(ALLOWED_TABLE_FUNCTIONS - needs_arguments)
        ]
        queries += ["show databases", "show all tables", "show tables", "describe bars"]
        queries += ["select * from pragma_table_info('bars')", "select * from pragma_show('bars')"]
        queries += ["select * from pragma_storage_info('bars')", "summarize outcomes"]
        settings = sandbox.con.execute("select name from duckdb_settings()").fetchall()
        queries += [
            f"select current_setting('{name}') as v"
            for (name,) in settings
            if name.lower() not in sandbox.hidden_settings
        ]
        for sql in queries:
            try:
                frame = sandbox.query(sql)
            except SqlRefused as exc:  # a setting of an extension that is not loaded
                assert "is not in the catalog, but it exists in the" in str(exc)
                continue
            for row in frame.iter_rows():
                shown += [(sql, str(v)) for v in row if v is not None]
        # The ones hidden are exactly those holding a path, and they are refused.
        assert sandbox.hidden_settings == {"allowed_paths"}
    assert len(queries) > 190 and len(shown) > 10_000, (len(queries), len(shown))
    absolute = re.compile(r"(^|[\s\[,'\"(])/[\w.-]+/")  # /a/..., not the operators / and //
    leaks = [(sql, v) for sql, v in shown if any(f in v for f in forbidden) or absolute.search(v)]
    assert leaks == []


def test_duplicate_column_names_are_kept_apart(book: Book) -> None:
    with open_sandbox(book.warehouse) as sandbox:
        frame = sandbox.query("select 1 as a, 2 as a, 3 as A_1")
    assert frame.columns == ["a", "a_1", "A_1_1"]
    assert frame.row(0) == (1, 2, 3)


def test_an_ordinary_sql_error_is_one_line(book: Book, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--data-dir", str(book.data_dir), "sql", "select no_such_column from bars"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == EXIT_FAILED
    assert len(err) == 1 and "query failed: Binder Error" in err[0]


def test_a_result_larger_than_the_row_limit_is_refused(book: Book) -> None:
    with (
        open_sandbox(book.warehouse, SandboxLimits(max_rows=100)) as sandbox,
        pytest.raises(SqlRefused, match="over 100 rows"),
    ):
        sandbox.query("select * from range(101)")
    with open_sandbox(book.warehouse, SandboxLimits(max_rows=100)) as sandbox:
        assert sandbox.query("select * from range(100)").height == 100


def test_the_timeout_interrupts_within_a_second_of_the_limit(book: Book) -> None:
    with open_sandbox(book.warehouse, SandboxLimits(timeout=0.3)) as sandbox:
        started = time.monotonic()
        with pytest.raises(SqlRefused, match="time limit"):
            sandbox.query(
                "select sum(hash(a.range * b.range)) from range(200000) a, range(200000) b"
            )
        assert time.monotonic() - started < 1.3
        # the connection is usable after an interrupt
        assert sandbox.query("select 42 as x")["x"].to_list() == [42]


@pytest.fixture
def reader(book: Book) -> Iterator[None]:
    """A reader holding the warehouse open read-only in this process (as the query tests do)."""
    from warehouse.store import Warehouse

    with Warehouse.open(book.warehouse, read_only=True):
        yield


def test_the_sandbox_opens_beside_a_reader_of_the_same_file(book: Book, reader: None) -> None:
    with open_sandbox(book.warehouse) as sandbox:
        assert sandbox.query("select count(*) as n from outcomes")["n"].item() == 1072


def test_the_sandbox_waits_for_a_writer_then_names_it(tmp_path: Path) -> None:
    """DuckDB's lock-conflict text is read on ATTACH exactly as on connect."""
    import subprocess
    import sys
    import textwrap

    from warehouse.store import Warehouse, WarehouseLockedError

    path = tmp_path / "w.duckdb"
    Warehouse.open(path).close()
    script = f"""
        import sys, duckdb
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        sys.stdin.readline()
    """
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseLockedError, match=rf"\(PID {holder.pid}, "):
            open_sandbox(path, lock_timeout=0.5)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    with open_sandbox(path) as sandbox:
        assert sandbox.query("select count(*) as n from bars")["n"].item() == 0
