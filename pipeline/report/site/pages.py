"""The pages of the static site: data in, HTML text out (Jinja2 templates in ``templates/``).

Pure: every input is a frame, a dict or a Snapshot handed in by flows/site.py; nothing here
reads the warehouse, the clock or the file system (beyond the package's own templates).
Numbers are formatted by meaning (prices on the root's tick grid, probabilities as whole
percents that sum to 100, scores to 3-4 decimals) and every page of a warehouse holding demo bars
carries the DEMO DATA label. An open call (horizon not over) is shown with its status so far and
never with a score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.analysis.assemble import CONTENT_COLUMNS
from pipeline.analysis.snapshot import MODEL_AUTHOR, SCENARIO_TITLES, SCENARIOS, Snapshot
from pipeline.market.roots import FALLBACK_TICK, builtin_registry
from pipeline.report import table as cells
from pipeline.report.format import format_number, format_price, format_zone, whole_percents
from pipeline.report.note import (
    DEMO_LABEL,
    LEVEL_TITLES,
    TAKEAWAY_HEADING,
    change_words,
    level_reason,
    render_note,
    scenario_headings,
)
from pipeline.report.site import paths, svg
from pipeline.report.site.series import ChartWindow

TEMPLATES = Path(__file__).parent / "templates"
ASSET_DIR = Path(__file__).parent / "assets"
ASSET_FILES: tuple[str, ...] = ("site.css", "site.js")

#: Columns of a stored call that are provenance, not content (shown in the versions table).
PROVENANCE_COLUMNS = frozenset(
    {
        "snapshot_id", "version", "supersedes_version", "kind", "content_hash", "flow_run_id",
        "code_version", "created_at",
    }
)  # fmt: skip
#: Fields compared between two versions of one call ("what changed").
VERSION_FIELDS: tuple[tuple[str, str], ...] = (
    ("primary_trend", "trend"),
    ("perspective", "perspective"),
    ("line_low", "line in the sand"),
    ("line_high", "line in the sand"),
    ("bias_low", "bias-defining level"),
    ("bias_high", "bias-defining level"),
    ("ext_low", "extension"),
    ("ext_high", "extension"),
    ("deep_low", "deeper level"),
    ("deep_high", "deeper level"),
    ("risk_rule", "risk rule"),
    ("p_bear", "probabilities"),
    ("p_sideways", "probabilities"),
    ("p_bull", "probabilities"),
)
OUTCOME_WORDS: dict[str, str] = {
    "bull": "acceptance above the bull trigger",
    "bear": "acceptance below the bear trigger",
    "sideways": "neither trigger accepted within the horizon",
}
_HEADING = re.compile(r"<(/?)h([1-5])>")


@dataclass(frozen=True)
class SiteContext:
    """What every page shows: the DEMO label, the navigation, when and from what it was built."""

    demo: bool
    roots: tuple[str, ...]
    built_at: str  # UTC, e.g. "2026-11-30 19:40Z"
    code_version: str
    methodologies: tuple[str, ...] = ()  # published first
    published: str | None = None

    @property
    def identity(self) -> tuple[object, ...]:
        """What every page shows that a rebuild must notice (not when or by what it was built)."""
        return (self.demo, self.roots, self.methodologies, self.published)


@dataclass(frozen=True)
class CallPage:
    """Everything one call's page is drawn from."""

    path: str
    snapshot: Snapshot  # the current version
    versions: Sequence[Mapping[str, Any]]  # every stored version (wide rows), oldest first
    window: ChartWindow | None  # the chart's bars, as known when the call was made
    known_at: datetime | None  # when those bars were known (the call's bar vintage)
    outcome: Mapping[str, Any] | None = None  # the outcome row, once the horizon has passed
    ref_rps: float | None = None  # the climatology reference's RPS for this call
    in_tuning_period: bool | None = None  # made on data its methodology was tuned on
    recorded_late: bool | None = None  # an analyst's call stored after later prices existed
    progress: Mapping[str, Any] | None = None  # status so far of an open call
    previous: Snapshot | None = None  # the same series' call of the previous session
    same_day: Sequence[Mapping[str, Any]] = ()  # other calls on this root and day (index rows)
    neighbours: Mapping[str, str | None] = field(default_factory=dict)  # prev/next: path
    published: bool = False


# --- environment ------------------------------------------------------------------------------


