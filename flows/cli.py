"""The ``callbook`` command line: a shell over the services in flows/ and the readers in warehouse/.

Each command parses its arguments (flows/cli_args.py), calls one service, prints the result
(flows/console.py, with pipeline/report's renderers) and maps errors to exit statuses: 0 done,
1 failed or nothing found (one line on stderr saying what was looked for), 2 usage. No SQL, no
selection logic and no file writing here. Start-up stays fast: a command imports its service
when it runs, and the read commands (status, show, sql, calls list) never import Prefect, Great
Expectations, yfinance or pandas.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from flows.cli_args import build_parser

if TYPE_CHECKING:
    from flows.settings import Settings

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A one-line error for the user; exit status 1."""


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The configuration, or one line saying what in it is wrong (an unknown root lists the
    known ones), before any Prefect server starts."""
    from flows.settings import load_settings

    try:
        return load_settings(data_dir=args.data_dir, **overrides)
    except ValueError as exc:  # the user's own configuration: its message says it all
        raise CliError(str(exc)) from None


def _root(args: argparse.Namespace) -> str | None:
    """The command's optional ROOT argument, checked (see :func:`_known_root`)."""
    return _known_root(args.root) if args.root else None


def _known_root(value: str) -> str:
    """A root the registry knows, upper-cased (an unknown one is refused with the known ones)."""
    from flows.settings import parse_roots

    try:
        return parse_roots(value)[0]
    except ValueError as exc:
        raise CliError(str(exc)) from None


# -- flow commands (Prefect) ---------------------------------------------------------------------


def cmd_nightly(args: argparse.Namespace) -> int:
    _prepare_prefect()
    from flows import printing
    from flows.runs import run_nightly

    settings = _settings(
        args, roots=args.roots, source=args.source, methodologies=args.methodologies
    )
    result = run_nightly(settings, as_of=args.as_of)
    printing.nightly(result)
    return EXIT_FAILED if result.failed else EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    if args.source == "file" and not args.path:
        raise CliError("--source file needs --path FILE")
    if args.index_path and args.source != "file":
        raise CliError("--index-path is for --source file (yahoo fetches the index itself)")
    settings = _settings(args, roots=args.root, source=args.source)
    if args.source == "file":
        _check_files(args)
    _prepare_prefect()
    from flows import console
    from flows.runs import run_ingest

    options = {"path": args.path, "columns": dict(args.map), "index_path": args.index_path}
    summary = run_ingest(
        settings,
        start=args.start,
        end=args.end,
        file_options=options if args.source == "file" else None,
    )
    console.say(summary.line())
    if summary.status != "ok":
        console.warn(f"callbook: {summary.root} {summary.status}: {summary.message}")
    return EXIT_OK if summary.status == "ok" else EXIT_FAILED


def _check_files(args: argparse.Namespace) -> None:
    """A file the fetch would refuse whole (missing, a directory, not UTF-8, not a table, no
    required columns) is refused here, in one line, before any Prefect server starts."""
    from pathlib import Path

    from pipeline.schema import SchemaError
    from pipeline.sources.base import SourceError
    from pipeline.sources.file import check_file

    try:
        check_file(Path(args.path), dict(args.map))
        if args.index_path:
            check_file(Path(args.index_path), index=True)
    except (SourceError, SchemaError) as exc:
        raise CliError(str(exc)) from None


def cmd_backfill(args: argparse.Namespace) -> int:
    _prepare_prefect()
    from flows import console
    from flows.history import bars_mode_lines
    from flows.runs import run_backfill

    settings = _settings(
        args, roots=args.roots, source=args.source, methodologies=args.methodologies
    )
    console.say(*bars_mode_lines(as_known=args.as_known))
    with console.ProgressLine("backfill: jobs", 0) as line:
        result = run_backfill(
            settings, start=args.start, end=args.end, as_known=args.as_known,
            on_step=lambda step: line.update(step.done, step.describe(), total=step.jobs),
        )  # fmt: skip
    console.say(*result.lines())
    return EXIT_OK


def cmd_automations(args: argparse.Namespace) -> int:
    _prepare_prefect()
    from flows import console
    from flows.automations import apply_on_configured_api

    applied, url = apply_on_configured_api(
        webhook_url=args.webhook_url, file=args.file, deadline=args.deadline
    )
    console.say(*(a.line() for a in applied), f"on the Prefect API at {url}")
    return EXIT_OK


def _prepare_prefect() -> None:
    from flows.runs import prepare_prefect

    prepare_prefect()


# -- commands without a flow ---------------------------------------------------------------------


