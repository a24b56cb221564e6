"""Methodologies side by side in real flow runs: the same sessions, one published."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from flows.history import backfill
from flows.nightly import nightly
from pipeline.analysis import methodology
from pipeline.analysis.params import AnalysisParams
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.store import Warehouse

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
VARIANT = "v1-h10"


@pytest.fixture(scope="module")
def with_variant() -> Iterator[None]:
    """v1's rules with a 10-session horizon, registered as another methodology for this module."""
    variant = replace(
        methodology.get("v1"), version=VARIANT, params=AnalysisParams(horizon_sessions=10)
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(methodology._LOADERS, VARIANT, lambda: variant)
        methodology.get.cache_clear()
        yield
    methodology.get.cache_clear()


@pytest.fixture(scope="module")
def data_dir(
    prefect_harness: None, with_variant: None, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    data_dir = tmp_path_factory.mktemp("methodologies") / "data"
    with frozen_clock(NOW):
        nightly(
            roots=["RTY"], source="demo", as_of=AS_OF, data_dir=str(data_dir), methodologies=["v1"]
        )
    return data_dir


def test_the_nightly_makes_every_configured_methodology(data_dir: Path) -> None:
    with frozen_clock(NOW):
        result = nightly(
            roots=["RTY"],
            source="demo",
            as_of=AS_OF,
            data_dir=str(data_dir),
            methodologies=[VARIANT, "v1"],
        )
    # The v1 call of the first run is unchanged; the variant's call of the same session is new.
    assert (result.snapshots.written, result.snapshots.unchanged) == (1, 1)
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        calls = query(
            wh,
            "select methodology_version, version, horizon_sessions, snapshot_id from snapshots"
            " order by methodology_version",
        )
        published = query(wh, "select methodology_version, as_of from published_calls")
        configured = query(
            wh, "select methodology_version, published from methodologies order by 1"
        )
    assert calls.rows() == [
        ("v1", 1, 20, f"RTY/{AS_OF}/callbook/v1/demo/v1"),
        (VARIANT, 1, 10, f"RTY/{AS_OF}/callbook/{VARIANT}/demo/v1"),
    ]
    assert published.rows() == [(VARIANT, AS_OF)]
    assert configured.rows() == [("v1", False), (VARIANT, True)]
    # Only the published methodology's note is written, and it says which one it is.
    [report] = result.reports
    assert report.note_path.name == f"note-{VARIANT}-r1.md"
    assert VARIANT in report.note


def test_the_backfill_makes_every_methodology_for_the_same_sessions(data_dir: Path) -> None:
    with frozen_clock(NOW):
        result = backfill(
            roots=["RTY"],
            source="demo",
            start=date(2026, 9, 1),
            end=AS_OF,
            data_dir=str(data_dir),
            methodologies=["v1", VARIANT],
        )
    by_methodology = {r.methodology: r for r in result.roots}
    assert set(by_methodology) == {"v1", VARIANT}
    assert by_methodology["v1"].sessions == by_methodology[VARIANT].sessions > 50
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        sessions = query(
            wh,
            "select methodology_version, list(as_of order by as_of) as days from latest_snapshots"
            " group by 1 order by 1",
        )
    v1_days, variant_days = sessions["days"].to_list()
    assert v1_days == variant_days
