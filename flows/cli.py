"""The ``callbook`` command line. Start-up stays fast: heavy modules load inside each command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A one-line error for the user; exit status 1."""


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _mapping(value: str) -> tuple[str, str]:
    canonical, sep, column = value.partition("=")
    if not sep or not canonical or not column:
        raise argparse.ArgumentTypeError(
            f"expected CANONICAL=COLUMN (e.g. close=Settle), got {value!r}"
        )
    return canonical.strip(), column.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callbook",
        description="An honest, queryable record of daily technical calls on CME equity-index futures.",
    )
    parser.add_argument(
        "--data-dir",
        help="data directory holding warehouse.duckdb, lake/ and reports/ "
        "(default: $CALLBOOK_DATA_DIR or ./data)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("nightly", help="run the nightly flow: ingest, validate, load, analyse")
    p.add_argument(
        "--roots", help="comma-separated roots (default: $CALLBOOK_ROOTS or RTY,ES,NQ,YM)"
    )
    p.add_argument(
        "--source", choices=("demo", "yahoo"), help="bar source (default: $CALLBOOK_SOURCE or demo)"
    )
    p.add_argument(
        "--as-of", type=_date, help="CME trade date (default: the last completed session)"
    )
    _methodologies_option(p)

    p = sub.add_parser("ingest", help="ingest one root from one source over a date range")
    p.add_argument("--root", required=True)
    p.add_argument("--source", required=True, choices=("demo", "yahoo", "file"))
    p.add_argument("--path", help="file to read (source file): CSV or Parquet")
    p.add_argument(
        "--index-path",
        help="the root's cash index file (source file, e.g. ^DJI for YM): measures roll gaps",
    )
    p.add_argument(
        "--map",
        type=_mapping,
        action="append",
        default=[],
        metavar="CANONICAL=COLUMN",
        help="column mapping for the file source, e.g. --map close=Settle (repeatable)",
    )
    p.add_argument("--start", type=_date, help="first session (default: everything the source has)")
    p.add_argument("--end", type=_date, help="last session (default: the last completed session)")

    sub.add_parser(
        "status", help="per root: first and last session, rows, quarantined rows, last run"
    )

    p = sub.add_parser("sql", help="run a read-only SQL query against the warehouse")
    p.add_argument("query", help="SQL text, or @FILE to read it from a file")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--limit", type=int, default=200, help="rows to print in table format (default 200)"
    )
    p.add_argument(
        "--param",
        type=_mapping,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="bind $NAME in the query to VALUE (repeatable), e.g. --param root=RTY",
    )

    p = sub.add_parser("quarantine", help="show quarantined rows with the rule they broke")
    p.add_argument("--root")
    p.add_argument("--limit", type=int, default=50)

    p = sub.add_parser("show", help="print a stored call as the daily note")
    p.add_argument("root")
    p.add_argument("--as-of", type=_date, help="the call's as-of session (default: the latest)")
    p.add_argument("--version", type=int, help="a specific version (default: the latest)")
    p.add_argument("--author", default="callbook", help="callbook (the model) or an analyst")
    p.add_argument(
        "--methodology",
        help="methodology of the model's call (default: the published one, the first of "
        "$CALLBOOK_METHODOLOGIES)",
    )
    p.add_argument("--format", choices=("terminal", "markdown"), default="terminal")

    p = sub.add_parser(
        "backfill", help="point-in-time snapshots for every session of a range, then outcomes"
    )
    p.add_argument("--roots", help="comma-separated roots (default: $CALLBOOK_ROOTS or all four)")
    p.add_argument("--source", choices=("demo", "yahoo", "file"), help="whose bars to use")
    p.add_argument("--start", type=_date, help="first as-of session (default: the first call)")
    p.add_argument("--end", type=_date, help="last as-of session (default: the last completed)")
    _methodologies_option(p)

    p = sub.add_parser("resolve", help="append the outcomes of calls whose horizon has passed")
    p.add_argument("--roots", help="comma-separated roots")
    p.add_argument("--source", choices=("demo", "yahoo", "file"), help="whose bars to use")

    p = sub.add_parser("audit", help="scoreboard and calibration of past calls")
    p.add_argument("root", nargs="?", help="one root (default: all)")
    p.add_argument("--author", help="only this author (callbook = the model)")
    p.add_argument("--kind", choices=("live", "backfill", "analyst"), help="only this kind")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap replicates (default 2000)")
    p.add_argument(
        "--quality",
        action="store_true",
        help="call quality per root and methodology: level properties, persistence, false "
        "statements, crash labels, roll gaps, v2 - v1 scores",
    )
    p.add_argument("--source", choices=("demo", "yahoo", "file"), help="whose calls (--quality)")

    p = sub.add_parser("calls", help="analyst calls")
    actions = p.add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="record a hand-written call (TOML or YAML) as a snapshot")
    add.add_argument("file", help="the call file (.toml or .yaml)")
    add.add_argument(
        "--source", choices=("demo", "yahoo", "file"), help="whose bars it is resolved on"
    )
    return parser


