"""The analyst queries in warehouse/queries: each one runs with the parameters its header documents
on a small but real warehouse, and returns what a direct computation from the tables says.

The warehouse (built once per module, on a file, then opened read-only as analysts do): demo bars
of RTY and ES for 2024-01-02..2026-06-30, one vendor revision of an RTY settlement, point-in-time
backfill calls of every default methodology (the first published, as a run records them) for every
session with a call, a second version of each RTY call of 2026-02-04, the seed analyst call of
that day, resolved outcomes, and an ES batch with quarantined rows.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from flows.cli import build_parser, main
from pipeline.analysis.assemble import with_content_hash
from pipeline.analysis.methodology import DEFAULT_METHODOLOGIES
from pipeline.analysis.methodology import get as get_methodology
from pipeline.audit.analyst import analyst_snapshot_rows, market_facts, parse_analyst_call
from pipeline.audit.outcomes import resolve_outcomes
from pipeline.market.calendar import add_sessions
from pipeline.market.continuous import continuous_series
from pipeline.quality.result import FINDING_SCHEMA, ValidationResult, empty_findings
from pipeline.schema import BAR_SCHEMA, Batch
from pipeline.sources.demo import DemoSource
from tests.support.sql import query
from warehouse.store import MethodologyEntry, Warehouse

#: The methodologies a run computes by default; the first is published.
METHODOLOGIES = DEFAULT_METHODOLOGIES
PUBLISHED = METHODOLOGIES[0]

REPO = Path(__file__).resolve().parents[2]
QUERY_DIR = REPO / "warehouse" / "queries"
QUERY_FILES = sorted(QUERY_DIR.glob("*.sql"))
README = QUERY_DIR / "README.md"
SEED_CALL = REPO / "pipeline" / "audit" / "examples" / "rty-2026-02-04-seed.toml"

ROOTS = ("RTY", "ES")
FIRST_SESSION, LAST_SESSION = date(2024, 1, 2), date(2026, 6, 30)
MODEL = "callbook"
ANALYST = "seed-note"  # the author in the seed call file
CALL_DAY = date(2026, 2, 4)  # the seed call's as_of; its model call gets a second version
REVISED_CONTRACT = "RTYH26"  # the vendor revises this contract's settlement on CALL_DAY
P_BULL_SHIFT = 0.05  # version 2 of the model's CALL_DAY call moves this much from sideways to bull
LINE_BREAK_SESSIONS = 10  # query 01's "within 10 sessions"
WORST_SHOWN = 10  # query 06's "worst 10"
BUCKETS = 10  # query 02's tenths
PROBABILITY_MOVE = 0.05  # call_changes reports a probability change of at least this
STORED_SCORE_ROUNDING = 1e-6  # outcomes store scores to 6 decimals

# The warehouse's history (UTC): load, analyse, revise a bar, re-run one call, resolve, quarantine.
LOADED_AT = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
ANALYSED_AT = LOADED_AT + timedelta(hours=1)
REVISED_AT = datetime(2026, 7, 2, 12, 0, tzinfo=UTC)
RERUN_AT = REVISED_AT + timedelta(hours=1)
RESOLVED_AT = REVISED_AT + timedelta(hours=2)
QUARANTINED_AT = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)
CODE_VERSION = "test"


@dataclass(frozen=True)
class Book:
    """The warehouse the queries run on, and the facts the fixture put into it."""

    data_dir: Path
    wh: Warehouse  # read-only
    close_before_revision: float
    close_after_revision: float
    quarantined: pl.DataFrame  # the findings of the ES batch (FINDING_SCHEMA)


@dataclass(frozen=True)
class QueryDoc:
    """A query file and the example command line in its header."""

    path: Path
    sql: str
    argv: list[str]  # the command line after `callbook`: ["sql", "@warehouse/queries/...", ...]
    params: dict[str, str]


EXAMPLE_LINE = re.compile(r"^--\s+(callbook sql @.+)$", re.MULTILINE)
PARAMETER = re.compile(r"\$([a-z_]+)")
TEMPLATE_PLACEHOLDER = re.compile(r"\{\{|\{[a-z_]+\}|%\(\w+\)s")  # jinja, str.format, %-format


def query_doc(path: Path) -> QueryDoc:
    sql = path.read_text(encoding="utf-8")
    examples = EXAMPLE_LINE.findall(sql)
    assert len(examples) == 1, f"{path.name}: expected one example command line, found {examples}"
    argv = shlex.split(examples[0])[1:]
    args = build_parser().parse_args(argv)
    return QueryDoc(path, sql, argv, dict(args.param))


def run_documented(book: Book, name: str) -> pl.DataFrame:
    doc = query_doc(QUERY_DIR / name)
    return query(book.wh, doc.sql, doc.params or None)


# -- building the warehouse --------------------------------------------------------------------


def passed(batch: Batch) -> ValidationResult:
    return ValidationResult(
        status="passed",
        clean=batch.bars,
        findings=empty_findings(),
        suite_name="test",
        suite_version="1",
    )


def record(wh: Warehouse, batch: Batch, validation: ValidationResult, at: datetime) -> None:
    duplicate = wh.record_batch(batch, lake_path="lake/test.parquet", run_id=None, recorded_at=at)
    wh.load_batch(batch, validation, run_id=None, recorded_at=at, duplicate=duplicate)


def batch_of(frame: pl.DataFrame, root: str, fetched_at: datetime) -> Batch:
    frame = frame.cast(pl.Schema(BAR_SCHEMA))
    first, last = frame["session_date"].min(), frame["session_date"].max()
    assert isinstance(first, date) and isinstance(last, date)
    return Batch(
        source="demo",
        root=root,
        raw=frame.to_arrow(),
        bars=frame,
        fetched_at=fetched_at,
        window_start=first,
        window_end=last,
        metadata={"test": True},
    )


def series_by_root(wh: Warehouse) -> dict[str, pl.DataFrame]:
    return {root: continuous_series(wh.current_bars(root, source="demo")) for root in ROOTS}


def write(wh: Warehouse, rows: pl.DataFrame, *, kind: str, at: datetime) -> None:
    wh.write_snapshots(rows, kind=kind, flow_run_id=None, code_version=CODE_VERSION, created_at=at)


def write_analyst_call(wh: Warehouse, rows: pl.DataFrame) -> None:
    """The seed call's rows (from the book) again, resolved on the demo bars."""
    rows = with_content_hash(rows).with_columns(resolved_on_source=pl.lit("demo"))
    write(wh, rows, kind="analyst", at=ANALYSED_AT)


