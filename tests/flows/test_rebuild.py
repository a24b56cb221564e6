"""`callbook rebuild`: the warehouse and its replica recreated from the lake alone.

The book rebuilt here holds every kind of row: bars loaded, revised (closed versions) and
quarantined, warnings and deferrals, a failed fetch, rolls revised, backfill and live snapshots,
an analyst call in two versions, outcomes and call progress, methodologies written twice, an
inbox file, and a migration applied after the record started. The oracle is the original
warehouse itself: every table's row count and content hash (md5 over every row, every column)
before the damage, against the rebuilt file and its replica.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from flows.outcomes import resolve_stored
from flows.rebuild import RebuildRefusedError, rebuild
from flows.verify import verify
from pipeline.analysis.methodology import get
from pipeline.audit.analyst import analyst_snapshot_rows, market_facts, parse_analyst_call
from pipeline.market.continuous import continuous_series_and_rolls
from pipeline.quality.result import FINDING_SCHEMA, ValidationResult
from pipeline.sources.demo import DemoSource
from tests.fakes.clock import frozen_clock
from tests.warehouse.small_book import LAST_SESSION, ROOTS, SEED_CALL, build_small_data_dir
from warehouse import record, store
from warehouse.lake import land_batch
from warehouse.store import MethodologyEntry, Warehouse, replica_path

LATER = datetime(2026, 7, 2, 21, 0, tzinfo=UTC)
#: A migration added after the record started: replayed at its place, its update included.
TEST_MIGRATION = (
    99,
    "test_column",
    "alter table methodologies add column test_note varchar;\n"
    "update methodologies set test_note = 'set by migration 099';\n",
)


def with_test_migration() -> list[tuple[int, str, str]]:
    return [*ORIGINAL_MIGRATIONS(), TEST_MIGRATION]


ORIGINAL_MIGRATIONS = store.migrations


def fingerprints(path: Path) -> dict[str, tuple[int, str]]:
    """Every table's row count and content hash, read from the DuckDB file ``path`` itself."""
    with Warehouse.open(path, read_only=True) as wh:
        return {t: (n, wh.content_hash(t)) for t, n in wh.table_counts().items()}


def passed(batch, findings: pl.DataFrame) -> ValidationResult:
    bad = set(findings.filter(pl.col("severity") != "warning")["row_index"].to_list())
    clean = batch.bars.with_row_index("i").filter(~pl.col("i").is_in(list(bad))).drop("i")
    return ValidationResult(
        status="partial" if bad else "passed",
        clean=clean,
        findings=findings,
        suite_name="test",
        suite_version="1",
    )


def load(wh: Warehouse, data_dir: Path, batch, findings: pl.DataFrame, at: datetime) -> None:
    landed = land_batch(data_dir, batch)
    duplicate = wh.record_batch(batch, lake_path=str(landed.path), run_id="r", recorded_at=at)
    wh.load_batch(batch, passed(batch, findings), run_id="r", recorded_at=at, duplicate=duplicate)


