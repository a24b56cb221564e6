"""Every root of the registry runs a demo nightly end to end: its own calendar, contracts, tick
grid and price scale; validated, loaded, continuous series, calls of every methodology, notes.

A short history (the demo from 2024-01-02, calls once 250 sessions have passed) keeps it cheap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from flows.nightly import nightly
from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES
from pipeline.market.roots import builtin_registry
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.store import Warehouse

AS_OF = date(2025, 1, 31)
NOW = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
DEMO_START = date(2024, 1, 2)


@pytest.fixture(scope="module")
def every_root(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("every-root") / "data"
    roots = list(builtin_registry().names())
    with frozen_clock(NOW):
        result = nightly(
            roots=roots,
            source="demo",
            as_of=AS_OF,
            data_dir=str(data_dir),
            source_options={"demo_start": DEMO_START},
        )
    assert [s.root for s in result.ingest] == roots
    assert all(s.status == "ok" and s.quarantined == 0 for s in result.ingest), result.ingest
    return data_dir


def test_every_registry_root_loads_its_demo_bars_and_gets_the_days_calls(every_root: Path) -> None:
    registry = builtin_registry()
    with Warehouse.open(every_root / "warehouse.duckdb", read_only=True) as wh:
        bars = query(wh, "select root, contract, session_date, close from bars_current")
        calls = query(
            wh,
            "select root, as_of, methodology_version, contract, horizon_sessions, horizon_end"
            " from snapshots",
        )
    assert sorted(bars["root"].unique()) == sorted(registry.names())
    for root, spec in registry.specs.items():
        of_root = bars.filter(pl.col("root") == root)
        cal = spec.trading_calendar
        days = of_root["session_date"].unique().sort().to_list()
        assert days == cal.trade_dates(DEMO_START, AS_OF), root  # the root's own calendar
        months = {code[len(root)] for code in of_root["contract"].unique()}
        assert months <= set(spec.active), root  # its own listed (active) months
        steps = (of_root["close"] / spec.tick - (of_root["close"] / spec.tick).round(0)).abs()
        assert steps.max() < 1e-6, root  # on its own tick grid
        low, high = spec.price_range
        assert low <= of_root["close"].min() and of_root["close"].max() <= high, root
        made = calls.filter(pl.col("root") == root)
        assert sorted(made["methodology_version"]) == sorted(DEFAULT_METHODOLOGIES), root
        assert made["as_of"].unique().to_list() == [AS_OF], root
        for horizon, end in made.select("horizon_sessions", "horizon_end").iter_rows():
            assert end == cal.add_sessions(AS_OF, horizon), root  # on the root's own calendar
    for root in registry.names():
        assert (every_root / "reports" / root / "latest.md").is_file(), root


def test_a_treasury_note_is_written_in_32nds_and_corn_in_eighths(every_root: Path) -> None:
    zn = (every_root / "reports" / "ZN" / "latest.md").read_text()
    zc = (every_root / "reports" / "ZC" / "latest.md").read_text()
    assert "'" in zn.split("settlement ", 1)[1].split(")", 1)[0]  # e.g. 112'30
    assert "'" in zc.split("settlement ", 1)[1].split(")", 1)[0]  # e.g. 427'4