@cache
def environment() -> Any:
    """The Jinja2 environment (autoescaping, templates from the package)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(("html", "j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        price=_price_filter,
        zone=_zone_filter,
        num=lambda v, d=1, signed=False: format_number(v, decimals=d, signed=signed),
        score=lambda v: "" if v is None else f"{v:.4f}",
        prob=lambda v: "" if v is None else f"{v:.3f}",
        pct=lambda v: "" if v is None else f"{100 * v:.0f} %",
        signed=lambda v, d=3: "" if v is None else f"{v:+.{d}f}",
        count=lambda v: "" if v is None else f"{v:,}",
        cell=lambda v, name="": cells.format_cell(v, kind=cells.column_kind(name)),
        utc=_utc,
    )
    return env


def _render(template: str, page: str, ctx: SiteContext, **values: Any) -> str:
    def link(target: str) -> str:
        return paths.relative(page, target)

    return str(
        environment()
        .get_template(template)
        .render(
            ctx=ctx,
            page=page,
            link=link,
            paths=paths,
            demo_label=DEMO_LABEL,
            **values,
        )
    )


def _price_filter(value: float | None, root: str) -> str:
    if value is None or not math.isfinite(value):
        return ""
    spec = builtin_registry().get(root)
    return format_price(value, tick=spec.tick, notation=spec.notation) if spec else f"{value:,.2f}"


def _zone_filter(low: float | None, high: float | None, root: str) -> str:
    if low is None or high is None:
        return ""
    spec = builtin_registry().get(root)
    if spec is None:
        return f"{low:,.2f}–{high:,.2f}"
    return format_zone(low, high, tick=spec.tick, notation=spec.notation)


def _name(root: str) -> str:
    spec = builtin_registry().get(root)
    return spec.name if spec is not None else root


def _utc(value: datetime | None) -> str:
    return "" if value is None else cells.format_cell(value)[:-4] + "Z"


def asset_texts() -> dict[str, str]:
    """The stylesheet and the script, shipped next to the pages (assets/)."""
    return {name: (ASSET_DIR / name).read_text(encoding="utf-8") for name in ASSET_FILES}


def note_html(snapshot: Snapshot, *, demo: bool, previous: Snapshot | None) -> str:
    """The daily note of a call as HTML (CommonMark by cmark; raw HTML in the text is dropped),
    its headings one level down so the page keeps a single h1."""
    import cmarkgfm

    markdown = render_note(snapshot, chart_file=None, demo=demo, previous=previous)
    html = cmarkgfm.markdown_to_html(markdown)
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}>", html)


def note_takeaway(snapshot: Snapshot, *, demo: bool) -> str:
    """The note's Final Takeaway paragraph (plain text): the call in the note's own words."""
    markdown = render_note(snapshot, chart_file=None, demo=demo)
    _, found, rest = markdown.partition(f"{TAKEAWAY_HEADING}\n\n")
    return rest.split("\n\n", 1)[0].strip() if found else ""


# --- shared pieces ----------------------------------------------------------------------------


def probability_parts(
    p_bull: Any, p_sideways: Any, p_bear: Any, *, titles: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The scenario probabilities as whole percents summing to 100, bull first, for a bar.
    ``titles``: the call's own scenario names (:func:`scenario_titles`), else the generic ones.

    >>> [(p["name"], p["percent"]) for p in probability_parts(0.4, 0.4, 0.2)]
    [('bull', 40), ('sideways', 40), ('bear', 20)]
    """
    values = [p_bull, p_sideways, p_bear]
    if any(v is None for v in values):
        return []
    percents = whole_percents(values)
    names = titles or SCENARIO_TITLES
    return [
        {"name": name, "title": names[name], "percent": pct, "p": p}
        for name, pct, p in zip(("bull", "sideways", "bear"), percents, values, strict=True)
    ]


def scenario_titles(s: Snapshot) -> dict[str, str]:
    """The scenario names the call's note uses (:func:`pipeline.report.note.scenario_headings`:
    v2 names them by the call's orientation, a bull scenario of a down call is a reversal; v1
    and analysts' notes use the generic names), as titles.

    >>> from pipeline.analysis.snapshot import example_snapshot
    >>> scenario_titles(example_snapshot())["bull"]
    'Bullish continuation'
    """
    return {name: heading.capitalize() for name, heading in scenario_headings(s).items()}