def cmd_resolve(args: argparse.Namespace) -> int:
    from flows import printing
    from flows.runs import resolve

    settings = _settings(args, roots=args.roots, source=args.source)
    printing.resolved(resolve(settings), roots=settings.roots, source=settings.source)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from flows import printing, reads

    printing.status(reads.status(_settings(args)))
    return EXIT_OK


def cmd_roots(args: argparse.Namespace) -> int:
    from flows import console, reads

    roots = reads.roots(_settings(args))
    console.print_frame(roots, title="roots", fmt=args.format, limit=None, wrap=True)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from flows import printing, reads

    shown = reads.call_to_show(
        _settings(args), _known_root(args.root), as_of=args.as_of, version=args.version,
        author=args.author, methodology=args.methodology, chart=args.chart,
    )  # fmt: skip
    printing.shown_call(shown, fmt=args.format)
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    # The query runs in a bounded child process (flows/sql.py); nothing heavy is imported here.
    from flows.sql import read_query, run_sql

    answer = run_sql(
        _settings(args),
        read_query(args.query),
        dict(args.param) or None,
        fmt=args.format,
        limit=args.limit,
        timeout=args.timeout,
        memory_mb=args.memory_mb,
    )
    sys.stdout.write(answer)
    return EXIT_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    from flows import console, reads

    root = _root(args)
    rows = reads.quarantine(_settings(args), root, limit=args.limit)
    if rows.height == 0:
        console.say(f"no quarantined rows{' of ' + root if root else ''}: every row passed")
    else:
        console.print_frame(rows, title="quarantined rows")
    return EXIT_OK


def cmd_calls(args: argparse.Namespace) -> int:
    return _calls_list(args) if args.calls_command == "list" else _calls_add(args)


def _calls_list(args: argparse.Namespace) -> int:
    from flows import printing, reads

    found = reads.list_calls(
        _settings(args), root=_root(args), methodology=args.methodology, author=args.author,
        kind=args.kind, since=args.since, limit=args.limit,
    )  # fmt: skip
    printing.call_list(found, fmt=args.format)
    return EXIT_OK


def _calls_add(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows import console
    from flows.analyst import record_analyst_call

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    recorded = record_analyst_call(path, _settings(args, source=args.source))
    console.say(*recorded.lines())
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from flows import audit, console, printing

    if args.quality:
        quality = audit.quality(
            _settings(args, source=args.source), root=_root(args), boot=args.boot,
            progress=console.warn,
        )  # fmt: skip
        printing.quality(quality)
        return EXIT_OK
    report = audit.audit(
        _settings(args), root=_root(args), author=args.author, kind=args.kind,
        include_late=args.include_late, include_in_sample=args.include_in_sample, boot=args.boot,
    )  # fmt: skip
    printing.audit(report)
    return EXIT_OK


def cmd_site(args: argparse.Namespace) -> int:
    from flows import console
    from flows.site import build_site

    with console.ProgressLine("site: pages drawn", 0) as line:
        result = build_site(
            data_dir=args.data_dir,
            out_dir=args.out,
            full=args.full,
            progress=lambda done, total: line.update(done, "pages", total=total),
        )
    console.say(result.summary(), f"open: {result.index.resolve().as_uri()}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    import time

    from flows import console
    from flows.verify import summary_lines, verify

    started = time.monotonic()
    sample = None if args.all else args.sample
    report = verify(_settings(args).data_dir, sample=sample, seed=args.seed, on_wait=console.warn)
    for difference in report.differences:  # a record per line, whole: scripts grep them
        print(difference.line())
    console.say(*summary_lines(report, seconds=time.monotonic() - started))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_rebuild(args: argparse.Namespace) -> int:
    from flows import console
    from flows.rebuild import rebuild

    settings = _settings(args)
    with console.ProgressLine("rebuild: lake units", 0) as line:
        result = rebuild(
            settings.data_dir,
            force=args.force,
            on_progress=lambda done, total, label: line.update(done, label, total=total),
            on_wait=console.warn,
            write_lock_timeout=settings.write_lock_timeout,
        )
    for text in result.replaced:
        console.warn(f"callbook: replaced {text}")
    for text in result.left_out:
        console.warn(f"callbook: left out {text}")
    console.say(result.summary())
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
    "rebuild": cmd_rebuild,
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
        # One line, however long: scripts and logs read an error as one line.
        print(f"callbook: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    """The error's first line, after its type unless it is one of ours that says it all."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(exc, CliError | LookupError) and first:
        return first
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def run() -> NoReturn:
    """The `callbook` executable: ``main`` on the command line, then a fast exit (after a usage
    error, --help, or a reader that closed the pipe too: rich and argparse raise SystemExit)."""
    try:
        code = main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else EXIT_FAILED if stop.code else EXIT_OK
    exit_now(code)


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
