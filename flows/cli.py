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

    p = sub.add_parser("ingest", help="ingest one root from one source over a date range")
    p.add_argument("--root", required=True)
    p.add_argument("--source", required=True, choices=("demo", "yahoo", "file"))
    p.add_argument("--path", help="file to read (source file): CSV or Parquet")
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

    p = sub.add_parser("quarantine", help="show quarantined rows with the rule they broke")
    p.add_argument("--root")
    p.add_argument("--limit", type=int, default=50)
    return parser


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
    settings = _settings(args, roots=args.roots, source=args.source)
    from rich.console import Console
    from rich.markdown import Markdown

    from flows.nightly import nightly, summary_markdown

    result = nightly(
        roots=list(settings.roots),
        source=settings.source,
        as_of=args.as_of,
        data_dir=str(settings.data_dir),
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
        console.print(f"chart: {featured.chart_path}")
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
    with _open_read_only(args) as wh:
        rows = wh.snapshot_rows(
            root, author=args.author, as_of=args.as_of, version=args.version, latest_only=True
        )
        if rows.height == 0:
            when = f" on {args.as_of}" if args.as_of else ""
            raise CliError(f"no {args.author} snapshot for {root}{when} (run `callbook nightly`)")
        row = rows.row(0, named=True)
        previous = wh.query(
            "select * from latest_snapshots where root = $root and author = $author"
            " and as_of < $as_of order by as_of desc limit 1",
            {"root": root, "author": args.author, "as_of": row["as_of"]},
        )
    snapshot = snapshot_from_row(row)
    paths = report_paths(_settings(args).data_dir, root, row["as_of"], row["version"])
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
    from flows.nightly import ingest

    summary = ingest(
        root=settings.roots[0],
        source=settings.source,
        start=args.start,
        end=args.end,
        data_dir=str(settings.data_dir),
        source_options={"path": args.path, "columns": dict(args.map)}
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
    with _open_read_only(args) as wh:
        _print_frame(wh.query(query), fmt=args.format, limit=args.limit)
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