def call_label(row: Mapping[str, Any]) -> str:
    """``callbook v1`` for the model's calls, the analyst's name otherwise."""
    if row["author"] == MODEL_AUTHOR:
        return f"{row['author']} {row['methodology_version']}"
    return str(row["author"])


def index_row_view(row: Mapping[str, Any], page: str, *, published: str | None) -> dict[str, Any]:
    """An index row (call_index) as a list entry: labels, link (its page, or its row in its year
    page: :func:`paths.call_target`), its row's anchor, outcome or open."""
    key = (row["as_of"], row["author"], row["methodology_version"], row["source"])
    target = paths.call_target(row["root"], *key, published=published)
    return {
        **row,
        "by": call_label(row),
        "anchor": paths.call_anchor(*key),
        "href": paths.relative(page, target),
        "parts": probability_parts(row.get("p_bull"), row.get("p_sideways"), row.get("p_bear")),
        "resolved": row.get("outcome") is not None,
    }


# --- call page --------------------------------------------------------------------------------


def render_call_page(call: CallPage, ctx: SiteContext) -> str:
    s = call.snapshot
    known_at = _utc(call.known_at) if call.known_at else ""
    chart = svg.call_chart(s, call.window, demo=ctx.demo, known_at=known_at)
    latest = call.versions[-1] if call.versions else {}
    extra = _extra_facts(latest)
    titles = scenario_titles(s)
    return _render(
        "call.html.j2",
        call.path,
        ctx,
        s=s,
        call=call,
        kind=latest.get("kind", ""),
        label=call_label({"author": s.author, "methodology_version": s.methodology_version}),
        chart=chart,
        known_at=known_at,
        parts=probability_parts(
            *(_probability(s, n) for n in ("bull", "sideways", "bear")), titles=titles
        ),
        levels=level_views(s),
        outcome=_outcome_view(s, call.outcome, call.ref_rps, titles),
        progress=_progress_view(call.progress, titles),
        versions=_versions_view(call.versions),
        same_day=[index_row_view(r, call.path, published=ctx.published) for r in call.same_day],
        note=note_html(s, demo=ctx.demo, previous=call.previous),
        extra=extra,
        neighbours={
            side: paths.relative(call.path, target)
            if (target := call.neighbours.get(side))
            else None
            for side in ("previous", "next")
        },
        root_href=paths.relative(call.path, paths.root_path(s.root)),
        year_href=paths.relative(call.path, paths.year_path(s.root, s.as_of.year)),
    )


def _probability(s: Snapshot, name: str) -> float | None:
    found = next((sc for sc in s.scenarios if sc.name == name), None)
    return None if found is None else found.probability


def _outcome_view(
    s: Snapshot,
    outcome: Mapping[str, Any] | None,
    ref_rps: float | None,
    titles: Mapping[str, str],
) -> dict[str, Any] | None:
    if outcome is None:
        return None
    name = outcome["outcome"]
    forecast = _probability(s, name)
    return {
        **outcome,
        "title": titles.get(name, name),
        "how": OUTCOME_WORDS.get(name, ""),
        "forecast": forecast,
        "ref_rps": ref_rps,
        "beat_reference": None if ref_rps is None else outcome["rps"] < ref_rps,
    }


def _progress_view(
    progress: Mapping[str, Any] | None, titles: Mapping[str, str]
) -> dict[str, Any] | None:
    """An open call's status so far (the ``open_calls`` view), with the settled scenario named
    when an acceptance already decided it (it is still scored only at the horizon's end)."""
    if progress is None:
        return None
    status = progress.get("status")
    settled = status if status in ("bull", "bear") else None
    return {
        **progress,
        "settled": settled,
        "settled_title": titles.get(settled or "", ""),
        "status_so_far": progress.get("status_so_far") or progress.get("summary") or "",
    }


