"""A real local Prefect server (`prefect server start`) and processes around it, for tests and
benchmarks: 127.0.0.1 on a free port, its own PREFECT_HOME and SQLite file, every wait bounded,
every process in its own process group, killed as a group at the end (and by the kernel if the
test process dies first: PR_SET_PDEATHSIG)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
#: Generous for a loaded 2-core machine (the server starts in ~15 s when the machine is idle).
SERVER_STARTUP_TIMEOUT = 180.0
STOP_TIMEOUT = 5.0  # then SIGKILL: a slow teardown at the end of a run makes xdist interrupt it
API_ATTEMPTS = 8


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_test_process() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


class Process:
    """A background process in its own process group, output to a log file."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT):
        self.log = log
        self._log_file = log.open("ab")
        self.popen = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_test_process,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """``sig`` to the whole group, then SIGKILL to what is left (a worker turns SIGTERM into
        SIGINT and may linger; its flow-run processes are in its group)."""
        try:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=STOP_TIMEOUT)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT)
        self._log_file.close()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class LocalPrefectServer:
    """`prefect server start` on 127.0.0.1:<free port> with its own home and database."""

    def __init__(self, home: Path, *, settings: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.settings = settings or {}
        self.process: Process | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a process that talks to this server (none of the test's Prefect
        settings leak in)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        return {
            **base,
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            **extra,
        }

    def start(self, timeout: float = SERVER_STARTUP_TIMEOUT) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = self.env(
            PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{self.home / 'prefect.db'}",
            **self.settings,
        )
        env.pop("PREFECT_API_URL")
        self.process = Process(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-ui",
            ],
            env=env,
            log=self.home / "server.log",
        )

        def healthy() -> bool:
            if not self.process or not self.process.alive():
                raise RuntimeError(
                    f"prefect server exited:\n{self.process and self.process.tail()}"
                )
            try:
                return httpx.get(f"{self.api_url}/health", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=timeout, what="the Prefect server's /health")

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None

    def cli(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command (e.g. ``prefect deploy ...``) against this server; fails on a non-zero
        exit with its output."""
        result = subprocess.run(
            list(args),
            env=env or self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call; retried, as Prefect's own client does, while the server answers 503/429
        (SQLite busy under concurrent writes), and a read also when it does not answer in time
        (a 2-core machine running the worker's flow and the server at once)."""
        for attempt in range(API_ATTEMPTS):
            last = attempt == API_ATTEMPTS - 1
            try:
                response = httpx.request(method, f"{self.api_url}{path}", timeout=30, **kwargs)
            except httpx.TimeoutException:
                if method != "GET" or last:
                    raise
                continue
            if response.status_code not in (429, 503) or last:
                break
            time.sleep(min(0.5 * 2**attempt, 5.0))
        response.raise_for_status()
        return response.json() if response.content else None


@contextmanager
def local_prefect_server(
    home: Path, *, settings: dict[str, str] | None = None
) -> Iterator[LocalPrefectServer]:
    server = LocalPrefectServer(home, settings=settings)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def deploy_nightly(server: LocalPrefectServer, data_dir: Path, *options: str) -> None:
    """The README's `prefect deploy --prefect-file deployments/prefect.yaml --name nightly`, with
    CALLBOOK_HOME (this checkout) and CALLBOOK_DATA_DIR (``data_dir``) as it says."""
    server.cli(
        str(Path(sys.executable).parent / "prefect"),
        "deploy",
        "--prefect-file",
        "deployments/prefect.yaml",
        "--name",
        "nightly",
        *options,
        env=server.env(CALLBOOK_HOME=str(ROOT), CALLBOOK_DATA_DIR=str(data_dir)),
    )


class WebhookReceiver:
    """A loopback HTTP endpoint that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with receiver._lock:
                    receiver.bodies.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, predicate: Callable[[Any], bool]) -> list[Any]:
        with self._lock:
            return [b for b in self.bodies if predicate(b)]
