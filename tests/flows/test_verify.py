"""`callbook verify` on a real data directory: clean, then tampered copies, each tampering
reported with the right line and a non-zero exit.

The data directory is tests/warehouse/small_book.py's (demo RTY, ES, NQ 2024-01..2026-06: lake
files, bars, ~1,100 point-in-time calls, the seed analyst call and ~1,000 outcomes). Each test
tampers with its own copy, the way a person with a DuckDB shell or a text editor could.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.cli import EXIT_FAILED, EXIT_OK, main
from flows.verify import verify
from tests.warehouse.small_book import build_small_data_dir


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("verify") / "data"
    data_dir.mkdir()
    build_small_data_dir(data_dir)
    return data_dir


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(pristine, target)
    return target


def sql(data_dir: Path, statement: str) -> list[tuple]:
    """Run ``statement`` on the warehouse and on its published replica alike: a tampering of the
    record itself, not a replica left behind (verify reports that as its own difference)."""
    for name in ("warehouse.read.duckdb", "warehouse.duckdb"):
        con = duckdb.connect(str(data_dir / name))
        try:
            con.execute("set TimeZone = 'UTC'")
            rows = con.execute(statement).fetchall()
        finally:
            con.close()
    return rows


def verify_lines(data_dir: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> list[str]:
    status = main(["--data-dir", str(data_dir), "verify", *flags])
    lines = capsys.readouterr().out.strip().splitlines()
    assert status == (EXIT_OK if lines[-1].endswith("no differences") else EXIT_FAILED)
    return lines


def test_the_untouched_record_verifies(pristine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = verify_lines(pristine, capsys, "--all")
    assert len(lines) == 1
    assert lines[0].startswith(
        "checked 1,132 snapshots hashed, 7,924 level and scenario rows, 1,131 snapshots "
        "re-derived, 1,072 outcomes resolved again, 3 lake files, 16 replica tables in "
    )
    assert lines[0].endswith(" s: no differences")


def test_a_changed_snapshot_value_is_reported(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sid, p_bull), = sql(copy, "select snapshot_id, p_bull from snapshots where root = 'RTY' "
                                "and author = 'callbook' order by as_of desc limit 1")  # fmt: skip
    sql(copy, f"update snapshots set p_bull = 0.99 where snapshot_id = '{sid}'")
    lines = verify_lines(copy, capsys, "--all")
    assert [line.split(":")[0] for line in lines[:-1]] == [
        f"content-hash {sid}",
        f"rederive {sid}",
        f"scenarios {sid} bull",
    ]
    assert "a stored value changed" in lines[0]
    # the stored hash is still the original one: only the edited value differs from the inputs
    assert lines[1] == f"rederive {sid}: p_bull 0.99 stored, {p_bull!r} expected"
    assert lines[2] == f"scenarios {sid} bull: probability {p_bull!r} stored, 0.99 expected"
    assert lines[-1].endswith("3 difference(s)")


def test_a_changed_level_row_is_reported(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (sid, low), = sql(copy, "select snapshot_id, low from snapshot_levels "
                             "where level_kind = 'line_in_the_sand' and low is not null "
                             "order by snapshot_id limit 1")  # fmt: skip
    sql(
        copy,
        f"update snapshot_levels set low = low - 100 where snapshot_id = '{sid}' "
        "and level_kind = 'line_in_the_sand'",
    )
    lines = verify_lines(copy, capsys, "--sample", "0")
    assert lines[:-1] == [
        f"levels {sid} line_in_the_sand: low {low - 100!r} stored, {low!r} expected"
    ]


def test_a_changed_outcome_is_reported(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (sid, outcome, ordinal), = sql(copy, "select snapshot_id, outcome, outcome_ordinal "
                                          "from outcomes where outcome <> 'bull' "
                                          "order by snapshot_id limit 1")  # fmt: skip
    sql(
        copy,
        f"update outcomes set outcome = 'bull', outcome_ordinal = 2 where snapshot_id = '{sid}'",
    )
    lines = verify_lines(copy, capsys, "--sample", "0")
    assert lines[:-1] == [
        f"outcome {sid}: outcome 'bull' stored, '{outcome}' expected; "
        f"outcome_ordinal 2 stored, {ordinal} expected"
    ]


def test_deleted_outcomes_that_were_never_resolved_are_not_invented(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """verify checks the outcomes it has; an outcome deleted leaves a call unresolved, which
    `callbook resolve` appends again (it is not a stored value that differs)."""
    sql(copy, "delete from outcomes where snapshot_id in (select snapshot_id from outcomes "
              "order by snapshot_id limit 5)")  # fmt: skip
    lines = verify_lines(copy, capsys, "--sample", "0")
    assert lines[-1].endswith("no differences") and "1,067 outcomes" in lines[-1]


def test_a_changed_lake_file_is_reported(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (path, batch_id), = sql(copy, "select lake_path, batch_id from ingest_batches "
                                   "where root = 'ES'")  # fmt: skip
    landed = copy / path
    table = pq.read_table(landed)
    close = table.column("close").to_pylist()
    close[100] = close[100] + 0.25  # one settlement, a tick away
    pq.write_table(
        table.set_column(table.schema.get_field_index("close"), "close", pa.array(close)), landed
    )
    lines = verify_lines(copy, capsys, "--sample", "0")
    assert len(lines) == 2
    assert lines[0].startswith(f"lake {path}: sha256 ")
    assert lines[0].endswith(f" is not the recorded {batch_id[:16]}: the file changed")


def test_a_missing_an_unreadable_and_a_stray_lake_file_are_reported(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = sql(copy, "select lake_path, batch_id, root from ingest_batches order by root")
    (es_path, es_id, _), (nq_path, _, _), (rty_path, _, _) = rows
    (copy / es_path).unlink()
    (copy / nq_path).write_bytes(b"not parquet")
    stray = Path(rty_path).parent / ("0" * 64 + ".parquet")
    shutil.copy(copy / rty_path, copy / stray)
    lines = verify_lines(copy, capsys, "--sample", "0")
    assert lines[:-1] == sorted(
        [
            f"lake {es_path}: missing (batch {es_id[:16]})",
            f"lake {nq_path}: unreadable (ArrowInvalid)",
            f"lake {stray}: not recorded in ingest_batches",
        ]
    )


def test_a_bar_changed_under_the_record_is_found_by_re_deriving(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stored bar edited in place (no new version): the calls made from it no longer follow
    from the stored inputs."""
    sql(copy, "update bars set close = close + 40, high = high + 40 where root = 'RTY' "
              "and session_date = '2026-02-04'")  # fmt: skip
    report = verify(copy, sample=None)
    checks = {d.check for d in report.differences}
    assert "rederive" in checks
    bad = sorted({d.subject for d in report.differences if d.check == "rederive"})
    assert bad[0].startswith("RTY/2026-02-04/callbook/")  # the first call that read the bar
    assert all(not s.startswith(("ES/", "NQ/")) for s in bad)  # the peers' own calls are intact