def _versions_view(versions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    previous: Mapping[str, Any] | None = None
    for row in versions:
        changes: list[str] = []
        if previous is not None:
            seen = set()
            for column, label in VERSION_FIELDS:
                if row.get(column) != previous.get(column) and label not in seen:
                    seen.add(label)
                    changes.append(label)
            if row.get("params_hash") != previous.get("params_hash"):
                changes.append("methodology parameters")
            elif row.get("input_fingerprint") != previous.get("input_fingerprint"):
                changes.append("input bars (a revision)")
        out.append(
            {
                **row,
                "changes": changes,
                "hash": (row.get("content_hash") or "")[:12],
            }
        )
        previous = row
    return out


def level_views(s: Snapshot) -> list[dict[str, Any]]:
    """The call's levels for a table: title, the Level, and (v2) why it is there, since when
    and why it changed this session, in the note's words."""
    return [
        {
            "title": LEVEL_TITLES.get(lv.kind, lv.kind),
            "level": lv,
            "reason": level_reason(s, lv),
            "since": lv.since,
            "change": change_words(s, lv.change),
        }
        for lv in s.levels
    ]


_NOT_EXTRA = frozenset(CONTENT_COLUMNS) | PROVENANCE_COLUMNS
_column_kind = cache(cells.column_kind)  # a page asks for the same few dozen names

#: Stored per-level facts shown in the levels table rather than among the further facts.
_LEVEL_FACT = re.compile(r"^(line|bias|ext|deep)_(reason|members|change|since)$")


def _extra_facts(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Facts a methodology stores beyond v1's columns (e.g. v2's regime measurements), when
    present; the level reasons are in the levels table."""
    return [
        (name, cells.format_cell(value, kind=_column_kind(name)))
        for name, value in row.items()
        if name not in _NOT_EXTRA
        and not _LEVEL_FACT.match(name)
        and value is not None
        and value != ""
    ]


# --- home ---------------------------------------------------------------------------------------


def render_home(
    ctx: SiteContext,
    *,
    latest: Sequence[Mapping[str, Any]],
    snapshots: Mapping[str, Snapshot],
    status: pl.DataFrame,
    sparklines: Mapping[str, str],
    last_completed: date,
    sessions_behind: Mapping[str, int],
) -> str:
    """Per root the latest published call (and the other methodologies' and analysts' latest),
    with run status and data freshness. ``latest``: index rows of the latest call per root,
    author, methodology and source; ``snapshots``: snapshot_id -> Snapshot of the published ones."""
    page = paths.HOME
    cards = []
    for root in ctx.roots:
        rows = [r for r in latest if r["root"] == root]
        if not rows:
            continue
        featured = next(
            (
                r
                for r in rows
                if r["author"] == MODEL_AUTHOR and r["methodology_version"] == ctx.published
            ),
            rows[0],
        )
        s = snapshots.get(featured["snapshot_id"])
        call = index_row_view(featured, page, published=ctx.published)
        if s is not None:
            call["parts"] = probability_parts(
                *(_probability(s, n) for n in ("bull", "sideways", "bear")),
                titles=scenario_titles(s),
            )
        cards.append(
            {
                "root": root,
                "name": _name(root),
                "call": call,
                "takeaway": "" if s is None else note_takeaway(s, demo=ctx.demo),
                "snapshot": s,
                "levels": [] if s is None else level_views(s),
                "others": [
                    index_row_view(r, page, published=ctx.published)
                    for r in rows
                    if r is not featured
                ],
                "spark": sparklines.get(root, ""),
                "root_href": paths.relative(page, paths.root_path(root)),
            }
        )
    return _render(
        "home.html.j2",
        page,
        ctx,
        cards=cards,
        status=[
            {**r, "behind": sessions_behind.get(r["root"])} for r in status.iter_rows(named=True)
        ],
        last_completed=last_completed,
    )


# --- root and year pages ------------------------------------------------------------------------


def render_root_page(
    ctx: SiteContext,
    root: str,
    *,
    timelines: Sequence[Mapping[str, Any]],
    years: Sequence[Mapping[str, Any]],
    recent: Sequence[Mapping[str, Any]],
) -> str:
    """A root's call history: one timeline per methodology/author (published first), the years
    with their counts and links, and the most recent calls."""
    page = paths.root_path(root)
    return _render(
        "root.html.j2",
        page,
        ctx,
        root=root,
        name=_name(root),
        timelines=timelines,
        years=[
            {**y, "href": paths.relative(page, paths.year_path(root, y["year"]))} for y in years
        ],
        recent=[index_row_view(r, page, published=ctx.published) for r in recent],
        filters=_filters(recent),
    )


def render_year_page(
    ctx: SiteContext,
    root: str,
    year: int,
    *,
    timelines: Sequence[Mapping[str, Any]],
    calls: Sequence[Mapping[str, Any]],
    years: Sequence[int],
) -> str:
    """Every call of one root in one year, linked, with filters by methodology, kind and author."""
    page = paths.year_path(root, year)
    return _render(
        "year.html.j2",
        page,
        ctx,
        root=root,
        year=year,
        timelines=timelines,
        calls=[index_row_view(r, page, published=ctx.published) for r in calls],
        filters=_filters(calls),
        years=[{"year": y, "href": paths.relative(page, paths.year_path(root, y))} for y in years],
        root_href=paths.relative(page, paths.root_path(root)),
    )


def timeline_view(
    page: str,
    *,
    root: str,
    label: str,
    methodology: str,
    author: str,
    prices: pl.DataFrame,
    calls: pl.DataFrame,
    demo: bool,
    year_links: bool,
    call_links: bool,
    published: str | None = None,
) -> dict[str, Any]:
    """One timeline SVG (see svg.timeline) with its filter attributes. ``calls``: index rows of
    one methodology/author with line_mid and bias_mid in the price frame of ``prices``."""
    rows = []
    for r in calls.iter_rows(named=True):
        target = paths.call_target(
            r["root"],
            r["as_of"],
            r["author"],
            r["methodology_version"],
            r["source"],
            published=published,
        )
        parts = probability_parts(r.get("p_bull"), r.get("p_sideways"), r.get("p_bear"))
        odds = " / ".join(f"{p['name']} {p['percent']}%" for p in parts)
        status = f"outcome {r['outcome']}" if r.get("outcome") else "open"
        rows.append(
            {
                **r,
                "href": paths.relative(page, target),
                "title": f"{r['as_of']} {r['primary_trend']}, {r['perspective']}; {odds}; {status}",
            }
        )
    # Only years with calls have a page (the prices may start years before the first call).
    years = sorted({d.year for d in calls["as_of"].to_list()}) if calls.height else []
    spec = builtin_registry().get(root)
    tick = spec.tick if spec is not None else FALLBACK_TICK
    days: list[date] = prices["session_date"].to_list()
    span = (max(days) - min(days)).days if days else 0
    return {
        "label": label,
        "methodology": methodology,
        "author": author,
        "unit": None if call_links else svg.timeline_unit(span),
        "svg": svg.timeline(
            prices["session_date"].to_list(),
            prices["close"].to_list(),
            rows,
            tick=tick,
            demo=demo,
            links={y: paths.relative(page, paths.year_path(root, y)) for y in years}
            if year_links
            else None,
            call_links=call_links,
            label=f"{root} {label}: price, line in the sand and bias-defining level; trend and perspective bands",
        ),
    }


def _filters(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    return {
        "methodology": sorted({str(r["methodology_version"]) for r in rows}),
        "kind": sorted({str(r["kind"]) for r in rows}),
        "author": sorted({str(r["author"]) for r in rows}),
    }


# --- scoreboard ---------------------------------------------------------------------------------


def render_scoreboard(
    ctx: SiteContext,
    *,
    view: pl.DataFrame,
    intervals: pl.DataFrame,
    calibration: pl.DataFrame,
    comparison: pl.DataFrame,
    apart: pl.DataFrame | None = None,
    comparison_apart: pl.DataFrame | None = None,
) -> str:
    """Scores per group from the ``scoreboard`` view (the honest default: no call recorded late or
    made in its methodology's tuning period), with the audit's block-bootstrap intervals beside
    them; the calls it leaves out scored apart as flagged groups (``apart``: the audit's
    scoreboard rows); reliability diagrams of every group (flagged ones labelled); methodologies
    compared on the same sessions (``comparison_apart``: the same over every resolved call,
    calls scored apart included, shown flagged)."""
    keys = ["root", "author", "kind", "methodology_version", "source"]
    joined = view.join(intervals, on=keys, how="left") if intervals.height else view
    joined = _in_site_order(joined, ctx)
    apart = None if apart is None or apart.height == 0 else _in_site_order(apart, ctx)
    by = [*keys, "flags"] if "flags" in calibration.columns else keys
    groups = []
    for keyvals, part in (
        calibration.group_by(by, maintain_order=True) if calibration.height else []
    ):
        title = " / ".join(str(k) for k in keyvals if k)
        groups.append(
            {
                "title": title,
                "flags": part["flags"][0] if "flags" in part.columns else "",
                "svg": svg.reliability_diagram(
                    part.to_dicts(), title=f"Reliability: {title}", demo=ctx.demo
                ),
                "rows": part.to_dicts(),
            }
        )
    from pipeline.report.audit import NOT_RANKED_BY_RPS

    return _render(
        "scoreboard.html.j2",
        paths.SCOREBOARD,
        ctx,
        not_ranked=NOT_RANKED_BY_RPS,
        rows=joined.to_dicts(),
        apart=[] if apart is None else apart.to_dicts(),
        diagrams=groups,
        comparison=_in_site_order(comparison, ctx).to_dicts(),
        comparison_apart=[]
        if comparison_apart is None
        else _in_site_order(comparison_apart, ctx).to_dicts(),
        scenarios=SCENARIOS,
    )


# --- data quality -------------------------------------------------------------------------------


def render_quality(
    ctx: SiteContext,
    *,
    batches: pl.DataFrame,
    findings: pl.DataFrame,
    revisions: pl.DataFrame,
) -> str:
    """Per batch validation results (each rule's expectation, severity, success and count),
    quarantined rows with their rule and the raw row, warnings and deferrals, and revisions."""
    import json

    views = []
    for b in batches.iter_rows(named=True):
        rules = json.loads(b["expectations"]) if b.get("expectations") else []
        views.append(
            {
                **b,
                "rules": rules,
                "failed_rules": sum(1 for r in rules if not r.get("success", True)),
            }
        )
    return _render(
        "quality.html.j2",
        paths.QUALITY,
        ctx,
        batches=views,
        findings=findings.to_dicts(),
        revisions=revisions.to_dicts(),
    )


# --- call quality -------------------------------------------------------------------------------


def render_call_quality(
    ctx: SiteContext,
    *,
    sources: Mapping[str, Sequence[tuple[str, pl.DataFrame]]],
    coherence: Mapping[str, Sequence[tuple[str, pl.DataFrame]]] | None = None,
) -> str:
    """``callbook audit --quality`` as a page: per bar source and root (in the site's root
    order), the level properties, persistence, false statements and crash labels of each
    methodology's stored calls (figures as rows: pipeline.audit.quality.transposed_quality),
    and beside them the coherence checker's figures (``coherence``: pipeline.report.audit.
    coherence_views), the published methodology's column first. The scores of the
    methodologies on the same sessions are on the scoreboard (one comparison, one rule)."""
    rank = {root: i for i, root in enumerate(ctx.roots)}
    views = []
    for source, tables in sources.items():
        checked = dict((coherence or {}).get(source, ()))
        shown = []
        for root, frame in sorted(tables, key=lambda t: (rank.get(t[0], len(rank)), t[0])):
            frame = _published_first(frame, ctx)
            table: dict[str, Any] = {"root": root, "columns": frame.columns, "rows": frame.rows()}
            if root in checked:
                told = _published_first(checked[root], ctx)
                table["coherence"] = {"columns": told.columns, "rows": told.rows()}
            shown.append(table)
        views.append({"source": source, "tables": shown})
    return _render("call_quality.html.j2", paths.CALL_QUALITY, ctx, sources=views)


def _published_first(frame: pl.DataFrame, ctx: SiteContext) -> pl.DataFrame:
    """A figures-as-rows frame with its methodology columns in the site's order."""
    order = [m for m in ctx.methodologies if m in frame.columns]
    rest = sorted(c for c in frame.columns[1:] if c not in order)
    return frame.select(frame.columns[0], *order, *rest)


def _in_site_order(frame: pl.DataFrame, ctx: SiteContext) -> pl.DataFrame:
    """Rows by root in the site's order, the published methodology first within a root."""
    if frame.height == 0 or "root" not in frame.columns:
        return frame
    roots = {r: i for i, r in enumerate(ctx.roots)}
    methods = {m: i for i, m in enumerate(ctx.methodologies)}
    ranks = [pl.col("root").replace_strict(roots, default=len(roots)).alias("_root_rank")]
    by = ["_root_rank", "root"] + [c for c in ("author", "kind", "source") if c in frame.columns]
    if "methodology_version" in frame.columns:
        ranks.append(
            pl.col("methodology_version")
            .replace_strict(methods, default=len(methods))
            .alias("_method_rank")
        )
        by += ["_method_rank", "methodology_version"]
    ranked = frame.with_columns(ranks)
    return ranked.sort(by, maintain_order=True).drop(c for c in ranked.columns if c.startswith("_"))
