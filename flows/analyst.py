"""Record an analyst's hand-written call as a snapshot and resolve it if its horizon has passed.

A plain service (no Prefect): `callbook calls add` calls it, and starts no Prefect server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows import clock
from flows.outcomes import append_outcomes_of
from flows.settings import Settings, code_version
from pipeline.analysis.assemble import snapshot_from_row
from pipeline.analysis.snapshot import Snapshot
from pipeline.audit.analyst import analyst_snapshot_rows, market_facts, parse_analyst_call
from pipeline.market.continuous import continuous_series
from warehouse.store import Warehouse


class NoBarsError(ValueError):
    """The call's root has no stored bars of the source it is resolved on."""


@dataclass(frozen=True)
class RecordedCall:
    snapshot: Snapshot
    written: bool  # False: an identical call was already stored
    resolved_now: bool  # its outcome was appended by this call
    outcome: dict[str, Any] | None  # the stored outcome row, once the horizon has passed


def record_analyst_call(path: Path, settings: Settings) -> RecordedCall:
    """Parse the call file (TOML or YAML), store it as an ``analyst`` snapshot on the bars of
    ``settings.source`` and append its outcome when its horizon has passed (idempotent)."""
    fmt = path.suffix.lower().lstrip(".")
    call = parse_analyst_call(path.read_text(encoding="utf-8"), fmt=fmt)
    with Warehouse.open(settings.warehouse_path) as wh:
        bars = wh.current_bars(call.root, source=settings.source)
        if bars.height == 0:
            raise NoBarsError(
                f"no {settings.source} bars for {call.root}: run `callbook nightly` first"
            )
        series = continuous_series(bars)
        rows = analyst_snapshot_rows(call, market_facts(series, call.as_of))
        written = wh.write_snapshots(
            rows,
            kind="analyst",
            flow_run_id=None,
            code_version=code_version(),
            created_at=clock.utcnow(),
        )
        stored = wh.snapshot_rows(call.root, author=call.author, as_of=call.as_of)
        resolved = append_outcomes_of(wh, stored, series)
        outcomes = wh.query(
            "select * from outcomes where snapshot_id = $id", {"id": stored["snapshot_id"][0]}
        )
    return RecordedCall(
        snapshot=snapshot_from_row(stored.row(0, named=True)),
        written=bool(written.written),
        resolved_now=bool(resolved),
        outcome=outcomes.row(0, named=True) if outcomes.height else None,
    )
