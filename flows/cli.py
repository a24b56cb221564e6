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
        "--source",
        choices=("demo", "yahoo", "file"),
        help="bar source (default: $CALLBOOK_SOURCE or demo); file: the new vendor files in the "
        "drop folder <inbox>/<ROOT>/ ($CALLBOOK_INBOX or <data dir>/inbox)",
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

    p = add_parser(
        "sql",
        help="run one read-only SELECT against the warehouse (sandboxed: no file access, "
        "time and memory limits)",
    )
    p.add_argument("query", help="SQL text, or @FILE to read it from a file")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds before the query is stopped (60)"
    )
    p.add_argument(
        "--memory-mb", type=int, default=1024, help="memory the query may use, MiB (1024)"
    )
    _format_option(p)
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

    p = add_parser(
        "verify",
        help="check that stored snapshots, outcomes and lake files are what was written "
        "(read-only; exit 1 on any difference)",
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "--sample",
        type=int,
        default=200,
        help="model snapshots re-derived from their inputs, drawn with --seed (default 200)",
    )
    scope.add_argument("--all", action="store_true", help="re-derive every model snapshot")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")

    add_parser("roots", help="the roots the registry knows: name, group, cycle, tick, peers")
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
    p.add_argument(
        "--chart",
        action="store_true",
        help="draw the call's daily chart (PNG) from the bars as known when it was made, and "
        "link it from the note",
    )

    p = add_parser(
        "backfill", help="point-in-time snapshots for every session of a range, then outcomes"
    )
    p.add_argument("--roots", help="comma-separated roots (default: $CALLBOOK_ROOTS or all four)")
    p.add_argument("--source", choices=("demo", "yahoo", "file"), help="whose bars to use")
    p.add_argument("--start", type=_date, help="first as-of session (default: the first call)")
    p.add_argument("--end", type=_date, help="last as-of session (default: the last completed)")
    p.add_argument(
        "--as-known",
        action="store_true",
        help="compute each date from the bars as known then: vendor revisions recorded after "
        "the date are not used (default: the bars as stored now)",
    )
    _methodologies_option(p)

    p = add_parser("resolve", help="append the outcomes of calls whose horizon has passed")
    p.add_argument("--roots", help="comma-separated roots")
    p.add_argument("--source", choices=("demo", "yahoo", "file"), help="whose bars to use")

    p = add_parser("audit", help="scoreboard and calibration of past calls")
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
    p.add_argument(
        "--include-late",
        action="store_true",
        help="also score analyst calls recorded late (after the next session opened), as "
        "groups of their own",
    )
    p.add_argument(
        "--include-in-sample",
        action="store_true",
        help="also score calls made in their methodology's tuning period (its parameters were "
        "chosen on them), as groups of their own",
    )

    p = add_parser(
        "site", help="build the static website of the record (read-only; redraws what changed)"
    )
    p.add_argument("--out", help="output folder (default: <data dir>/site)")
    p.add_argument(
        "--full", action="store_true", help="redraw every page, not only those whose inputs changed"
    )

    p = add_parser("calls", help="analyst calls; list stored calls")
    actions = p.add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", parents=[common], help="record a hand-written call (TOML or YAML) as a snapshot"
    )
    add.add_argument("file", help="the call file (.toml or .yaml)")
    add.add_argument(
        "--source", choices=("demo", "yahoo", "file"), help="whose bars it is resolved on"
    )
    listing = actions.add_parser(
        "list", parents=[common], help="list stored calls, newest first, with outcomes"
    )
    listing.add_argument("root", nargs="?", help="one root (default: all)")
    listing.add_argument("--methodology", help="only this methodology (v1, v2, analyst)")
    listing.add_argument("--author", help="only this author (callbook = the model)")
    listing.add_argument("--kind", choices=("live", "backfill", "analyst"), help="only this kind")
    listing.add_argument("--since", type=_date, help="only calls on or after this as-of date")
    listing.add_argument("--limit", type=int, default=50, help="newest calls to list (default 50)")
    _format_option(listing)

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


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("auto", "table", "vertical", "csv", "json", "markdown"),
        default="auto",
        help="auto (default): a table when the rows fit the terminal, else one record per block; "
        "table, vertical and markdown round numbers to their meaning (prices to the tick), "
        "csv and json keep every value as stored",
    )


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
    """What readers read: the replica the last writer published (never waits for a writer)."""
    from warehouse.store import Warehouse

    return Warehouse.open_reader(_settings(args).warehouse_path)


