"""`nightly --source file` end to end: a desk's vendor files dropped per root, each taken once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from flows.nightly import nightly
from flows.tasks import RootsFailed
from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES
from pipeline.sources.demo import DemoSource
from pipeline.sources.inbox import file_sha256
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.store import Warehouse

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FIRST_WEEK_END = date(2026, 11, 13)
#: The desk's vendor names its columns its own way; the roots file maps them (file_columns).
VENDOR_COLUMNS = {
    "session_date": "TradeDate",
    "contract": "Contract",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "SettlementPrice",
    "volume": "Volume",
    "open_interest": "OpenInterest",
}
ROOTS_FILE = """
[roots.RTY]
name = "E-mini Russell 2000"
point_value = 50.0
tick = 0.10
yahoo_continuous = "RTY=F"
yahoo_contracts = true
peers = ["ES", "NQ"]
file_columns = { session_date = "TradeDate", close = "SettlementPrice", open_interest = "OpenInterest" }
"""


def vendor_file(path: Path, start: date | None, end: date) -> pl.DataFrame:
    """RTY's demo bars in the vendor's layout (per contract, its column names), as CSV."""
    bars = DemoSource().fetch("RTY", start=start, end=end, fetched_at=NOW).bars
    frame = bars.select(
        pl.col(canonical).alias(vendor) for canonical, vendor in VENDOR_COLUMNS.items()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return frame


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    roots_file = tmp_path / "roots.toml"
    roots_file.write_text(ROOTS_FILE)
    monkeypatch.setenv("CALLBOOK_ROOTS_FILE", str(roots_file))
    return tmp_path / "data"


def run(data_dir: Path, *, fails: bool = False) -> list[tuple[str, str, int, int, int, str]]:
    """One nightly on the drop folder; ``fails``: a root failed, so the run ends Failed (after
    loading the others and making their calls)."""
    with frozen_clock(NOW):
        if not fails:
            result = nightly(
                roots=["RTY", "ES"], source="file", as_of=AS_OF, data_dir=str(data_dir)
            )
        else:
            with pytest.raises(RootsFailed) as failed:
                nightly(roots=["RTY", "ES"], source="file", as_of=AS_OF, data_dir=str(data_dir))
            result = failed.value.result
    return [
        (s.root, s.status, s.inserted, s.quarantined, s.received, s.message) for s in result.ingest
    ]


def inbox_files(data_dir: Path) -> list[tuple[object, ...]]:
    with Warehouse.open_reader(data_dir / "warehouse.duckdb") as wh:
        return query(
            wh,
            "select root, file_name, status, archived_path, batch_id is not null as batch"
            " from inbox_files order by root, file_name",
        ).rows()


def test_dropped_files_are_loaded_once_archived_and_bad_ones_kept_with_a_reason(
    prefect_harness: None, desk: Path
) -> None:
    data_dir, inbox = desk, desk / "inbox"
    history = vendor_file(inbox / "RTY" / "rty-2026-11-13.csv", None, FIRST_WEEK_END)
    (inbox / "ES").mkdir(parents=True)
    (inbox / "ES" / "es-2026-11-13.csv").write_text("Date,Open,High,Low\n2026-11-13,1,2,0.5\n")
    (inbox / "RTY" / "notes.txt").write_text("not a data file")
    (inbox / "RTY" / ".rty-2026-11-20.csv.part").write_text("still being written")

    first = run(data_dir, fails=True)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in first] == [
        ("RTY", "ok", history.height, 0, history.height),
        ("ES", "failed", 0, 0, 0),
    ]
    assert first[1][5].startswith("es-2026-11-13.csv: SchemaError: missing required columns: close")
    assert sorted(p.name for p in (inbox / "RTY").iterdir()) == [
        ".rty-2026-11-20.csv.part",
        "done",
        "notes.txt",
    ]
    assert (inbox / "RTY" / "done" / "rty-2026-11-13.csv").exists()
    rejected = inbox / "ES" / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "es-2026-11-13.csv",
        "es-2026-11-13.csv.reason.txt",
    ]
    assert (
        "missing required columns: close" in (rejected / "es-2026-11-13.csv.reason.txt").read_text()
    )
    with Warehouse.open_reader(data_dir / "warehouse.duckdb") as wh:
        calls = query(
            wh, "select root, as_of, source, methodology_version from snapshots order by all"
        ).rows()
        lake = query(wh, "select source, root, row_count from ingest_batches").rows()
    # the call of the file's last session, by each default methodology
    assert calls == [("RTY", FIRST_WEEK_END, "file", m) for m in sorted(DEFAULT_METHODOLOGIES)]
    assert lake == [("file", "RTY", history.height)]

    # The next week's file, a re-sent copy of the first one, and a bar that breaks a rule.
    week = vendor_file(inbox / "RTY" / "rty-2026-11-20.csv", date(2026, 11, 16), AS_OF)
    broken = week.with_columns(
        pl.when(pl.col("TradeDate") == date(2026, 11, 18))
        .then(pl.col("High") + 5)  # a low above the high
        .otherwise(pl.col("Low"))
        .alias("Low")
    )
    broken.write_csv(inbox / "RTY" / "rty-2026-11-20.csv")
    copy = inbox / "RTY" / "rty-2026-11-13-resent.csv"
    copy.write_bytes((inbox / "RTY" / "done" / "rty-2026-11-13.csv").read_bytes())
    resent_sha = file_sha256(copy)

    second = run(data_dir)
    assert [(r[0], r[1]) for r in second] == [("RTY", "ok"), ("RTY", "ok"), ("ES", "ok")]
    resent, (_, _, inserted, quarantined, received, _), es = second  # files in name order
    bad = week.filter(pl.col("TradeDate") == date(2026, 11, 18)).height
    assert received == week.height and quarantined == bad >= 1 and inserted == received - bad
    assert resent[2:5] == (0, 0, 0) and "identical to rty-2026-11-13.csv" in resent[5]
    assert es[5] == "no new file"
    assert inbox_files(data_dir) == [
        ("ES", "es-2026-11-13.csv", "failed", "ES/rejected/es-2026-11-13.csv", False),
        (
            "RTY",
            "rty-2026-11-13-resent.csv",
            "duplicate",
            "RTY/done/rty-2026-11-13-resent.csv",
            False,
        ),
        ("RTY", "rty-2026-11-13.csv", "loaded", "RTY/done/rty-2026-11-13.csv", True),
        ("RTY", "rty-2026-11-20.csv", "loaded", "RTY/done/rty-2026-11-20.csv", True),
    ]
    with Warehouse.open_reader(data_dir / "warehouse.duckdb") as wh:
        rules = query(wh, "select session_date, rule from quarantine").rows()
        last = query(wh, "select max(as_of) as d from snapshots")["d"].item()
        batches = query(wh, "select count(*) as n from ingest_batches")["n"].item()
        duplicate = query(
            wh,
            "select count(*) as n from inbox_files where file_sha256 = $sha",
            {"sha": resent_sha},
        )["n"].item()
        before = {t: wh.content_hash(t) for t in ("bars", "quarantine", "snapshots")}
    assert {d for d, _ in rules} == {date(2026, 11, 18)}
    assert last == AS_OF
    assert batches == 2  # the re-sent copy was never loaded
    assert duplicate == 2  # the first file and its copy, by the same content hash

    third = run(data_dir)  # nothing waiting: nothing changes
    assert [(r[0], r[1], r[5]) for r in third] == [
        ("RTY", "ok", "no new file"),
        ("ES", "ok", "no new file"),
    ]
    with Warehouse.open_reader(data_dir / "warehouse.duckdb") as wh:
        assert {t: wh.content_hash(t) for t in before} == before