def test_verify_writes_nothing(pristine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def hashes() -> dict[str, str]:
        return {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(pristine.rglob("*"))
            if p.is_file()
        }

    before = hashes()
    verify_lines(pristine, capsys)
    assert hashes() == before


def test_verify_is_plain_code_without_prefect(pristine: Path) -> None:
    """verify starts no flow: no Prefect import, no server, nothing recorded anywhere."""
    code = (
        "import json, sys; from flows.cli import main; "
        f"status = main(['--data-dir', {str(pristine)!r}, 'verify', '--sample', '20']); "
        "print(json.dumps([status, sorted(m for m in sys.modules if m.split('.')[0] == 'prefect')]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    status, prefect_modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert (status, prefect_modules) == (EXIT_OK, [])


def test_an_outcome_recorded_before_its_bars_were_stored_is_reported(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record whose times contradict each other (an outcome stamped before the bars it was
    resolved on existed) cannot be resolved again from the stored inputs: reported, by name."""
    (sid,) = sql(copy, "select snapshot_id from outcomes order by snapshot_id limit 1")[0]
    sql(copy, "update outcomes set recorded_at = timestamptz '2026-01-01 00:00:00+00' "
              f"where snapshot_id = '{sid}'")  # fmt: skip
    lines = verify_lines(copy, capsys, "--sample", "0")
    assert lines[:-1] == [
        f"outcome {sid}: stored, but the demo bars stored when it was recorded "
        "(2026-01-01 00:00 UTC) do not resolve it"
    ]


def test_an_edited_probability_of_a_resolved_call_is_reported_not_fatal(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A resolved call's probabilities are scored again: an edit that breaks their sum must be a
    # reported difference, not an exception that hides every other check.
    (sid,), = sql(copy, "select o.snapshot_id from outcomes o join snapshots s using (snapshot_id) "
                         "where s.author = 'callbook' order by o.snapshot_id limit 1")  # fmt: skip
    sql(copy, f"update snapshots set p_bull = 0.99 where snapshot_id = '{sid}'")
    lines = verify_lines(copy, capsys, "--sample", "0")
    subjects = [line.split(":")[0] for line in lines[:-1]]
    assert subjects == [f"content-hash {sid}", f"outcome {sid}", f"scenarios {sid} bull"]
    assert "cannot be resolved again: probabilities row 0 sums to" in lines[1]
    assert lines[-1].endswith("3 difference(s)")