def _print_frame(
    frame: Any,
    *,
    title: str | None = None,
    fmt: str = "auto",
    limit: int | None = 200,
    wrap: bool = False,
) -> None:
    """Print a result frame in one of pipeline.report.table.FORMATS (auto: table or vertical,
    whichever fits the terminal; ``wrap``: a table whose cells wrap at spaces still fits)."""
    from rich.console import Console

    from pipeline.report import table

    if fmt == "csv":
        sys.stdout.write(table.render_csv(frame))
        return
    if fmt == "json":
        sys.stdout.write(table.render_json(frame))
        return
    if fmt == "markdown":
        if title:
            sys.stdout.write(f"**{title}**\n\n")
        sys.stdout.write(table.render_markdown(frame, limit=limit))
    else:
        console = Console()
        layout = (
            fmt
            if fmt != "auto"
            else table.choose_layout(frame, width=console.width, limit=limit, wrap=wrap)
        )
        render = table.render_vertical if layout == "vertical" else table.render_table
        console.print(render(frame, title=title, limit=limit))
    if limit is not None and frame.height > limit:
        print(f"({frame.height - limit:,} more rows; use --limit or --format csv)")


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
    if result.site is not None:
        console.print(result.site.summary(), soft_wrap=True)
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

    from flows.outcomes import status_line
    from flows.settings import SOURCES
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
        status = status_line(wh, row)
        demo = "demo" in wh.bar_sources()
        if args.chart:
            from flows.site import draw_call_chart

            bar_source = row["source"] if row["source"] in SOURCES else settings.source
            draw_call_chart(wh, settings.data_dir, row, bar_source=bar_source)
    snapshot = snapshot_from_row(row)
    paths = report_paths(
        settings.data_dir,
        root,
        row["as_of"],
        row["version"],
        methodology=row["methodology_version"],
    )
    chart = paths.chart if paths.chart.exists() else None
    note = render_note(
        snapshot,
        chart_file=str(chart) if chart else None,
        demo=demo or row["source"] == "demo",
        previous=snapshot_from_row(previous.row(0, named=True)) if previous.height else None,
    )
    if args.format == "markdown":
        sys.stdout.write(note + "\n" + (f"\n**Status so far:** {status}\n" if status else ""))
    else:
        console = Console()
        console.print(Markdown(note))
        if status:
            console.print(f"[bold]Status so far:[/bold] {status}")
    if chart is not None:
        print(f"chart: {chart}")  # unwrapped: a path to copy
    else:
        as_of = f" --as-of {row['as_of']}"
        print(f"no chart drawn yet: `callbook show {root}{as_of} --chart` draws it")
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
    from warehouse.store import statement

    with _open_read_only(args) as wh:
        demo = "DEMO DATA (synthetic prices) — " if "demo" in wh.bar_sources() else ""
        _print_frame(
            wh.query(statement("status_bars")),
            title=f"{demo}bars in {wh.path}",
            limit=None,
            wrap=True,
        )
        published = wh.query(
            "select methodology_version from methodologies where published"
        ).to_series()
        _print_frame(
            wh.query(statement("status_snapshots")),
            title="calls (versions: rows incl. revisions; written: UTC"
            + (f"; published: callbook {published[0]})" if published.len() else ")"),
            limit=None,
            wrap=True,
        )
    return EXIT_OK


def cmd_roots(args: argparse.Namespace) -> int:
    from flows.settings import load_registry_from_env
    from pipeline.market.roots import roots_table

    _print_frame(roots_table(load_registry_from_env()), title="roots", limit=None, wrap=True)
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    query = args.query
    if query.startswith("@"):
        with open(query[1:], encoding="utf-8") as fh:
            query = fh.read()
    params = dict(args.param) or None
    from warehouse.sandbox import SandboxLimits, open_sandbox
    from warehouse.store import reader_path

    limits = SandboxLimits(timeout=args.timeout, memory_limit_mb=args.memory_mb)
    # Like every reader, the sandbox reads the published replica: never waits for a writer.
    with open_sandbox(reader_path(_settings(args).warehouse_path), limits) as sandbox:
        frame = sandbox.query(query, params)
    _print_frame(frame, fmt=args.format, limit=args.limit)
    return EXIT_OK


