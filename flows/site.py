"""The static site: ``callbook site`` and the nightly flow's last task.

Plain functions (no Prefect): `callbook site` calls :func:`build_site` directly, the nightly flow
through its last task (flows/tasks.py). Sequencing only: read the warehouse (warehouse.site, read-only), build the price series the
charts need (pipeline), decide which pages changed (pipeline.report.site.plan), render them
(pipeline.report.site.pages) and write them (warehouse.reports.write_atomic). A manifest of
page -> inputs hash makes a rebuild redraw only what changed; it is written last, so an
interrupted build redraws its pages next time.

A call's chart is drawn from the bars as callbook knew them when the call was written
(``bars_as_of`` at its ``created_at``): calls are grouped by the last moment the bars changed
before they were written, and one continuous series is built per group.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from flows import clock
from flows.series import root_series
from flows.settings import code_version, load_settings
from pipeline.analysis.assemble import snapshots_from_frame
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.snapshot import MODEL_AUTHOR
from pipeline.market.calendar import last_completed_session, sessions_between
from pipeline.report.site import pages, paths, plan
from pipeline.report.site.series import (
    ChartSeries,
    assign_vintages,
    chart_series,
    chart_window,
    timeline_frame,
)
from pipeline.report.site.svg import sparkline
from warehouse.reports import write_atomic
from warehouse.site import SiteReader
from warehouse.store import Warehouse

#: Calls rendered per batch (their versions are read in one query).
CALL_CHUNK = 2000
#: Calls listed on a root page (the rest are on its year pages).
RECENT_CALLS = 40
#: Bootstrap replicates for the scoreboard's intervals (as `callbook audit`).
SCOREBOARD_BOOT = 2000
MANIFEST_FORMAT = 1
#: Pages drawn between two progress reports of a build.
PROGRESS_EVERY = 500
#: Bootstrap replicates of the call-quality report's paired scores, which its page does not show.
QUALITY_PAGE_BOOT = 2
#: The audit's bootstrap columns shown beside the scoreboard view's numbers.
INTERVAL_COLUMNS: tuple[str, ...] = (
    "root", "author", "kind", "methodology_version", "source", "effective_calls",
    "skill_low", "skill_high", "skill_vs_geometry", "geometry_low", "geometry_high", "interval",
    "flags",
)  # fmt: skip
_REPORT_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "report"

Page = tuple[str, str, Callable[[], str]]  # path, inputs hash, render


@dataclass(frozen=True)
class SiteBuild:
    """What a build did."""

    out_dir: Path
    pages: int  # pages the site has
    written: int  # pages drawn by this build (the others were unchanged)
    call_pages: int
    call_pages_written: int
    seconds: float  # wall time
    cpu_seconds: float = 0.0  # CPU time of this process (all its threads) during the build

    @property
    def index(self) -> Path:
        return self.out_dir / paths.HOME

    def summary(self) -> str:
        return (
            f"site {self.index}: {self.written:,} of {self.pages:,} pages drawn "
            f"({self.call_pages_written:,} of {self.call_pages:,} call pages) in "
            f"{self.seconds:.1f} s ({self.cpu_seconds:.1f} s CPU)"
        )

    def markdown(self) -> str:
        return (
            f"Site: [{self.index}]({self.index.resolve().as_uri()}) — {self.written:,} of "
            f"{self.pages:,} pages drawn in {self.seconds:.1f} s"
        )


def site_code_files() -> list[Path]:
    """The code a page's look depends on: the site package, its templates and assets, and the
    note, number and chart helpers it reuses."""
    site = _REPORT_DIR / "site"
    files = [
        p for p in site.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".css", ".js"}
    ]
    shared = [_REPORT_DIR / name for name in ("note.py", "format.py", "table.py", "chart.py")]
    shared += sorted((_REPORT_DIR / "notes").glob("*.j2"))
    analysis = _REPORT_DIR.parent / "analysis"
    return files + shared + [analysis / "assemble.py", analysis / "snapshot.py"]


def quality_code_files() -> list[Path]:
    """The code of the call-quality report and of the coherence figures beside it (its page is
    redrawn when it changes)."""
    from flows.coherence import coherence_code_files

    here = Path(__file__)
    return [
        _REPORT_DIR.parent / "audit" / "quality.py",
        here.with_name("quality.py"),
        here.with_name("coherence.py"),
        *coherence_code_files(),
    ]


def code_hash(files: list[Path]) -> str:
    """One hash of the code that draws the pages: a change redraws every page."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_site(
    *,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    now: datetime | None = None,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
    quality_weekly: bool = False,
) -> SiteBuild:
    """Build (or bring up to date) the static site of a data directory's warehouse.

    ``out_dir`` defaults to ``<data dir>/site``; ``full`` redraws every page regardless of the
    manifest. The warehouse is opened read-only. ``progress(drawn, to_draw)`` is called every
    :data:`PROGRESS_EVERY` pages drawn and at the end (``to_draw``: the pages this build draws).
    Pages of an earlier build that the site no longer has are deleted. ``quality_weekly`` (the
    nightly run): the call-quality page (``audit --quality`` over every stored call, the build's
    costliest page) is redrawn once a week, not whenever calls or bars changed; it says when its
    figures were computed.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    settings = load_settings(data_dir=data_dir)
    out = Path(out_dir) if out_dir else settings.data_dir / "site"
    code = code_hash(site_code_files())
    manifest_path = out / paths.MANIFEST
    previous = _read_manifest(manifest_path)
    built = {} if full else previous

    def fresh(path: str, inputs: str) -> bool:
        return built.get(path) == inputs and (out / path).exists()

    manifest: dict[str, str] = {}
    written = 0
    with Warehouse.open(settings.warehouse_path, read_only=True) as wh:
        builder = _Builder(
            SiteReader(wh),
            now=now or clock.utcnow(),
            code=code,
            published=settings.published_methodology,
            fresh=fresh,
            root_order=settings.roots,
            data_dir=settings.data_dir,
            quality_weekly=quality_weekly,
        )
        for path, inputs, render in builder.site():
            manifest[path] = inputs
            if not fresh(path, inputs):
                write_atomic(out / path, render(), durable=False)
                written += 1
                if progress is not None and written % PROGRESS_EVERY == 0:
                    progress(written, max(builder.to_draw, written))
        if progress is not None:
            progress(written, written)
    for gone in sorted(set(previous) - set(manifest)):  # e.g. a methodology no longer published
        (out / gone).unlink(missing_ok=True)
    for name, text in pages.asset_texts().items():
        target = out / paths.ASSETS / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            write_atomic(target, text, durable=False)
    write_atomic(
        manifest_path,
        json.dumps({"format": MANIFEST_FORMAT, "code": code, "pages": manifest}, indent=0),
    )
    return SiteBuild(
        out,
        len(manifest),
        written,
        builder.call_pages,
        builder.call_pages_written,
        time.perf_counter() - started,
        time.process_time() - cpu_started,
    )


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("format") != MANIFEST_FORMAT:
        return {}
    return dict(data.get("pages", {}))


class _Builder:
    """One build: the warehouse reads and price series it needs, made once and shared."""

    def __init__(
        self,
        reader: SiteReader,
        *,
        now: datetime,
        code: str,
        published: str,
        fresh: Callable[[str, str], bool],
        root_order: tuple[str, ...] = (),
        data_dir: Path | None = None,
        quality_weekly: bool = False,
    ) -> None:
        self.reader = reader
        self.quality_weekly = quality_weekly
        self.root_order = root_order
        self.data_dir = data_dir  # where the coherence checker's findings are kept (None: not)
        self.now = now
        self.code = code
        self.fresh = fresh
        self.params = AnalysisParams()
        self.events = reader.bar_events()
        self.sources = {
            str(root): sorted(set(part["source"].to_list()))
            for (root,), part in self.events.group_by("root")
        }
        flagged = reader.methodologies().filter(pl.col("published"))["methodology_version"]
        self.published = flagged[0] if flagged.len() else published
        self.demo = "demo" in reader.bar_sources()
        self._series: dict[tuple[str, str, Any], tuple[pl.DataFrame, ChartSeries] | None] = {}
        self._changes: dict[tuple[str, str], list[datetime]] = {}  # sorted changed_at
        self.call_pages = 0
        self.call_pages_written = 0
        self.to_draw = 0  # pages this build draws (call pages to draw and every other page)

    # -- series ----------------------------------------------------------------------------

    def series(
        self, root: str, source: str, at: datetime | None
    ) -> tuple[pl.DataFrame, ChartSeries] | None:
        """The continuous series of (root, source) from the bars as known at ``at`` (None: as
        stored now), built the one way the analysis builds it (flows.series). Cached by the last
        moment those bars changed at or before ``at``: calls made between two changes share it."""
        if (root, source) not in self._changes:  # once per series, not once per call
            mine = self.events.filter((pl.col("root") == root) & (pl.col("source") == source))
            self._changes[(root, source)] = sorted(mine["changed_at"].drop_nulls().to_list())
        changes = self._changes[(root, source)]
        known = bisect.bisect_right(changes, at) if at is not None else len(changes)
        vintage = changes[known - 1] if known else None
        if not isinstance(vintage, datetime):  # no bar known yet
            return None
        key = (root, source, vintage)
        if key not in self._series:
            frame = root_series(self.reader.wh, root, source=source, end=date.max, known_at=vintage)
            self._series[key] = (
                None
                if frame is None
                else (frame, chart_series(frame, root=root, params=self.params))
            )
        return self._series[key]

    def current(self, root: str) -> tuple[pl.DataFrame, ChartSeries] | None:
        sources = self.sources.get(root)
        return self.series(root, sources[0], None) if sources else None

    # -- the site --------------------------------------------------------------------------

    def site(self) -> Iterator[Page]:
        index = self.reader.call_index()
        self.ctx = self._context(index)
        calls = plan.call_pages(
            index, code=plan.digest(self.code, self.ctx.identity), published=self.published
        )
        # The published methodology's and analysts' calls have pages; the others are rows of
        # their year page (paths.has_own_page).
        own = calls.filter(pl.col("own_page"))
        self.call_pages = own.height
        self.keys = plan.keys_by_path(calls)
        todo = own.filter(
            pl.Series(
                [not self.fresh(p, i) for p, i in own.select("path", "inputs").iter_rows()],
                dtype=pl.Boolean,
            )
        )
        root_years = index.select("root", pl.col("as_of").dt.year()).unique().height
        self.to_draw = todo.height + root_years + len(self.ctx.roots) + 4
        for path, inputs in own.select("path", "inputs").iter_rows():
            if self.fresh(path, inputs):
                yield path, inputs, _never
        yield from self._call_pages(todo, same_day=plan.same_day_map(calls))
        yield from self._root_pages(calls)
        yield from self._summary_pages(calls)

    def _context(self, index: pl.DataFrame) -> pages.SiteContext:
        present = set(index["root"].to_list())  # a root without calls has no page to link
        # The configured roots first, in their order (RTY, ES, NQ, YM by default), then any
        # other root with calls.
        roots = tuple(r for r in self.root_order if r in present) + tuple(
            sorted(r for r in present if r not in self.root_order)
        )
        others = sorted(set(index["methodology_version"].to_list()) - {self.published, "analyst"})
        return pages.SiteContext(
            demo=self.demo,
            roots=roots,
            built_at=self.now.strftime("%Y-%m-%d %H:%M") + "Z",
            code_version=code_version(),
            methodologies=(self.published, *others),
            published=self.published,
        )

    def _call_pages(
        self, todo: pl.DataFrame, *, same_day: dict[tuple[str, date], list[dict]]
    ) -> Iterator[Page]:
        todo = plan.with_bar_source(todo, self.sources)
        for (bar_source,), group in todo.group_by("bar_source", maintain_order=True):
            dated = assign_vintages(group, self.events, bar_source=bar_source or "")
            for chunk in plan.chunks(dated, CALL_CHUNK):
                for path, inputs, html in self._call_chunk(chunk, bar_source, same_day):
                    self.call_pages_written += 1
                    yield path, inputs, _drawn(html)

    def _call_chunk(
        self,
        chunk: pl.DataFrame,
        bar_source: str | None,
        same_day: dict[tuple[str, date], list[dict]],
    ) -> Iterator[tuple[str, str, str]]:
        # The previous session's call too: the note says what changed since it.
        previous = [self.keys[p] for p in chunk["previous_path"].drop_nulls().to_list()]
        wanted = pl.concat(
            [
                chunk.select(plan.CALL_KEY),
                pl.DataFrame(previous, schema=chunk.select(plan.CALL_KEY).schema, orient="row"),
            ]
        )
        versions = self.reader.call_versions(wanted)
        latest = plan.latest_versions(versions)
        snapshot_of = dict(
            zip(
                [tuple(r) for r in latest.select(plan.CALL_KEY).iter_rows()],
                snapshots_from_frame(latest),
                strict=True,
            )
        )
        versions_of = plan.versions_by_key(versions)
        outcomes = {
            r["snapshot_id"]: r
            for r in self.reader.outcomes(chunk["snapshot_id"]).iter_rows(named=True)
        }
        progress = {
            r["snapshot_id"]: r
            for r in self.reader.progress(chunk["snapshot_id"]).iter_rows(named=True)
        }
        for row in chunk.iter_rows(named=True):
            key = tuple(row[k] for k in plan.CALL_KEY)
            window = None
            if bar_source is not None and row["vintage"] is not None:
                drawn = self.series(row["root"], bar_source, row["vintage"])
                window = chart_window(drawn[1], row["as_of"]) if drawn else None
            previous_key = self.keys.get(row["previous_path"]) if row["previous_path"] else None
            call = pages.CallPage(
                path=row["path"],
                snapshot=snapshot_of[key],
                versions=versions_of[key],
                window=window,
                known_at=row["vintage"],
                outcome=outcomes.get(row["snapshot_id"]),
                ref_rps=row["ref_rps"],
                in_tuning_period=row["in_tuning_period"],
                recorded_late=row["recorded_late"],
                progress=progress.get(row["snapshot_id"]),
                previous=snapshot_of.get(previous_key) if previous_key else None,
                same_day=[
                    r
                    for r in same_day.get((row["root"], row["as_of"]), [])
                    if r["snapshot_id"] != row["snapshot_id"]
                ],
                neighbours=plan.neighbours_of(row),
                published=row["methodology_version"] == self.published,
            )
            yield row["path"], row["inputs"], pages.render_call_page(call, self.ctx)

    def _root_pages(self, calls_all: pl.DataFrame) -> Iterator[Page]:
        ctx = self.ctx
        for root in ctx.roots:
            calls = plan.of_root(calls_all, root)
            if calls.height == 0:
                continue
            current = self.current(root)
            prices, placed = (
                timeline_frame(current[0], calls) if current else (pl.DataFrame(), calls)
            )
            mark = f"{current[1].last_day}|{prices.height}" if current else ""
            inputs = plan.digest(
                self.code, ctx.identity, mark, *calls.sort("path")["page_inputs"].to_list()
            )
            years = plan.year_summary(calls)
            all_years = sorted(y["year"] for y in years)

            def render_root(
                root=root, calls=calls, prices=prices, placed=placed, years=years
            ) -> str:
                return pages.render_root_page(
                    ctx,
                    root,
                    timelines=self._timelines(
                        paths.root_path(root), root, prices, placed, year_links=True
                    ),
                    years=years,
                    recent=calls.sort("as_of", descending=True).head(RECENT_CALLS).to_dicts(),
                )

            yield paths.root_path(root), inputs, render_root
            for year in all_years:
                year_calls = plan.of_year(placed, year)
                year_prices = plan.of_year(prices, year, "session_date")
                year_inputs = plan.digest(
                    self.code,
                    ctx.identity,
                    plan.digest(*year_prices.rows()),
                    all_years,
                    *year_calls.sort("path")["page_inputs"].to_list(),
                )

                def render_year(
                    root=root,
                    year=year,
                    year_calls=year_calls,
                    year_prices=year_prices,
                    all_years=all_years,
                ) -> str:
                    return pages.render_year_page(
                        ctx,
                        root,
                        year,
                        timelines=self._timelines(
                            paths.year_path(root, year),
                            root,
                            year_prices,
                            year_calls,
                            call_links=True,
                        ),
                        calls=year_calls.sort("as_of", descending=True).to_dicts(),
                        years=all_years,
                    )

                yield paths.year_path(root, year), year_inputs, render_year

    def _timelines(
        self,
        page: str,
        root: str,
        prices: pl.DataFrame,
        calls: pl.DataFrame,
        *,
        year_links: bool = False,
        call_links: bool = False,
    ) -> list[dict[str, Any]]:
        if prices.height == 0:
            return []
        several_sources = len(self.sources.get(root, [])) > 1
        return [
            pages.timeline_view(
                page,
                root=root,
                label=f"callbook {methodology}"
                + (" (published)" if methodology == self.published else "")
                + (f", {source} bars" if several_sources else ""),
                methodology=methodology,
                author="callbook",
                prices=prices,
                calls=part,
                demo=self.demo,
                year_links=year_links,
                call_links=call_links,
                published=self.published,
            )
            for methodology, source, part in plan.model_series(calls, self.ctx.methodologies)
        ]

    def _summary_pages(self, calls: pl.DataFrame) -> Iterator[Page]:
        ctx, reader = self.ctx, self.reader
        last_completed = last_completed_session(self.now)
        status = reader.run_status()
        latest = plan.latest_per_series(calls)
        home_inputs = plan.digest(
            self.code,
            ctx.identity,
            last_completed,
            status.rows(),
            *latest.sort("path")["page_inputs"].to_list(),
        )

        def render_home() -> str:
            featured = latest.filter(pl.col("methodology_version") == self.published)
            current = plan.latest_versions(reader.call_versions(featured.select(plan.CALL_KEY)))
            snapshots = dict(
                zip(current["snapshot_id"].to_list(), snapshots_from_frame(current), strict=True)
            )
            sparks = {}
            for root in ctx.roots:
                series = self.current(root)
                window = (
                    chart_window(series[1], series[1].last_day)
                    if series and series[1].last_day
                    else None
                )
                if window is not None:
                    sparks[root] = sparkline(window.close.tolist())
            behind = {
                r["root"]: sessions_between(r["last_session"], last_completed)
                for r in status.iter_rows(named=True)
                if r["last_session"] is not None and r["last_session"] <= last_completed
            }
            return pages.render_home(
                ctx,
                latest=latest.to_dicts(),
                snapshots=snapshots,
                status=status,
                sparklines=sparks,
                last_completed=last_completed,
                sessions_behind=behind,
            )

        yield paths.HOME, home_inputs, render_home

        def render_scores() -> str:
            from pipeline.audit.calibration import calibration_table, scoreboard, select_calls

            scored = reader.scored_calls()
            # The honest default, as the scoreboard view and `callbook audit`: calls recorded
            # late or made in their methodology's tuning period are left out of it; they are
            # scored apart, as groups of their own, flagged (`audit --include-late
            # --include-in-sample`).
            honest = select_calls(scored).scored
            every = select_calls(scored, include_late=True, include_tuning=True).scored
            apart = every.join(honest.select("snapshot_id"), on="snapshot_id", how="anti")
            empty = pl.DataFrame()

            def board(frame: pl.DataFrame) -> pl.DataFrame:
                if frame.height == 0:
                    return empty
                return scoreboard(frame, params=self.params, n_boot=SCOREBOARD_BOOT)

            intervals = board(honest)
            return pages.render_scoreboard(
                ctx,
                view=reader.scoreboard_view(),
                intervals=intervals.select(*(c for c in INTERVAL_COLUMNS if c in intervals.columns))
                if intervals.height
                else empty,
                apart=board(apart),
                calibration=calibration_table(every, params=self.params) if every.height else empty,
                comparison=plan.methodology_comparison(
                    honest, order=ctx.methodologies, n_boot=SCOREBOARD_BOOT
                )
                if honest.height
                else empty,
                # The same comparison over every resolved call, flagged: while the honest one
                # has too few calls it is all there is, and it is not evidence of skill.
                comparison_apart=plan.methodology_comparison(
                    every, order=ctx.methodologies, n_boot=SCOREBOARD_BOOT
                )
                if apart.height
                else empty,
            )

        yield (
            paths.SCOREBOARD,
            plan.digest(self.code, ctx.identity, reader.table_marks(("snapshots", "outcomes"))),
            render_scores,
        )

        def render_quality() -> str:
            return pages.render_quality(
                ctx,
                batches=reader.batches(),
                findings=reader.findings(),
                revisions=reader.revisions(),
            )

        marks = reader.table_marks(
            ("ingest_batches", "validation_runs", "quarantine", "row_findings", "bars")
        )
        yield paths.QUALITY, plan.digest(self.code, ctx.identity, marks), render_quality

        model_sources = sorted(
            set(calls.filter(pl.col("author") == MODEL_AUTHOR)["source"].to_list())
        )

        def render_call_quality() -> str:
            from flows.coherence import coherence_report
            from flows.quality import quality_report
            from pipeline.audit.quality import QUALITY_COLUMNS, QualityParams, transposed_quality
            from pipeline.report.audit import coherence_views

            # Its paired scores are not shown (the scoreboard compares methodologies): the
            # fewest bootstrap replicates the interval accepts keep them cheap.
            reports = {
                source: quality_report(
                    reader.wh, source=source, params=QualityParams(n_boot=QUALITY_PAGE_BOOT)
                )
                for source in model_sources
            }
            return pages.render_call_quality(
                ctx,
                sources={
                    source: transposed_quality(r.table, QUALITY_COLUMNS)
                    for source, r in reports.items()
                    if r.table.height
                },
                coherence={
                    source: coherence_views(c.table, c.violations)
                    for source in model_sources
                    if (
                        c := coherence_report(reader.wh, source=source, data_dir=self.data_dir)
                    ).table.height
                },
            )

        marks = (
            # The ISO week: a nightly run redraws it on the first night of a week.
            "week {}-{}".format(*self.now.isocalendar()[:2])
            if self.quality_weekly
            else reader.table_marks(("snapshots", "outcomes", "bars"))
        )
        yield (
            paths.CALL_QUALITY,
            # The report's own code too: a change of its definitions redraws this page only.
            plan.digest(
                self.code, ctx.identity, model_sources, marks, code_hash(quality_code_files())
            ),
            render_call_quality,
        )


def draw_call_chart(
    warehouse: Warehouse, data_dir: Path, row: dict[str, Any], *, bar_source: str
) -> Path:
    """Draw the daily chart (PNG) of any stored call from the bars it was computed from (as known
    at its ``bars_known_at``, else when it was written: a bar revised later does not change it)
    and the call's own levels; write it next to the call's note and return its path."""
    from pipeline.analysis.assemble import snapshot_from_row
    from pipeline.analysis.engine import chart_frame
    from pipeline.report.chart import render_chart
    from pipeline.report.site.series import with_moving_averages
    from warehouse.reports import report_paths

    root, as_of = row["root"], row["as_of"]
    known_at = row.get("bars_known_at") or row["created_at"]
    series = root_series(warehouse, root, source=bar_source, end=as_of, known_at=known_at)
    if series is None:
        raise ValueError(
            f"no {bar_source} bars of {root} were known at {known_at} (when the call was "
            "computed): nothing to draw"
        )
    table = with_moving_averages(series, params=AnalysisParams())
    png = render_chart(chart_frame(table, as_of), snapshot_from_row(row), demo=bar_source == "demo")
    target = report_paths(
        data_dir, root, as_of, row["version"], methodology=row["methodology_version"]
    ).chart
    write_atomic(target, png)
    return target


def _drawn(html: str) -> Callable[[], str]:
    return lambda: html


def _never() -> str:
    raise AssertionError("a fresh page is not rendered again")
