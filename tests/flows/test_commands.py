"""The commands as users run them: `.venv/bin/callbook` in a subprocess, on a small data
directory (RTY's demo bars of 2024-06-03..2025-09-30: calls from June 2025 after the warm-up).

Output that fits and explains itself (issue 20.3): no line over 100 columns from backfill,
calls add, verify or audit; progress as plain lines with counts and an estimate in a log, one
rewritten line on a terminal; the audit in tables, never "null"; a command that matches nothing
says what it looked for (an unknown root lists the known ones, a date that is no session names
the sessions around it). Reads import no heavy library (issue 20.2).
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest

from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES

if TYPE_CHECKING:
    from pipeline.audit.coherence import CoherenceReport

ROOT = Path(__file__).resolve().parents[2]
CALLBOOK = Path(sys.executable).with_name("callbook")
SEED_CALL = ROOT / "pipeline/audit/examples/rty-2026-02-04-seed.toml"
FIRST, LAST = "2024-06-03", "2025-09-30"
WIDTH = 100


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [*self.out.splitlines(), *self.err.splitlines()]

    def widest(self) -> int:
        return max(len(line) for line in self.lines)


@dataclass(frozen=True)
class Book:
    data: Path
    env: dict[str, str]
    ran: dict[str, Ran]

    def run(self, *argv: str) -> Ran:
        return callbook(self.data, self.env, *argv)


def callbook(data: Path, env: dict[str, str], *argv: str) -> Ran:
    result = subprocess.run(
        [str(CALLBOOK), "--data-dir", str(data), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    return Ran(result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def book(prefect_harness: None) -> Iterator[Book]:
    from prefect.settings import PREFECT_API_URL

    env = {
        **{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CALLBOOK_DATA_DIR")},
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the session's test server
        "PREFECT_LOGGING_LEVEL": "INFO",  # the log lines users see must fit too
    }
    # A short path: output lines hold it.
    data = Path(tempfile.mkdtemp(prefix="cb-", dir="/tmp")) / "data"
    call = data.parent / "call.toml"
    call.write_text(SEED_CALL.read_text().replace("as_of = 2026-02-04", "as_of = 2025-07-01"))
    ran = {}
    ran["ingest"] = callbook(
        data, env, "ingest", "--root", "RTY", "--source", "demo", "--start", FIRST, "--end", LAST
    )
    assert ran["ingest"].code == 0, ran["ingest"].err
    ran["backfill"] = callbook(data, env, "backfill", "--roots", "RTY", "--end", LAST)
    assert ran["backfill"].code == 0, ran["backfill"].err
    ran["calls add"] = callbook(data, env, "calls", "add", str(call))
    ran["verify"] = callbook(data, env, "verify")
    ran["audit"] = callbook(
        data, env, "audit", "--include-late", "--include-in-sample", "--boot", "200"
    )
    yield Book(data, env, ran)
    shutil.rmtree(data.parent, ignore_errors=True)


@pytest.mark.parametrize("command", ["ingest", "backfill", "calls add", "verify", "audit"])
def test_every_line_fits_100_columns(book: Book, command: str) -> None:
    ran = book.ran[command]
    assert ran.code == 0, ran.err
    wide = [line for line in ran.lines if len(line) > WIDTH]
    assert wide == []


def test_backfill_shows_counts_and_an_estimate_as_plain_lines_in_a_log(book: Book) -> None:
    err = book.ran["backfill"].err
    progress = [line for line in err.splitlines() if line.startswith("backfill: jobs ")]
    assert "\r" not in err
    jobs = len(DEFAULT_METHODOLOGIES)  # one root: a job per methodology
    assert progress[0] == f"backfill: jobs 0/{jobs}: computing calls (0:00 elapsed)"
    step = re.compile(
        rf"backfill: jobs (\d)/{jobs}: RTY ({'|'.join(DEFAULT_METHODOLOGIES)}), ([\d,]+) of \3 "
        r"snapshots stored \((\d+:\d\d) elapsed(, about \d+:\d\d left)?\)$"
    )
    done = [step.match(line) for line in progress[1:]]
    assert all(done) and [m.group(1) for m in done if m] == [str(n + 1) for n in range(jobs)]
    assert done[0] and done[0].group(5)  # one job done: an estimate of the others
    assert done[-1] and done[-1].group(5) is None  # all done: nothing left to estimate
    out = book.ran["backfill"].out
    assert re.search(r"^RTY v2: \d+ calls computed, \d+ written, 0 already stored$", out, re.M)


def test_backfill_on_a_terminal_rewrites_one_progress_line(book: Book) -> None:
    """Again (nothing new to write), its stderr a terminal: the progress is one line rewritten."""
    main, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(CALLBOOK), "--data-dir", str(book.data), "backfill", "--roots", "RTY"],
            env={**book.env, "PREFECT_LOGGING_LEVEL": "WARNING", "COLUMNS": "100"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the command closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        out, _ = process.communicate(timeout=600)
    finally:
        os.close(main)
    assert process.returncode == 0
    terminal = b"".join(chunks).decode()
    frames = [f for f in terminal.split("\r\x1b[K") if f.startswith("backfill: jobs")]
    assert len(frames) >= 3  # the line was drawn again at each step...
    assert sum(f.count("\n") for f in frames) == 1  # ...and ended once
    jobs = len(DEFAULT_METHODOLOGIES)
    assert frames[-1].startswith(f"backfill: jobs {jobs}/{jobs}: ")
    assert b"RTY v2: 85 calls computed, 0 written, 85 already stored" in out


def test_the_audit_prints_tables_and_never_null(book: Book) -> None:
    out = book.ran["audit"].out
    assert "null" not in out
    for title in ("Scoreboard", "Calls scored", "RTY callbook backfill v1 demo [in tuning period]"):
        assert f"\n{title}" in out
    assert out.count("─" * 20) >= 4  # table rules, not one-record blocks
    assert "record 1 " not in out
    text = " ".join(out.split())
    assert "no interval for RTY seed-note analyst [recorded late]: too few calls" in text


def test_calls_add_says_what_it_recorded(book: Book) -> None:
    text = " ".join(book.ran["calls add"].out.split())
    assert "RTY 2025-07-01 r1 by seed-note" in text and "recorded on demo bars" in text
    assert "recorded late" in text and "resolved now:" in text


def test_verify_finds_nothing_changed(book: Book) -> None:
    assert "no differences" in book.ran["verify"].out


def test_a_command_that_matches_nothing_says_what_it_looked_for(book: Book) -> None:
    unknown = book.run("calls", "list", "ZZ")
    assert unknown.code == 1 and unknown.out == ""
    assert unknown.err.startswith("callbook: error: unknown root(s) ZZ; callbook knows RTY, ES")

    nobody = book.run("calls", "list", "--author", "nobody")
    assert nobody.code == 1
    published, *others = DEFAULT_METHODOLOGIES  # the published one first, then by name
    stored = ", ".join(f"callbook {m}" for m in [published, *sorted(others)])
    assert f"no calls with author nobody; stored: RTY ({stored}, seed-note)" in nobody.err

    early = book.run("show", "RTY", "--as-of", "1999-01-04")
    assert early.code == 1
    assert "no callbook v5 call of RTY on 1999-01-04; 1999-01-04 is a CME trade date" in early.err
    assert "nearest calls: after 2025-05-30; its calls run from 2025-05-30 to 2025-09-30" in (
        early.err
    )

    saturday = book.run("show", "RTY", "--as-of", "2025-07-05")
    assert "2025-07-05 is not a CME trade date (the sessions around it: 2025-07-03 and " in (
        saturday.err
    )
    assert "2025-07-07); nearest calls: before 2025-07-03 and after 2025-07-07" in saturday.err
    assert saturday.err.rstrip().endswith(
        "(`callbook calls list RTY --since 2025-07-03` lists them)"
    )

    never = book.run("audit", "ES")
    assert never.code == 1 and "no resolved calls of ES to audit yet" in never.err

    for ran in (unknown, nobody, early, saturday, never):
        assert len(ran.err.splitlines()) == 1  # one line, whatever its length


def test_show_draws_the_chart_under_a_name_no_one_reads_as_two_methodologies(book: Book) -> None:
    shown = book.run("show", "RTY", "--as-of", "2025-09-30", "--chart")
    assert shown.code == 0, shown.err
    chart = book.data / "reports" / "RTY" / "2025-09-30" / "chart-v5-r1.png"
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert f"chart: {chart}" in shown.out
    assert "Methodology: v5" in shown.out


def test_roots_lists_the_registry_with_the_users_roots_file(book: Book, tmp_path: Path) -> None:
    """`callbook roots`: every registry root as the exchange writes its tick (ZN in 32nds, ZC in
    eighths), and a root of CALLBOOK_ROOTS_FILE beside them; lines fit 100 columns."""
    built_in = book.run("roots", "--format", "csv")
    assert built_in.code == 0, built_in.err
    rows = {line.split(",")[0]: line for line in built_in.out.splitlines()[1:]}
    assert len(rows) == 27 and "MES" not in rows
    assert rows["ZN"].startswith("ZN,10-Year T-Note,rates,HMUZ,0'005,32nds,ZT ZF ZB,")
    assert rows["ZC"].split(",")[4:6] == ["0'2", "eighths"]
    assert rows["ES"].split(",")[4:6] == ["0.25", "decimal"]
    user = tmp_path / "roots.toml"
    user.write_text('[roots.MES]\nname = "Micro E-mini S&P 500"\ntick = 0.25\npoint_value = 5\n')
    env = {**book.env, "CALLBOOK_ROOTS_FILE": str(user)}
    with_user = callbook(book.data, env, "roots", "--format", "csv")
    assert with_user.code == 0, with_user.err
    last = 'MES,Micro E-mini S&P 500,equity_index,HMUZ,0.25,decimal,"",""'
    assert with_user.out.splitlines()[-1] == last
    table = callbook(book.data, env, "roots")
    assert table.code == 0 and "Micro E-mini" in table.out and table.widest() <= WIDTH


READS = {
    "status": ["status"],
    "show": ["show", "RTY"],
    "calls list": ["calls", "list", "RTY"],
    "sql": ["sql", "select count(*) as n from snapshots"],
    "help": ["--help"],
    "roots": ["roots"],
}
HEAVY = ("prefect", "great_expectations", "yfinance", "pandas", "pandas_market_calendars")


def test_reads_import_only_what_they_use(book: Book) -> None:
    """status, show, sql, calls list and --help load none of Prefect, Great Expectations,
    yfinance or pandas (`python -X importtime` shows it too); status, show and calls list not
    even pyarrow (DuckDB hands polars its rows over the Arrow C interface)."""
    code = (
        "import json, sys\n"
        "from flows.cli import main\n"
        "try:\n"
        f"    main(['--data-dir', {str(book.data)!r}, *json.loads(sys.argv[1])])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    for name, argv in READS.items():
        result = subprocess.run(
            [sys.executable, "-c", code, json.dumps(argv)],
            env=book.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
        assert loaded.isdisjoint(HEAVY), (name, loaded & set(HEAVY))
        if name in ("status", "show", "calls list", "help"):
            assert "pyarrow" not in loaded, name


# --- audit --quality: the coherence checker's figures (issue 18, point 7) ----------------------


def coherence_table(out: str, root: str) -> dict[str, dict[str, str]]:
    """``root``'s coherence table as printed: figure -> methodology -> cell."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{root} — coherence")
    heads = lines[start + 1].split()
    assert heads[0] == "figure" and set(lines[start + 2].strip()) == {"─"}
    table = {}
    for line in lines[start + 3 :]:
        if not line.startswith(" "):
            break
        figure, *cells = re.split(r"\s{2,}", line.strip())
        table[figure] = dict(zip(heads[1:], cells, strict=True))
    return table