def revise_settlement(wh: Warehouse) -> tuple[float, float]:
    """A vendor revision: the close of REVISED_CONTRACT on CALL_DAY, moved toward the low."""
    bar = wh.current_bars("RTY", source="demo").filter(
        (pl.col("contract") == REVISED_CONTRACT) & (pl.col("session_date") == CALL_DAY)
    )
    before, low = bar.row(0, named=True)["close"], bar.row(0, named=True)["low"]
    after = round((before + low) / 2, 1)
    assert after != before
    revision = batch_of(bar.with_columns(close=pl.lit(after)), "RTY", REVISED_AT)
    record(wh, revision, passed(revision), REVISED_AT)
    return before, after


def publish(wh: Warehouse, versions: tuple[str, ...]) -> None:
    """The methodologies table as a run writes it (the first published), without tuning periods:
    every call here is scored (tuning periods have tests of their own)."""
    entries = []
    for i, version in enumerate(versions):
        methodology = get_methodology(version)
        entries.append(
            MethodologyEntry(
                version, methodology.params_hash, methodology.params.as_dict(), published=i == 0
            )
        )
    wh.record_methodologies(entries, at=ANALYSED_AT)


def rerun_call(wh: Warehouse) -> None:
    """Version 2 of the model's CALL_DAY call of every methodology: other inputs, the bull
    probability moved up."""
    v1 = wh.snapshot_rows("RTY", author=MODEL, as_of=CALL_DAY)
    rerun = v1.with_columns(
        (pl.col("p_bull") + P_BULL_SHIFT).round(4),
        (pl.col("p_sideways") - P_BULL_SHIFT).round(4),
        pl.lit("fingerprint-after-revision").alias("input_fingerprint"),
    )
    write(wh, with_content_hash(rerun), kind="backfill", at=RERUN_AT)


