"""`callbook audit`: the scoreboard and calibration of stored calls, and their reliability charts.

A plain service (no Prefect): it reads the scored calls from the published replica, selects what
an honest scoreboard counts (pipeline.audit.calibration.select_calls), scores them, reads the
status so far of open calls, and writes one reliability chart per group under
``<data dir>/reports/audit/``. The command prints the result (pipeline/report/audit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from flows.outcomes import open_call_status
from flows.reads import open_reader
from flows.settings import Settings
from pipeline.audit.calibration import (
    FLAGS,
    GROUP,
    KIND_MEANINGS,
    calibration_table,
    scoreboard,
    select_calls,
)
from pipeline.audit.quality import QualityParams
from pipeline.report import audit as text
from warehouse.reports import REPORTS_DIR, write_atomic


@dataclass(frozen=True)
class Audit:
    """What `callbook audit` prints, and the charts it wrote."""

    demo: bool
    header: list[str]
    left_out: pl.DataFrame  # pipeline.report.audit.left_out_view
    open_calls: pl.DataFrame  # pipeline.report.audit.open_calls_view (no rows: none shown)
    scored_calls: int  # resolved calls selected, before leaving any out
    board: text.ScoreboardText | None  # None: nothing left to score
    calibration: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)


def audit(
    settings: Settings,
    *,
    root: str | None,
    author: str | None,
    kind: str | None,
    include_late: bool = False,
    include_in_sample: bool = False,
    boot: int = 2000,
) -> Audit:
    """Score the resolved calls selected (None: any) and write their reliability charts. Open
    calls' status so far is read too when an analyst is selected or nothing is resolved yet."""
    with open_reader(settings) as wh:
        demo = "demo" in wh.bar_sources()
        scored = wh.scored_calls(root=root, author=author, kind=kind)
        tuning = wh.methodologies()
        show_open = author not in (None, "callbook") or scored.height == 0
        open_calls = (
            open_call_status(wh, root=root, author=author, kind=kind)
            if show_open
            else pl.DataFrame()
        )
    if scored.height == 0 and open_calls.height == 0:
        raise NothingToAudit(
            f"no resolved calls{_selected(root, author, kind)} to audit yet: run `callbook "
            "backfill` (history) or wait until the horizon of the nightly calls has passed "
            "(`callbook resolve`)"
        )
    selection = select_calls(scored, include_late=include_late, include_tuning=include_in_sample)
    result = Audit(
        demo=demo,
        header=text.header_lines(scored, tuning, KIND_MEANINGS),
        left_out=text.left_out_view(selection.left_out),
        open_calls=text.open_calls_view(open_calls),
        scored_calls=scored.height,
        board=None,
    )
    if selection.scored.height == 0:
        return result
    calibration = calibration_table(selection.scored)
    charts = _write_charts(calibration, settings.data_dir / REPORTS_DIR / "audit", demo=demo)
    return replace(
        result,
        board=text.scoreboard_text(scoreboard(selection.scored, n_boot=boot)),
        calibration=list(text.calibration_views(calibration)),
        charts=charts,
    )


class NothingToAudit(LookupError):
    """No resolved call and no open call matches the selection."""


def _selected(root: str | None, author: str | None, kind: str | None) -> str:
    """' of RTY by desk (kind analyst)': what was asked for, for a message."""
    return (
        (f" of {root}" if root else "")
        + (f" by {author}" if author else "")
        + (f" (kind {kind})" if kind else "")
    )


def _write_charts(calibration: pl.DataFrame, out_dir: Path, *, demo: bool) -> list[Path]:
    """One reliability chart (PNG) per group of the calibration table."""
    from pipeline.report.chart import render_reliability_chart

    paths = []
    for _, group in calibration.group_by([*GROUP, FLAGS], maintain_order=True):
        first = group.row(0, named=True)
        path = out_dir / f"{text.chart_name(first)}.png"
        chart = render_reliability_chart(
            group.rename({"frequency_low": "low", "frequency_high": "high"}),
            title=f"Reliability: {text.group_label(first)}",
            demo=demo,
        )
        write_atomic(path, chart)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Quality:
    """What `callbook audit --quality` prints."""

    by_root: list[tuple[str, pl.DataFrame]]  # per root: the properties by methodology
    paired: pl.DataFrame  # pipeline.report.audit.paired_view (no rows: no pair to compare)
    #: per root: the coherence checker's figures by methodology (pipeline.report.audit.
    #: coherence_views), and how many calls were checked now and kept from an earlier run
    coherence: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    coherence_checked: tuple[int, int, float] = (0, 0, 0.0)  # checked, kept, seconds


class NothingToJudge(LookupError):
    """No stored model calls of the source to judge."""


def quality(
    settings: Settings,
    *,
    root: str | None,
    boot: int,
    progress: Callable[[str], None] | None = None,
) -> Quality:
    """The call quality of the stored model calls of ``settings.source`` (one root or all), and
    their coherence (flows.coherence; ``progress`` is told each root and methodology checked)."""
    from flows.coherence import coherence_report
    from flows.quality import quality_report
    from pipeline.audit.quality import QUALITY_COLUMNS, transposed_quality

    with open_reader(settings) as wh:
        report = quality_report(
            wh,
            source=settings.source,
            roots=[root] if root else None,
            params=QualityParams(n_boot=boot),
            registry=settings.registry,
            compared=settings.methodologies,
        )
        coherence = coherence_report(
            wh,
            source=settings.source,
            data_dir=settings.data_dir,
            roots=[root] if root else None,
            progress=progress,
        )
    if report.table.height == 0:
        raise NothingToJudge(
            f"no model calls{_selected(root, None, None)} of source {settings.source} to judge: run `callbook backfill`"
            + ("" if settings.source != "demo" else " (or name the source: --source file|yahoo)")
        )
    return Quality(
        by_root=list(transposed_quality(report.table, QUALITY_COLUMNS)),
        paired=text.paired_view(report.scores) if report.scores.height else pl.DataFrame(),
        coherence=text.coherence_views(coherence.table, coherence.violations),
        coherence_checked=(coherence.checked, coherence.kept, coherence.seconds),
    )
