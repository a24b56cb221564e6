"""The ``callbook`` command line. Start-up stays fast: heavy modules load inside each command."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any, NoReturn

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
    data_dir_help = (
        "data directory holding warehouse.duckdb, lake/ and reports/ "
        "(default: $CALLBOOK_DATA_DIR or ./data)"
    )
    parser.add_argument("--data-dir", help=data_dir_help)
    # --data-dir is also accepted after the command name (`callbook status --data-dir d`); there,
    # when absent, it leaves the value given before the command alone.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_dir_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser = functools.partial(sub.add_parser, parents=[common])

    p = add_parser("nightly", help="run the nightly flow: ingest, validate, load, analyse")
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

    p = add_parser("ingest", help="ingest one root from one source over a date range")
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

    add_parser("status", help="per root: first and last session, rows, quarantined rows, last run")

    p = add_parser("sql", help="run a read-only SQL query against the warehouse")
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

    p = add_parser("quarantine", help="show quarantined rows with the rule they broke")
    p.add_argument("--root")
    p.add_argument("--limit", type=int, default=50)

    p = add_parser("show", help="print a stored call as the daily note")
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

    p = add_parser(
        "backfill", help="point-in-time snapshots for every session of a range, then outcomes"
    )
    p.add_argument("--roots", help="comma-separated roots (default: $CALLBOOK_ROOTS or all four)")
    p.add_argument("--source", choices=("demo", "yahoo", "file"), help="whose bars to use")
    p.add_argument("--start", type=_date, help="first as-of session (default: the first call)")
    p.add_argument("--end", type=_date, help="last as-of session (default: the last completed)")
    _methodologies_option(p)

    p = add_parser("resolve", help="append the outcomes of calls whose horizon has passed")
    p.add_argument("--roots", help="comma-separated roots")
    p.add_argument("--source", choices=("demo", "yahoo", "file"), help="whose bars to use")

    p = add_parser("audit", help="scoreboard and calibration of past calls")
    p.add_argument("root", nargs="?", help="one root (default: all)")
    p.add_argument("--author", help="only this author (callbook = the model)")
    p.add_argument("--kind", choices=("live", "backfill", "analyst"), help="only this kind")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap replicates (default 2000)")

    p = add_parser("calls", help="analyst calls")
    actions = p.add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", parents=[common], help="record a hand-written call (TOML or YAML) as a snapshot"
    )
    add.add_argument("file", help="the call file (.toml or .yaml)")
    add.add_argument(
        "--source", choices=("demo", "yahoo", "file"), help="whose bars it is resolved on"
    )

    p = sub.add_parser("automations", help="Prefect automations (alerts on the nightly)")
    actions = p.add_subparsers(dest="automations_command", required=True, metavar="ACTION")
    apply = actions.add_parser(
        "apply",
        help="create or replace the automations of deployments/automations.yaml on the Prefect "
        "server of PREFECT_API_URL",
    )
    apply.add_argument(
        "--webhook-url", help="where alerts are posted (default: $CALLBOOK_ALERT_WEBHOOK_URL)"
    )
    apply.add_argument(
        "--deadline",
        help="time a nightly run has to complete once due or started, e.g. 4h (default: the file's)",
    )
    apply.add_argument(
        "--file", help="the automations file (default: deployments/automations.yaml)"
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
    from flows.prefect_api import prefect_api
    from flows.tasks import RootsFailed

    with prefect_api():
        try:
            result = nightly(
                roots=list(settings.roots),
                source=settings.source,
                as_of=args.as_of,
                data_dir=str(settings.data_dir),
                methodologies=list(settings.methodologies),
            )
        except RootsFailed as failed:  # the run ended Failed; its result is still the summary
            result = failed.result
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
    from flows.prefect_api import prefect_api
    from flows.tasks import RootsFailed

    with prefect_api():
        try:
            summary = ingest(
                root=settings.roots[0],
                source=settings.source,
                start=args.start,
                end=args.end,
                data_dir=str(settings.data_dir),
                source_options={
                    "path": args.path,
                    "columns": dict(args.map),
                    "index_path": args.index_path,
                }
                if args.source == "file"
                else {},
            )
        except RootsFailed as failed:
            summary = failed.result
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
    from flows.prefect_api import prefect_api

    with (
        prefect_api(),
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as bar,
    ):
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
    # No flow: resolving is one short local transaction per root and needs no Prefect server (the
    # `callbook-resolve` flow in flows/history.py is there for deployments).
    settings = _settings(args, roots=args.roots, source=args.source)
    from flows.outcomes import resolve_stored
    from warehouse.store import Warehouse

    with Warehouse.open(settings.warehouse_path) as wh:
        written = resolve_stored(wh, settings.roots, source=settings.source)
    for root, n in written.items():
        print(f"{root}: {n:,} outcomes appended")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
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

    from flows.analyst import record_analyst_call
    from pipeline.report.note import render_summary_line

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    recorded = record_analyst_call(path, _settings(args, source=args.source))
    snapshot = recorded.snapshot
    state = "recorded" if recorded.written else "already recorded (identical content)"
    print(f"{render_summary_line(snapshot)} — {state}")
    if (o := recorded.outcome) is not None:
        print(
            f"resolved{' now' if recorded.resolved_now else ''}: {o['outcome']} on "
            f"{o['resolved_session']} (RPS {o['rps']:.3f}, Brier {o['brier']:.3f}, log "
            f"{o['log_score']:.3f}; line held: {o['line_held']}, trend right: {o['trend_correct']})"
        )
    else:
        print(f"its horizon ends {snapshot.horizon_end}: it will be resolved after that session")
    return EXIT_OK


def cmd_automations(args: argparse.Namespace) -> int:
    _quiet_prefect()
    from pathlib import Path

    from flows.automations import AUTOMATIONS_FILE, apply_automations, parse_duration
    from flows.prefect_api import configured_api_url

    url = configured_api_url()
    if not url:
        raise CliError(
            "automations live on a Prefect server: set PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api after `prefect server start`)"
        )
    applied = apply_automations(
        webhook_url=args.webhook_url,
        path=Path(args.file) if args.file else AUTOMATIONS_FILE,
        deadline=parse_duration(args.deadline) if args.deadline else None,
    )
    for a in applied:
        verb = "replaced" if a.replaced else "created"
        print(f"{a.name}: {verb} ({a.id}) — {a.trigger}")
    print(f"on the Prefect API at {url}")
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
    "automations": cmd_automations,
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


def run() -> NoReturn:
    """The `callbook` executable: ``main`` on the command line, then a fast exit."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit without the interpreter's teardown, which takes seconds once Prefect, Great
    Expectations and pandas are loaded. First what the interpreter does at exit: the threading
    exit hooks (Prefect drains its log and event queues there) and the joining of threads, then
    the atexit handlers; then flush the standard streams and leave. The command has closed its
    files."""
    import atexit
    import contextlib
    import threading

    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