def quarantined_es_batch(wh: Warehouse) -> pl.DataFrame:
    """An ES batch of four rows: one good (a known bar, with a warning), two whose high is below
    the close, one dated on a Saturday. Returns its findings."""
    known = wh.current_bars("ES", source="demo").filter(pl.col("contract") == "ESH26")
    good = known.filter(pl.col("session_date") == date(2026, 2, 3))
    broken = known.filter(pl.col("session_date").is_in([date(2026, 2, 5), date(2026, 2, 6)]))
    broken = broken.with_columns(high=pl.col("low") - 1)
    saturday = good.with_columns(session_date=pl.lit(date(2026, 2, 7)))
    frame = pl.concat([good, broken, saturday])
    raw = [json.dumps(row, default=str) for row in frame.iter_rows(named=True)]
    findings = pl.DataFrame(
        {
            "row_index": [0, 1, 2, 3],
            "rule": ["volume.repeated", "ohlc.high_bound", "ohlc.high_bound", "session.trade_date"],
            "severity": ["warning", "error", "error", "error"],
            "detail": [
                "volume equals the previous session's",
                "high below max(open, close)",
                "high below max(open, close)",
                "2026-02-07 is not a CME trade date",
            ],
            "contract": frame["contract"].to_list(),
            "session_date": frame["session_date"].to_list(),
            "raw_row": raw,
        },
        schema=FINDING_SCHEMA,
    )
    batch = batch_of(frame, "ES", QUARANTINED_AT)
    validation = ValidationResult(
        status="partial", clean=good, findings=findings, suite_name="test", suite_version="1"
    )
    record(wh, batch, validation, QUARANTINED_AT)
    return findings


def build(path: Path) -> tuple[float, float, pl.DataFrame]:
    with Warehouse.open(path) as wh:
        source = DemoSource()
        for root in ROOTS:
            batch = source.fetch(root, start=FIRST_SESSION, end=LAST_SESSION, fetched_at=LOADED_AT)
            record(wh, batch, passed(batch), LOADED_AT)
        publish(wh, METHODOLOGIES)
        series = series_by_root(wh)
        for version in METHODOLOGIES:
            analyse = get_methodology(version).analyse
            for root in ROOTS:
                calls = analyse(series, root, source="demo").snapshots
                write(wh, calls, kind="backfill", at=ANALYSED_AT)
        call = parse_analyst_call(SEED_CALL.read_text(encoding="utf-8"), fmt="toml")
        seed = analyst_snapshot_rows(call, market_facts(series["RTY"], call.as_of))
        write(
            wh, seed.with_columns(resolved_on_source=pl.lit("demo")), kind="analyst", at=ANALYSED_AT
        )
        before, after = revise_settlement(wh)
        rerun_call(wh)
        series = series_by_root(wh)
        for root in ROOTS:
            pending = wh.unresolved_snapshots(root, source="demo", through=LAST_SESSION)
            wh.append_outcomes(
                resolve_outcomes(pending, series[root]),
                series_through=LAST_SESSION,
                recorded_at=RESOLVED_AT,
            )
        findings = quarantined_es_batch(wh)
    return before, after, findings


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Book]:
    data_dir = tmp_path_factory.mktemp("queries")
    before, after, findings = build(data_dir / "warehouse.duckdb")
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        yield Book(data_dir, wh, before, after, findings)


# -- direct computations from the tables (independent of the views) ----------------------------


def scored_calls(wh: Warehouse) -> pl.DataFrame:
    """Latest version per (root, as_of, author, kind, methodology) joined with its outcome."""
    snapshots = query(wh, "select * from snapshots")
    latest = snapshots.sort("version", descending=True).unique(
        ["root", "as_of", "author", "kind", "methodology_version"], keep="first"
    )
    outcomes = query(wh, "select * from outcomes")
    return latest.join(outcomes, on="snapshot_id", suffix="_outcome")


