"""The one writer of a run: the warehouse opened for writing, guarded so two runs never write at once.

Two guards, one inside the other:

1. With a Prefect server configured (``PREFECT_API_URL``), a global concurrency limit of one slot
   per warehouse (``callbook-writer-<hash of its path>``, created on first use): a second run waits
   for the slot, visibly in the Prefect UI (Concurrency) and in its log.
2. Always, the warehouse's writer lock (warehouse/lock.py): the same queue without a server (the
   CLI's temporary server, ``calls add``, tests), and the guarantee that survives a crashed run
   (the kernel drops the lock with the process; a Prefect lease only expires after minutes).

While waiting, the run logs who holds the lock every 30 s. On leaving, the writer publishes the
replica readers read (warehouse/store.py) and releases both.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from flows.settings import Settings
from warehouse.store import Warehouse

WRITER_LIMIT_PREFIX = "callbook-writer-"


def writer_limit_name(settings: Settings) -> str:
    """The Prefect concurrency limit guarding this warehouse (one per warehouse file)."""
    digest = hashlib.sha256(str(settings.warehouse_path.resolve()).encode()).hexdigest()[:12]
    return f"{WRITER_LIMIT_PREFIX}{digest}"


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The warehouse of ``settings`` opened for writing by this flow run (see the module
    docstring): waits are logged to the run."""
    from prefect.logging import get_run_logger

    logger = get_run_logger()
    with _prefect_writer_slot(settings, logger), open_for_writing(settings, logger.warning) as wh:
        yield wh


def open_for_writing(settings: Settings, on_wait: Callable[[str], None] | None = None) -> Warehouse:
    """The warehouse opened for writing by a command that runs no flow (`calls add`, `resolve`):
    the writer lock only (no Prefect); waits are said on stderr unless ``on_wait`` says otherwise."""
    return Warehouse.open(
        settings.warehouse_path,
        write_lock_timeout=settings.write_lock_timeout,
        on_wait=on_wait or _say,
        memory_limit_mb=settings.writer_memory_mb,
    )


def _say(message: str) -> None:
    print(f"callbook: {message}", file=sys.stderr, flush=True)


def _prefect_writer_slot(settings: Settings, logger: Any) -> Any:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return nullcontext()  # a temporary server per process: the writer lock is the guard
    return _writer_slot(settings, logger)


@contextmanager
def _writer_slot(settings: Settings, logger: Any) -> Iterator[None]:
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    name = writer_limit_name(settings)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
        busy = client.read_global_concurrency_limit_by_name(name).active_slots
    if busy:
        logger.warning(
            "waiting for the concurrency limit %s: another run is writing %s",
            name,
            settings.warehouse_path,
        )
    with concurrency(name, occupy=1, timeout_seconds=settings.write_lock_timeout, strict=True):
        yield
