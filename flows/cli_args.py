"""The ``callbook`` command line's arguments: one sub-command per command, its flags and their
help. Only argparse (and the source names): `callbook --help` loads nothing else."""

from __future__ import annotations

import argparse
import functools
from datetime import date

from pipeline.sources import SOURCE_NAMES as SOURCE_CHOICES


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
        choices=SOURCE_CHOICES,
        help="bar source (default: $CALLBOOK_SOURCE or demo); file: the new vendor files in the "
        "drop folder <inbox>/<ROOT>/ ($CALLBOOK_INBOX or <data dir>/inbox)",
    )
    p.add_argument(
        "--as-of", type=_date, help="CME trade date (default: the last completed session)"
    )
    _methodologies_option(p)

    p = add_parser("ingest", help="ingest one root from one source over a date range")
    p.add_argument("--root", required=True)
    p.add_argument("--source", required=True, choices=SOURCE_CHOICES)
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
        "--timeout",
        type=float,
        help="seconds before the query is stopped (default and most: $CALLBOOK_SQL_TIMEOUT or 60)",
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        help="memory the query may use, MiB (default and most: $CALLBOOK_SQL_MEMORY_MB or 1024)",
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
        "rebuild",
        help="recreate warehouse.duckdb and its replica from the lake alone, checking every hash "
        "(when they are missing or damaged)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="rebuild even though the warehouse and its replica open and read whole",
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

    p = add_parser("roots", help="the roots the registry knows: name, group, cycle, tick, peers")
    _format_option(p)
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
    p.add_argument("--source", choices=SOURCE_CHOICES, help="whose bars to use")
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
    p.add_argument("--source", choices=SOURCE_CHOICES, help="whose bars to use")

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
    p.add_argument("--source", choices=SOURCE_CHOICES, help="whose calls (--quality)")
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
    add.add_argument("--source", choices=SOURCE_CHOICES, help="whose bars it is resolved on")
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
