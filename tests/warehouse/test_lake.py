"""The raw landing zone: write-once, content-addressed, round-trips the batch exactly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import Batch, conform_bars, table_sha256
from warehouse.lake import find_landed, land_batch

FETCHED_AT = datetime(2026, 2, 5, 1, 0, tzinfo=UTC)


def make_batch(close: float = 2618.4, fetched_at: datetime = FETCHED_AT) -> Batch:
    raw = pa.table(
        {
            "Date": ["2026-02-03", "2026-02-04"],
            "Close": ["2589.3", str(close)],
            "Weird Column": ["x", None],
        }
    )
    import polars as pl

    bars = conform_bars(
        pl.DataFrame(
            {
                "root": ["RTY", "RTY"],
                "contract": ["RTY=F", "RTY=F"],
                "session_date": [date(2026, 2, 3), date(2026, 2, 4)],
                "open": [2535.0, 2585.8],
                "high": [2590.0, 2620.0],
                "low": [2533.5, 2582.7],
                "close": [2589.3, close],
                "volume": [1, 2],
            }
        )
    )
    return Batch(
        "file", "RTY", raw, bars, fetched_at, None, date(2026, 2, 4), {"file_name": "x.csv"}
    )


def test_landed_file_round_trips_the_raw_batch_and_its_hash(tmp_path: Path) -> None:
    batch = make_batch()
    landed = land_batch(tmp_path, batch)
    assert landed.is_new
    assert landed.path == Path(
        f"lake/raw/source=file/root=RTY/fetch_date=2026-02-05/{batch.sha256}.parquet"
    )
    table = pq.read_table(tmp_path / landed.path)
    assert table.replace_schema_metadata(None).equals(batch.raw)
    assert table_sha256(table) == batch.sha256
    meta = json.loads(table.schema.metadata[b"callbook.batch"])
    assert meta["sha256"] == batch.sha256
    assert meta["window_end"] == "2026-02-04"
    assert meta["metadata"] == {"file_name": "x.csv"}


def test_same_content_lands_once_even_on_another_day(tmp_path: Path) -> None:
    first = land_batch(tmp_path, make_batch())
    later = land_batch(tmp_path, make_batch(fetched_at=datetime(2026, 2, 9, tzinfo=UTC)))
    assert not later.is_new
    assert later.path == first.path
    assert len(list(tmp_path.rglob("*.parquet"))) == 1
    assert not list(tmp_path.rglob(".landing-*"))


def test_changed_content_is_a_new_file_and_the_old_one_is_untouched(tmp_path: Path) -> None:
    first = land_batch(tmp_path, make_batch())
    before = (tmp_path / first.path).read_bytes()
    second = land_batch(tmp_path, make_batch(close=2620.0))
    assert second.is_new and second.path != first.path
    assert (tmp_path / first.path).read_bytes() == before
    assert find_landed(tmp_path, "file", "RTY", make_batch(close=2620.0).sha256) == second.path
