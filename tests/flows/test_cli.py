"""The ``callbook`` command line end to end: real flows, a real warehouse file, real output."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from flows.cli import EXIT_FAILED, EXIT_OK, main
from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ON_TIME = datetime(2026, 2, 4, 22, 30, tzinfo=UTC)  # 17:30 ET: after the close, before 18:00
SEED_CALL = Path(__file__).resolve().parents[2] / "pipeline/audit/examples/rty-2026-02-04-seed.toml"


@pytest.fixture(scope="module")
def data_dir(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse made by `callbook nightly` and `callbook backfill` for RTY and ES (and beside
    it, ``nightly-only/data``: a copy taken between the two)."""
    with frozen_clock(NOW):
        path = tmp_path_factory.mktemp("cli") / "data"
        args = ["--data-dir", str(path)]
        assert main([*args, "nightly", "--roots", "RTY,ES"]) == EXIT_OK
        shutil.copytree(path, path.parent / "nightly-only" / "data")
        assert main([*args, "backfill", "--roots", "RTY,ES", "--start", "2025-06-02"]) == EXIT_OK
    return path


@pytest.fixture(scope="module")
def nightly_only(data_dir: Path) -> Path:
    """The warehouse of `callbook nightly` alone: a nightly after the backfill draws a site page
    for each of its ~2,200 calls (about 30 s of CPU; tests/flows/test_site.py tests that drawing),
    which the nightly's printed output does not depend on."""
    return data_dir.parent / "nightly-only" / "data"


def run(data_dir: Path, *argv: str) -> int:
    return main(["--data-dir", str(data_dir), *argv])


def test_nightly_prints_the_summary_and_the_rty_note(nightly_only: Path, capsys) -> None:
    with frozen_clock(NOW):
        assert run(nightly_only, "nightly", "--roots", "RTY,ES") == EXIT_OK
    captured = capsys.readouterr()
    out = captured.out
    # The harness's API is configured: the command reuses it and says so (no temporary server).
    assert captured.err.startswith("callbook: using Prefect API at http://127.0.0.1:")
    assert "callbook nightly — 2026-11-20 (DEMO DATA" in out
    assert "E-mini Russell 2000 (RTY)" in out
    # v5 is published by default (v2 and v1 are computed beside it): its note and chart.
    assert out.rstrip().endswith(f"chart-{DEFAULT_METHODOLOGIES[0]}-r1.png")
    assert f"Methodology: {DEFAULT_METHODOLOGIES[0]}" in out
    assert "Summary" in out and "Looking Forward" in out


def test_status_sql_show_and_quarantine(data_dir: Path, capsys) -> None:
    assert run(data_dir, "status") == EXIT_OK
    status = capsys.readouterr().out
    assert "RTY" in status and "ES" in status and "calls (versions" in status

    query = "select root, count(distinct session_date) as n from bars_current group by root order by root"
    assert run(data_dir, "sql", query, "--format", "csv") == EXIT_OK
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "root,n"
    assert [r.split(",")[0] for r in rows[1:]] == ["ES", "RTY"]
    assert all(int(r.split(",")[1]) >= 5000 for r in rows[1:])

    assert (
        run(data_dir, "sql", "select $x::int + 1 as y", "--param", "x=41", "--format", "csv") == 0
    )
    assert capsys.readouterr().out.split() == ["y", "42"]

    assert run(data_dir, "show", "RTY", "--format", "markdown") == EXIT_OK
    note = capsys.readouterr().out
    assert note.startswith("# ") and "DEMO DATA" in note and "2026-11-20" in note

    assert run(data_dir, "show", "ES", "--as-of", "2025-06-02", "--format", "markdown") == 0
    assert "E-mini S&P 500 (ES)" in capsys.readouterr().out

    assert run(data_dir, "quarantine") == EXIT_OK
    capsys.readouterr()