def build_full_book(data_dir: Path) -> Path:
    path = build_small_data_dir(data_dir)
    source = DemoSource()
    with Warehouse.open(path) as wh, frozen_clock(LATER):
        # A vendor revision of three June sessions (closes moved by half a point): three bar
        # versions closed and replaced.
        june = source.fetch("RTY", start=date(2026, 6, 1), end=LAST_SESSION, fetched_at=LATER)
        revised = june.bars.with_columns(
            pl.when(pl.int_range(pl.len()) < 3)
            .then(pl.col("close") + 0.5)
            .otherwise(pl.col("close"))
            .alias("close")
        )
        batch = dataclasses.replace(june, bars=revised, raw=revised.to_arrow())
        findings = pl.DataFrame(
            {
                "row_index": [3, 4, 5],
                "rule": ["ohlc.high_bound", "volume.zero", "session.not_final"],
                "severity": ["error", "warning", "deferred"],
                "detail": ["high below close", "no volume", "not final when fetched"],
                "contract": revised["contract"][3:6].to_list(),
                "session_date": revised["session_date"][3:6].to_list(),
                "raw_row": [json.dumps({"row": i}) for i in (3, 4, 5)],
            },
            schema=FINDING_SCHEMA,
        )
        load(wh, data_dir, batch, findings, LATER)
        wh.record_fetch_failure("ES", "demo", LATER, "r", "HTTP 503 (test)")
        # Rolls (stored by resolve_stored's series), then one measured differently.
        resolve_stored(wh, ROOTS, source="demo")
        rolls = continuous_series_and_rolls(wh.current_bars("ES", source="demo"))[1]
        wh.write_rolls(
            rolls.with_columns(
                pl.col("gap") + pl.when(pl.int_range(pl.len()) == 0).then(1.0).otherwise(0.0)
            ),
            source="demo",
            recorded_at=LATER + timedelta(minutes=1),
        )
        # A live call of the last session, and the seed analyst call in a second version.
        series = {
            root: continuous_series_and_rolls(wh.current_bars(root, source="demo"))[0]
            for root in ROOTS
        }
        live = get("v1").analyse(series, "RTY", source="demo", sessions=[LAST_SESSION]).snapshots
        wh.write_snapshots(
            live, kind="live", flow_run_id="run-live", code_version="t", created_at=LATER
        )
        call = parse_analyst_call(SEED_CALL.read_text(encoding="utf-8"), fmt="toml")
        shift = {"bear": 0.05, "bull": -0.05}
        moved = {k: (p + shift.get(k, 0.0), t) for k, (p, t) in call.scenarios.items()}
        second = dataclasses.replace(call, scenarios=moved)
        wh.write_snapshots(
            analyst_snapshot_rows(second, market_facts(series["RTY"], call.as_of)).with_columns(
                resolved_on_source=pl.lit("demo")
            ),
            kind="analyst",
            flow_run_id=None,
            code_version="t",
            created_at=LATER + timedelta(hours=1),
        )
        # Recorded twice: the second upserts its tuning period (tuning_periods).
        tuned = (("RTY", True, date(2026, 11, 20)),)
        for at in (LATER, LATER + timedelta(hours=2)):
            v1 = MethodologyEntry("v1", "h", {"a": 1}, published=True, tuning_declared=True,
                                  tuned_through=date(2026, 11, 20), tuned_roots=tuned)  # fmt: skip
            wh.record_methodologies([v1], at=at)
        wh.record_inbox_file(
            file_sha256="f" * 64,
            root="RTY",
            file_name="rty.csv",
            size=123,
            status="rejected",
            batch_id=None,
            archived_path="rejected/rty.csv",
            message="not UTF-8",
            run_id="r",
            taken_at=LATER,
        )
    store.migrations = with_test_migration  # type: ignore[assignment]
    try:
        with Warehouse.open(path) as wh:  # applies migration 099: a migration unit
            wh.record_methodologies(
                [MethodologyEntry("v2", "h2", {"b": 2}, published=False)], at=LATER
            )
    finally:
        store.migrations = ORIGINAL_MIGRATIONS  # type: ignore[assignment]
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[int, str]]]:
    data_dir = tmp_path_factory.mktemp("rebuild") / "data"
    data_dir.mkdir()
    path = build_full_book(data_dir)
    return data_dir, fingerprints(path)


