"""Real Prefect flow runs (one session-scoped harness) against a real DuckDB file and lake."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from warehouse.store import Warehouse

from flows import tasks
from flows.nightly import incremental_start, nightly, summary_markdown

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "utcnow", lambda: NOW)


def test_incremental_start_overlaps_five_sessions() -> None:
    assert incremental_start(None) is None
    assert incremental_start(date(2026, 2, 4)) == date(2026, 1, 28)


def test_nightly_twice_is_idempotent(
    prefect_harness: None, frozen_clock: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = nightly(roots=["RTY", "ES"], source="demo", as_of=AS_OF, data_dir=str(data_dir))
    assert [s.status for s in first] == ["ok", "ok"]
    assert all(s.inserted > 5000 and s.revised == 0 for s in first)

    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        sessions = dict(
            wh.query(
                "select root, count(distinct session_date) from bars_current group by root"
            ).iter_rows()
        )
        hashes_1 = {t: wh.content_hash(t) for t in ("bars", "quarantine")}
        counts_1 = wh.table_counts()
    assert sessions["RTY"] >= 5000 and sessions["ES"] >= 5000
    assert set(sessions) == {"RTY", "ES"}

    second = nightly(roots=["RTY", "ES"], source="demo", as_of=AS_OF, data_dir=str(data_dir))
    assert all(s.inserted == 0 and s.revised == 0 and s.unchanged > 0 for s in second)
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        assert {t: wh.content_hash(t) for t in ("bars", "quarantine")} == hashes_1
        counts_2 = wh.table_counts()
    for table in ("bars", "quarantine"):
        assert counts_2[table] == counts_1[table]
    lake_files = sorted((data_dir / "lake" / "raw").rglob("*.parquet"))
    assert len(lake_files) == counts_2["ingest_batches"]


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
