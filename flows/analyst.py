"""Record an analyst's hand-written call as a snapshot and resolve it if its horizon has passed.

A plain service (no Prefect): `callbook calls add` calls it. The call's market facts come from,
and the call is resolved on, the series of the source's bars built exactly as the model's
(:func:`flows.series.root_series`, with the observed rolls of a front-month feed); the source is
stored with the call (``resolved_on_source``). A call stored after the next session opened is
``recorded_late`` (pipeline.audit.analyst.recorded_late): kept, shown, left out of scoreboards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from flows import clock
from flows.outcomes import append_outcomes_of, progress_of
from flows.series import root_series
from flows.settings import Settings, code_version, load_registry_from_env
from flows.writer import open_for_writing
from pipeline.analysis.assemble import snapshot_from_row
from pipeline.analysis.methodology import ANALYST_METHODOLOGY
from pipeline.analysis.snapshot import Snapshot
from pipeline.audit.analyst import (
    AnalystCallError,
    analyst_snapshot_rows,
    load_analyst_call,
    market_facts,
)


class NoBarsError(ValueError):
    """The call's root has no stored bars of the source it is resolved on."""


@dataclass(frozen=True)
class RecordedCall:
    snapshot: Snapshot
    written: bool  # False: an identical call was already stored
    recorded_late: bool  # stored after the next session opened: out of scoreboards by default
    resolved_on_source: str
    resolved_now: bool  # its outcome was appended by this call
    outcome: dict[str, Any] | None  # the stored outcome row, once the horizon has passed
    progress: dict[str, Any] | None  # its status so far while the horizon is not over

    def lines(self) -> list[str]:
        """What `callbook calls add` says: the call, whether it was new, late, and its outcome
        or status so far."""
        from pipeline.report.note import render_summary_line

        state = "recorded" if self.written else "already recorded (identical content)"
        lines = [
            f"{render_summary_line(self.snapshot)} — {state} on {self.resolved_on_source} bars"
        ]
        if self.resolved_on_source == "demo":
            lines.insert(0, "DEMO DATA: resolved on synthetic demo bars")
        if self.recorded_late:
            lines.append(
                f"recorded late: stored after the session following {self.snapshot.as_of} had "
                "opened (prices after the call existed); kept, but left out of scoreboards "
                "unless `callbook audit --include-late`"
            )
        if (o := self.outcome) is not None:
            lines.append(
                f"resolved{' now' if self.resolved_now else ''}: {o['outcome']} on "
                f"{o['resolved_session']} (RPS {o['rps']:.3f}, Brier {o['brier']:.3f}, log "
                f"{o['log_score']:.3f}; line held: {o['line_held']}, trend right: "
                f"{o['trend_correct']})"
            )
            return lines
        if self.progress is not None:
            lines.append(f"status so far: {self.progress['summary']}")
        lines.append(
            f"its horizon ends {self.snapshot.horizon_end}: it will be resolved after that session"
        )
        return lines


def record_analyst_call(path: Path, settings: Settings) -> RecordedCall:
    """Parse the call file (TOML or YAML), store it as an ``analyst`` snapshot on the bars of
    ``settings.source`` and append its outcome when its horizon has passed (idempotent). A call
    already stored on another source's bars is refused (one call, one series)."""
    call = load_analyst_call(path, load_registry_from_env())
    source = settings.source
    with open_for_writing(settings) as wh:
        before = wh.snapshot_rows(
            call.root, author=call.author, as_of=call.as_of, methodology=ANALYST_METHODOLOGY
        )
        if before.height and before["resolved_on_source"][0] not in (source, None):
            raise AnalystCallError(
                f"{call.root} {call.as_of} {call.author}: already recorded on "
                f"{before['resolved_on_source'][0]} bars; a call is resolved on one source only"
            )
        series = root_series(wh, call.root, source=source)
        if series is None:
            raise NoBarsError(f"no {source} bars for {call.root}: run `callbook nightly` first")
        rows = analyst_snapshot_rows(call, market_facts(series, call.as_of)).with_columns(
            pl.lit(source).alias("resolved_on_source")
        )
        written = wh.write_snapshots(
            rows,
            kind="analyst",
            flow_run_id=None,
            code_version=code_version(),
            created_at=clock.utcnow(),
        )
        stored = wh.snapshot_rows(
            call.root, author=call.author, as_of=call.as_of, methodology=ANALYST_METHODOLOGY
        )
        mine = stored.filter(pl.col("resolved_on_source") == source)
        resolved = append_outcomes_of(wh, mine, series)
        snapshot_id = stored["snapshot_id"][0]
        outcomes = wh.outcome_rows(snapshot_id)
        progress = pl.DataFrame()
        if outcomes.height == 0:
            progress = progress_of(mine, series)
            wh.append_progress(progress, source=source, recorded_at=clock.utcnow())
    row = stored.row(0, named=True)
    return RecordedCall(
        snapshot=snapshot_from_row(row),
        written=bool(written.written),
        recorded_late=bool(row["recorded_late"]),
        resolved_on_source=row["resolved_on_source"],
        resolved_now=bool(resolved),
        outcome=outcomes.row(0, named=True) if outcomes.height else None,
        progress=progress.row(0, named=True) if progress.height else None,
    )
