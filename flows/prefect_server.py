"""The temporary Prefect API server of one callbook command, run as its child process.

    python -m flows.prefect_server --port PORT --parent PID

Prefect's own temporary server (``SubprocessASGIServer``) is a plain ``subprocess.Popen`` stopped
by an ``atexit`` hook, so a ``kill -9`` of the command leaves it running for good. This child dies
with its parent instead: on Linux the kernel sends it SIGTERM when the parent dies
(``PR_SET_PDEATHSIG``), and on any system a watchdog thread sees the parent gone within
``WATCHDOG_SECONDS`` and stops it, forcibly after ``SHUTDOWN_GRACE_SECONDS``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading
import time

WATCHDOG_SECONDS = 1.0
SHUTDOWN_GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Stop this process when ``parent`` dies (at once on Linux, within a second elsewhere)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the kernel could be told
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(SHUTDOWN_GRACE_SECONDS)  # uvicorn's graceful shutdown hung
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.prefect_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True, help="stop when this PID dies")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)

    import uvicorn

    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        log_level="error",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