def checked_in_process(data: Path) -> tuple[CoherenceReport, pl.DataFrame]:
    """The oracle: RTY's stored model calls read here, their notes rendered as `callbook show`
    renders them, and checked all at once (check_calls: not the command's call-by-call path
    nor its kept findings)."""
    from pipeline.analysis.assemble import snapshots_from_frame
    from pipeline.audit.coherence import StoredCall, check_calls
    from pipeline.report.note import render_note
    from warehouse.store import Warehouse

    with Warehouse.open_reader(data / "warehouse.duckdb") as wh:
        rows = wh.snapshot_rows("RTY", author="callbook", source="demo").sort("as_of")
    calls = []
    for (_,), part in rows.group_by(["methodology_version"]):
        snapshots = snapshots_from_frame(part)
        for i, (values, snapshot) in enumerate(zip(part.to_dicts(), snapshots, strict=True)):
            note = render_note(snapshot, previous=snapshots[i - 1] if i else None)
            calls.append(StoredCall(values, note))
    return check_calls(calls), rows


def share(n: int, of: int) -> str:
    return f"{n:,} ({100 * n / of:.1f}%)"


def test_audit_quality_prints_the_coherence_figures_of_every_stored_call(
    book: Book, tmp_path: Path
) -> None:
    from pipeline.audit.coherence import RULES, CoherenceParams

    data = tmp_path / "data"
    shutil.copytree(book.data, data)
    ran = callbook(data, book.env, "audit", "--quality", "--boot", "100")
    assert ran.code == 0, ran.err
    assert ran.widest() <= WIDTH
    printed = coherence_table(ran.out, "RTY")
    report, rows = checked_in_process(data)
    table = {r["methodology"]: r for r in report.table().iter_rows(named=True)}
    violations = report.violations.filter(pl.col("as_of").is_not_null())
    stored = sorted(set(rows["methodology_version"]))
    assert sorted(table) == stored and "v2" in stored  # every stored methodology, v2 among them
    for m in stored:
        assert f"coherence: RTY {m}: 85 calls, 85 checked now, 0 kept (" in ran.err
    for m, figures in table.items():
        n = figures["calls"]
        assert printed["calls"][m] == f"{n:,}" == "85"  # the book's RTY sessions with a call
        of_m = violations.filter(pl.col("methodology") == m)
        for rule in RULES:
            cell = printed[rule.id][m]
            if rule.id == "word_does_not_split":
                assert cell == f"{figures[rule.id]:,} words"
                continue
            with_it = of_m.filter(pl.col("rule") == rule.id)["as_of"].n_unique()
            assert cell == f"{figures[rule.id]:,} ({100 * with_it / n:.1f}%)", rule.id
        for point in range(1, 6):
            label = next(f for f in printed if f.startswith(f"{point} "))
            with_any = of_m.filter(pl.col("point") == point)["as_of"].n_unique()
            assert printed[label][m] == share(with_any, n)

    # Values alone, without the checker: the band between the barriers and the moves.
    limits = CoherenceParams()
    for (m,), part in rows.group_by(["methodology_version"]):
        band = part["upper_barrier"] - part["lower_barrier"]
        wide = int((band / part["close"] > limits.band_max_pct).sum())
        assert printed["band_too_wide_pct"][m].startswith(f"{wide:,} (")
        moved = part.select(
            pl.max_horizontal(pl.col(c).diff().abs() for c in ("p_bear", "p_sideways", "p_bull"))
        ).to_series()
        over = int((moved > limits.move_points).sum())
        assert printed["moves > 10 points"][m] == share(over, part.height - 1)
    assert table["v2"]["band_too_wide_pct"] + table["v1"]["band_too_wide_pct"] > 0

    # A second run checks nothing again: every call's findings were kept.
    again = callbook(data, book.env, "audit", "--quality", "--boot", "100")
    for m in stored:
        assert f"coherence: RTY {m}: 85 calls, 0 checked now, 85 kept (" in again.err
    assert coherence_table(again.out, "RTY") == printed

    # Planted: a Bullish v2 call whose bull scenario becomes the least likely, re-derived (a new
    # content hash). Its note still says the advance continues: one more thesis_least_likely;
    # it and the call after it (whose "What changed" compares with it) are checked again.
    flagged = set(violations.filter((pl.col("methodology") == "v2")
                                    & (pl.col("rule") == "thesis_least_likely"))["as_of"])  # fmt: skip
    v2 = rows.filter(pl.col("methodology_version") == "v2")
    planted = v2.filter(
        (pl.col("primary_trend") == "Bullish") & ~pl.col("as_of").is_in(list(flagged))
    ).row(10, named=True)
    assert planted["as_of"] < v2["as_of"].max()
    for name in ("warehouse.duckdb", "warehouse.read.duckdb"):
        con = duckdb.connect(str(data / name))
        try:
            con.execute(
                "update snapshots set p_bear = 0.5, p_sideways = 0.4, p_bull = 0.1, "
                "content_hash = 'planted' where snapshot_id = $id",
                {"id": planted["snapshot_id"]},
            )
        finally:
            con.close()
    third = callbook(data, book.env, "audit", "--quality", "--boot", "100")
    assert third.code == 0, third.err
    assert "coherence: RTY v2: 85 calls, 2 checked now, 83 kept (" in third.err
    after = coherence_table(third.out, "RTY")
    expected = table["v2"]["thesis_least_likely"] + 1
    assert after["thesis_least_likely"]["v2"].startswith(f"{expected:,} (")
    for m in (m for m in stored if m != "v2"):
        assert f"coherence: RTY {m}: 85 calls, 0 checked now, 85 kept (" in third.err
        assert {f: cells[m] for f, cells in after.items()} == {
            f: cells[m] for f, cells in printed.items()
        }
