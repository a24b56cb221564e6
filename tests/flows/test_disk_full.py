"""The disk fills at each phase of a write: the exit code and the state agree.

`callbook ingest` of a revised vendor file runs as a user runs it (the installed code, its own
process, the real Prefect flow), with the operating system's file-size limit (RLIMIT_FSIZE, as
`ulimit -f` sets it, SIGXFSZ ignored) imposed at the start of one phase: every write past the
limit then fails in the kernel with EFBIG ("File too large"), exactly as on a full disk. The
phase is chosen by wrapping the function that begins it (the wrapper only sets the limit).

Exit 1 must mean nothing of the ingest was stored: warehouse, replica and lake (raw batches and
the record's units) as before. Exit 0 must mean the revision is stored in the warehouse and the
lake; readers may see the previous state until the next command, which publishes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from flows.nightly import ingest
from flows.verify import verify
from pipeline.sources.demo import DemoSource
from warehouse import record
from warehouse.lake import landed_files
from warehouse.store import Warehouse, replica_path, unpublished_marker

#: `callbook` (argv after the script) with the file-size limit set when FULL_AT's phase begins;
#: FULL_PREFECT=1 limits the temporary Prefect server the command starts too (its database).
HOOK = """
    import os, resource, shutil, signal, sys
    from pathlib import Path

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited by the Prefect server it starts
    phase = os.environ["FULL_AT"]


    def full():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
        if os.environ.get("FULL_PREFECT"):
            for child in Path("/proc").glob("[0-9]*"):
                try:
                    parent = int((child / "stat").read_text().split()[3])
                    command = (child / "cmdline").read_bytes()
                except OSError:
                    continue
                if parent == os.getpid() and b"flows.prefect_server" in command:
                    resource.prlimit(int(child.name), resource.RLIMIT_FSIZE, (1, 1))


    def before(owner, name):
        original = getattr(owner, name)

        def wrapped(*args, **kwargs):
            full()
            return original(*args, **kwargs)

        setattr(owner, name, wrapped)


    from warehouse import lake, record, store

    if phase == "raw landing":
        before(lake, "land_batch")
    elif phase == "lake record":
        before(record.PendingUnit, "add")
    elif phase == "commit":  # the unit's files are written: its commit is next
        seal = record.PendingUnit.seal

        def sealed(self, **kwargs):
            out = seal(self, **kwargs)
            full()
            return out

        record.PendingUnit.seal = sealed
    elif phase == "checkpoint":
        before(store.Warehouse, "publish")
    elif phase == "replica publish":
        before(shutil, "copyfile")
    else:
        raise SystemExit(f"unknown phase {phase}")
    from flows.cli import run

    sys.argv = ["callbook", *sys.argv[1:]]
    run()
    """

COLUMNS = "session_date,contract,open,high,low,close,volume"
END = date(2026, 3, 31)
FETCHED = datetime(2026, 4, 1, 12, tzinfo=UTC)


def write_bars(path: Path, shift: float) -> int:
    bars = DemoSource().fetch("RTY", start=date(2026, 1, 2), end=END, fetched_at=FETCHED).bars
    lines = [COLUMNS] + [
        f"{r['session_date']},{r['contract']},{r['open'] + shift},{r['high'] + shift},"
        f"{r['low'] + shift},{r['close'] + shift},{r['volume']}"
        for r in bars.iter_rows(named=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bars.height


@dataclass(frozen=True)
class State:
    """What a data directory holds: the warehouse's and the replica's every table, the lake's
    record units and raw batches."""

    warehouse: dict[str, tuple[int, str]]
    replica: dict[str, tuple[int, str]]
    units: list[str]
    pending: list[int]
    raw: list[Path]

    @classmethod
    def of(cls, data_dir: Path) -> State:
        path = data_dir / "warehouse.duckdb"
        root = record.record_dir(path)
        return cls(
            fingerprints(path),
            fingerprints(replica_path(path)),
            [d.name for d in record.unit_dirs(root)],
            record.pending_seqs(root),
            landed_files(data_dir),
        )


def fingerprints(path: Path) -> dict[str, tuple[int, str]]:
    with Warehouse.open(path, read_only=True) as wh:
        return {t: (n, wh.content_hash(t)) for t, n in wh.table_counts().items()}


@pytest.fixture(scope="module")
def loaded(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RTY from a vendor file (demo prices), ingested; beside it the same file revised (every
    price 0.25 higher)."""
    base = tmp_path_factory.mktemp("full")
    data_dir = base / "data"
    rows = write_bars(base / "rty.csv", 0.0)
    assert write_bars(base / "rty-revised.csv", 0.25) == rows
    summary = ingest(
        root="RTY",
        source="file",
        end=END,
        data_dir=str(data_dir),
        source_options={"path": str(base / "rty.csv")},
    )
    assert (summary.status, summary.inserted) == ("ok", rows)
    return data_dir