def cmd_backfill(args: argparse.Namespace) -> int:
    _quiet_prefect()
    settings = _settings(
        args, roots=args.roots, source=args.source, methodologies=args.methodologies
    )
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from flows.history import BARS_MODES, backfill, progress_hook
    from flows.prefect_api import prefect_api

    mode = "as_known" if args.as_known else "current"
    print(
        f"bars: {mode} — {BARS_MODES[mode]}"
        + ("" if args.as_known else " (--as-known: " + BARS_MODES["as_known"] + ")")
    )
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
                as_known=args.as_known,
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
    from flows.writer import open_for_writing

    with open_for_writing(settings) as wh:
        written = resolve_stored(wh, settings.roots, source=settings.source)
    for root, n in written.items():
        print(f"{root}: {n:,} outcomes appended")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    if args.quality:
        return _audit_quality(args)
    from rich.console import Console
    from rich.markup import escape

    from flows.outcomes import open_call_status
    from pipeline.audit.calibration import (
        FLAGS,
        GROUP,
        KIND_MEANINGS,
        calibration_table,
        describe_group,
        scoreboard,
        select_calls,
    )
    from pipeline.report.chart import render_reliability_chart
    from warehouse.reports import write_atomic

    root = args.root.upper() if args.root else None
    selection_params = {"root": root, "author": args.author, "kind": args.kind}
    with _open_read_only(args) as wh:
        demo = "demo" in wh.bar_sources()
        scored = wh.query(
            "select * from scored_calls where ($root is null or root = $root)"
            " and ($author is null or author = $author) and ($kind is null or kind = $kind)"
            " order by root, author, kind, methodology_version, source, as_of",
            selection_params,
        )
        tuning = wh.query("select * from methodologies order by methodology_version")
        show_open = (args.author not in (None, "callbook")) or scored.height == 0
        open_calls = open_call_status(wh, **selection_params) if show_open else None
    console = Console()
    if demo:
        console.print(
            "[bold]DEMO DATA[/bold] — these calls were resolved on synthetic demo bars, not "
            "market data."
        )
    selection = select_calls(
        scored, include_late=args.include_late, include_tuning=args.include_in_sample
    )
    console.print(escape(_audit_header(scored, tuning, KIND_MEANINGS)))
    for row in selection.left_out.iter_rows(named=True):
        option = "--include-late" if row["reason"] == "recorded late" else "--include-in-sample"
        console.print(
            escape(
                f"left out: {describe_group(row)} — {row['calls']:,} call(s) {row['reason']} "
                f"({row['first_as_of']}..{row['last_as_of']}); {option} scores them apart"
            )
        )
    if open_calls is not None and open_calls.height:
        console.print("[bold]Open calls[/bold] — status so far (no score until the horizon ends):")
        for row in open_calls.iter_rows(named=True):
            late = " [recorded late]" if row["recorded_late"] else ""
            console.print(
                escape(
                    f"  {row['root']} {row['as_of']} {row['author']} "
                    f"{row['methodology_version']} on {row['resolved_on_source']} bars{late}: "
                    f"{row['summary']}"
                ),
                soft_wrap=True,  # one line per call, whatever the terminal width
            )
    if selection.scored.height == 0:
        if scored.height == 0 and not (open_calls is not None and open_calls.height):
            raise CliError(
                "no resolved calls to audit yet: run `callbook backfill` (history) or wait until "
                "the horizon of the nightly calls has passed (`callbook resolve`)"
            )
        if scored.height:
            console.print(
                "nothing left to score: every resolved call selected is recorded late or in its "
                "methodology's tuning period (--include-late / --include-in-sample score them, "
                "as groups of their own)"
            )
        return EXIT_OK
    board = scoreboard(selection.scored, n_boot=args.boot)
    calibration = calibration_table(selection.scored)
    console.print(
        "[bold]Scoreboard[/bold] — ranked probability score (RPS, lower is better) against two "
        "point-in-time references: the climatology known when each call was made (stored with "
        "it, the model's of the same day for an analyst call, else its group's expanding one: "
        "column 'clim.'), and base rates by barrier geometry alone. Skill = 1 − RPS / reference "
        "RPS, with a 90 % interval from a block bootstrap (blocks of three horizons, Student-t "
        "on the number of blocks: overlapping calls are not independent); none for fewer than "
        "three horizons of calls."
    )
    _print_frame(_scoreboard_view(board), title=None)
    console.print(
        "[bold]Calibration[/bold] — for each forecast bucket, how often the scenario happened, "
        "with a 90 % Wilson interval on the effective number of calls: overlapping horizons "
        "count once per horizon of overlap (correlation by lag estimated from the calls, or "
        "bounded by the overlap fraction for groups under ten horizons: 'basis')."
    )
    _print_frame(_calibration_view(calibration), title=None, limit=400)
    out_dir = _settings(args).data_dir / "reports" / "audit"
    by = [*GROUP, FLAGS]
    for keys, group in calibration.group_by(by, maintain_order=True):
        name = "-".join(str(k).replace(", ", "+").replace(" ", "_") for k in keys if k)
        path = out_dir / f"reliability-{name}.png"
        write_atomic(
            path,
            render_reliability_chart(
                group.rename({"frequency_low": "low", "frequency_high": "high"}),
                title=f"Reliability: {' / '.join(str(k) for k in keys if k)}",
                demo=demo,
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


def _audit_header(scored: Any, tuning: Any, kinds: dict[str, str]) -> str:
    """What the audit counts: the kinds of calls, and each methodology's tuning period."""
    lines = ["What is scored:"]
    present = set(scored["kind"].to_list()) if scored.height else set()
    lines += [f"  {kind}: {meaning}" for kind, meaning in kinds.items() if kind in present]
    versions = sorted(set(scored["methodology_version"].to_list())) if scored.height else []
    recorded = {r["methodology_version"]: r for r in tuning.iter_rows(named=True)}
    for version in versions:
        if version == "analyst":
            lines.append("  analyst calls: no parameters tuned on data")
            continue
        entry = recorded.get(version)
        if entry is None or not entry.get("tuning_declared"):
            lines.append(
                f"  {version}: tuning period not declared: its calls cannot be shown to be out "
                "of sample (flagged)"
            )
        elif entry["tuned_through"] is None:
            lines.append(f"  {version}: no parameters chosen on data")
        else:
            lines.append(
                f"  {version}: parameters chosen on {entry['tuned_sources']} data through "
                f"{entry['tuned_through']} ({entry['tuning_note']}); its calls on those bars "
                "up to that date are in sample: left out unless --include-in-sample"
            )
    return "\n".join(lines)


def _interval(value: float, low: float | None, high: float | None, refused: str | None) -> str:
    if refused or low is None or high is None:
        return f"{value:+.3f} (no interval)"
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"


def _scoreboard_view(board: Any) -> Any:
    """The scoreboard with one readable cell per figure (fits a terminal)."""
    import polars as pl

    from pipeline.audit.calibration import describe_group

    rows = list(board.iter_rows(named=True))
    return pl.DataFrame(
        {
            "group": [describe_group(r) for r in rows],
            "calls (eff.)": [f"{r['calls']:,} ({r['effective_calls']:,.1f})" for r in rows],
            "as of": [f"{r['first_as_of']}..{r['last_as_of']}" for r in rows],
            "RPS / ref": [f"{r['mean_rps']:.3f} / {r['mean_clim_rps']:.3f}" for r in rows],
            "clim.": [r["climatology"] for r in rows],
            "skill vs climatology": [
                _interval(r["skill_vs_climatology"], r["skill_low"], r["skill_high"], r["interval"])
                for r in rows
            ],
            "skill vs geometry": [
                _interval(
                    r["skill_vs_geometry"], r["geometry_low"], r["geometry_high"], r["interval"]
                )
                for r in rows
            ],
            "Brier / log": [f"{r['mean_brier']:.3f} / {r['mean_log_score']:.3f}" for r in rows],
            "note": [r["interval"] or "" for r in rows],
        }
    )


def _calibration_view(calibration: Any) -> Any:
    import polars as pl

    from pipeline.audit.calibration import FLAGS, GROUP

    label = pl.format("{} {} {} {} {}", *GROUP)
    if FLAGS in calibration.columns:
        label = (
            pl.when(pl.col(FLAGS) != "").then(pl.format("{} [{}]", label, FLAGS)).otherwise(label)
        )
    return calibration.select(
        label.alias("group"),
        "scenario",
        pl.format("{}–{}", pl.col("bucket_low").round(1), pl.col("bucket_high").round(1)).alias(
            "forecast"
        ),
        pl.format("{} ({})", pl.col("count"), pl.col("effective_count").round(1)).alias(
            "calls (eff.)"
        ),
        pl.col("mean_forecast").round(3).alias("mean p"),
        pl.format(
            "{} [{}, {}]",
            pl.col("observed_frequency").round(3),
            pl.col("frequency_low").round(3),
            pl.col("frequency_high").round(3),
        ).alias("observed [90 %]"),
        pl.col("interval_basis").alias("basis"),
    )


def cmd_calls(args: argparse.Namespace) -> int:
    if args.calls_command == "list":
        return _calls_list(args)
    return _calls_add(args)


def _calls_list(args: argparse.Namespace) -> int:
    from pipeline.report.table import calls_list_view
    from warehouse.store import statement

    root = args.root.upper() if args.root else None
    with _open_read_only(args) as wh:
        calls = wh.query(
            statement("calls_list"),
            {
                "root": root,
                "methodology": args.methodology,
                "author": args.author,
                "kind": args.kind,
                "since": args.since,
                "limit": args.limit,
            },
        )
        demo = "demo" in wh.bar_sources()
    if calls.height == 0:
        raise CliError("no calls match (run `callbook nightly` or `callbook backfill`)")
    title = f"calls{' on ' + root if root else ''}, newest first"
    if demo:  # outcomes too were resolved on the synthetic bars
        title = f"DEMO DATA (synthetic prices) — {title}"
    _print_frame(
        calls_list_view(calls, with_root=root is None), title=title, fmt=args.format, limit=None
    )
    return EXIT_OK


def _calls_add(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows.analyst import record_analyst_call
    from pipeline.report.note import render_summary_line

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    recorded = record_analyst_call(path, _settings(args, source=args.source))
    snapshot = recorded.snapshot
    state = "recorded" if recorded.written else "already recorded (identical content)"
    demo = (
        "[DEMO DATA: resolved on synthetic demo bars] "
        if recorded.resolved_on_source == "demo"
        else ""
    )
    print(f"{demo}{render_summary_line(snapshot)} — {state} on {recorded.resolved_on_source} bars")
    if recorded.recorded_late:
        print(
            f"recorded late: stored after the session following {snapshot.as_of} had opened "
            "(prices after the call existed); kept, but left out of scoreboards unless "
            "`callbook audit --include-late`"
        )
    if (o := recorded.outcome) is not None:
        print(
            f"resolved{' now' if recorded.resolved_now else ''}: {o['outcome']} on "
            f"{o['resolved_session']} (RPS {o['rps']:.3f}, Brier {o['brier']:.3f}, log "
            f"{o['log_score']:.3f}; line held: {o['line_held']}, trend right: {o['trend_correct']})"
        )
    else:
        if recorded.progress is not None:
            print(f"status so far: {recorded.progress['summary']}")
        print(f"its horizon ends {snapshot.horizon_end}: it will be resolved after that session")
    return EXIT_OK


def cmd_site(args: argparse.Namespace) -> int:
    from flows.site import build_site

    result = build_site(data_dir=args.data_dir, out_dir=args.out, full=args.full)
    print(result.summary())
    print(f"open: {result.index.resolve().as_uri()}")  # unwrapped: a link to copy
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    import time

    from flows.verify import summary_lines, verify

    started = time.monotonic()
    report = verify(
        _settings(args).data_dir,
        sample=None if args.all else args.sample,
        seed=args.seed,
        on_wait=lambda message: print(message, file=sys.stderr, flush=True),
    )
    for difference in report.differences:
        print(difference.line())
    for line in summary_lines(report, seconds=time.monotonic() - started):
        print(line)
    return EXIT_OK if report.ok else EXIT_FAILED


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
    "roots": cmd_roots,
    "sql": cmd_sql,
    "quarantine": cmd_quarantine,
    "site": cmd_site,
    "verify": cmd_verify,
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
