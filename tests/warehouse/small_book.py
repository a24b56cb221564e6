"""A small but real data directory: lake files, a warehouse with bars, snapshots and outcomes.

Built without Prefect or Great Expectations (the flows' own warehouse and lake calls, in the
order the nightly run makes them), so the sandbox and verify tests get a realistic data dir in
seconds: demo bars of RTY, ES and NQ for 2024-01-02..2026-06-30 landed in the lake and loaded,
point-in-time model calls for every session with a call, the seed analyst call, and the outcomes
of every call whose horizon has passed.

Times are fixed (UTC): bars are loaded at LOADED_AT, calls written at ANALYSED_AT, outcomes
resolved at RESOLVED_AT, so "the bars as known when a call was made" is a real query.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from pipeline.analysis.methodology import get as get_methodology
from pipeline.audit.analyst import analyst_snapshot_rows, market_facts, parse_analyst_call
from pipeline.audit.outcomes import resolve_outcomes
from pipeline.market.continuous import continuous_series_and_rolls
from pipeline.quality.result import ValidationResult, empty_findings
from pipeline.sources.demo import DemoSource
from warehouse.lake import land_batch
from warehouse.store import Warehouse

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

REPO = Path(__file__).resolve().parents[2]
SEED_CALL = REPO / "pipeline" / "audit" / "examples" / "rty-2026-02-04-seed.toml"
ROOTS = ("RTY", "ES", "NQ")
FIRST_SESSION, LAST_SESSION = date(2024, 1, 2), date(2026, 6, 30)
LOADED_AT = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
ANALYSED_AT = LOADED_AT + timedelta(hours=1)
RESOLVED_AT = LOADED_AT + timedelta(hours=2)


def build_small_data_dir(data_dir: Path) -> Path:
    """Fill ``data_dir`` (lake/ and warehouse.duckdb); returns the warehouse path."""
    path = data_dir / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        source = DemoSource()
        for root in ROOTS:
            batch = source.fetch(root, start=FIRST_SESSION, end=LAST_SESSION, fetched_at=LOADED_AT)
            landed = land_batch(data_dir, batch)
            duplicate = wh.record_batch(
                batch, lake_path=str(landed.path), run_id=None, recorded_at=LOADED_AT
            )
            passed = ValidationResult(
                status="passed",
                clean=batch.bars,
                findings=empty_findings(),
                suite_name="test",
                suite_version="1",
            )
            wh.load_batch(batch, passed, run_id=None, recorded_at=LOADED_AT, duplicate=duplicate)
        series = {
            root: continuous_series_and_rolls(wh.current_bars(root, source="demo"))[0]
            for root in ROOTS
        }
        for root in ROOTS:
            wh.write_snapshots(
                analyse(series, root, source="demo").snapshots,
                kind="backfill",
                flow_run_id=None,
                code_version="test",
                created_at=ANALYSED_AT,
            )
        call = parse_analyst_call(SEED_CALL.read_text(encoding="utf-8"), fmt="toml")
        wh.write_snapshots(
            analyst_snapshot_rows(call, market_facts(series["RTY"], call.as_of)).with_columns(
                resolved_on_source=pl.lit("demo")
            ),
            kind="analyst",
            flow_run_id=None,
            code_version="test",
            created_at=ANALYSED_AT,
        )
        for root in ROOTS:
            pending = wh.unresolved_snapshots(root, source="demo", through=LAST_SESSION)
            for _, group in pending.group_by("horizon_sessions"):
                wh.append_outcomes(
                    resolve_outcomes(group, series[root]),
                    series_through=LAST_SESSION,
                    recorded_at=RESOLVED_AT,
                )
    return path
