"""The one writer of a run: the warehouse opened for writing, guarded so two runs never write at once.

The guard is the warehouse's writer lock (warehouse/lock.py): an operating-system ``flock`` held by
the writing process, which the kernel releases when that process ends, however it ends (kill -9
included). A crashed run therefore never blocks the next one: the next writer takes the lock at
once, publishes the state the dead run committed (warehouse/store.py) and removes its work files.
The same lock queues writers with or without a Prefect server (nightly, backfill, ingest,
``calls add``, ``resolve``): a second writer waits for the first, up to
``CALLBOOK_WRITE_LOCK_TIMEOUT`` seconds (default 6 h), logging the holder (PID, command, since
when) every 30 s, and then fails naming the holder.

Earlier versions also took a Prefect global concurrency slot per warehouse. Prefect keeps such a
slot in its own database, so a writer killed while holding it left the slot taken and every later
writer waiting for hours; the slot is gone, and a slot left by an older version is never consulted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flows.settings import Settings
from warehouse.store import Warehouse


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The warehouse of ``settings`` opened for writing by this flow run (see the module
    docstring): waits are logged to the run."""
    from prefect.logging import get_run_logger

    logger = get_run_logger()
    with open_for_writing(settings, logger.warning) as wh:
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
