"""Benchmark: how soon the next writer starts after a writer is killed with SIGKILL (issue 16).

Two levels, each as users meet it:

1. The warehouse alone: a writer process stopped at a phase (writer lock taken; a unit of work
   committed, not yet published; in the middle of copying the replica) is killed; reported is
   how long the next ``Warehouse.open`` takes to get the lock and publish the dead writer's
   commits, and whether readers then see them.
2. The command line: ``callbook backfill --source demo`` against a running local Prefect server
   (``prefect server start``, its own home), killed once it holds the writer lock and has written
   its work files; then the same command again. Reported: seconds from the second command's start
   to its holding the writer lock (most of it is the process's own start-up and flow-run
   creation), whether it logged a wait, and whether work files were left after it.

With ``--baseline SRC`` (a checkout of an earlier commit) level 2 also runs from that source tree
(``PYTHONPATH=SRC``) in the same window, with the wait capped at ``--cap`` seconds: before this
change a killed run left its Prefect concurrency slot taken and the next writer waited for hours.

    .venv/bin/python bench/bench_crash.py
    mkdir /tmp/before && git archive ec1dea0 | tar -x -C /tmp/before
    .venv/bin/python bench/bench_crash.py --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.prefect_server import local_prefect_server  # noqa: E402
from tests.warehouse.test_crash import killed_writer  # noqa: E402
from warehouse.lock import lock_path, read_holder  # noqa: E402
from warehouse.store import MethodologyEntry, Warehouse, replica_path  # noqa: E402

PHASES = ("locked", "committed", "publishing")
ROOTS = "RTY,ES,NQ"
END = "2026-11-20"


def warehouse_level(workdir: Path) -> list[str]:
    from datetime import UTC, datetime

    import duckdb

    rows = [
        "| phase killed | next writer: lock + publish (ms) | readers see the commits | "
        "work files left |",
        "|---|---:|---|---|",
    ]
    for phase in PHASES:
        directory = workdir / f"wh-{phase}"
        directory.mkdir()
        path = directory / "warehouse.duckdb"
        with Warehouse.open(path) as wh:
            at = datetime(2026, 11, 21, tzinfo=UTC)
            wh.record_methodologies([MethodologyEntry("old", "h", {}, published=False)], at=at)
        killed_writer(path, phase)
        started = time.perf_counter()
        wh = Warehouse.open(path, write_lock_timeout=60)
        took = (time.perf_counter() - started) * 1000
        wh.close()
        with duckdb.connect(str(replica_path(path)), read_only=True) as con:
            seen = con.execute("select count(*) from methodologies").fetchall()[0][0]
        expected = 1 if phase == "locked" else 2
        rows.append(
            f"| {phase} | {took:.0f} | {'yes' if seen == expected else 'NO'} | "
            f"{'yes' if (directory / 'work').exists() else 'none'} |"
        )
    return rows


def holds_lock(path: Path, pid: int) -> bool:
    import fcntl

    holder = read_holder(lock_path(path))
    if holder is None or holder.pid != pid:
        return False
    fd = os.open(lock_path(path), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def command_level(src: Path, data_dir: Path, env: dict[str, str], cap: float) -> dict[str, str]:
    path = data_dir / "warehouse.duckdb"
    command = [
        *(sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), "backfill"),
        *("--roots", ROOTS, "--end", END, "--source", "demo"),
    ]
    env = {**env, "PYTHONPATH": str(src), "PREFECT_LOGGING_LEVEL": "WARNING"}
    first = subprocess.Popen(
        command, cwd=src, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while not (holds_lock(path, first.pid) and any((data_dir / "work").glob("*/*.parquet"))):
        if first.poll() is not None or time.monotonic() > deadline:
            return {"result": "the first backfill ended before it could be killed"}
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = subprocess.Popen(
        command,
        cwd=src,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started = time.perf_counter()
    locked_after = None
    while second.poll() is None:
        if holds_lock(path, second.pid):
            locked_after = time.perf_counter() - started
            break
        if time.perf_counter() - started > cap:
            break
        time.sleep(0.05)
    if locked_after is None and second.poll() is None:
        os.killpg(second.pid, signal.SIGKILL)
        _, err = second.communicate()
        return {
            "lock": f"still waiting after {cap:.0f} s (killed)",
            "waited": "yes" if "waiting" in err else "no",
            "work": "yes" if (data_dir / "work").exists() else "none",
            "exit": "-",
        }
    _, err = second.communicate(timeout=900)
    return {
        "lock": f"{locked_after:.1f} s" if locked_after is not None else "never",
        "waited": "yes" if "waiting" in err else "no",
        "work": "yes" if (data_dir / "work").exists() else "none",
        "exit": str(second.returncode),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="source tree of an earlier commit")
    parser.add_argument("--cap", type=float, default=120.0, help="longest wait measured (s)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="callbook-crash-"))
    try:
        print("warehouse level ...", flush=True)
        level1 = warehouse_level(workdir)
        print("\n".join(level1))
        sources = {"this commit": ROOT}
        if args.baseline:
            sources["baseline"] = args.baseline.resolve()
        level2 = [
            "| source tree | next backfill holds the lock after | logged a wait | "
            "work files left | exit |",
            "|---|---:|---|---|---|",
        ]
        with local_prefect_server(workdir / "prefect-home") as server:
            seed = workdir / "seed"
            subprocess.run(
                [
                    *(sys.executable, "-m", "flows.cli", "--data-dir", str(seed), "nightly"),
                    *("--roots", ROOTS, "--as-of", END, "--source", "demo"),
                ],
                cwd=ROOT,
                env=server.env(),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            for name, src in sources.items():
                data_dir = workdir / f"cli-{name.replace(' ', '-')}"
                shutil.copytree(seed, data_dir)
                print(f"command level: {name} ...", flush=True)
                got = command_level(src, data_dir, server.env(), args.cap)
                level2.append(
                    f"| {name} | {got.get('lock', got.get('result'))} | {got.get('waited', '-')} "
                    f"| {got.get('work', '-')} | {got.get('exit', '-')} |"
                )
                print(level2[-1], flush=True)
        body = "\n".join(
            [
                machine_summary(),
                "",
                "A writer killed with SIGKILL at each phase; the next writer (same data dir):",
                "",
                *level1,
                "",
                f"`callbook backfill --roots {ROOTS} --end {END} --source demo` against a running "
                "Prefect server, killed once it held the writer lock and had written work files; "
                "then the same command again:",
                "",
                *level2,
            ]
        )
        update_section("Crash recovery", body)
        print(body)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