@pytest.fixture
def copy(book: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(store, "migrations", with_test_migration)
    target = tmp_path / "data"
    shutil.copytree(book[0], target)
    return target


def test_the_book_holds_every_kind_of_row(book: tuple[Path, dict]) -> None:
    """The oracle is worth something: every table has rows, including the ones only a revision,
    a finding or a migration writes."""
    data_dir, original = book
    empty = [t for t, (n, _) in original.items() if n == 0]
    assert empty == []
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        snapshots = wh.table_rows("snapshots")
        bars = wh.table_rows("bars")
        rolls = wh.table_rows("rolls")
        units = wh.table_rows("record_units")
    kinds = dict(snapshots["kind"].value_counts().iter_rows())
    assert kinds["live"] == 1 and kinds["analyst"] == 2 and kinds["backfill"] > 1000
    assert snapshots.filter(pl.col("kind") == "analyst")["version"].sort().to_list() == [1, 2]
    assert bars["superseded_at"].is_not_null().sum() == 3
    assert rolls["superseded_at"].is_not_null().sum() == 1
    assert units["kind"].to_list()[0] == "base"
    assert "migration" in units["kind"].to_list()


def damage(data_dir: Path, how: str) -> None:
    path = data_dir / "warehouse.duckdb"
    if how == "corrupt header":
        data = bytearray(path.read_bytes())
        data[:4096] = bytes(range(256)) * 16  # the file header, overwritten
        path.write_bytes(bytes(data))
    elif how == "truncated":
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    elif how == "writer deleted":
        path.unlink()
    elif how == "replica deleted":
        replica_path(path).unlink()
    elif how == "both deleted":
        path.unlink()
        replica_path(path).unlink()
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    "how", ["corrupt header", "truncated", "writer deleted", "replica deleted", "both deleted"]
)
def test_a_damaged_or_lost_warehouse_is_rebuilt_from_the_lake_alone(
    book: tuple[Path, dict], copy: Path, how: str
) -> None:
    original = book[1]
    damage(copy, how)
    seen: list[tuple[int, int]] = []
    result = rebuild(copy, on_progress=lambda done, total, _: seen.append((done, total)))
    path = copy / "warehouse.duckdb"
    assert fingerprints(path) == original  # 0 rows lost, every row and column equal
    assert fingerprints(replica_path(path)) == original
    assert seen[-1][0] == seen[-1][1] == result.units > 20
    assert result.counts["snapshots"] == original["snapshots"][0]
    assert (result.live, result.analyst) == (1, 2)
    report = verify(copy, sample=20)
    assert report.ok, [d.line() for d in report.differences]
    # The rebuilt warehouse is a working one: the next unit follows the record's chain.
    with Warehouse.open(path) as wh:
        wh.record_fetch_failure("NQ", "demo", LATER, "r", "after the rebuild")
        ids = wh.table_rows("fetch_log")["fetch_id"]
    assert ids.n_unique() == ids.len()  # the id sequence moved past the rebuilt ids
    assert [u.seq for u in record.scan(copy / record.RECORD_DIR).units] == list(
        range(1, result.units + 2)
    )


def test_a_healthy_warehouse_is_not_replaced_unless_forced(
    book: tuple[Path, dict], copy: Path
) -> None:
    path = copy / "warehouse.duckdb"
    before = path.read_bytes()
    with pytest.raises(RebuildRefusedError, match=r"open and read whole: nothing to rebuild"):
        rebuild(copy)
    assert path.read_bytes() == before
    result = rebuild(copy, force=True)
    assert result.replaced == []
    assert fingerprints(path) == book[1]


def test_a_changed_lake_file_is_named_and_nothing_is_replaced(copy: Path) -> None:
    damage(copy, "writer deleted")
    unit = record.scan(copy / record.RECORD_DIR).units[5]
    part = unit.part_path(unit.manifest.parts[0])
    frame = pl.read_parquet(part)
    frame.write_parquet(part)  # same rows, other bytes: not the file that was recorded
    with pytest.raises(RebuildRefusedError, match=rf"{part.name}: sha256 .* the file changed"):
        rebuild(copy)
    assert not (copy / "warehouse.duckdb").exists()
    assert not list(copy.glob(".warehouse.duckdb.rebuild-*"))