def latest_versions(wh: Warehouse) -> pl.DataFrame:
    """The latest version of each call: per (root, as_of, author, methodology, source)."""
    snapshots = query(wh, "select * from snapshots")
    return snapshots.sort("version", descending=True).unique(
        ["root", "as_of", "author", "methodology_version", "source"], keep="first"
    )


def ranked_probability_score(p_bear: float, p_sideways: float, outcome: str) -> float:
    """RPS over the ordered categories bear < sideways < bull, by hand."""
    cumulative_forecast = (p_bear, p_bear + p_sideways)
    cumulative_observed = (float(outcome == "bear"), float(outcome in ("bear", "sideways")))
    return (
        sum((f - o) ** 2 for f, o in zip(cumulative_forecast, cumulative_observed, strict=True)) / 2
    )


# -- the documentation ---------------------------------------------------------------------------


def test_there_are_query_files() -> None:
    assert len(QUERY_FILES) >= 9


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_header_documents_question_parameters_units_and_an_example(path: Path) -> None:
    doc = query_doc(path)
    header = doc.sql.split("\n\n", 1)[0]
    assert all(line.startswith("--") for line in header.splitlines()), "header is one comment block"
    for section in ("Question:", "Parameters:", "Returns:", "Example:"):
        assert section in header, f"{path.name}: header lacks {section!r}"
    assert doc.argv[1] == f"@warehouse/queries/{path.name}"
    body = "\n".join(line for line in doc.sql.splitlines() if not line.lstrip().startswith("--"))
    assert set(PARAMETER.findall(body)) == set(doc.params), "example binds every parameter"
    for name in doc.params:
        assert f"${name}" in header, f"{path.name}: parameter ${name} is not documented"
    assert re.search(r"^select \* from final\b", body, re.MULTILINE), "ends in select * from final"
    assert not TEMPLATE_PLACEHOLDER.search(body), "values are bound parameters, not templated"


def test_readme_lists_every_query_with_its_command_line() -> None:
    readme = README.read_text(encoding="utf-8")
    for path in QUERY_FILES:
        command = EXAMPLE_LINE.findall(path.read_text(encoding="utf-8"))[0]
        assert command in readme, f"README lacks the command line of {path.name}"


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_every_query_runs_read_only_with_its_documented_parameters(book: Book, path: Path) -> None:
    result = run_documented(book, path.name)
    assert result.height > 0, f"{path.name} returned no rows on the test warehouse"


# -- each query's content ------------------------------------------------------------------------


def test_01_bullish_line_breaks_match_the_tables(book: Book) -> None:
    result = run_documented(book, "01_bullish_line_breaks.sql")
    doc = query_doc(QUERY_DIR / "01_bullish_line_breaks.sql")
    root = doc.params["root"]
    calls = scored_calls(book.wh)
    expected = calls.filter(
        (pl.col("primary_trend") == "Bullish")
        & (pl.col("line_break_step") <= LINE_BREAK_SESSIONS)
        & (pl.col("root") == root)
    )
    assert expected.height > 0
    key = ["root", "as_of", "author", "kind", "line_break_step", "outcome", "rps"]
    assert result.select(key).sort(key).rows() == expected.select(key).sort(key).rows()
    assert set(result["primary_trend"]) == {"Bullish"}
    for row in result.iter_rows(named=True):
        assert row["line_break_session"] == add_sessions(row["as_of"], row["line_break_step"])
        assert row["contract"].startswith(root)
    everything = query(book.wh, doc.sql, {"root": "ALL"})
    assert set(everything["root"]) == set(ROOTS)
    assert (
        everything.height
        == calls.filter(
            (pl.col("primary_trend") == "Bullish")
            & (pl.col("line_break_step") <= LINE_BREAK_SESSIONS)
        ).height
    )


