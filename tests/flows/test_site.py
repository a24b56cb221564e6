"""The static site end to end: built from a demo warehouse after a nightly run, a backfill and an
analyst's call; incremental rebuilds; charts of past calls from the bars as known then; the
pages loaded in headless Chromium (Debian's /usr/bin/chromium) with every request kept on
127.0.0.1; and the terminal layouts at 80 and 100 columns."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from flows.cli import EXIT_OK, main
from flows.site import build_site
from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES
from pipeline.market.calendar import last_completed_session
from pipeline.quality.result import ValidationResult, empty_findings
from pipeline.schema import Batch
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.store import Warehouse

# Saturday: the last session is 2027-01-15. v1's parameters were tuned on the demo history to
# 2026-11-20, so only the calls after that date count in the honest scoreboard.
NOW = datetime(2027, 1, 16, 12, 0, tzinfo=UTC)
LAST = date(2027, 1, 15)
ROOTS = ("RTY", "ES")  # two demo roots keep it quick; every page kind still appears
BACKFILL_START = "2026-01-20"
SEED_CALL = Path(__file__).resolve().parents[2] / "pipeline/audit/examples/rty-2026-02-04-seed.toml"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = (
    Path(os.environ.get("CALLBOOK_TEST_ARTIFACTS", REPO / "build" / "test-artifacts")) / "site"
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def cli(data_dir: Path, *argv: str) -> int:
    return main(["--data-dir", str(data_dir), *argv])


@pytest.fixture(scope="module")
def data_dir(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo warehouse: the nightly run, a short backfill and the seed analyst call, 2 roots."""
    path = tmp_path_factory.mktemp("site") / "data"
    roots = ",".join(ROOTS)
    with frozen_clock(NOW):
        assert cli(path, "nightly", "--roots", roots) == EXIT_OK
        assert cli(path, "backfill", "--roots", roots, "--start", BACKFILL_START) == EXIT_OK
        assert cli(path, "calls", "add", str(SEED_CALL)) == EXIT_OK
    return path


@pytest.fixture(scope="module")
def site(data_dir: Path) -> Path:
    with frozen_clock(NOW):
        assert cli(data_dir, "site") == EXIT_OK
    return data_dir / "site"


