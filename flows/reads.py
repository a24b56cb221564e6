"""The read commands' services: `status`, `show`, `calls list`, `quarantine` and `roots`.

Each reads the published replica (never waits for a writer) and returns what the command
prints; when nothing matches it raises :class:`NotFound` saying what it looked for and, where it
can, what there is instead (the known roots, the nearest sessions with a call).

Start-up matters here (bench/bench_reads.py): this module and what it imports load DuckDB and
polars only, never Prefect, Great Expectations, yfinance or pandas (the CME calendar, which
pandas_market_calendars computes, is loaded on the error path alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from flows.settings import Settings
from pipeline.market.roots import roots_table
from warehouse.store import Warehouse


class NotFound(LookupError):
    """Nothing matched what a command looked for; the message says what that was."""


def open_reader(settings: Settings) -> Warehouse:
    """What readers read: the replica the last writer published (never waits for a writer)."""
    return Warehouse.open_reader(settings.warehouse_path)


@dataclass(frozen=True)
class Status:
    path: Path
    demo: bool
    bars: pl.DataFrame  # one row per source and root (warehouse/sql/statements/status_bars.sql)
    calls: pl.DataFrame  # one row per call (status_snapshots.sql)
    published: str | None  # the published methodology (None before any run)


def status(settings: Settings) -> Status:
    with open_reader(settings) as wh:
        return Status(
            wh.path,
            "demo" in wh.bar_sources(),
            wh.ingest_status(),
            wh.call_status(),
            wh.published_methodology(),
        )


def quarantine(settings: Settings, root: str | None, *, limit: int) -> pl.DataFrame:
    with open_reader(settings) as wh:
        return wh.quarantine_rows(root, limit=limit)


def roots(settings: Settings) -> pl.DataFrame:
    """The roots this configuration's registry knows (built-in plus CALLBOOK_ROOTS_FILE), one row
    each: pipeline.market.roots.roots_table."""
    return roots_table(settings.registry)


@dataclass(frozen=True)
class CallList:
    calls: pl.DataFrame  # warehouse/sql/statements/calls_list.sql rows, newest first
    root: str | None
    demo: bool


def list_calls(
    settings: Settings,
    *,
    root: str | None = None,
    methodology: str | None = None,
    author: str | None = None,
    kind: str | None = None,
    since: date | None = None,
    limit: int | None = None,
) -> CallList:
    """The current version of the calls selected (None: any), newest first, with outcomes."""
    wanted = {"root": root, "methodology": methodology, "author": author, "kind": kind}
    with open_reader(settings) as wh:
        calls = wh.calls_list(**wanted, since=since, limit=limit)
        if calls.height == 0:
            raise NotFound(_no_calls(wh, since=since, **wanted))
        return CallList(calls, root, "demo" in wh.bar_sources())


def _no_calls(wh: Warehouse, *, since: date | None, **wanted: str | None) -> str:
    asked = [f"{name} {value}" for name, value in wanted.items() if value is not None]
    if since is not None:
        asked.append(f"as of {since} or later")
    what = f" with {', '.join(asked)}" if asked else ""
    stored = wh.call_status()
    if stored.height == 0:
        return f"no calls stored{what}: run `callbook nightly` or `callbook backfill`"
    return f"no calls{what}; stored: {_describe_stored(stored)}"


def _describe_stored(stored: pl.DataFrame) -> str:
    """What calls there are, one item per root: 'ES (callbook v2, callbook v1); RTY (...)'."""
    parts = []
    for (root,), of_root in stored.group_by(["root"], maintain_order=True):
        parts.append(f"{root} ({', '.join(dict.fromkeys(of_root['by'].to_list()))})")
    return "; ".join(sorted(parts))


@dataclass(frozen=True)
class ShownCall:
    """A stored call as `callbook show` prints it."""

    row: dict[str, Any]  # the wide snapshot row
    previous: dict[str, Any] | None  # the same call's row on the session before
    status: str | None  # its status so far, while its horizon is not over
    demo: bool
    chart: Path | None  # the chart drawn for it, if any


def call_to_show(
    settings: Settings,
    root: str,
    *,
    as_of: date | None,
    version: int | None,
    author: str,
    methodology: str | None,
    chart: bool = False,
) -> ShownCall:
    """The call of ``root`` selected (the latest as-of and version by default; the published
    methodology's for the model); ``chart``: draw its chart from the bars as known when it was
    made (again, if it was drawn before)."""
    from warehouse.reports import report_paths

    with open_reader(settings) as wh:
        methodology = methodology or (
            settings.published_methodology if author == "callbook" else None
        )
        rows = wh.snapshot_rows(
            root, author=author, as_of=as_of, version=version, methodology=methodology
        )
        if rows.height == 0:
            raise NotFound(_no_call(wh, root, author, methodology, as_of, version))
        row = rows.row(0, named=True)
        previous = wh.previous_call(
            root, author=author, methodology=row["methodology_version"], source=row["source"],
            as_of=row["as_of"],
        )  # fmt: skip
        status = wh.status_so_far(row["snapshot_id"])
        demo = "demo" in wh.bar_sources() or row["source"] == "demo"
        if chart:
            _draw_chart(wh, settings, row)
    paths = report_paths(
        settings.data_dir,
        root,
        row["as_of"],
        row["version"],
        methodology=row["methodology_version"],
    )
    return ShownCall(
        row,
        previous.row(0, named=True) if previous.height else None,
        status,
        demo,
        paths.existing_chart(),
    )


def _draw_chart(wh: Warehouse, settings: Settings, row: dict[str, Any]) -> None:
    from flows.settings import SOURCES
    from flows.site import draw_call_chart

    bar_source = row["source"] if row["source"] in SOURCES else settings.source
    draw_call_chart(wh, settings.data_dir, row, bar_source=bar_source)


def _no_call(
    wh: Warehouse,
    root: str,
    author: str,
    methodology: str | None,
    as_of: date | None,
    version: int | None,
) -> str:
    """Why `show` found nothing, and what there is instead."""
    which = f"{author} {methodology}" if methodology else author
    asked = f"no {which} call of {root}" + (f" on {as_of}" if as_of else "")
    asked += f" with version {version}" if version is not None else ""
    dates: list[date] = sorted(
        set(wh.snapshot_rows(root, author=author, methodology=methodology)["as_of"].to_list())
    )
    if not dates:
        return f"{asked}: none stored (run `callbook nightly` or `callbook backfill`)"
    stored = f"its calls run from {dates[0]} to {dates[-1]}"
    if as_of is None or version is not None:
        return f"{asked}; {stored} (`callbook calls list {root}` lists them)"
    since = max([d for d in dates if d < as_of] or dates[:1])
    return (
        f"{asked}; {_nearest(as_of, dates)}; {stored} "
        f"(`callbook calls list {root} --since {since}` lists them)"
    )


def _nearest(day: date, dates: list[date]) -> str:
    """The sessions nearest ``day`` that have a call (``dates``, sorted), and whether ``day`` is
    a trade date."""
    from pipeline.market.calendar import (
        CalendarRangeError,
        is_trade_date,
        next_trade_date,
        previous_trade_date,
    )

    near = []
    if earlier := [d for d in dates if d < day]:
        near.append(f"before {earlier[-1]}")
    if later := [d for d in dates if d > day]:
        near.append(f"after {later[0]}")
    try:
        session = (
            "a CME trade date"
            if is_trade_date(day)
            else f"not a CME trade date (the sessions around it: {previous_trade_date(day)} and "
            f"{next_trade_date(day)})"
        )
    except CalendarRangeError as exc:
        session = str(exc).removeprefix(f"{day} is ")
    return f"{day} is {session}; nearest calls: {' and '.join(near)}"
