"""Benchmark: the lake's record of every unit of work (warehouse/record.py) and `callbook rebuild`.

On the demo history as a user makes it (`callbook nightly`, then `callbook backfill`, demo
source, every root and methodology), through the installed command against a running local
Prefect server (its own home):

1. sizes: the warehouse, its replica, the raw batches and the record in the lake;
2. `callbook rebuild` after the warehouse file is deleted, and after its header is overwritten:
   wall time, CPU time, and whether every table (row count and content hash) is the original's;
3. with ``--baseline SRC`` (a checkout of the commit before the record, run as
   ``PYTHONPATH=SRC``): the backfill's cost before and after, side by side, alternating runs
   from the same nightly state (for "after", the state with its record started: one base unit,
   written by the first writer that opens it, a one-time cost reported apart).

    .venv/bin/python bench/bench_record.py
    mkdir /tmp/before && git archive 3ec3bb6 | tar -x -C /tmp/before
    .venv/bin/python bench/bench_record.py --baseline /tmp/before --repeat 2
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.prefect_server import local_prefect_server  # noqa: E402
from warehouse import record  # noqa: E402
from warehouse.store import Warehouse, replica_path  # noqa: E402


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the command and its children
    code: int
    out: str
    err: str


def callbook(data_dir: Path, *args: str, env: dict[str, str], src: Path | None = None) -> Run:
    """One `callbook` command in its own process (from ``src`` when given), timed."""
    command = [sys.executable, "-c", "from flows.cli import run; run()"]
    env = {**env}
    cwd = ROOT
    if src is not None:
        env["PYTHONPATH"] = str(src)
        cwd = src
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=3600,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, done.returncode, done.stdout, done.stderr)


def size_mib(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def files(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


def fingerprints(path: Path) -> dict[str, tuple[int, str]]:
    with Warehouse.open(path, read_only=True) as wh:
        return {t: (n, wh.content_hash(t)) for t, n in wh.table_counts().items()}


def must(run: Run, what: str) -> Run:
    if run.code != 0:
        raise SystemExit(f"{what} failed ({run.code}):\n{run.err[-3000:]}")
    return run


def history(workdir: Path, env: dict[str, str]) -> tuple[Path, list[str]]:
    """The demo history made by this code; the sizes table."""
    data = workdir / "history"
    nightly = must(callbook(data, "nightly", env=env), "nightly")
    backfill = must(callbook(data, "backfill", env=env), "backfill")
    path = data / "warehouse.duckdb"
    root = record.record_dir(path)
    units = record.scan(root)
    with Warehouse.open(path, read_only=True) as wh:
        counts = wh.table_counts()
    rows = [
        f"Demo history: `callbook nightly` ({nightly.wall:.0f} s) then `callbook backfill` "
        f"({backfill.wall:.0f} s): {counts['snapshots']:,} snapshots, {counts['outcomes']:,} "
        f"outcomes, {counts['bars']:,} bars; {len(units.units):,} units in the record "
        f"({units.parts:,} Parquet files, {units.rows:,} rows).",
        "",
        "| what | MiB | files |",
        "|---|---:|---:|",
        f"| warehouse.duckdb | {size_mib(path):.1f} | 1 |",
        f"| warehouse.read.duckdb (replica) | {size_mib(replica_path(path)):.1f} | 1 |",
        f"| lake/raw (batches as received) | {size_mib(data / 'lake' / 'raw'):.1f} | "
        f"{files(data / 'lake' / 'raw')} |",
        f"| lake/record (every unit of work) | {size_mib(root):.1f} | {files(root)} |",
        "",
        f"The record is {size_mib(root) / size_mib(path):.2f}x the warehouse file's size.",
    ]
    return data, rows


def rebuilds(data: Path, workdir: Path, env: dict[str, str]) -> list[str]:
    path = data / "warehouse.duckdb"
    original = fingerprints(path)
    rows = [
        "| damage | rebuild wall (s) | CPU (s) | tables equal (rows, content hash) | summary |",
        "|---|---:|---:|---|---|",
    ]
    for damage in ("writer deleted", "header overwritten"):
        copy = workdir / f"rebuild-{damage.split()[0]}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data, copy)
        target = copy / "warehouse.duckdb"
        if damage == "writer deleted":
            target.unlink()
        else:
            with open(target, "r+b") as fh:
                fh.write(bytes(range(256)) * 16)
        run = must(callbook(copy, "rebuild", env=env), f"rebuild ({damage})")
        equal = fingerprints(target) == original and fingerprints(replica_path(target)) == original
        summary = run.out.strip().splitlines()[-1]
        rows.append(
            f"| {damage} | {run.wall:.1f} | {run.cpu:.1f} | {'yes' if equal else 'NO'} | "
            f"{summary} |"
        )
    return rows


def backfill_costs(workdir: Path, baseline: Path, repeat: int, env: dict[str, str]) -> list[str]:
    """The backfill from the same nightly state, before (baseline) and after, alternating."""
    start = workdir / "nightly-before"
    must(callbook(start, "nightly", env=env, src=baseline), "baseline nightly")
    started = workdir / "nightly-after"
    shutil.copytree(start, started)
    base_unit = must(callbook(started, "resolve", env=env), "resolve (the base unit)")
    runs: dict[str, list[Run]] = {"before": [], "after": []}
    for _ in range(repeat):
        for which, origin, src in (("before", start, baseline), ("after", started, None)):
            data = workdir / f"backfill-{which}"
            shutil.rmtree(data, ignore_errors=True)
            shutil.copytree(origin, data)
            runs[which].append(must(callbook(data, "backfill", env=env, src=src), which))
    rows = [
        "| backfill | runs | wall (s), each | median wall (s) | CPU (s), each | median CPU (s) |",
        "|---|---:|---|---:|---|---:|",
    ]
    for which, done in runs.items():
        walls = ", ".join(f"{r.wall:.0f}" for r in done)
        cpus = ", ".join(f"{r.cpu:.1f}" for r in done)
        rows.append(
            f"| {which} | {len(done)} | {walls} | {statistics.median(r.wall for r in done):.0f} "
            f"| {cpus} | {statistics.median(r.cpu for r in done):.1f} |"
        )
    ratio_wall = statistics.median(r.wall for r in runs["after"]) / statistics.median(
        r.wall for r in runs["before"]
    )
    ratio_cpu = statistics.median(r.cpu for r in runs["after"]) / statistics.median(
        r.cpu for r in runs["before"]
    )
    units = record.scan(record.record_dir(workdir / "backfill-after" / "warehouse.duckdb"))
    rows += [
        "",
        f"After / before (medians): wall {ratio_wall:.2f}x, CPU {ratio_cpu:.2f}x. The after "
        f"runs' record ends at {len(units.units)} units; starting the record on the nightly "
        f"state (the base unit, once per data directory) took {base_unit.wall:.1f} s "
        f"(`callbook resolve`, {base_unit.cpu:.1f} s CPU).",
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="source tree of the commit before")
    parser.add_argument("--repeat", type=int, default=2, help="backfill pairs (default 2)")
    args = parser.parse_args()
    summary = machine_summary()
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        workdir = Path(tmp)
        with local_prefect_server(workdir / "prefect") as server:
            env = {
                **os.environ,
                "PREFECT_API_URL": server.api_url,
                "PREFECT_HOME": str(workdir / "prefect-client"),
                "PREFECT_LOGGING_LEVEL": "WARNING",
            }
            data, sizes = history(workdir, env)
            rebuilt = rebuilds(data, workdir, env)
            costs = (
                backfill_costs(workdir, args.baseline, args.repeat, env) if args.baseline else []
            )
    body = [summary, "", *sizes, "", "`callbook rebuild` of that history:", "", *rebuilt]
    if costs:
        body += ["", f"Backfill before (`{args.baseline}`) and after, side by side:", "", *costs]
    update_section("Lake record and rebuild", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
