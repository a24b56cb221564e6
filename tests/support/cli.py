"""Run the installed ``callbook`` command as a user does: its own process, with its exit code,
its output and the peak memory of its process tree (the command and the processes it waited for,
such as the query process of ``callbook sql``)."""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    peak_rss_mib: float  # the largest RSS of the command or any process it waited for
    seconds: float

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
            _, status, usage = os.wait4(process.pid, 0)  # rusage of the whole waited tree
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(
            code=process.returncode,
            out=out.read().decode("utf-8", errors="replace"),
            err=err.read().decode("utf-8", errors="replace"),
            peak_rss_mib=usage.ru_maxrss / 1024,
            seconds=seconds,
        )