def _methodologies_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--methodologies",
        help="comma-separated methodology versions to compute, the first published "
        "(default: $CALLBOOK_METHODOLOGIES or the built-in default)",
    )


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from flows.settings import load_settings

    return load_settings(data_dir=args.data_dir, **overrides)


def _open_read_only(args: argparse.Namespace) -> Any:
    from warehouse.store import Warehouse

    return Warehouse.open(_settings(args).warehouse_path, read_only=True)


def _print_frame(
    frame: Any, *, title: str | None = None, fmt: str = "table", limit: int = 200
) -> None:
    if fmt == "csv":
        sys.stdout.write(frame.write_csv())
        return
    if fmt == "json":
        sys.stdout.write(frame.write_json() + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for name in frame.columns:
        table.add_column(name, overflow="fold")
    for row in frame.head(limit).iter_rows():
        table.add_row(
            *(
                ""
                if v is None
                else f"{v:,}"
                if isinstance(v, int) and not isinstance(v, bool)
                else str(v)
                for v in row
            )
        )
    console = Console()
    console.print(table)
    if frame.height > limit:
        console.print(f"({frame.height - limit:,} more rows; use --limit or --format csv)")


def _quiet_prefect() -> None:
    # Without PREFECT_API_URL a flow run starts a temporary local API server; on a busy 2-core
    # machine that takes longer than Prefect's default 20 s wait.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def cmd_nightly(args: argparse.Namespace) -> int:
    _quiet_prefect()
    settings = _settings(
        args, roots=args.roots, source=args.source, methodologies=args.methodologies
    )
    from rich.console import Console
    from rich.markdown import Markdown

    from flows.nightly import nightly, summary_markdown

    result = nightly(
        roots=list(settings.roots),
        source=settings.source,
        as_of=args.as_of,
        data_dir=str(settings.data_dir),
        methodologies=list(settings.methodologies),
    )
    console = Console()
    console.print(
        Markdown(
            summary_markdown(
                result.ingest, as_of=result.as_of, source=result.source, reports=result.reports
            )
        )
    )
    featured = next((r for r in result.reports if r.root == "RTY"), None) or next(
        iter(result.reports), None
    )
    if featured is not None:
        console.rule(f"{featured.root} {featured.as_of} — {featured.note_path}")
        console.print(Markdown(featured.note))
        print(f"chart: {featured.chart_path}")  # unwrapped: a path to copy
    for s in result.failed:
        print(f"callbook: {s.root} {s.status}: {s.message}", file=sys.stderr)
    return EXIT_FAILED if result.failed else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markdown import Markdown

    from pipeline.analysis.assemble import snapshot_from_row
    from pipeline.report.note import render_note
    from warehouse.reports import report_paths

    root = args.root.upper()
    settings = _settings(args)
    methodology = args.methodology or (
        settings.published_methodology if args.author == "callbook" else None
    )
    with _open_read_only(args) as wh:
        rows = wh.snapshot_rows(
            root,
            author=args.author,
            as_of=args.as_of,
            version=args.version,
            methodology=methodology,
            latest_only=True,
        )
        if rows.height == 0:
            when = f" on {args.as_of}" if args.as_of else ""
            which = f" {methodology}" if methodology else ""
            raise CliError(
                f"no {args.author}{which} snapshot for {root}{when} (run `callbook nightly`)"
            )
        row = rows.row(0, named=True)
        previous = wh.query(
            "select * from latest_snapshots where root = $root and author = $author"
            " and methodology_version = $methodology and source = $source"
            " and as_of < $as_of order by as_of desc limit 1",
            {
                "root": root,
                "author": args.author,
                "as_of": row["as_of"],
                "methodology": row["methodology_version"],
                "source": row["source"],
            },
        )
    snapshot = snapshot_from_row(row)
    paths = report_paths(
        settings.data_dir,
        root,
        row["as_of"],
        row["version"],
        methodology=row["methodology_version"],
    )
    note = render_note(
        snapshot,
        chart_file=str(paths.chart) if paths.chart.exists() else None,
        demo=row["source"] == "demo",
        previous=snapshot_from_row(previous.row(0, named=True)) if previous.height else None,
    )
    if args.format == "markdown":
        sys.stdout.write(note + "\n")
    else:
        Console().print(Markdown(note))
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    _quiet_prefect()
    settings = _settings(args, roots=args.root, source=args.source)
    if args.source == "file" and not args.path:
        raise CliError("--source file needs --path FILE")
    if args.index_path and args.source != "file":
        raise CliError("--index-path is for --source file (yahoo fetches the index itself)")
    from flows.nightly import ingest

    summary = ingest(
        root=settings.roots[0],
        source=settings.source,
        start=args.start,
        end=args.end,
        data_dir=str(settings.data_dir),
        source_options={"path": args.path, "columns": dict(args.map), "index_path": args.index_path}
        if args.source == "file"
        else {},
    )
    print(
        f"{summary.root}: received {summary.received:,}, new {summary.inserted:,}, revised "
        f"{summary.revised:,}, unchanged {summary.unchanged:,}, quarantined {summary.quarantined:,}, "
        f"deferred {summary.deferred:,} — {summary.status}"
    )
    if summary.status != "ok":
        print(f"callbook: {summary.root} {summary.status}: {summary.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    with _open_read_only(args) as wh:
        _print_frame(wh.status(), title=f"callbook status — bars in {wh.path}")
        _print_frame(wh.query("select * from snapshot_status"), title="snapshots")
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    query = args.query
    if query.startswith("@"):
        with open(query[1:], encoding="utf-8") as fh:
            query = fh.read()
    params = dict(args.param) or None
    with _open_read_only(args) as wh:
        _print_frame(wh.query(query, params), fmt=args.format, limit=args.limit)
    return EXIT_OK


def cmd_backfill(args: argparse.Namespace) -> int:
    _quiet_prefect()
    settings = _settings(
        args, roots=args.roots, source=args.source, methodologies=args.methodologies
    )
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from flows.history import backfill, progress_hook

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        bars: dict[str, Any] = {}

        def show(root: str, done: int, total: int) -> None:
            if root not in bars:
                bars[root] = bar.add_task(f"{root} snapshots", total=total)
            bar.update(bars[root], completed=done)

        with progress_hook(show):
            result = backfill(
                roots=list(settings.roots),
                source=settings.source,
                start=args.start,
                end=args.end,
                data_dir=str(settings.data_dir),
                methodologies=list(settings.methodologies),
            )
    for r in result.roots:
        print(
            f"{r.root} {r.methodology}: {r.sessions:,} calls computed, {r.written:,} written, "
            f"{r.unchanged:,} already stored"
        )
    for root, n in result.outcomes.items():
        print(f"{root}: {n:,} outcomes appended")
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace) -> int:
    _quiet_prefect()
    settings = _settings(args, roots=args.roots, source=args.source)
    from flows.history import resolve

    written = resolve(
        roots=list(settings.roots), source=settings.source, data_dir=str(settings.data_dir)
    )
    for root, n in written.items():
        print(f"{root}: {n:,} outcomes appended")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    if args.quality:
        return _audit_quality(args)
    from rich.console import Console

    from pipeline.audit.calibration import GROUP, calibration_table, scoreboard
    from pipeline.report.chart import render_reliability_chart
    from warehouse.reports import write_atomic

    root = args.root.upper() if args.root else None
    with _open_read_only(args) as wh:
        scored = wh.query(
            "select * from scored_calls where ($root is null or root = $root)"
            " and ($author is null or author = $author) and ($kind is null or kind = $kind)"
            " order by root, author, kind, methodology_version, source, as_of",
            {"root": root, "author": args.author, "kind": args.kind},
        )
    if scored.height == 0:
        raise CliError(
            "no resolved calls to audit yet: run `callbook backfill` (history) or wait until the "
            "horizon of the nightly calls has passed (`callbook resolve`)"
        )
    board = scoreboard(scored, n_boot=args.boot)
    calibration = calibration_table(scored)
    console = Console()
    console.print(
        "[bold]Scoreboard[/bold] — ranked probability score (RPS, lower is better) against two "
        "point-in-time references: the expanding climatology of the same group, and base rates "
        "by barrier geometry alone. Skill = 1 − RPS / reference RPS, with a 90 % block-bootstrap "
        "interval (blocks of one horizon: overlapping calls are not independent)."
    )
    _print_frame(_scoreboard_view(board), title=None)
    console.print(
        "[bold]Calibration[/bold] — for each forecast bucket, how often the scenario happened "
        "(Wilson 95 % interval)."
    )
    _print_frame(_calibration_view(calibration), title=None, limit=400)
    out_dir = _settings(args).data_dir / "reports" / "audit"
    for keys, group in calibration.group_by(list(GROUP), maintain_order=True):
        name = "-".join(str(k) for k in keys)
        path = out_dir / f"reliability-{name}.png"
        write_atomic(
            path,
            render_reliability_chart(
                group.rename({"frequency_low": "low", "frequency_high": "high"}),
                title=f"Reliability: {' / '.join(map(str, keys))}",
            ),
        )
        console.print(f"reliability chart: {path}")
    return EXIT_OK


def _audit_quality(args: argparse.Namespace) -> int:
    from rich.console import Console

    from flows.quality import quality_report
    from pipeline.audit.quality import QUALITY_COLUMNS, QualityParams, transposed_quality

    settings = _settings(args, source=args.source)
    with _open_read_only(args) as wh:
        report = quality_report(
            wh,
            source=settings.source,
            roots=[args.root.upper()] if args.root else None,
            params=QualityParams(n_boot=args.boot),
        )
    if report.table.height == 0:
        raise CliError(
            f"no model calls of source {settings.source} to judge: run `callbook backfill`"
        )
    console = Console()
    console.print(
        "[bold]Call quality[/bold] — per root and methodology (definitions: "
        "pipeline/audit/quality.py). Widths and distances in ATR(14); runs in sessions."
    )
    for root, by_methodology in transposed_quality(report.table, QUALITY_COLUMNS):
        _print_frame(by_methodology, title=root)
    if report.scores.height:
        console.print(
            "[bold]v2 - v1 on the same sessions[/bold] — mean RPS difference (negative favours "
            "v2) with a 90 % block-bootstrap interval; each call resolved on its own barriers."
        )
        _print_frame(
            report.scores.select(
                "root",
                "sessions",
                _interval_expr("rps").alias("RPS v2 - v1"),
                _interval_expr("vs_climatology").alias("(RPS - ref RPS) v2 - v1"),
            ),
            title=None,
        )
    return EXIT_OK


def _interval_expr(prefix: str) -> Any:
    import polars as pl

    return pl.format(
        "{} [{}, {}]",
        *(pl.col(f"{prefix}_{part}").round(4) for part in ("difference", "low", "high")),
    )


def _interval(value: float, low: float, high: float) -> str:
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"


def _scoreboard_view(board: Any) -> Any:
    """The scoreboard with one readable cell per figure (fits a terminal)."""
    import polars as pl

    return pl.DataFrame(
        {
            "group": [
                f"{r['root']} {r['author']} {r['kind']} {r['methodology_version']} {r['source']}"
                for r in board.iter_rows(named=True)
            ],
            "calls (eff.)": [
                f"{r['calls']:,} ({r['effective_calls']:,.0f})" for r in board.iter_rows(named=True)
            ],
            "as of": [
                f"{r['first_as_of']}..{r['last_as_of']}" for r in board.iter_rows(named=True)
            ],
            "RPS / ref": [
                f"{r['mean_rps']:.3f} / {r['mean_clim_rps']:.3f}"
                for r in board.iter_rows(named=True)
            ],
            "skill vs climatology": [
                _interval(r["skill_vs_climatology"], r["skill_low"], r["skill_high"])
                for r in board.iter_rows(named=True)
            ],
            "skill vs geometry": [
                _interval(r["skill_vs_geometry"], r["geometry_low"], r["geometry_high"])
                for r in board.iter_rows(named=True)
            ],
            "Brier / log": [
                f"{r['mean_brier']:.3f} / {r['mean_log_score']:.3f}"
                for r in board.iter_rows(named=True)
            ],
        }
    )


def _calibration_view(calibration: Any) -> Any:
    import polars as pl

    from pipeline.audit.calibration import GROUP

    return calibration.select(
        pl.format("{} {} {} {} {}", *GROUP).alias("group"),
        "scenario",
        pl.format("{}–{}", pl.col("bucket_low").round(1), pl.col("bucket_high").round(1)).alias(
            "forecast"
        ),
        pl.col("count").alias("calls"),
        pl.col("mean_forecast").round(3).alias("mean p"),
        pl.format(
            "{} [{}, {}]",
            pl.col("observed_frequency").round(3),
            pl.col("frequency_low").round(3),
            pl.col("frequency_high").round(3),
        ).alias("observed [95 %]"),
    )


def cmd_calls(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows import tasks
    from flows.history import append_outcomes_of
    from flows.settings import code_version
    from pipeline.analysis.assemble import snapshot_from_row
    from pipeline.audit.analyst import analyst_snapshot_rows, market_facts, parse_analyst_call
    from pipeline.market.continuous import continuous_series
    from pipeline.report.note import render_summary_line
    from warehouse.store import Warehouse

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    fmt = path.suffix.lower().lstrip(".")
    call = parse_analyst_call(path.read_text(encoding="utf-8"), fmt=fmt)
    settings = _settings(args, source=args.source)
    with Warehouse.open(settings.warehouse_path) as wh:
        bars = wh.current_bars(call.root, source=settings.source)
        if bars.height == 0:
            raise CliError(
                f"no {settings.source} bars for {call.root}: run `callbook nightly` first"
            )
        series = continuous_series(bars)
        rows = analyst_snapshot_rows(call, market_facts(series, call.as_of))
        written = wh.write_snapshots(
            rows,
            kind="analyst",
            flow_run_id=None,
            code_version=code_version(),
            created_at=tasks.utcnow(),
        )
        stored = wh.snapshot_rows(call.root, author=call.author, as_of=call.as_of)
        resolved = append_outcomes_of(wh, stored, series)
        outcomes = wh.query(
            "select * from outcomes where snapshot_id = $id", {"id": stored["snapshot_id"][0]}
        )
    snapshot = snapshot_from_row(stored.row(0, named=True))
    state = "recorded" if written.written else "already recorded (identical content)"
    print(f"{render_summary_line(snapshot)} — {state}")
    if outcomes.height:
        o = outcomes.row(0, named=True)
        print(
            f"resolved{' now' if resolved else ''}: {o['outcome']} on {o['resolved_session']} "
            f"(RPS {o['rps']:.3f}, Brier {o['brier']:.3f}, log {o['log_score']:.3f}; line held: "
            f"{o['line_held']}, trend right: {o['trend_correct']})"
        )
    else:
        print(f"its horizon ends {snapshot.horizon_end}: it will be resolved after that session")
    return EXIT_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    with _open_read_only(args) as wh:
        _print_frame(
            wh.quarantine_rows(args.root.upper() if args.root else None, limit=args.limit),
            title="quarantined rows",
        )
    return EXIT_OK


COMMANDS = {
    "nightly": cmd_nightly,
    "ingest": cmd_ingest,
    "show": cmd_show,
    "backfill": cmd_backfill,
    "resolve": cmd_resolve,
    "audit": cmd_audit,
    "calls": cmd_calls,
    "status": cmd_status,
    "sql": cmd_sql,
    "quarantine": cmd_quarantine,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("callbook: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for the user; the traceback with CALLBOOK_DEBUG=1
        if os.environ.get("CALLBOOK_DEBUG"):
            raise
        print(f"callbook: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


if __name__ == "__main__":
    sys.exit(main())