def test_02_bull_calibration_matches_the_tables(book: Book) -> None:
    result = run_documented(book, "02_bull_calibration.sql")
    params = query_doc(QUERY_DIR / "02_bull_calibration.sql").params
    model = scored_calls(book.wh).filter(
        (pl.col("author") == MODEL)
        & (pl.col("kind") == params["kind"])
        & (pl.col("as_of") >= date.fromisoformat(params["since"]))
    )
    expected = (
        model.with_columns(
            ((pl.col("p_bull") * BUCKETS).floor().clip(upper_bound=BUCKETS - 1) / BUCKETS).alias(
                "bucket_low"
            ),
            (pl.col("outcome") == "bull").cast(pl.Float64).alias("hit"),
        )
        .group_by("root", "methodology_version", "source", "bucket_low")
        .agg(
            pl.len().alias("calls"),
            pl.col("p_bull").mean().alias("mean_forecast"),
            pl.col("hit").mean().alias("observed_frequency"),
        )
        .sort("root", "methodology_version", "source", "bucket_low")
    )
    assert result["calls"].sum() == model.height > 0
    assert set(result["root"]) == set(ROOTS)
    assert set(result["methodology_version"]) == set(METHODOLOGIES)
    key = ["root", "methodology_version", "source", "calls"]
    assert result.select(key).rows() == expected.select(key).rows()
    for column in ("bucket_low", "mean_forecast", "observed_frequency"):
        assert result[column].to_list() == pytest.approx(expected[column].to_list())
    assert (result["bucket_high"] - result["bucket_low"]).to_list() == pytest.approx(
        [1 / BUCKETS] * result.height
    )


def test_03_call_versions_show_the_rerun_and_what_changed(book: Book) -> None:
    """Each methodology's version 2 is compared with its own version 1, never with another
    methodology's version 1 of the same day (versions count per methodology and source)."""
    result = run_documented(book, "03_call_versions.sql")
    expected = [
        (MODEL, methodology, version, "backfill")
        for methodology in sorted(METHODOLOGIES)
        for version in (1, 2)
    ]
    assert result.select("author", "methodology_version", "version", "kind").rows() == [
        *expected,
        (ANALYST, "analyst", 1, "analyst"),
    ]
    rows = list(result.iter_rows(named=True))
    for first, second in zip(rows[:-1:2], rows[1:-1:2], strict=True):
        assert first["methodology_version"] == second["methodology_version"]
        assert second["p_bull"] == pytest.approx(first["p_bull"] + P_BULL_SHIFT)
        assert second["p_sideways"] == pytest.approx(first["p_sideways"] - P_BULL_SHIFT)
        assert second["supersedes_version"] == 1 and first["supersedes_version"] is None
        assert first["changes"] == "first version"
        assert second["changes"].split("; ")[0] == "input fingerprint"
        bull_before, bull_after = f"{100 * first['p_bull']:.1f}", f"{100 * second['p_bull']:.1f}"
        assert f"/{bull_before}% → " in second["changes"]
        assert second["changes"].endswith(f"/{bull_after}%")
        assert "trend" not in second["changes"] and "line in the sand" not in second["changes"]
        assert first["created_at"] == ANALYSED_AT and second["created_at"] == RERUN_AT
    assert rows[-1]["changes"] == "first version"


def test_04_pairs_the_seed_call_with_the_published_methodologys_latest_call(book: Book) -> None:
    result = run_documented(book, "04_analyst_vs_model.sql")
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["root"], row["as_of"], row["analyst"]) == ("RTY", CALL_DAY, ANALYST)
    assert (row["model_kind"], row["model_version"]) == ("backfill", 2)
    assert (row["model_methodology"], row["source"]) == (PUBLISHED, "demo")
    model_v2 = book.wh.snapshot_rows(
        "RTY", author=MODEL, as_of=CALL_DAY, methodology=PUBLISHED
    ).row(0, named=True)
    assert row["model_p_bull"] == pytest.approx(model_v2["p_bull"])
    assert (row["analyst_p_bear"], row["analyst_p_sideways"], row["analyst_p_bull"]) == (
        0.20,
        0.40,
        0.40,
    )
    for who in ("analyst", "model"):
        p_bear, p_sideways = row[f"{who}_p_bear"], row[f"{who}_p_sideways"]
        assert row[f"{who}_rps"] == pytest.approx(
            ranked_probability_score(p_bear, p_sideways, row[f"{who}_outcome"]),
            abs=STORED_SCORE_ROUNDING,
        )
    assert row["rps_difference"] == pytest.approx(row["analyst_rps"] - row["model_rps"])