def test_a_missing_unit_breaks_the_chain_and_nothing_is_replaced(copy: Path) -> None:
    damage(copy, "corrupt header")
    before = (copy / "warehouse.duckdb").read_bytes()
    shutil.rmtree(record.scan(copy / record.RECORD_DIR).units[3].directory)
    with pytest.raises(RebuildRefusedError, match=r"unit 4 is missing"):
        rebuild(copy)
    assert (copy / "warehouse.duckdb").read_bytes() == before


def test_a_lake_that_lost_units_never_replaces_a_better_replica(copy: Path) -> None:
    """The writer file is lost and the lake's last units too: the replica holds more."""
    damage(copy, "writer deleted")
    units = record.scan(copy / record.RECORD_DIR).units
    for unit in units[-3:]:
        shutil.rmtree(unit.directory)
    replica = replica_path(copy / "warehouse.duckdb")
    before = replica.read_bytes()
    with pytest.raises(RebuildRefusedError, match=r"fewer rows than warehouse.read.duckdb"):
        rebuild(copy)
    assert replica.read_bytes() == before
    assert not (copy / "warehouse.duckdb").exists()


def test_callbook_rebuild_through_the_installed_command(
    book: tuple[Path, dict], copy: Path
) -> None:
    damage(copy, "truncated")
    original = book[1]
    run = subprocess.run(
        [sys.executable, "-c", MIGRATION_099_THEN_CLI, str(copy), "rebuild"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    # The summary, wrapped at the width (flows/console.say: continuation lines indented).
    first = max(i for i, line in enumerate(lines) if line.startswith("rebuilt "))
    summary = " ".join([lines[first], *(line.strip() for line in lines[first + 1 :])])
    assert summary.startswith(
        f"rebuilt {len(record.unit_dirs(copy / record.RECORD_DIR))} lake units ("
    )
    assert summary.endswith(
        f" s, hashes ok): {original['snapshots'][0]:,} calls (1 live, 2 analyst), "
        f"{original['outcomes'][0]:,} outcomes, {original['bars'][0]:,} bars"
    )
    assert all(len(line) <= 100 for line in run.stdout.splitlines())
    assert "callbook: replaced warehouse.duckdb: cannot be read (" in run.stderr
    assert fingerprints(copy / "warehouse.duckdb") == book[1]
    again = subprocess.run(
        [sys.executable, "-c", MIGRATION_099_THEN_CLI, str(copy), "rebuild"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 1
    assert (
        again.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "callbook: error: RebuildRefusedError: warehouse.duckdb and warehouse.read.duckdb open"
        )
    )


#: `callbook` with migration 099 registered (the book was made with it), argv: data dir, command.
MIGRATION_099_THEN_CLI = """
import sys
from tests.flows import test_rebuild
from warehouse import store
store.migrations = test_rebuild.with_test_migration
from flows.cli import run
sys.argv = ["callbook", "--data-dir", sys.argv[1], *sys.argv[2:]]
run()
"""


@pytest.mark.parametrize(
    "how", ["corrupt header", "truncated", "writer deleted", "a damaged block"]
)
def test_verify_names_a_damaged_or_missing_warehouse_and_the_way_back(
    copy: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    from flows.cli import EXIT_FAILED, main

    path = copy / "warehouse.duckdb"
    if how == "a damaged block":  # the header opens; a table's block fails its checksum
        with open(path, "r+b") as fh:
            for offset in range(path.stat().st_size // 4, path.stat().st_size, 262_144):
                fh.seek(offset)
                fh.write(b"\xff" * 4096)
    else:
        damage(copy, how)
    assert main(["--data-dir", str(copy), "verify"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("callbook: error: WarehouseDamagedError: ")
    said = "is missing" if how == "writer deleted" else "cannot be opened ("
    assert said in err[-1]
    assert "with `callbook rebuild` (from the lake, checking every hash)" in err[-1]
    rebuild(copy)
    assert verify(copy, sample=5).ok
