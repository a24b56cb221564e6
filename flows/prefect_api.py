"""Which Prefect API a flow command talks to, and the temporary server when none is configured.

Only the flow commands (`nightly`, `backfill`, `ingest`) need a Prefect API. With
``PREFECT_API_URL`` set (environment or Prefect profile) they use that server and say so; without
it they start a temporary local server as their own child process (flows/prefect_server.py),
which dies with the command even when the command is killed with SIGKILL, and stop it at the end.

When the Prefect API itself fails (its database cannot be written: a full disk answers HTTP 500),
the command still tells the flow's own truth (:func:`run_flow`): every flow body remembers how it
ended (:func:`remembered`); a run whose body failed ends with the body's error as the last line,
a run whose body completed keeps its result and exit code, and one line says Prefect's record of
the run is incomplete. Prefect's "--- Error logging to API ---" blocks are kept off the console.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: Seconds to wait for the temporary server to answer /health (a busy 2-core machine needs ~20 s).
DEFAULT_STARTUP_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0
START_ATTEMPTS = 3  # a port taken between choosing it and the server binding it: try another

REUSE_MESSAGE = "using Prefect API at {url}"
TEMPORARY_MESSAGE = "starting a temporary Prefect server (set PREFECT_API_URL to reuse one)"


class PrefectServerError(RuntimeError):
    """The temporary Prefect server did not start."""


def configured_api_url() -> str | None:
    """PREFECT_API_URL as Prefect resolves it (environment, profile, or a test harness)."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def _announce(message: str) -> None:
    print(f"callbook: {message}", file=sys.stderr, flush=True)


@contextmanager
def prefect_api(announce: Callable[[str], None] = _announce) -> Iterator[str]:
    """Run the block against the configured Prefect API, or against a temporary server started
    for it; yields the API URL. Console logs of the block carry no tracebacks (the command
    prints its error as one line; the run's logs on the server keep the traceback)."""
    _no_logging_error_blocks()
    with _console_without_tracebacks():
        url = configured_api_url()
        if url:
            announce(REUSE_MESSAGE.format(url=url))
            yield url
            return
        announce(TEMPORARY_MESSAGE)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with (
            TemporaryPrefectServer() as server,
            temporary_settings({PREFECT_API_URL: server.api_url}),
        ):
            try:
                yield server.api_url
            finally:
                _drain_prefect_queues()  # the run's last logs and events, while it listens


@dataclass(frozen=True)
class BodyOutcome:
    """How a flow body ended, in this process: its result, or its error."""

    result: Any = None
    error: BaseException | None = None


_OUTCOMES: list[BodyOutcome] = []


def remembered(fn: Callable[P, T]) -> Callable[P, T]:
    """Under ``@flow``: the body's own outcome is kept for :func:`run_flow`, whatever Prefect's
    API does after it."""

    @functools.wraps(fn)
    def body(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _OUTCOMES.append(BodyOutcome(error=exc))
            raise
        _OUTCOMES.append(BodyOutcome(result=result))
        return result

    return body


def run_flow(flow: Callable[..., T], /, **parameters: Any) -> T:
    """Call ``flow`` (a :func:`remembered` flow) with ``parameters``. If Prefect's API fails
    after the body ran (it cannot record the run's state or logs), the body's outcome decides:
    its error is raised, or its result returned; either way one line says what Prefect failed
    to record."""
    del _OUTCOMES[:]
    try:
        return flow(**parameters)
    except Exception as exc:
        if not _OUTCOMES or not _is_api_failure(exc):
            raise
        outcome = _OUTCOMES[-1]
        _announce(
            f"Prefect's API failed ({_api_failure(exc)}): its record of this run is incomplete"
        )
        if outcome.error is not None:
            raise outcome.error from None
        return outcome.result  # type: ignore[no-any-return]


def decoration(what: str, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
    """``call(*args, **kwargs)``: a Prefect API call that only decorates a run (an artifact). If
    Prefect's API fails, the run goes on (its work is stored or about to be): a warning names
    ``what`` was not saved, and the result is None."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:
        if not _is_api_failure(exc):
            raise
        from prefect.logging import get_run_logger

        get_run_logger().warning(
            "%s was not saved in Prefect (%s); the run's work does not depend on it",
            what,
            _api_failure(exc),
        )
        return None


def _is_api_failure(exc: BaseException) -> bool:
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    return isinstance(exc, PrefectHTTPStatusError | httpx.HTTPError)


def _api_failure(exc: BaseException) -> str:
    """``HTTP 500 on /api/flow_runs/.../set_state``, or the transport error's name."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        path = exc.request.url.path.split("/")
        where = "/".join([*path[:3], "...", *path[-1:]]) if len(path) > 4 else "/".join(path)
        return f"HTTP {exc.response.status_code} on {where}"
    return type(exc).__name__


def _drain_prefect_queues(timeout: float = 10.0) -> None:
    """Send what Prefect's background workers still hold (logs, events) to the API now. Prefect
    does it at interpreter exit, which is too late for a server that stops with the command."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryPrefectServer:
    """A Prefect API server on 127.0.0.1 for the life of one command (a child that dies with it)."""

    def __init__(self, startup_timeout: float | None = None) -> None:
        self.startup_timeout = startup_timeout or float(
            os.environ.get(
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", DEFAULT_STARTUP_TIMEOUT_SECONDS
            )
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        # The server's output, shown only when it fails to start; lives as long as the server.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def __enter__(self) -> TemporaryPrefectServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for _ in range(START_ATTEMPTS):
            self.port = _free_port()
            self.process = self._spawn(self.port)
            if self._wait_healthy():
                return
            if self.process.poll() is None:  # alive but silent until the deadline
                break
        tail = self._log_tail()
        self.stop()
        raise PrefectServerError(
            f"the temporary Prefect server did not start within {self.startup_timeout:.0f} s"
            f"{tail} (set PREFECT_API_URL to use a running server)"
        )

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        from prefect.settings import get_current_settings

        env = {
            **os.environ,
            **get_current_settings().to_environment_variables(exclude_unset=True),
            # As Prefect's own temporary server: no UI, and only the services it needs.
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.prefect_server",
                "--port",
                str(port),
                "--parent",
                str(os.getpid()),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            # Its own session: a Ctrl-C in the terminal reaches the command, which then stops the
            # server after its flow run has reported its final state.
            start_new_session=True,
        )

    def _wait_healthy(self) -> bool:
        import httpx

        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        return False

    def _log_tail(self) -> str:
        self._log.seek(0)
        lines = [ln for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        return f": {lines[-1].strip()}" if lines else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            self._log.close()
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.close()


def _no_logging_error_blocks() -> None:
    """Prefect writes "--- Error logging to API ---" and the error to stderr, without a newline,
    for every batch of logs its API refuses, until the process exits (its log queue drains at
    exit): the run's own error would end up among them. For the rest of this command they are
    not written (as the standard library advises in production); :func:`run_flow` tells the
    flow's outcome instead. ``CALLBOOK_DEBUG`` keeps them."""
    if not os.environ.get("CALLBOOK_DEBUG"):
        logging.raiseExceptions = False


class _DropExceptions(logging.Filter):
    """Keeps records that carry an exception (and so a traceback) off the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None


@contextmanager
def _console_without_tracebacks() -> Iterator[None]:
    if os.environ.get("CALLBOOK_DEBUG"):
        yield
        return
    from prefect.logging.handlers import PrefectConsoleHandler  # importing prefect sets up logging

    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    drop = _DropExceptions()
    for handler in handlers:
        handler.addFilter(drop)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(drop)
