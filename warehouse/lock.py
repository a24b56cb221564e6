"""One writer at a time: an exclusive lock on ``<warehouse>.lock`` held while a writer is open.

DuckDB itself lets one process open a file for writing and makes a second one fail at once; this
lock turns that into a queue: a second writer (another nightly, a backfill, ``calls add``) waits
for the first to finish, reporting who holds the lock while it waits, instead of failing. It is a
``flock`` on a small side file, so the kernel releases it when the holding process ends, however
it ends (kill -9 included): a crashed run never leaves a stale lock behind. The file records the
holder (PID, command, since when) for the waiting side's messages; it is never deleted.

Works with or without a Prefect server; the flows add a Prefect concurrency slot on top when one is
configured (flows/writer.py), so a waiting run is visible in the UI too.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

#: How often a waiting writer reports that it is still waiting (seconds).
WAIT_REPORT_SECONDS = 30.0
_POLL_SECONDS = 0.2


class WriterLockTimeout(RuntimeError):
    """The writer lock stayed held by another process for longer than the caller would wait."""


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    since: str  # ISO timestamp, UTC

    def describe(self) -> str:
        return f"PID {self.pid} ({self.command}, since {self.since})"


def lock_path(warehouse_path: Path) -> Path:
    return warehouse_path.with_name(warehouse_path.name + ".lock")


def read_holder(path: Path) -> Holder | None:
    """Who last took the lock (the holder while it is held), from the lock file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        return Holder(int(data["pid"]), str(data["command"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WriterLock:
    """``with WriterLock(path, timeout=..., on_wait=...):`` holds the warehouse's writer lock.

    ``timeout`` is how long to wait for another holder, in seconds (None: without limit);
    ``on_wait`` is called with a one-line message when the wait starts and every
    WAIT_REPORT_SECONDS after. The lock is per open file description: a second WriterLock on the
    same warehouse in the same process waits like any other writer.

    ``shared=True`` takes it shared instead, writing nothing: for a reader that must see the
    warehouse file and the lake of one moment (``callbook verify``). It waits for a writer and
    makes writers wait; readers holding it shared do not wait for each other.
    """

    def __init__(
        self,
        warehouse_path: Path,
        *,
        timeout: float | None,
        on_wait: Callable[[str], None] | None = None,
        command: str | None = None,
        shared: bool = False,
    ) -> None:
        self.path = lock_path(warehouse_path)
        self.shared = shared
        self.timeout = timeout
        self.on_wait = on_wait
        self.command = command or " ".join(
            [Path(sys.argv[0]).name, *sys.argv[1:3]] if sys.argv else ["python"]
        )
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o664)
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        started = time.monotonic()
        next_report = started
        try:
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - started
                    holder = read_holder(self.path)
                    # A shared holder records nothing: the file then names a writer long gone.
                    who = (
                        holder.describe()
                        if holder and _alive(holder.pid)
                        else "another process (a `callbook verify`?)"
                    )
                    if self.timeout is not None and waited >= self.timeout:
                        raise WriterLockTimeout(
                            f"{self.path.with_suffix('')} is being written by {who}; waited "
                            f"{waited:.0f} s for it to finish (CALLBOOK_WRITE_LOCK_TIMEOUT)"
                        ) from None
                    if self.on_wait is not None and time.monotonic() >= next_report:
                        limit = "" if self.timeout is None else f" (up to {self.timeout:.0f} s)"
                        self.on_wait(
                            f"waiting for the warehouse writer lock held by {who}: "
                            f"{waited:.0f} s so far{limit}"
                        )
                        next_report = time.monotonic() + WAIT_REPORT_SECONDS
                    time.sleep(_POLL_SECONDS)
            if self.shared:
                self._fd = fd
                return
            me = {
                "pid": os.getpid(),
                "command": self.command,
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
