"""Run the installed ``callbook`` command as a user does: its own process, with its exit code and
its output; for ``callbook sql``, the peak memory of the command and of its query process (the
line ``CALLBOOK_SQL_STATS`` makes it print, taken out of the error output).

Not ``wait4``'s ``ru_maxrss``: Linux counts into a process started by ``exec`` the size of the
process that started it (here the test process, hundreds of MiB)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The entry point installed beside the interpreter running the tests (.venv/bin/callbook).
CALLBOOK = Path(sys.executable).parent / "callbook"


#: The line CALLBOOK_SQL_STATS=1 adds (warehouse/sandbox_process.py).
STATS = re.compile(
    r"^callbook sql: query process peak RSS (?P<query>[\d,.]+) MiB, CPU [\d.]+ s; "
    r"parent peak RSS (?P<parent>[\d,.]+) MiB$"
)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str  # without the CALLBOOK_SQL_STATS line
    seconds: float
    query_peak_mib: float | None = None  # `callbook sql`: its query process's peak RSS
    parent_peak_mib: float | None = None  # `callbook sql`: the command's own peak RSS

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


def run_callbook(
    *argv: str,
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Run:
    """``callbook --data-dir DATA_DIR ARGV...`` to completion (killed after ``timeout`` s).
    ``env`` adds to (or, with an empty value, removes from) the test process's environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOOK_")}
    environment["CALLBOOK_SQL_STATS"] = "1"
    for key, value in (env or {}).items():
        if value:
            environment[key] = value
        else:
            environment.pop(key, None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [str(CALLBOOK), "--data-dir", str(data_dir), *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=environment,
        )
        killer = threading.Timer(timeout, os.kill, (process.pid, signal.SIGKILL))
        killer.start()
        try:
            process.wait()
        finally:
            killer.cancel()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        printed = out.read().decode("utf-8", errors="replace")
        errors = err.read().decode("utf-8", errors="replace").splitlines(keepends=True)
    stats = [m for line in errors if (m := STATS.match(line.rstrip("\n")))]
    return Run(
        code=process.returncode,
        out=printed,
        err="".join(line for line in errors if not STATS.match(line.rstrip("\n"))),
        seconds=seconds,
        query_peak_mib=float(stats[-1]["query"].replace(",", "")) if stats else None,
        parent_peak_mib=float(stats[-1]["parent"].replace(",", "")) if stats else None,
    )