def copy_of(data_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(data_dir, target)
    return target


def index_rows(data_dir: Path, sql: str) -> list[dict]:
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        return query(wh, sql).to_dicts()


def call_page(
    site: Path,
    root: str,
    as_of: date,
    author: str = "callbook",
    m: str = "v3",
    source: str = "demo",
) -> Path:
    return site / "calls" / root / str(as_of.year) / f"{as_of}-{author}-{m}-{source}.html"


# --- the build ------------------------------------------------------------------------------


def test_every_call_is_reachable_on_its_page_or_its_year_page(data_dir: Path, site: Path) -> None:
    calls = index_rows(
        data_dir, "select root, as_of, author, methodology_version, source from latest_snapshots"
    )
    assert len(calls) > 400
    # The published methodology's and the analysts' calls have a page each; the comparison
    # methodologies' calls are rows (with their anchor) of their year page, no page.
    own = [c for c in calls if c["author"] != "callbook" or c["methodology_version"] == "v3"]
    others = [c for c in calls if c not in own]
    assert len(others) == 2 * len([c for c in own if c["author"] == "callbook"])
    page = lambda c: call_page(  # noqa: E731
        site, c["root"], c["as_of"], c["author"], c["methodology_version"], c["source"]
    )
    assert [c for c in own if not page(c).exists()] == []
    assert [c for c in others if page(c).exists()] == []
    years: dict[Path, str] = {}
    unlisted = []
    for c in others:
        year = site / "roots" / c["root"] / f"{c['as_of'].year}.html"
        text = years.setdefault(year, year.read_text() if year.exists() else "")
        anchor = f'id="{c["as_of"]}-callbook-{c["methodology_version"]}-{c["source"]}"'
        if anchor not in text:
            unlisted.append(c)
    assert unlisted == []
    manifest = json.loads((site / "manifest.json").read_text())
    assert (
        len(manifest["pages"]) == len(own) + len(list(site.glob("roots/*/*.html"))) + len(ROOTS) + 4
    )
    for name in (
        "index.html",
        "scoreboard.html",
        "quality.html",
        "call-quality.html",
        "assets/site.css",
        "assets/site.js",
    ):
        assert (site / name).stat().st_mode & 0o644 == 0o644


def test_every_link_of_the_site_lands_on_a_page_and_its_anchor(site: Path) -> None:
    links = re.compile(r'href="([^"#:]*)(?:#([^"]*))?"')
    ids = re.compile(r'id="([^"]+)"')
    anchors: dict[Path, set[str]] = {}
    broken, checked = [], 0
    for page in sorted(site.rglob("*.html")):
        for target, fragment in links.findall(page.read_text()):
            if not target and not fragment:
                continue
            landing = (page.parent / target).resolve() if target else page
            checked += 1
            if not landing.is_file():
                broken.append((page.relative_to(site), target))
            elif fragment:
                known = anchors.setdefault(landing, set(ids.findall(landing.read_text())))
                if fragment not in known:
                    broken.append((page.relative_to(site), f"{target}#{fragment}"))
    assert checked > 10_000 and broken == []


def test_a_rebuild_without_changes_draws_nothing(data_dir: Path, site: Path) -> None:
    with frozen_clock(NOW):
        again = build_site(data_dir=data_dir)
    assert (again.written, again.call_pages_written) == (0, 0)
    assert again.pages == len(json.loads((site / "manifest.json").read_text())["pages"])


def test_the_next_nightly_redraws_only_what_changed(
    data_dir: Path, site: Path, tmp_path: Path
) -> None:
    copy = copy_of(data_dir, tmp_path)
    old_call = call_page(copy / "site", "RTY", date(2026, 6, 1))
    before = old_call.stat().st_mtime_ns
    later = NOW + timedelta(days=4)  # Wednesday: Tuesday's session is new
    with frozen_clock(later):
        assert cli(copy, "nightly", "--roots", ",".join(ROOTS)) == EXIT_OK
        quality_drawn = (copy / "site" / "call-quality.html").stat().st_mtime_ns
        result = build_site(data_dir=copy)
    # The nightly flow's own task already brought the site up to date, but for the call-quality
    # page, which a nightly redraws once a week and `callbook site` whenever calls changed.
    assert result.written == 1
    assert (copy / "site" / "call-quality.html").stat().st_mtime_ns > quality_drawn
    from prefect.artifacts import Artifact

    summary = Artifact.get("callbook-nightly-summary")
    index = (copy / "site" / "index.html").resolve().as_uri()
    assert summary is not None and f"Site: [{copy / 'site' / 'index.html'}]({index})" in str(
        summary.data
    )
    manifest = json.loads((copy / "site" / "manifest.json").read_text())["pages"]
    assert call_page(copy / "site", "RTY", last_completed_session(later)).exists()
    assert old_call.stat().st_mtime_ns == before  # a resolved call's page is not redrawn
    with frozen_clock(later + timedelta(minutes=1)):
        full = build_site(data_dir=copy, full=True)
    assert (
        full.call_pages_written
        == full.call_pages
        == len([p for p in manifest if p.startswith("calls/")])
    )


def test_the_nightly_site_task_redraws_a_small_part(data_dir: Path, tmp_path: Path) -> None:
    copy = copy_of(data_dir, tmp_path)
    with frozen_clock(NOW):
        build_site(data_dir=copy)
    with frozen_clock(NOW + timedelta(days=4)):
        from flows.nightly import nightly

        result = nightly(roots=list(ROOTS), data_dir=str(copy))
    assert result.site is not None
    redrawn = result.site.call_pages_written
    # Per series with pages (root x the published v3; v2's and v1's calls are rows of their
    # year page): the new call, the call before it (its "next" link), the open calls (their
    # status so far was read again: ~20 each) and the calls resolved that night.
    series = len(ROOTS)
    assert 2 * series <= redrawn <= series * 24 + 2 * series, redrawn
    assert redrawn < result.site.call_pages / 8


def test_a_revised_bar_does_not_change_a_past_calls_chart(data_dir: Path, tmp_path: Path) -> None:
    copy = copy_of(data_dir, tmp_path)
    day = date(2026, 6, 1)
    call = index_rows(
        copy,
        f"select contract, close from latest_snapshots where root = 'RTY' and as_of = '{day}' "
        "and author = 'callbook'",
    )[0]
    with frozen_clock(NOW):
        build_site(data_dir=copy)
        assert cli(copy, "show", "RTY", "--as-of", str(day), "--chart") == EXIT_OK
    page = call_page(copy / "site", "RTY", day)
    bars_before = re.search(r'data-bars="([^"]*)"', page.read_text()).group(1)
    drawn_at = page.stat().st_mtime_ns
    png = copy / "reports" / "RTY" / str(day) / "chart-v3-r1.png"
    png_before = png.read_bytes()
    # The vendor revises the settlements of the call's day and the session before, after the
    # call was made.
    revised_at = NOW + timedelta(hours=1)
    revise_close(copy, "RTY", [date(2026, 5, 29), day], by=25.0, at=revised_at)
    now_known = index_rows(
        copy,
        f"select close from bars_current where root = 'RTY' and session_date = '{day}' "
        f"and contract = '{call['contract']}'",
    )[0]["close"]
    assert now_known == pytest.approx(call["close"] + 25.0)  # the revision is stored
    with frozen_clock(revised_at + timedelta(minutes=5)):
        rebuilt = build_site(data_dir=copy, out_dir=tmp_path / "fresh", full=True)
        incremental = build_site(data_dir=copy)
        assert cli(copy, "show", "RTY", "--as-of", str(day), "--chart") == EXIT_OK
    assert rebuilt.call_pages_written == rebuilt.call_pages > 400
    fresh = call_page(tmp_path / "fresh", "RTY", day).read_text()
    assert re.search(r'data-bars="([^"]*)"', fresh).group(1) == bars_before
    last = bars_before.split(";")[-1].split(" ")
    assert last[0] == str(day) and float(last[4]) == pytest.approx(call["close"])
    assert png.read_bytes() == png_before
    # Its page was not even redrawn (no call page was: an open call's status so far is what the
    # last resolution run recorded); the data-quality page now lists the revisions.
    assert page.stat().st_mtime_ns == drawn_at
    assert incremental.call_pages_written == 0 and incremental.written >= 1
    revisions = index_rows(copy, "select count(*) as n from bar_revisions")[0]["n"]
    assert revisions >= 2
    assert f"Revisions ({revisions})" in (copy / "site" / "quality.html").read_text()


def revise_close(data_dir: Path, root: str, days: list[date], *, by: float, at: datetime) -> None:
    """A vendor revision of ``days``: every contract's close (and high) raised by ``by``."""
    with Warehouse.open(data_dir / "warehouse.duckdb") as wh:
        current = wh.current_bars(root, source="demo", start=min(days), end=max(days))
        revised = current.filter(pl.col("session_date").is_in(days)).with_columns(
            (pl.col("close") + by).alias("close"),
            pl.max_horizontal("high", pl.col("close") + by).alias("high"),
        )
        batch = Batch("demo", root, revised.to_arrow(), revised, at, min(days), max(days), {})
        duplicate = wh.record_batch(
            batch, lake_path="lake/revision.parquet", run_id="test", recorded_at=at
        )
        result = ValidationResult("passed", revised, empty_findings(), "test", "1")
        outcome = wh.load_batch(batch, result, run_id="test", recorded_at=at, duplicate=duplicate)
    assert outcome.revised == revised.height > 0


class _Tables(HTMLParser):
    """The rows of every ``<table class="coherence">`` of a page, by its ``data-root``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._root: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("class") == "coherence":
            self._root = found["data-root"]
            self.tables[str(self._root)] = []
        elif self._root and tag == "tr":
            self.tables[self._root].append([])
        elif self._root and tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._root and tag in ("td", "th") and self._cell is not None:
            self.tables[self._root][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._root = None


def test_the_call_quality_page_shows_the_coherence_figures_audit_quality_prints(
    data_dir: Path, site: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    parser = _Tables()
    parser.feed((site / "call-quality.html").read_text())
    assert list(parser.tables) == list(ROOTS)  # the site's root order
    assert cli(data_dir, "audit", "--quality", "--boot", "100") == EXIT_OK
    out = capsys.readouterr().out
    published = DEFAULT_METHODOLOGIES[0]
    for root, rows in parser.tables.items():
        head, *body = rows
        assert head[:2] == ["figure", f"{published} (published)"]  # the published one first
        shown = [h.removesuffix(" (published)") for h in head[1:]]
        # The printed table of the same root: figure, then each methodology.
        lines = out.splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip() == f"{root} — coherence")
        heads = lines[start + 1].split()[1:]
        assert sorted(heads) == sorted(shown)
        printed = {}
        for line in lines[start + 3 :]:
            if not line.startswith(" "):
                break
            figure, *cells = re.split(r"\s{2,}", line.strip())
            printed[figure] = dict(zip(heads, cells, strict=True))
        assert {figure: dict(zip(shown, cells, strict=True)) for figure, *cells in body} == printed
        stored = index_rows(
            data_dir,
            "select methodology_version as m, count(*) as n, count(*) filter (where "
            "(upper_barrier - lower_barrier) / close > 0.10) as wide from latest_snapshots "
            f"where root = '{root}' and author = 'callbook' group by all",
        )
        assert printed["calls"] == {r["m"]: f"{r['n']:,}" for r in stored}
        wide = {m: cell.split(" ")[0] for m, cell in printed["band_too_wide_pct"].items()}
        assert wide == {r["m"]: f"{r['wide']:,}" for r in stored}
    scoreboard = (site / "scoreboard.html").read_text()
    assert "Raw RPS does not rank methodologies: each forecasts a different event" in scoreboard
    assert 'href="call-quality.html#coherence"' in scoreboard


# --- terminal layouts -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 100])
def test_status_and_calls_list_fit_the_terminal(
    data_dir: Path, capsys, monkeypatch, width: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))  # rich's console width
    assert cli(data_dir, "status") == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "DEMO DATA" in lines[0]
    rows = [line.split() for line in lines if line.split()[:1] in ([r] for r in ROOTS)]
    # One row per root and per (root, author, kind) of calls; no date is ever broken.
    assert [r[:3] for r in rows[: len(ROOTS)]] == [
        [root, "2005-01-03", str(LAST)] for root in sorted(ROOTS)
    ]
    if width == 100:  # every row on one line
        assert rows[0][-3:] == ["01-16", "12:00Z", "landed"]
        calls = [r[:9] for r in rows if r[1:2] == ["callbook"]]
        # The published methodology's rows first within a root, and named in the title.
        assert calls.index(
            ["RTY", "callbook", "v3", "live", "1", "1", str(LAST), "→", str(LAST)]
        ) < (calls.index(["RTY", "callbook", "v2", "live", "1", "1", str(LAST), "→", str(LAST)]))
        assert any(
            line.startswith("calls (") and "published: callbook v3)" in line for line in lines
        )
    assert cli(data_dir, "calls", "list", "RTY", "--limit", "5") == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in out) <= width and "DEMO DATA" in out[0]
    if width == 100:  # a table, newest first; the open call has no score
        first, *others = (line for line in out if line.startswith(f" {LAST}"))
        assert first.split()[:4] == [str(LAST), "callbook", "v3", "live"]  # published first
        assert sorted(line.split()[2] for line in others) == ["v1", "v2"]
        end = index_rows(
            data_dir,
            f"select horizon_end from latest_snapshots where root = 'RTY' and as_of = '{LAST}'",
        )[0]["horizon_end"]
        assert first.rstrip().endswith(f"open to {end}")
    else:  # too narrow for 7 columns: one record per block, whole values
        assert any(line.startswith("record 1") for line in out)
        assert ["as_of", str(LAST)] in [line.split() for line in out]


def test_sql_formats_round_by_meaning(data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    query = "select root, as_of, p_bull, close, rps from calls_vs_outcomes where root = 'RTY' order by as_of limit 2"
    raw = index_rows(data_dir, query)
    assert cli(data_dir, "sql", query, "--format", "markdown") == EXIT_OK
    markdown = capsys.readouterr().out.splitlines()
    assert markdown[0] == "| root | as_of | p_bull | close | rps |"
    cells = [c.strip() for c in markdown[2].strip("|").split("|")]
    assert cells == [
        "RTY",
        str(raw[0]["as_of"]),
        f"{raw[0]['p_bull']:.3f}",
        f"{raw[0]['close']:,.1f}",
        f"{raw[0]['rps']:.4f}",
    ]
    assert cli(data_dir, "sql", query, "--format", "json") == EXIT_OK
    assert json.loads(capsys.readouterr().out)[0]["p_bull"] == raw[0]["p_bull"]  # exact
    assert cli(data_dir, "sql", "select * from snapshots limit 1") == EXIT_OK  # 100+ columns
    wide = capsys.readouterr().out.splitlines()
    assert wide[0].startswith("record 1") and max(len(line) for line in wide) <= 100


# --- in a browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed (/usr/bin/chromium): `make test` installs it "
            "with apt when it runs as root on Debian; elsewhere `apt-get install chromium`"
        )
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        # A fresh temporary profile per launch; never a downloaded browser.
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Visit:
    """One page in a fresh context: console errors, page errors and every request recorded; any
    request that is not for the test server is aborted (and fails the test)."""

    def __init__(self, browser, base: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route) -> None:
        url = route.request.url
        self.requests.append(url)
        if url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, path: str, shot: str):
        response = self.page.goto(f"{self.base}/{path}", wait_until="load")
        assert response is not None and response.status == 200
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        return self.page

    def close(self) -> None:
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"
        assert self.errors == [], f"console errors: {self.errors}"
        assert any(u.endswith("/assets/site.css") for u in self.requests)
        self.context.close()


def test_pages_load_offline_without_errors(browser, served: str, site: Path) -> None:
    pages = {
        "home": "index.html",
        "root": "roots/RTY.html",
        "year": "roots/RTY/2026.html",
        "call-resolved": str(call_page(site, "RTY", date(2026, 6, 1)).relative_to(site)),
        "call-open": str(call_page(site, "RTY", LAST).relative_to(site)),
        "call-analyst": str(
            call_page(site, "RTY", date(2026, 2, 4), "seed-note", "analyst", "analyst").relative_to(
                site
            )
        ),
        "scoreboard": "scoreboard.html",
        "quality": "quality.html",
        "call-quality": "call-quality.html",
    }
    for shot, path in pages.items():
        visit = Visit(browser, served)
        page = visit.open(path, shot)
        assert "DEMO DATA" in page.inner_text(".demo-banner")
        visit.close()
    print(f"site screenshots: {ARTIFACTS}")


def test_the_home_page_shows_every_root(browser, served: str) -> None:
    visit = Visit(browser, served)
    page = visit.open("index.html", "home")
    cards = page.locator("article.card")
    assert cards.count() == len(ROOTS)
    assert [cards.nth(i).get_attribute("data-root") for i in range(cards.count())] == list(ROOTS)
    assert str(LAST) in cards.nth(0).inner_text() and "DEMO" in cards.nth(0).inner_text()
    assert page.locator("table.status tbody tr").count() == len(ROOTS)
    visit.close()


def test_a_call_page_shows_its_chart_outcome_and_hover_values(
    browser, served: str, site: Path, data_dir: Path
) -> None:
    visit = Visit(browser, served)
    page = visit.open(
        str(call_page(site, "RTY", date(2026, 6, 1)).relative_to(site)), "call-resolved"
    )
    chart = page.locator("svg.call-chart")
    assert chart.count() == 1
    sessions = chart.get_attribute("data-bars").split(";")
    assert len(sessions) == 120 and sessions[-1].startswith("2026-06-01 ")
    assert page.locator("svg.call-chart path.wick").get_attribute("d").count("M") == 120
    box = chart.bounding_box()
    assert box is not None and box["width"] > 800 and box["height"] > 300
    outcome = page.inner_text("#outcome")
    assert outcome.startswith("Outcome:") and "Ranked probability score" in outcome
    # Hover the as-of session's candle: the script shows its values from data-bars.
    x0, step = float(chart.get_attribute("data-x0")), float(chart.get_attribute("data-step"))
    scale = box["width"] / 960  # the viewBox is 960 units wide
    page.mouse.move(box["x"] + (x0 + 119 * step) * scale, box["y"] + box["height"] * 0.5)
    tip = page.locator(".tip")
    day, o, h, low, c = sessions[-1].split(" ")[:5]
    assert tip.is_visible()
    assert tip.inner_text().split()[:9] == [
        day,
        "O",
        f"{float(o):,.1f}",
        "H",
        f"{float(h):,.1f}",
        "L",
        f"{float(low):,.1f}",
        "C",
        f"{float(c):,.1f}",
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "call-hover.png"))
    visit.close()

    visit = Visit(browser, served)
    # An open call: its status so far as the last resolution run read it, never a score.
    open_day = date(2027, 1, 4)
    page = visit.open(str(call_page(site, "RTY", open_day).relative_to(site)), "call-open")
    status = page.inner_text("#outcome")
    expected = index_rows(
        data_dir,
        f"select status_so_far from open_calls where root = 'RTY' and as_of = '{open_day}' "
        "and author = 'callbook' and methodology_version = 'v3'",
    )[0]["status_so_far"]
    assert status.startswith("Open — status so far, not a score")
    assert expected[:40].capitalize() in status and "not scored until the horizon ends" in status
    assert "Ranked probability" not in status and "RPS" not in status
    visit.close()


def test_the_scoreboard_shows_the_scoreboard_views_numbers(
    browser, served: str, data_dir: Path
) -> None:
    view = index_rows(data_dir, "select * from scoreboard")
    visit = Visit(browser, served)
    page = visit.open("scoreboard.html", "scoreboard")
    rows = page.locator("table.scoreboard.honest tbody tr")
    # RTY and ES backfill calls after v1's tuning period; the analyst's call is recorded late and
    # the calls in v1's tuning period are scored apart (flagged), not in the view.
    assert rows.count() == len(view) >= 2
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        key = tuple(
            row.get_attribute(f"data-{k}")
            for k in ("root", "author", "kind", "methodology", "source")
        )
        shown[key] = {
            f: row.locator(f'[data-field="{f}"]').inner_text()
            for f in ("calls", "mean_rps", "mean_ref_rps", "skill_rps", "line_held_rate")
        }
    for r in view:
        cells = shown[(r["root"], r["author"], r["kind"], r["methodology_version"], r["source"])]
        assert cells["calls"] == f"{r['calls']:,}"
        assert cells["mean_rps"] == f"{r['mean_rps']:.4f}"
        assert cells["mean_ref_rps"] == f"{r['mean_ref_rps']:.4f}"
        assert cells["skill_rps"] == f"{r['skill_rps']:+.3f}"
        assert cells["line_held_rate"] == f"{r['line_held_rate']:.3f}"
    assert page.locator("svg.reliability").count() >= 2
    visit.close()


def test_year_page_filters_by_methodology_kind_and_author(browser, served: str) -> None:
    visit = Visit(browser, served)
    page = visit.open("roots/RTY/2026.html", "year")
    rows = page.locator("table.calls tbody tr")
    total = rows.count()
    assert total > 200
    page.select_option('select[data-filter="author"]', "seed-note")
    assert page.locator("table.calls tbody tr:visible").count() == 1
    page.select_option('select[data-filter="author"]', "callbook")
    page.select_option('select[data-filter="kind"]', "backfill")
    assert page.locator("table.calls tbody tr:visible").count() == total - 1
    page.select_option('select[data-filter="kind"]', "analyst")
    assert page.locator("table.calls tbody tr:visible").count() == 0
    # Every call of the year is one click away from the timeline.
    assert page.locator("svg.timeline a").count() >= total - 1
    # A comparison methodology's call is its row, where links to it land.
    row = page.locator('tr[id="2026-06-01-callbook-v1-demo"]')
    assert row.count() == 1 and "callbook v1" in row.inner_text()
    assert page.locator('svg.timeline a[href="2026.html#2026-06-01-callbook-v1-demo"]').count() == 1
    visit.close()


def test_v2_is_published_and_v1_is_its_comparison(browser, served: str, data_dir: Path) -> None:
    visit = Visit(browser, served)
    page = visit.open("index.html", "home")
    card = page.locator("article.card").nth(0)
    assert card.locator("p.when").inner_text().split(" · ")[1] == "callbook v3"
    # The note's own last paragraph, and v2's and v1's latest calls beside it.
    takeaway = card.locator("p.takeaway").inner_text()
    assert "most likely" in takeaway or "tie" in takeaway
    assert "invalidated by acceptance" in takeaway and "line in the sand" in takeaway
    others = card.locator("ul.others").inner_text()
    assert "callbook v2" in others and "callbook v1" in others
    visit.close()

    day = date(2026, 6, 1)
    stored = index_rows(
        data_dir,
        "select line_members, line_since, bias_members from latest_snapshots "
        f"where root = 'RTY' and as_of = '{day}' and methodology_version = 'v3'",
    )[0]
    visit = Visit(browser, served)
    page = visit.open(str(call_page(Path("."), "RTY", day)), "call-resolved")
    levels = page.locator("#levels tr")
    line = levels.nth(0).inner_text()
    assert line.startswith("Line in the sand") and f"since {stored['line_since']}" in line
    # v3 stores why a level is there as codes; the page words them: each member's date is named.
    for row, members in ((line, stored["line_members"]), (levels.nth(1).inner_text(),
                                                        stored["bias_members"])):  # fmt: skip
        days = [date.fromisoformat(t.split(":")[1]) for t in members.split(",") if ":" in t]
        for d in sorted(days)[-3:]:
            assert f"{d.day} {d:%b}" in row, (d, row)
    # The bar under the summary names the scenarios as the note's headings do.
    headings = page.locator("#note h4").all_inner_texts()
    for title in page.locator(".summary .odds").get_attribute("title").split("; "):
        name = title.rsplit(" ", 1)[0]
        assert any(h.lower().startswith(name.lower()) for h in headings), (name, headings)
    visit.close()

    visit = Visit(browser, served)
    page = visit.open("scoreboard.html", "scoreboard")
    assert (
        page.locator("h2#comparison").inner_text() == "Methodology comparison on the same sessions"
    )
    rows = page.locator("table.comparison.honest tbody tr")
    roots = [rows.nth(i).get_attribute("data-root") for i in range(rows.count())]
    assert list(dict.fromkeys(roots)) == list(ROOTS)
    pairs = [(rows.nth(i).get_attribute("data-a"), rows.nth(i).get_attribute("data-b"))
             for i in range(rows.count())]  # fmt: skip
    assert {frozenset(pair) for pair in pairs} == {
        frozenset(pair) for pair in (("v3", "v2"), ("v3", "v1"), ("v2", "v1"))
    }
    assert all(b != "v3" for _, b in pairs)  # the published one is always compared first
    visit.close()

    visit = Visit(browser, served)
    page = visit.open("call-quality.html", "call-quality")
    tables = page.locator("table.call-quality")
    assert [tables.nth(i).get_attribute("data-root") for i in range(tables.count())] == list(ROOTS)
    heads = tables.nth(0).locator("thead th").all_inner_texts()
    assert heads == ["figure", "v3 (published)", "v1", "v2"]
    calls = tables.nth(0).locator("tbody tr").nth(0).locator("td").all_inner_texts()
    n = index_rows(
        data_dir,
        "select count(*) as n from latest_snapshots where root = 'RTY' and author = 'callbook' "
        "and methodology_version = 'v3'",
    )[0]["n"]
    assert calls == ["calls", f"{n:,}", f"{n:,}", f"{n:,}"]
    visit.close()
