"""Session-wide test setup: one Prefect harness, isolated PREFECT_HOME, quiet GX."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="callbook-prefect-"))
# Every pytest process (each xdist worker too) makes one: remove it, or /tmp collects hundreds.
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_HOME", str(_PREFECT_HOME))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (the first flow run costs ~15 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip: it is absent on a fresh machine."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Name the folder of the site's browser screenshots when this run wrote some."""
    folder = (
        Path(
            os.environ.get(
                "CALLBOOK_TEST_ARTIFACTS",
                Path(__file__).resolve().parents[1] / "build" / "test-artifacts",
            )
        )
        / "site"
    )
    started = getattr(config, "_callbook_started", None)
    shots = [p for p in folder.glob("*.png")] if folder.is_dir() else []
    if started is not None and any(p.stat().st_mtime >= started for p in shots):
        terminalreporter.write_line(f"site screenshots: {folder}")


def pytest_configure(config) -> None:
    import time

    config._callbook_started = time.time()