def test_04_prefers_the_models_live_call_to_a_later_backfill(book: Book) -> None:
    model = book.wh.snapshot_rows(
        "RTY", author=MODEL, as_of=CALL_DAY, version=1, methodology=PUBLISHED
    )
    seed = book.wh.snapshot_rows("RTY", author=ANALYST, as_of=CALL_DAY)
    later = model.with_columns(
        (pl.col("p_bull") + P_BULL_SHIFT).round(4), (pl.col("p_sideways") - P_BULL_SHIFT).round(4)
    )
    with Warehouse.in_memory() as wh:
        publish(wh, METHODOLOGIES)
        write(wh, with_content_hash(model), kind="live", at=ANALYSED_AT)
        write(wh, with_content_hash(later), kind="backfill", at=RERUN_AT)
        write_analyst_call(wh, seed)
        doc = query_doc(QUERY_DIR / "04_analyst_vs_model.sql")
        result = query(wh, doc.sql, doc.params)
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["model_kind"], row["model_version"]) == ("live", 1)
    assert row["model_p_bull"] == model["p_bull"].item()
    # Nothing resolved in this warehouse: the pair is shown, the scores are unknown.
    assert row["analyst_outcome"] is None and row["rps_difference"] is None


@pytest.mark.parametrize("published", METHODOLOGIES)
def test_04_pairs_with_whichever_methodology_is_published_on_the_same_source(
    book: Book, published: str
) -> None:
    """Every methodology has a live call that day, and so has the published one on other bars
    (source yahoo): the analyst call (resolved on demo bars) is paired with the published
    methodology's demo call, whichever methodology the run published."""
    seed = book.wh.snapshot_rows("RTY", author=ANALYST, as_of=CALL_DAY)
    with Warehouse.in_memory() as wh:
        publish(wh, (published, *(m for m in METHODOLOGIES if m != published)))
        for methodology in METHODOLOGIES:
            model = book.wh.snapshot_rows(
                "RTY", author=MODEL, as_of=CALL_DAY, version=1, methodology=methodology
            )
            write(wh, with_content_hash(model), kind="live", at=ANALYSED_AT)
            if methodology == published:
                elsewhere = model.with_columns(
                    source=pl.lit("yahoo"), resolved_on_source=pl.lit("yahoo"), p_bull=0.9
                )
                write(wh, with_content_hash(elsewhere), kind="live", at=ANALYSED_AT)
        write_analyst_call(wh, seed)
        doc = query_doc(QUERY_DIR / "04_analyst_vs_model.sql")
        result = query(wh, doc.sql, doc.params)
    (row,) = result.iter_rows(named=True)
    expected = book.wh.snapshot_rows(
        "RTY", author=MODEL, as_of=CALL_DAY, version=1, methodology=published
    ).row(0, named=True)
    assert (row["model_methodology"], row["source"], row["model_kind"]) == (
        published,
        "demo",
        "live",
    )
    assert row["model_p_bull"] == expected["p_bull"] != 0.9


def test_05_scoreboard_counts_and_means_match_the_tables(book: Book) -> None:
    result = run_documented(book, "05_scoreboard.sql")
    calls = scored_calls(book.wh)
    # The seed note (as of 2026-02-04) was stored in July: recorded late, out of the scoreboard.
    late = calls.filter(pl.col("recorded_late"))
    assert late.select("author", "as_of").rows() == [(ANALYST, CALL_DAY)]
    expected = (
        calls.filter(~pl.col("recorded_late"))
        .group_by("root", "kind", "author", "methodology_version", "source")
        .agg(pl.len().alias("calls"), pl.col("rps").mean().alias("mean_rps"))
        .sort("root", "kind", "author", "methodology_version", "source")
    )
    key = ["root", "kind", "author", "methodology_version", "source", "calls"]
    assert result.select(key).rows() == expected.select(key).rows()
    assert result["mean_rps"].to_list() == pytest.approx(expected["mean_rps"].to_list())
    assert ("RTY", "analyst", ANALYST) not in result.select("root", "kind", "author").rows()


