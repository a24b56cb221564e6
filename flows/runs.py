"""The flow commands' services: `nightly`, `ingest` and `backfill` run their flow against the
configured Prefect API (or a temporary server, flows/prefect_api.py); `resolve` needs no flow.

A run whose roots failed still returns its result (the flow ends Failed; the command prints the
summary and exits 1). Prefect's console log lines fit the terminal: the command line points
Prefect at flows/logging.yml before Prefect is imported (:func:`prepare_prefect`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.settings import Settings

if TYPE_CHECKING:
    from flows.history import BackfillResult, BackfillStep
    from flows.nightly import NightlyResult
    from flows.tasks import RootSummary

LOGGING_FILE = Path(__file__).with_name("logging.yml")


def prepare_prefect() -> None:
    """Settings a flow command needs before Prefect is imported (the user's own win)."""
    # Without PREFECT_API_URL a flow run starts a temporary local API server; on a busy 2-core
    # machine that takes longer than Prefect's default 20 s wait.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if "prefect" not in sys.modules:  # the command line, before Prefect sets its logging up
        os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(LOGGING_FILE))


def run_nightly(settings: Settings, *, as_of: date | None) -> NightlyResult:
    from flows.nightly import nightly
    from flows.prefect_api import prefect_api, run_flow
    from flows.tasks import RootsFailed

    with prefect_api():
        try:
            return run_flow(
                nightly,
                roots=list(settings.roots),
                source=settings.source,
                as_of=as_of,
                data_dir=str(settings.data_dir),
                methodologies=list(settings.methodologies),
            )
        except RootsFailed as failed:  # the run ended Failed; its result is still the summary
            result: NightlyResult = failed.result
            return result


def run_ingest(
    settings: Settings,
    *,
    start: date | None,
    end: date | None,
    file_options: Mapping[str, Any] | None = None,
) -> RootSummary:
    """Ingest ``settings.roots[0]`` from ``settings.source`` (``file_options``: the file
    source's path, column mapping and index file)."""
    from flows.nightly import ingest
    from flows.prefect_api import prefect_api, run_flow
    from flows.tasks import RootsFailed

    with prefect_api():
        try:
            return run_flow(
                ingest,
                root=settings.roots[0],
                source=settings.source,
                start=start,
                end=end,
                data_dir=str(settings.data_dir),
                source_options=dict(file_options or {}),
            )
        except RootsFailed as failed:
            summary: RootSummary = failed.result
            return summary


def run_backfill(
    settings: Settings,
    *,
    start: date | None,
    end: date | None,
    as_known: bool,
    on_step: Callable[[BackfillStep], None],
) -> BackfillResult:
    """Backfill every session in [start, end] of ``settings.roots``; ``on_step`` hears how far
    it is (flows.history.BackfillStep) as it stores."""
    from flows.history import backfill, progress_hook
    from flows.prefect_api import prefect_api, run_flow

    with prefect_api(), progress_hook(on_step):
        return run_flow(
            backfill,
            roots=list(settings.roots),
            source=settings.source,
            start=start,
            end=end,
            data_dir=str(settings.data_dir),
            methodologies=list(settings.methodologies),
            as_known=as_known,
        )


def resolve(settings: Settings) -> dict[str, int]:
    """Append the outcomes of calls whose horizon has passed: no flow (one short local
    transaction per root needs no Prefect server; the `callbook-resolve` flow in
    flows/history.py is there for deployments)."""
    from flows.outcomes import resolve_stored
    from flows.writer import open_for_writing

    with open_for_writing(settings) as wh:
        return resolve_stored(wh, settings.roots, source=settings.source)
