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


#: The modules that take longest (worker-seconds of a full run, 2026-12-07), heaviest first. With
#: `-n 2 --dist loadfile` each module runs whole on one worker in collection order; starting the
#: longest ones first (longest-processing-time first) keeps the two workers' last modules short,
#: so they end together instead of one waiting on the other.
HEAVIEST_FIRST: tuple[str, ...] = (
    "tests/flows/test_site.py",
    "tests/test_documented_commands.py",
    "tests/pipeline/analysis/test_engine.py",
    "tests/flows/test_fanout.py",
    "tests/flows/test_disk_full.py",
    "tests/flows/test_cli.py",
    "tests/flows/test_input_corpus.py",
    "tests/warehouse/test_sandbox.py",
    "tests/flows/test_commands.py",
    "tests/flows/test_nightly.py",
    "tests/deployments/test_prefect_server.py",
    "tests/pipeline/quality/test_suite.py",
    "tests/flows/test_rebuild.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    """Heaviest modules first (HEAVIEST_FIRST), every other in collection order; a module's own
    tests keep their order."""
    rank = {path: i for i, path in enumerate(HEAVIEST_FIRST)}
    root = Path(__file__).resolve().parents[1]

    def weight(item) -> int:
        try:
            path = Path(str(item.fspath)).resolve().relative_to(root).as_posix()
        except ValueError:
            return len(rank)
        return rank.get(path, len(rank))

    items.sort(key=weight)