def test_06_worst_calls_are_the_highest_rps_of_the_last_n_sessions(book: Book) -> None:
    result = run_documented(book, "06_worst_calls.sql")
    n = int(query_doc(QUERY_DIR / "06_worst_calls.sql").params["n"])
    calls = scored_calls(book.wh)
    window = sorted(set(calls["as_of"]), reverse=True)[:n]
    key = ["root", "as_of", "author", "kind", "rps"]
    expected = (
        calls.filter(pl.col("as_of").is_in(window))
        .sort(
            ["rps", "as_of", "root", "author", "kind"],
            descending=[True, True, False, False, False],
        )
        .head(WORST_SHOWN)
    )
    assert len(window) == n and expected.height == WORST_SHOWN
    assert result["worst_rank"].to_list() == list(range(1, WORST_SHOWN + 1))
    assert result.select(key).rows() == expected.select(key).rows()


def test_07_call_changes_are_the_differences_between_consecutive_calls(book: Book) -> None:
    """Each methodology's call is compared with the previous call of the same methodology."""
    result = run_documented(book, "07_call_changes.sql")
    params = query_doc(QUERY_DIR / "07_call_changes.sql").params
    root, n = params["root"], int(params["n"])
    calls = latest_versions(book.wh).filter((pl.col("root") == root) & (pl.col("author") == MODEL))
    window = set(sorted(set(calls["as_of"]))[-n:])
    expected = set()
    trends = {}
    for methodology in METHODOLOGIES:
        history = calls.filter(pl.col("methodology_version") == methodology).sort("as_of")
        rows = list(history.iter_rows(named=True))
        trends[methodology] = {r["as_of"]: r["primary_trend"] for r in rows}
        for previous, current in itertools.pairwise(rows):
            if current["as_of"] not in window:
                continue
            changed = {
                "primary_trend": previous["primary_trend"] != current["primary_trend"],
                "perspective": previous["perspective"] != current["perspective"],
                # A methodology that keeps its levels says why one changed (line_change).
                "line_in_the_sand": (previous["line_low"], previous["line_high"])
                != (current["line_low"], current["line_high"])
                or current["line_change"] is not None,
                "bias_defining": (previous["bias_low"], previous["bias_high"])
                != (current["bias_low"], current["bias_high"])
                or current["bias_change"] is not None,
                "probabilities": max(abs(current[p] - previous[p]) for p in ("p_bull", "p_bear"))
                >= PROBABILITY_MOVE,
            }
            expected |= {
                (current["as_of"], previous["as_of"], methodology, what)
                for what, yes in changed.items()
                if yes
            }
    assert {m for *_, m, _ in expected} == set(METHODOLOGIES)
    key = ["as_of", "prev_as_of", "methodology_version", "what"]
    assert set(result.select(key).rows()) == expected
    assert set(result["author"]) == {MODEL} and set(result["root"]) == {root}
    trend_rows = result.filter(pl.col("what") == "primary_trend")
    for row in trend_rows.iter_rows(named=True):
        by_day = trends[row["methodology_version"]]
        assert (row["before"], row["after"]) == (by_day[row["prev_as_of"]], by_day[row["as_of"]])