def test_audit_leaves_out_the_tuning_period_and_says_so(data_dir: Path, capsys) -> None:
    # v1's state_shrinkage_strength was chosen on the demo history to 2026-11-20: every resolved
    # demo call of v1 here is in sample, so the honest scoreboard has nothing to count yet.
    assert run(data_dir, "audit", "RTY", "--boot", "200") == EXIT_OK
    printed = capsys.readouterr().out
    out = " ".join(printed.split())
    assert "Left out of the scores" in out, printed  # the whole output when it is not
    assert "v1: parameters chosen on RTY, ES, NQ, YM synthetic demo data through 2026-11-20" in out
    assert "backfill: computed later from stored history, point in time by construction" in out
    assert "nothing left to score" in out and "Scoreboard" not in out
    # A table of what is left out: the group, its calls, why, and the option that scores them
    # (read from the report the command printed: the table's cells wrap with the width).
    from flows.audit import audit
    from flows.settings import load_settings

    report = audit(load_settings(data_dir=data_dir), root="RTY", author=None, kind=None, boot=200)
    rows = {row["left out"]: row for row in report.left_out.iter_rows(named=True)}
    v1 = rows["RTY callbook backfill v1 demo"]
    assert (v1["calls"], v1["why"], v1["scored with"]) == (
        "352",
        "in tuning period",
        "--include-in-sample",
    )
    assert re.fullmatch(r"2025-06-02 to 2026-\d\d-\d\d", v1["as of"])
    for cell in v1.values():  # each cell is printed, whatever the wrapping
        assert all(word in out for word in cell.split()), printed