def revised(run: subprocess.CompletedProcess) -> int:
    """The revised rows the command's summary line reports (0 without one)."""
    lines = [line for line in run.stdout.splitlines() if line.startswith("RTY: received ")]
    if not lines:
        return 0
    return int(lines[-1].split("revised ")[1].split(",")[0].replace(",", ""))


def run_full(
    data_dir: Path, revised_file: Path, phase: str, *, prefect: bool = False
) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "FULL_AT": phase, "PREFECT_LOGGING_LEVEL": "WARNING"}
    if prefect:
        env["FULL_PREFECT"] = "1"
        env.pop("PREFECT_API_URL", None)  # the command starts its own server
    else:
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())  # the session's test server
    command = ["ingest", "--root", "RTY", "--source", "file", "--end", END.isoformat()]
    return subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(HOOK),
            "--data-dir",
            str(data_dir),
            *command,
            "--path",
            str(revised_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


#: phase -> (exit code, what the last line of stderr says)
PHASES = {
    "raw landing": (1, "landing the batch in the lake failed ("),
    "lake record": (1, "writing its record to the lake failed ("),
    "commit": (1, ": the commit failed (TransactionContext Error: Failed to commit"),
    "checkpoint": (0, "the warehouse checkpoint failed ("),
    "replica publish": (0, "the replica copy failed ("),
}


def assert_state_agrees(code: int, before: State, data_dir: Path, *, revised_rows: int) -> None:
    after = State.of(data_dir)
    assert after.pending == []
    if code != 0:  # nothing of it stored, anywhere
        assert after == before
        return
    # Stored, in the warehouse and the lake (its batch and its two units) ...
    assert after.warehouse["bars"][0] == before.warehouse["bars"][0] + revised_rows
    assert after.warehouse["ingest_batches"][0] == before.warehouse["ingest_batches"][0] + 1
    assert len(after.units) == len(before.units) + 2
    assert len(after.raw) == len(before.raw) + 1
    # ... and published by the next command (readers saw the previous state until then).
    assert after.replica == before.replica
    assert unpublished_marker(data_dir / "warehouse.duckdb").exists()
    Warehouse.open_reader(data_dir / "warehouse.duckdb").close()
    assert State.of(data_dir).replica == after.warehouse


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_full_disk_at_any_phase_leaves_exit_code_and_state_agreeing(
    loaded: Path, tmp_path: Path, phase: str
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(loaded, data_dir)
    before = State.of(data_dir)
    run = run_full(data_dir, loaded.parent / "rty-revised.csv", phase)
    code, says = PHASES[phase]
    assert run.returncode == code, run.stderr
    err = run.stderr.strip().splitlines()
    if code:
        assert err[-1].startswith("callbook: error: ")
        assert says in err[-1]
        assert err[-1].endswith(("nothing of it was written", "nothing was written"))
        assert revised(run) == 0
    else:
        assert revised(run) == before.warehouse["bars"][0]  # every bar: a new version
        # A log line wrapped at the width (flows/logs.py: continuation lines indented), unwrapped.
        logged = " ".join(err).replace("\n", " ").split(" WARNING ")
        unwrapped = [" ".join(part.split()) for part in logged]
        warning = next(w for w in unwrapped if "publishing it for readers did not finish" in w)
        assert says in warning
        assert "the next callbook command publishes it" in warning
    assert "Error logging to API" not in run.stderr
    assert_state_agrees(code, before, data_dir, revised_rows=revised(run))
    report = verify(data_dir, sample=5)
    assert report.ok, [d.line() for d in report.differences]


@pytest.mark.server
@pytest.mark.parametrize("phase", ["commit", "checkpoint"])
def test_when_prefects_own_database_cannot_be_written_the_flow_tells_its_outcome(
    loaded: Path, tmp_path: Path, phase: str
) -> None:
    """The disk fills for the command's temporary Prefect server too: it answers HTTP 500 to the
    run's last state and logs. The flow's own outcome is the exit code and the last line."""
    data_dir = tmp_path / "data"
    shutil.copytree(loaded, data_dir)
    before = State.of(data_dir)
    run = run_full(data_dir, loaded.parent / "rty-revised.csv", phase, prefect=True)
    code, says = PHASES[phase]
    assert run.returncode == code, run.stderr
    err = run.stderr.strip().splitlines()
    assert "Error logging to API" not in run.stderr
    prefect = next(line for line in err if line.startswith("callbook: Prefect's API failed"))
    assert "HTTP 500 on /api/" in prefect and prefect.endswith(
        "its record of this run is incomplete"
    )
    if code:
        assert err[-1].startswith("callbook: error: WarehouseWriteError: record_batch RTY")
        assert says in err[-1]
    else:
        assert revised(run) == before.warehouse["bars"][0]
    assert_state_agrees(code, before, data_dir, revised_rows=revised(run))
