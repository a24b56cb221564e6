"""Real Prefect flow runs (one session-scoped harness) against a real DuckDB file and lake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from flows import clock, tasks
from flows.history import backfill
from flows.nightly import NightlyResult, incremental_start, nightly, summary_markdown
from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES
from pipeline.quality.result import ValidationResult, empty_findings
from pipeline.sources.demo import DemoSource
from tests.fakes.clock import frozen_clock as clock_at
from tests.support.sql import query
from warehouse.store import Warehouse

AS_OF = date(2026, 11, 20)
PUBLISHED = DEFAULT_METHODOLOGIES[0]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # after the 2026-11-20 session; a Saturday
ROOTS = ["RTY", "ES"]


@pytest.fixture(scope="module")
def frozen_clock() -> Iterator[None]:
    with clock_at(NOW):
        yield


@pytest.fixture(scope="module")
def first_run(
    prefect_harness: None, frozen_clock: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, NightlyResult, dict[str, str], dict[str, int]]:
    data_dir = tmp_path_factory.mktemp("nightly") / "data"
    result = nightly(roots=ROOTS, source="demo", as_of=AS_OF, data_dir=str(data_dir))
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        hashes = {t: wh.content_hash(t) for t in ("bars", "quarantine", "snapshots", "outcomes")}
        counts = wh.table_counts()
    return data_dir, result, hashes, counts


def test_incremental_start_overlaps_five_sessions() -> None:
    assert incremental_start(None) is None
    assert incremental_start(date(2026, 2, 4)) == date(2026, 1, 28)


def test_first_run_loads_history_and_makes_the_days_calls(first_run) -> None:
    data_dir, result, _, counts = first_run
    assert [s.status for s in result.ingest] == ["ok", "ok"]
    assert all(s.inserted > 5000 and s.revised == 0 and s.quarantined == 0 for s in result.ingest)
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        sessions = dict(
            query(
                wh, "select root, count(distinct session_date) from bars_current group by root"
            ).iter_rows()
        )
        calls = query(
            wh,
            "select root, as_of, version, kind, source, author, methodology_version"
            " from snapshots order by root, methodology_version",
        )
    assert set(sessions) == {"RTY", "ES"} and min(sessions.values()) >= 5000
    # 2026-11-20 is the last completed session at the clock's time: a live call, made by each
    # default methodology (v5 published, v2 and v1 beside it).
    assert calls.rows() == [
        (root, AS_OF, 1, "live", "demo", "callbook", m)
        for root in ("ES", "RTY")
        for m in sorted(DEFAULT_METHODOLOGIES)
    ]
    made = 2 * len(DEFAULT_METHODOLOGIES)  # two roots
    assert result.snapshots.written == made
    assert counts["snapshot_levels"] == 4 * made and counts["snapshot_scenarios"] == 3 * made
    lake_files = sorted((data_dir / "lake" / "raw").rglob("*.parquet"))
    assert len(lake_files) == counts["ingest_batches"] == 2


def test_first_run_writes_a_labelled_note_and_chart_per_root(first_run) -> None:
    data_dir, result, _, _ = first_run
    assert [r.root for r in result.reports] == ROOTS
    for report in result.reports:
        assert (
            report.note_path
            == data_dir / "reports" / report.root / "2026-11-20" / f"note-{PUBLISHED}-r1.md"
        )
        note = report.note_path.read_text()
        assert f"Methodology: {PUBLISHED}" in note  # the published methodology's note
        assert "DEMO DATA" in note
        assert f"]({report.chart_path.name})" in note
        assert report.chart_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert (data_dir / "reports" / report.root / "latest.md").exists()


def test_second_run_the_same_day_changes_nothing(first_run, frozen_clock: None) -> None:
    data_dir, _, hashes, counts = first_run
    again = nightly(roots=ROOTS, source="demo", as_of=AS_OF, data_dir=str(data_dir))
    assert all(s.inserted == 0 and s.revised == 0 and s.unchanged > 0 for s in again.ingest)
    assert (again.snapshots.written, again.snapshots.unchanged) == (
        0,
        2 * len(DEFAULT_METHODOLOGIES),
    )
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        assert {t: wh.content_hash(t) for t in hashes} == hashes
        after = wh.table_counts()
    for table in ("bars", "quarantine", "snapshots", "snapshot_levels", "outcomes"):
        assert after[table] == counts[table], table
    # The incremental fetch (the last stored sessions again, for revisions) is a new batch ...
    assert after["ingest_batches"] == counts["ingest_batches"] + 2
    # ... and fetching that same window again is recognised by its hash: logged, not stored.
    third = nightly(roots=ROOTS, source="demo", as_of=AS_OF, data_dir=str(data_dir))
    assert all(s.duplicate for s in third.ingest)
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        final = wh.table_counts()
        outcomes = query(wh, "select outcome from fetch_log order by fetch_id")["outcome"]
    assert final["ingest_batches"] == after["ingest_batches"]
    assert outcomes.to_list() == ["landed"] * 4 + ["duplicate"] * 2
    lake_files = sorted((data_dir / "lake" / "raw").rglob("*.parquet"))
    assert len(lake_files) == final["ingest_batches"]


def test_a_call_for_a_past_session_is_a_backfill(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 11, 20, 21, 30, tzinfo=UTC))
    result = nightly(roots=["YM"], source="demo", data_dir=str(tmp_path / "d"))
    assert result.as_of == date(2026, 11, 19)  # 16:30 ET: the session of 2026-11-20 is not final
    nightly(roots=["YM"], source="demo", as_of=date(2026, 11, 18), data_dir=str(tmp_path / "d"))
    with Warehouse.open(tmp_path / "d" / "warehouse.duckdb", read_only=True) as wh:
        kinds = query(wh, "select distinct as_of, kind from snapshots order by as_of").rows()
    assert kinds == [(date(2026, 11, 18), "backfill"), (date(2026, 11, 19), "live")]


def test_revised_bar_gives_version_2_only_to_the_calls_that_used_it(
    first_run, frozen_clock: None
) -> None:
    data_dir, _, _, _ = first_run
    revised_day = date(2026, 11, 13)
    window = (date(2026, 11, 9), AS_OF)
    backfill(roots=["RTY"], source="demo", start=window[0], end=window[1], data_dir=str(data_dir))
    path = data_dir / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        before = query(
            wh,
            "select as_of, version, content_hash from snapshots where root = 'RTY' order by as_of",
        )
        # The vendor revises the front contract's settlement of 2026-11-13 by one tick.
        batch = DemoSource().fetch("RTY", start=revised_day, end=revised_day, fetched_at=NOW)
        front = batch.bars.sort("volume", descending=True).head(1)
        bars = front.with_columns(pl.col("close") + 0.1).with_columns(
            pl.max_horizontal("high", "close").alias("high")
        )
        batch = replace(batch, raw=bars.to_arrow(), bars=bars)
        wh.record_batch(batch, lake_path="test", run_id=None, recorded_at=NOW)
        outcome = wh.load_batch(
            batch,
            ValidationResult("passed", bars, empty_findings(), "test", "1"),
            run_id=None,
            recorded_at=NOW,
        )
        assert outcome.revised == 1
    backfill(roots=["RTY"], source="demo", start=window[0], end=window[1], data_dir=str(data_dir))
    with Warehouse.open(path, read_only=True) as wh:
        after = query(
            wh,
            "select as_of, max(version) as version, count(*) as versions from snapshots"
            " where root = 'RTY' group by as_of order by as_of",
        )
        links = query(
            wh, "select as_of, supersedes_version from snapshots where root = 'RTY' and version = 2"
        )
    versions = dict(zip(after["as_of"], after["version"], strict=True))
    assert set(before["as_of"]) == set(versions)
    assert {d for d, v in versions.items() if v == 2} == {d for d in versions if d >= revised_day}
    assert all(v == 1 for d, v in versions.items() if d < revised_day)
    assert links["supersedes_version"].to_list() == [1] * links.height


def test_summary_markdown_labels_demo() -> None:
    s = tasks.RootSummary(
        root="RTY",
        source="demo",
        window="start..2026-11-20",
        received=10,
        landed=True,
        inserted=9,
        quarantined=1,
    )
    text = summary_markdown([s], as_of=AS_OF, source="demo")
    assert "DEMO DATA" in text
    assert "| RTY | start..2026-11-20 | 10 | yes | 9 | 0 | 0 | 1 | 0 | ok |" in text