def test_audit_prints_scoreboard_and_calibration_and_writes_a_chart(
    data_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: the output still fits 100 columns
    assert run(data_dir, "audit", "RTY", "--boot", "200", "--include-in-sample") == EXIT_OK
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "Scoreboard" in out and "Calibration" in out and "skill vs" in out
    assert "null" not in out
    # One calibration table per group, titled with it.
    assert "\nRTY callbook backfill v1 demo [in tuning period]" in out
    assert "stored 352" in out  # scored against the climatology stored with each call
    assert "overlap estimated" in out  # 352 calls: over ten horizons, correlation estimated
    charts = list((data_dir / "reports" / "audit").glob("reliability-RTY-*.png"))
    assert charts and charts[0].read_bytes().startswith(b"\x89PNG")
    assert f"  {charts[0].name}" in out.splitlines()


def test_audit_quality_prints_the_call_quality_of_v1_and_v2(data_dir: Path, capsys) -> None:
    assert run(data_dir, "audit", "--quality", "--boot", "100") == EXIT_OK
    out = capsys.readouterr().out
    assert "Call quality" in out and "Methodologies on the same sessions" in out
    text = " ".join(out.split())
    assert "Raw RPS does not rank methodologies: each forecasts a different event" in text
    published, *others = DEFAULT_METHODOLOGIES
    for root in ("RTY", "ES"):  # the published one against each other one, on each root
        for other in others:
            assert re.search(rf"^ {root} +{published} - {other} +\d", out, re.M)
        assert f"{root} — coherence" in out
    for figure in ("zones > 1.25 ATR", "close in line", "false statements", "crash as range"):
        assert figure in out
    assert "RTY" in out and "ES" in out


def test_an_analyst_call_is_recorded_resolved_and_scored(data_dir: Path, capsys) -> None:
    with frozen_clock(ON_TIME):
        assert run(data_dir, "calls", "add", str(SEED_CALL)) == EXIT_OK
    out = capsys.readouterr().out
    assert "RTY 2026-02-04" in out and "seed-note" in out and "recorded on demo bars" in out
    assert "resolved now:" in out and "recorded late" not in out
    assert run(data_dir, "calls", "add", str(SEED_CALL)) == EXIT_OK
    assert "already recorded" in capsys.readouterr().out
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        stored = query(
            wh,
            "select s.kind, s.p_bull, s.recorded_late, s.resolved_on_source, o.rps, o.brier"
            " from snapshots s join outcomes o using (snapshot_id) where s.author = 'seed-note'",
        )
    kind, p_bull, late, bars, rps, brier = stored.row(0)
    assert (kind, p_bull, late, bars) == ("analyst", 0.4, False, "demo")
    assert (rps, brier) in {(0.4, 0.96), (0.1, 0.56), (0.2, 0.56)}  # bear / sideways / bull
    # The same call on another source's bars is refused: one call, one series.
    assert run(data_dir, "calls", "add", str(SEED_CALL), "--source", "yahoo") == EXIT_FAILED
    assert "already recorded on demo bars" in capsys.readouterr().err


def test_a_back_dated_call_is_recorded_late_and_left_out_of_the_scoreboard(
    data_dir: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    # The seed note typed in on 21 Nov, as of 4 Feb: the market after 4 Feb was known by then.
    late_call = tmp_path / "late.toml"
    late_call.write_text(SEED_CALL.read_text().replace('"seed-note"', '"hindsight"'))
    with frozen_clock(NOW):
        assert run(data_dir, "calls", "add", str(late_call)) == EXIT_OK
    out = " ".join(capsys.readouterr().out.split())
    assert "recorded late: stored after the session following 2026-02-04 had opened" in out
    assert run(data_dir, "audit", "RTY", "--author", "hindsight", "--boot", "200") == EXIT_OK
    out = " ".join(capsys.readouterr().out.split())
    assert "RTY hindsight analyst 1 2026-02-04 to 2026-02-04 recorded late --include-late" in out
    assert "Scoreboard" not in out
    assert run(data_dir, "audit", "RTY", "--author", "hindsight", "--include-late") == EXIT_OK
    out = capsys.readouterr().out
    assert "\nRTY hindsight analyst [recorded late]" in out  # its calibration table
    # One call over a 20-session horizon: no interval, and a note says why.
    assert "(no interval)" in out
    assert (
        "no interval for RTY hindsight analyst [recorded late]: too few calls: 1 < 60 (3 "
        "horizons of 20 sessions)" in " ".join(out.split())
    )
    # Scored against the model's climatology stored for RTY on 2026-02-04 (same bars, horizon).
    assert "model 1" in out


def test_errors_are_one_line_with_a_failure_status(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere"
    assert main(["--data-dir", str(missing), "status"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("callbook: error: WarehouseError: no warehouse at")

    bad = tmp_path / "bad.toml"
    bad.write_text(SEED_CALL.read_text().replace("probability = 0.20", "probability = 1.20"))
    assert main(["--data-dir", str(missing), "calls", "add", str(bad)]) == EXIT_FAILED
    assert "'scenarios.bear.probability'" in capsys.readouterr().err

    with pytest.raises(SystemExit) as usage:
        main(["nightly", "--as-of", "2026-13-01"])
    assert usage.value.code == 2
    assert "not a date (YYYY-MM-DD): '2026-13-01'" in capsys.readouterr().err


def test_help_loads_no_heavy_library() -> None:
    code = (
        "import sys; from flows.cli import build_parser; build_parser().format_help(); "
        "heavy = [m for m in ('prefect', 'great_expectations', 'yfinance', 'polars', 'duckdb') "
        "if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_backfill_resume_writes_nothing_new(data_dir: Path, capsys) -> None:
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        before = wh.table_counts()
    with frozen_clock(NOW):
        assert run(data_dir, "backfill", "--roots", "RTY", "--start", "2025-06-02") == EXIT_OK
    out = capsys.readouterr().out
    assert "RTY:" in out and " 0 written" in out
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        after = wh.table_counts()
    assert after["snapshots"] == before["snapshots"]
    assert after["outcomes"] == before["outcomes"]


def test_data_dir_is_accepted_after_the_command_too(data_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["status", "--data-dir", str(data_dir)]) == EXIT_OK
    assert "RTY" in capsys.readouterr().out
    # After the command it wins over the one before it (here: a directory with no warehouse).
    assert main(["--data-dir", str(data_dir), "status", "--data-dir", str(tmp_path)]) == 1
    assert f"no warehouse at {tmp_path}" in capsys.readouterr().err
    assert main(["calls", "add", str(SEED_CALL), "--data-dir", str(tmp_path / "none")]) == 1


def test_commands_that_need_no_flow_never_load_prefect(data_dir: Path, tmp_path: Path) -> None:
    """status, show, sql, quarantine, audit, calls add and a no-op resolve run as plain code: no
    Prefect import, so no Prefect server, temporary or not (on a copy: calls add writes)."""
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    commands = [
        ["status"],
        ["show", "RTY"],
        ["sql", "select count(*) from snapshots"],
        ["quarantine"],
        ["audit", "RTY", "--boot", "50"],
        ["calls", "add", str(SEED_CALL)],
        ["resolve", "--roots", "RTY,ES"],
        ["resolve", "--roots", "RTY,ES"],  # nothing left to resolve
    ]
    code = (
        "import json, sys; from flows.cli import main; "
        f"codes = [main(['--data-dir', {str(copy)!r}, *c]) for c in {commands!r}]; "
        "print(json.dumps([codes, sorted(m for m in sys.modules if m.split('.')[0] == 'prefect')]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    codes, prefect_modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert codes == [EXIT_OK] * len(commands)
    assert prefect_modules == []
    assert "RTY: 0 outcomes appended" in result.stdout  # the second resolve was a no-op
    assert "Prefect" not in result.stderr


def test_a_locked_warehouse_is_one_line_on_stderr(
    data_dir: Path, tmp_path: Path, capfd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another callbook process is writing: the flow command waits for the writer lock (saying
    whom it waits for), and when CALLBOOK_WRITE_LOCK_TIMEOUT is over fails with one line, no
    traceback (the flow run's traceback stays in its logs on the Prefect server)."""
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from warehouse.store import Warehouse; "
            f"wh = Warehouse.open({str(copy / 'warehouse.duckdb')!r}); print('locked', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("CALLBOOK_WRITE_LOCK_TIMEOUT", "1")  # wait 1 s, not 6 h
        capfd.readouterr()
        with frozen_clock(NOW):
            assert main(["--data-dir", str(copy), "nightly", "--roots", "RTY"]) == EXIT_FAILED
        err = capfd.readouterr().err
    finally:
        holder.communicate("", timeout=30)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    locked = [line for line in lines if f"is being written by PID {holder.pid} (" in line]
    assert len(locked) == 1, err
    assert locked[0].startswith("callbook: error: WarehouseLockedError: ")
    assert locked[0].endswith("waited 1 s for it to finish (CALLBOOK_WRITE_LOCK_TIMEOUT)")
    waiting = [line for line in lines if "waiting for the warehouse writer lock" in line]
    assert len(waiting) <= 1, err  # said once when the wait starts (then every 30 s)
    # that line, the wait, the API line, at most Prefect's own failure summary
    assert len(lines) <= 4, err


SEED_EVENING = datetime(2026, 2, 4, 22, 30, tzinfo=UTC)  # 17:30 ET on the seed's as-of day
THREE_WEEKS_ON = datetime(2026, 2, 21, 12, 0, tzinfo=UTC)  # the 2026-02-20 session is final


@pytest.fixture(scope="module")
def seed_in_flight(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RTY through 2026-02-04, the seed call recorded that evening, then RTY through 2026-02-20:
    the call is 11 sessions into its 20-session horizon (Presidents Day 16 Feb is no session)."""
    path = tmp_path_factory.mktemp("in-flight") / "data"
    args = ["--data-dir", str(path)]
    with frozen_clock(SEED_EVENING):
        assert main([*args, "nightly", "--roots", "RTY"]) == EXIT_OK
        assert main([*args, "calls", "add", str(SEED_CALL)]) == EXIT_OK
    with frozen_clock(THREE_WEEKS_ON):
        assert main([*args, "nightly", "--roots", "RTY"]) == EXIT_OK
    return path


def test_an_open_analyst_call_shows_its_status_so_far_and_no_score(
    seed_in_flight: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    capsys.readouterr()
    assert run(seed_in_flight, "audit", "--author", "seed-note") == EXIT_OK
    out = capsys.readouterr().out
    assert "run `callbook backfill`" not in out
    assert "Open calls" in out and "Scoreboard" not in out
    assert max(len(line) for line in out.splitlines()) <= 100
    (row,) = [x for x in out.splitlines() if "RTY 2026-02-04 seed-note" in x]
    assert row.split()[3:6] == ["analyst", "demo", "-"]  # methodology, bars, not late
    text = " ".join(out.split())
    assert "RPS" not in out

    assert run(seed_in_flight, "show", "RTY", "--author", "seed-note", "--format", "markdown") == 0
    note = capsys.readouterr().out
    status = note.split("**Status so far:** ", 1)[1].splitlines()[0].strip()
    assert "11 of 20 sessions" in status and "(to 2026-02-20)" in status
    assert status.endswith("not scored until the horizon ends")
    assert status in text  # the audit's table shows the same status, wrapped in its cell

    with Warehouse.open(seed_in_flight / "warehouse.duckdb", read_only=True) as wh:
        view = query(wh, "select * from open_calls where author = 'seed-note'")
        outcomes = query(
            wh,
            "select count(*) as n from outcomes o join snapshots s using "
            "(snapshot_id) where s.author = 'seed-note'",
        )
    # The nightly of 2026-02-20 recorded the same status in the open_calls view.
    assert view.select("sessions_elapsed", "horizon_sessions", "through_session").row(0) == (
        11,
        20,
        date(2026, 2, 20),
    )
    assert view["status_so_far"].item() == status
    assert outcomes["n"].item() == 0


def test_a_feed_file_with_its_index_file_rolls_by_the_basis(
    prefect_harness: None, tmp_path: Path, capsys
) -> None:
    """`ingest --index-path`: the futures and index files land, validate and load as one batch;
    a backfill builds the series and stores its rolls, each measured by the basis."""
    import polars as pl

    from pipeline.sources.demo import demo_bars, demo_index_bars
    from tests.fakes.feeds import front_month_feed

    window = pl.col("session_date").is_between(datetime(2025, 3, 3), datetime(2026, 3, 31))
    index = demo_index_bars("YM").filter(window)
    feed = front_month_feed(demo_bars("YM"), "YM", index=index).filter(window)

    def yahoo_csv(bars: pl.DataFrame, name: str) -> Path:
        path = tmp_path / name
        bars.select(
            pl.col("session_date").alias("Date"),
            pl.col("close").alias("Close"),
            pl.col("high").alias("High"),
            pl.col("low").alias("Low"),
            pl.col("open").alias("Open"),
            pl.col("volume").fill_null(0).alias("Volume"),
        ).write_csv(path)
        return path

    futures, dji = yahoo_csv(feed, "YM_F.csv"), yahoo_csv(index, "DJI.csv")
    data = tmp_path / "data"
    with frozen_clock(NOW):
        assert (
            run(
                data,
                "ingest",
                "--root",
                "YM",
                "--source",
                "file",
                "--path",
                str(futures),
                "--index-path",
                str(dji),
                "--end",
                "2026-03-31",
            )
            == EXIT_OK
        )
        assert run(data, "backfill", "--roots", "YM", "--source", "file") == EXIT_OK
    capsys.readouterr()
    with Warehouse.open(data / "warehouse.duckdb", read_only=True) as wh:
        stored = dict(query(wh, "select contract, count(*) from bars_current group by 1").rows())
        batches = query(
            wh, "select row_count, metadata->>'$.index_symbol' as i from ingest_batches"
        )
        rolls = query(wh, "select * from rolls_current order by roll_session")
    assert stored == {"YM=F": feed.height, "^DJI": index.height}
    assert batches.rows() == [(feed.height + index.height, "^DJI")]
    # Expiries 2025-03-21 .. 2025-12-19 and 2026-03-20: five rolls, each the jump in the basis.
    assert rolls["roll_session"].to_list() == [
        datetime(2025, 3, 24).date(),
        datetime(2025, 6, 23).date(),
        datetime(2025, 9, 22).date(),
        datetime(2025, 12, 22).date(),
        datetime(2026, 3, 23).date(),
    ]
    assert rolls["method"].unique().to_list() == ["basis"]
    expected = (rolls["after_close"] - rolls["after_index"]) - (
        rolls["before_close"] - rolls["before_index"]
    )
    assert rolls["gap"].to_list() == pytest.approx(expected.to_list(), abs=1e-9)
    assert rolls["within_carry_bound"].all()

    assert run(data, "ingest", "--root", "YM", "--source", "demo", "--index-path", str(dji)) == 1
    assert "--index-path is for --source file" in capsys.readouterr().err
