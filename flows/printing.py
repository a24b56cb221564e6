"""How each command's result reads on the terminal: the order of its parts, their titles and
the words around the tables. Rendering is pipeline/report's (notes, tables, audit views);
putting lines on the terminal is flows/console.py's.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from flows import console
from flows.console import WIDTH

#: Shown before a title when the warehouse holds synthetic prices.
DEMO_TITLE = "DEMO DATA (synthetic prices) — "

if TYPE_CHECKING:
    from flows.audit import Audit, Quality
    from flows.nightly import NightlyResult
    from flows.reads import CallList, ShownCall, Status


def nightly(result: NightlyResult) -> None:
    """The run's summary table, the site it updated, and RTY's note (else the first root's)."""
    from flows.nightly import summary_markdown

    console.print_markdown(
        summary_markdown(
            result.ingest, as_of=result.as_of, source=result.source, reports=result.reports
        )
    )
    if result.site is not None:
        console.say(result.site.summary())
    featured = next((r for r in result.reports if r.root == "RTY"), None) or next(
        iter(result.reports), None
    )
    if featured is not None:
        console.console().rule(f"{featured.root} {featured.as_of} — {featured.note_path.name}")
        console.print_markdown(featured.note)
        console.say(f"chart: {featured.chart_path}")
    for s in result.failed:
        console.warn(f"callbook: {s.root} {s.status}: {s.message}")


def resolved(written: Mapping[str, int], *, roots: Sequence[str], source: str) -> None:
    """Outcomes appended per root; a root without bars says so rather than nothing."""
    console.say(
        *(
            f"{root}: {written[root]:,} outcomes appended"
            if root in written
            else f"{root}: no {source} bars stored, nothing to resolve (run `callbook nightly`)"
            for root in roots
        )
    )


def status(status: Status) -> None:
    """Two tables laid out for 100 columns (warehouse/sql/statements/status_*.sql)."""
    demo = DEMO_TITLE if status.demo else ""
    title = f"{demo}bars in {status.path}"
    console.print_frame(status.bars, title=title, limit=None, wrap=True, laid_out_for=WIDTH)
    published = f"; published: callbook {status.published})" if status.published else ")"
    console.print_frame(
        status.calls,
        title=f"calls (versions: rows incl. revisions; written: UTC{published}",
        limit=None,
        wrap=True,
        laid_out_for=WIDTH,
    )


def shown_call(shown: ShownCall, *, fmt: str) -> None:
    """The call as its daily note, its status so far, and where its chart is."""
    from pipeline.analysis.assemble import snapshot_from_row
    from pipeline.report.note import render_note

    previous = snapshot_from_row(shown.previous) if shown.previous else None
    chart = str(shown.chart) if shown.chart else None
    note = render_note(
        snapshot_from_row(shown.row), chart_file=chart, demo=shown.demo, previous=previous
    )
    status = f"\n**Status so far:** {shown.status}\n" if shown.status else ""
    if fmt == "markdown":
        sys.stdout.write(note + "\n" + status)
    else:
        console.print_markdown(note + "\n" + status)
    root, as_of = shown.row["root"], shown.row["as_of"]
    console.say(
        f"chart: {chart}"
        if chart
        else f"no chart drawn yet: `callbook show {root} --as-of {as_of} --chart` draws it"
    )


def call_list(found: CallList, *, fmt: str) -> None:
    from pipeline.report.table import calls_list_view

    title = f"calls{' on ' + found.root if found.root else ''}, newest first"
    if found.demo:  # outcomes too were resolved on the synthetic bars
        title = f"{DEMO_TITLE}{title}"
    view = calls_list_view(found.calls, with_root=found.root is None)
    console.print_frame(view, title=title, fmt=fmt, limit=None, laid_out_for=WIDTH)


def audit(report: Audit) -> None:
    """What is scored and left out, open calls, then the scoreboard and one calibration table
    per group, each a table that fits the width."""
    from pipeline.report import audit as text

    if report.demo:
        console.say(
            "DEMO DATA — these calls were resolved on synthetic demo bars, not market data."
        )
    console.say(report.header[0], *(f"  {line}" for line in report.header[1:]), indent="    ")
    if report.left_out.height:
        console.print_table(report.left_out.iter_rows(named=True), title="Left out of the scores")
    if report.open_calls.height:
        title = "Open calls — status so far (no score until the horizon ends)"
        console.print_table(report.open_calls.iter_rows(named=True), title=title)
    if report.board is None:
        if report.scored_calls:
            console.say(
                "nothing left to score: every resolved call selected is recorded late or in its "
                "methodology's tuning period (--include-late / --include-in-sample score them, "
                "as groups of their own)"
            )
        return
    console.say(text.SCOREBOARD_INTRO)
    console.print_table(report.board.scores.iter_rows(named=True), title="Scoreboard")
    console.print_table(report.board.details.iter_rows(named=True), title="Calls scored")
    console.say(*report.board.notes)
    console.say(text.CALIBRATION_INTRO)
    for group, view in report.calibration:
        console.print_frame(view, title=group, limit=None, wrap=True)
    if report.charts:
        console.say(f"reliability charts ({len(report.charts)}), in the folder")
        console.say(f"  {report.charts[0].parent}", *(f"  {path.name}" for path in report.charts))


def quality(report: Quality) -> None:
    from pipeline.report import audit as text

    console.say(text.QUALITY_INTRO)
    for root, by_methodology in report.by_root:
        console.print_frame(by_methodology, title=root, wrap=True)
    if report.coherence:
        checked, kept, seconds = report.coherence_checked
        console.say(
            text.COHERENCE_INTRO,
            f"{checked:,} calls checked now, {kept:,} kept from an earlier run ({seconds:.1f} s).",
        )
        for root, by_methodology in report.coherence:
            console.print_frame(by_methodology, title=f"{root} — coherence", wrap=True)
    if report.paired.height:
        console.say(text.PAIRED_INTRO)
        console.print_frame(report.paired, wrap=True)
