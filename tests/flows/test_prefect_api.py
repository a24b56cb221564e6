"""Flow commands without PREFECT_API_URL run on a temporary Prefect server of their own, which is
stopped when the command ends and dies with it when the command is killed (kill -9 included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flows.prefect_api import TEMPORARY_MESSAGE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

BOUND = 240.0  # seconds: a temporary server starts in ~15-25 s on a loaded 2-core machine


def servers_of(parent: int) -> list[tuple[int, int]]:
    """(pid, port) of every live temporary callbook server started by ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"flows.prefect_server" in argv and state != "Z":  # a zombie has exited
            args = [a.decode() for a in argv]
            if args[args.index("--parent") + 1] == str(parent):
                found.append((int(entry.name), int(args[args.index("--port") + 1])))
    return found


def callbook_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    return env


def nightly_argv(tmp_path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flows.cli",
        "--data-dir",
        str(tmp_path / "data"),
        "nightly",
        "--roots",
        "RTY",
        "--as-of",
        "2006-06-30",
    ]


def test_a_command_stops_its_temporary_server_when_it_ends(tmp_path: Path) -> None:
    # A backfill of an empty warehouse: a whole flow run with next to no work.
    argv = [sys.executable, "-m", "flows.cli", "--data-dir", str(tmp_path / "data"), "backfill"]
    result = subprocess.run(
        argv,
        env=callbook_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=BOUND,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert f"callbook: {TEMPORARY_MESSAGE}" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    # `servers_of` needs the parent's pid, gone now: look for any server of this data directory.
    leftovers = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit()
        and b"flows.prefect_server" in _cmdline(p)
        and str(tmp_path).encode() in _environ(p)
    ]
    assert leftovers == []


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def _environ(proc: Path) -> bytes:
    try:
        return (proc / "environ").read_bytes()
    except OSError:
        return b""


def test_kill_9_of_the_command_leaves_no_temporary_server(tmp_path: Path) -> None:
    command = subprocess.Popen(
        nightly_argv(tmp_path),
        env=callbook_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + BOUND
        server = None
        while server is None and time.monotonic() < deadline:  # wait until it serves the run
            for pid, port in servers_of(command.pid):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success:
                        server = (pid, port)
                except httpx.TransportError:
                    pass
            if command.poll() is not None:
                pytest.fail(f"callbook exited ({command.returncode}) before its server was up")
            time.sleep(0.25)
        assert server is not None, "the temporary server never answered"
        command.send_signal(signal.SIGKILL)
        command.wait(timeout=30)
        pid, port = server
        deadline = time.monotonic() + 30  # SIGTERM from the kernel, then uvicorn's shutdown
        while servers_of(command.pid) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert servers_of(command.pid) == [], f"server {pid} outlived its command"
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    finally:
        if command.poll() is None:
            command.kill()
        for pid, _ in servers_of(command.pid):  # only on failure: leave nothing behind
            os.kill(pid, signal.SIGKILL)