def test_08_lists_the_revised_bar_with_old_and_new_values(book: Book) -> None:
    result = run_documented(book, "08_bars_then_vs_now.sql")
    doc = query_doc(QUERY_DIR / "08_bars_then_vs_now.sql")
    assert LOADED_AT < datetime.fromisoformat(doc.params["known_at"]) < REVISED_AT
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["contract"], row["session_date"], row["change"]) == (
        REVISED_CONTRACT,
        CALL_DAY,
        "revised",
    )
    assert row["changed_fields"] == "close"
    assert (row["close_then"], row["close_now"]) == (
        book.close_before_revision,
        book.close_after_revision,
    )
    assert row["high_then"] == row["high_now"]
    assert (row["recorded_then"], row["recorded_now"]) == (LOADED_AT, REVISED_AT)

    # Before the first load nothing was known: every current bar of the range arrived since.
    before_load = {**doc.params, "known_at": (LOADED_AT - timedelta(seconds=1)).isoformat()}
    everything = query(book.wh, doc.sql, before_load)
    in_range = book.wh.current_bars(
        "RTY",
        source="demo",
        start=date.fromisoformat(doc.params["start"]),
        end=date.fromisoformat(doc.params["end"]),
    )
    assert set(everything["change"]) == {"added"}
    assert everything.height == in_range.height > 0


def test_09_quarantine_summary_counts_rules_with_recent_examples(book: Book) -> None:
    result = run_documented(book, "09_quarantine_summary.sql")
    findings = book.quarantined
    expected_counts = (
        findings.group_by("severity", "rule").agg(pl.len().alias("findings")).sort("findings")
    )
    rows = {(r["severity"], r["rule"]): r for r in result.iter_rows(named=True)}
    assert set(rows) == set(expected_counts.select("severity", "rule").rows())
    for severity, rule, count in expected_counts.rows():
        assert rows[(severity, rule)]["findings"] == count
        assert (rows[(severity, rule)]["source"], rows[(severity, rule)]["root"]) == ("demo", "ES")
    assert result["severity"].to_list()[:2] == ["error", "error"]  # errors first
    assert result.row(0, named=True)["rule"] == "ohlc.high_bound"  # the most findings first
    high_bound = rows[("error", "ohlc.high_bound")]
    assert high_bound["recent_examples"].split(" | ") == [
        "ESH26 2026-02-06: high below max(open, close)",
        "ESH26 2026-02-05: high below max(open, close)",
    ]
    newest = findings.filter(pl.col("session_date") == date(2026, 2, 6))["raw_row"].item()
    assert json.loads(high_bound["latest_raw_row"]) == json.loads(newest)
    assert high_bound["last_recorded_at"] == QUARANTINED_AT
    only_rty = query(
        book.wh, query_doc(QUERY_DIR / "09_quarantine_summary.sql").sql, {"root": "rty"}
    )
    assert only_rty.height == 0


# -- through the command line --------------------------------------------------------------------


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_callbook_sql_runs_the_documented_command_line(
    book: Book, path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = query_doc(path)
    monkeypatch.chdir(REPO)  # the example names the file relative to the checkout
    assert main(["--data-dir", str(book.data_dir), *doc.argv, "--format", "csv"]) == 0
    printed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    direct = query(book.wh, doc.sql, doc.params or None)
    assert len(printed) == direct.height > 0
    assert list(printed[0]) == direct.columns


def test_callbook_sql_prints_a_table(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = query_doc(QUERY_DIR / "03_call_versions.sql")
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("COLUMNS", "400")  # rich: wide enough not to fold the cells
    assert main(["--data-dir", str(book.data_dir), *doc.argv]) == 0
    out = capsys.readouterr().out
    assert all(word in out for word in (ANALYST, MODEL, "backfill", "analyst", str(CALL_DAY)))


def test_readme_python_recipe_runs(book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = README.read_text(encoding="utf-8")
    recipes = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    assert len(recipes) == 1
    assert "data/warehouse.read.duckdb" in recipes[0]  # the replica, as every reader
    monkeypatch.chdir(REPO)
    namespace: dict[str, object] = {}
    exec(
        recipes[0].replace("data/warehouse.read.duckdb", str(book.data_dir / "warehouse.duckdb")),
        namespace,
    )
    frame = namespace["frame"]
    assert isinstance(frame, pl.DataFrame)
    assert frame.select("author", "methodology_version", "version").rows() == [
        *((MODEL, m, v) for m in sorted(METHODOLOGIES) for v in (1, 2)),
        (ANALYST, "analyst", 1),
    ]
