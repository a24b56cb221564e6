"""Benchmark: 100 demo roots x 25 years through the real backfill flow, serial vs fan-out.

Targets (issue 9): >= 5,000 snapshots/s on 2 cores, every analyst view < 1 s, peak RSS < 2 GB.
Measures, on one data directory of N generated demo roots (``[synthetic] count = N`` in a roots
file) plus ES and NQ (their relative-strength peers), bars to ``AS_OF`` (25 years from 2005):

1. the backfill flow (``flows.history.backfill``) of the N roots, every registered methodology of
   the default configuration, once per task-runner variant (serial = one thread; fan-out = two
   threads, two Dask worker processes on a LocalCluster), each in a fresh process under its own
   Prefect test server, after a one-day warm-up run: wall time, snapshots/s, CPU seconds, peak RSS
   of the flow process and of its workers (sampled), the warehouse size;
2. a reader in this process while each backfill writes: `Warehouse.open_reader` + a query on the
   published replica every 0.5 s: its latency and whether it saw the state published before;
3. every analyst view on the final replica: best of 3, ``count(*)`` and the full result;
4. the cost of publishing the replica (CHECKPOINT + file copy + fsync + rename) against
   ``COPY FROM DATABASE`` into an attached file, at this size;
5. optionally (``--before PATH``, a checkout of an earlier commit) the four CME demo roots through
   the backfill flow of that code and of this one, side by side.

    uv run python bench/bench_scale.py                       # 100 roots, thread:1, thread:2, dask:2
    uv run python bench/bench_scale.py --roots 10 --no-write # a quick look
    uv run python bench/bench_scale.py --roots 20 --methodologies v1 --section "Scale (v1 only)"

With fewer than 100 roots the report adds the figures extrapolated to 100 roots, labelled as such:
wall time and warehouse size linearly in the roots (each root is one independent unit of work of
the same length, the writer's per-root cost included), snapshots/s unchanged; peak RSS is NOT
extrapolated (it is reported as measured; it grows with the roots: DuckDB's buffers of the
warehouse grow with it, so the figure at 100 roots is higher than at fewer).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

REPO = Path(__file__).resolve().parents[1]
AS_OF = date(2029, 12, 31)  # 25 years of demo sessions from 2005-01-03
FETCHED_AT = datetime(2030, 1, 2, 12, tzinfo=UTC)
PEERS = ("ES", "NQ")
VARIANTS = ("thread:1", "thread:2", "dask:2")
READER_EVERY_SECONDS = 0.5
VIEWS = (
    "latest_calls",
    "published_calls",
    "call_history",
    "call_changes",
    "snapshot_versions",
    "snapshot_status",
    "calls_vs_outcomes",
    "scored_calls",
    "scoreboard",
    "calibration",
    "ingest_status",
    "bar_revisions",
)


def roots_file(directory: Path, count: int) -> Path:
    path = directory / "roots.toml"
    path.write_text(f"[synthetic]\ncount = {count}\n")
    return path


def synthetic_roots(count: int) -> list[str]:
    from pipeline.market.roots import synthetic_names

    return list(synthetic_names("DEMO", count))


def load_bars(path: Path, roots: list[str]) -> float:
    """The demo bars of ``roots`` to AS_OF, loaded as validated batches (no GX: the backfill, not
    the ingest, is measured here). Returns seconds."""
    from flows.settings import load_registry_from_env
    from pipeline.quality.result import ValidationResult, empty_findings
    from pipeline.sources.demo import DemoSource
    from warehouse.store import Warehouse

    # The synthetic roots come from CALLBOOK_ROOTS_FILE (set by the caller), as for the command.
    source = DemoSource(registry=load_registry_from_env())
    started = time.perf_counter()
    with Warehouse.open(path) as wh:
        for root in roots:
            batch = source.fetch(root, start=None, end=AS_OF, fetched_at=FETCHED_AT)
            wh.record_batch(batch, lake_path="bench", run_id=None, recorded_at=FETCHED_AT)
            clean = ValidationResult("passed", batch.bars, empty_findings(), "bench", "1")
            wh.load_batch(batch, clean, run_id=None, recorded_at=FETCHED_AT)
    return time.perf_counter() - started


# -- one variant, in its own process ---------------------------------------------------------------


def child(variant: str, data_dir: Path, count: int, prefect_home: Path) -> None:
    """Run the backfill flow of ``count`` roots with the runner ``variant``; print JSON."""
    runner, workers = variant.split(":")
    os.environ.update(
        {
            "CALLBOOK_TASK_RUNNER": runner,
            "CALLBOOK_WORKERS": workers,
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        }
    )
    from prefect.testing.utilities import prefect_test_harness

    from flows import clock
    from flows.history import backfill
    from flows.settings import load_settings

    clock.utcnow = lambda: FETCHED_AT  # type: ignore[assignment]
    roots = synthetic_roots(count)
    with prefect_test_harness(server_startup_timeout=180):
        backfill(roots=roots[:1], source="demo", start=AS_OF, end=AS_OF, data_dir=str(data_dir))
        print("READY", flush=True)
        wall, cpu, workers_cpu = time.perf_counter(), time.process_time(), _children_cpu()
        result = backfill(roots=roots, source="demo", end=AS_OF, data_dir=str(data_dir))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        # Dask's worker processes are children of this one and have ended with the run; the
        # Prefect test server, also a child, is still running and not counted.
        workers_cpu = _children_cpu() - workers_cpu
    print(
        json.dumps(
            {
                "seconds": wall,
                "cpu_seconds": cpu,
                "workers_cpu_seconds": workers_cpu,
                "load": os.getloadavg()[0],
                "written": result.written,
                "computed": result.computed,
                "outcomes": sum(result.outcomes.values()),
                "methodologies": list(load_settings().methodologies),
            }
        ),
        flush=True,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sampler(threading.Thread):
    """Peak RSS of a process and of its descendants (the Prefect server excluded), every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.flow_peak = 0
        self.workers_peak = 0
        self.total_peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        process = psutil.Process(self.pid)
        while not self.stop.is_set():
            try:
                own = process.memory_info().rss
                workers = 0
                for c in process.children(recursive=True):
                    try:
                        line = " ".join(c.cmdline())
                        if "uvicorn" in line or "prefect.server" in line or "server start" in line:
                            continue
                        workers += c.memory_info().rss
                    except psutil.Error:
                        continue
            except psutil.Error:
                return
            self.flow_peak = max(self.flow_peak, own)
            self.workers_peak = max(self.workers_peak, workers)
            self.total_peak = max(self.total_peak, own + workers)
            time.sleep(0.2)


class Reader(threading.Thread):
    """An analyst querying the published replica while the backfill writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.latencies: list[float] = []
        self.counts: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from warehouse.store import Warehouse

        while not self.stop.is_set():
            started = time.perf_counter()
            with Warehouse.open_reader(self.path) as wh:
                count = wh.row_count("snapshots")
                wh.table_rows("latest_calls")
            self.latencies.append(time.perf_counter() - started)
            self.counts.append(int(count))
            time.sleep(READER_EVERY_SECONDS)


def run_variant(variant: str, base: Path, workdir: Path, count: int, env: dict[str, str]) -> dict:
    data_dir = workdir / variant.replace(":", "-")
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(base, data_dir)
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            variant,
            "--data-dir",
            str(data_dir),
            "--roots",
            str(count),
        ],
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    sampler = Sampler(process.pid)
    reader = Reader(data_dir / "warehouse.duckdb")
    line = process.stdout.readline()
    if line.strip() != "READY":
        raise RuntimeError(f"{variant}: the child did not start: {line!r}")
    from warehouse.store import Warehouse

    with Warehouse.open_reader(data_dir / "warehouse.duckdb") as wh:
        published_before = wh.row_count("snapshots")
    sampler.start()
    reader.start()
    out = process.stdout.read()
    process.wait()
    sampler.stop.set()
    reader.stop.set()
    reader.join()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{variant}: the backfill failed ({process.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    during = [c for c in reader.counts[:-1]]
    result.update(
        variant=variant,
        data_dir=str(data_dir),
        rss_flow_mib=sampler.flow_peak / 2**20,
        rss_workers_mib=sampler.workers_peak / 2**20,
        rss_total_mib=sampler.total_peak / 2**20,
        warehouse_mib=(data_dir / "warehouse.duckdb").stat().st_size / 2**20,
        reader_queries=len(reader.latencies),
        reader_max=max(reader.latencies) if reader.latencies else float("nan"),
        reader_median=statistics.median(reader.latencies) if reader.latencies else float("nan"),
        reader_p95=statistics.quantiles(reader.latencies, n=20)[-1]
        if len(reader.latencies) > 1
        else float("nan"),
        reader_saw_previous=sum(c == published_before for c in during),
        reader_states=sorted(set(reader.counts)),
    )
    return result


# -- views and publishing ----------------------------------------------------------------------


def time_views(path: Path) -> list[tuple[str, int, float, float]]:
    """(view, rows, count(*) seconds, full-result seconds), best of 3, on the replica."""
    from warehouse.store import Warehouse

    out = []
    with Warehouse.open_reader(path) as wh:
        for view in VIEWS:
            best_count = best_full = float("inf")
            rows = 0
            for _ in range(3):
                started = time.perf_counter()
                wh.row_count(view)
                best_count = min(best_count, time.perf_counter() - started)
                started = time.perf_counter()
                rows = wh.table_rows(view).height
                best_full = min(best_full, time.perf_counter() - started)
            out.append((view, rows, best_count, best_full))
    return out


def publish_costs(path: Path) -> dict[str, float]:
    """Seconds to publish the replica by file copy (best of 3) and by COPY FROM DATABASE."""
    from warehouse.store import Warehouse

    with Warehouse.open(path) as wh:
        copies = [wh.publish().seconds for _ in range(3)]
        target = path.with_name("copy-from-database.duckdb")
        target.unlink(missing_ok=True)
        started = time.perf_counter()
        wh.copy_database_to(target)
        copy_from = time.perf_counter() - started
        size = path.stat().st_size
    target.unlink()
    return {"copy": min(copies), "copy_from_database": copy_from, "mib": size / 2**20}


def before_after(
    before: Path, workdir: Path, env: dict[str, str], repeats: int = 3
) -> list[tuple[str, float, float, int]]:
    """The four CME demo roots through the backfill flow of the code at ``before`` and of this
    checkout, alternately ``repeats`` times, each on the same demo bars loaded by its own code
    (serial runner: the old code had no other); (label, best seconds, best CPU seconds of the flow
    process, snapshots)."""
    script = """
import os, sys, time, json
from datetime import date, datetime, UTC
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
from prefect.testing.utilities import prefect_test_harness
from flows import tasks
now = lambda: datetime(2026, 11, 21, 12, tzinfo=UTC)
tasks.utcnow = now
try:  # the flows' clock moved to flows.clock; the code before it read tasks.utcnow
    from flows import clock
    clock.utcnow = now
except ImportError:
    pass
from flows.history import backfill
d = sys.argv[1]
sys.path.insert(0, "bench")
from bench_backfill import load_demo  # this code's own schema and loader
load_demo(__import__("pathlib").Path(d) / "warehouse.duckdb")
with prefect_test_harness(server_startup_timeout=180):
    backfill(roots=["YM"], source="demo", start=date(2026, 11, 20), end=date(2026, 11, 20), data_dir=d)
    t, c = time.perf_counter(), time.process_time()
    r = backfill(roots=["RTY", "ES", "NQ", "YM"], source="demo", end=date(2026, 11, 20), data_dir=d)
    print(json.dumps([time.perf_counter() - t, time.process_time() - c, r.written]))
"""
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(repeats):
        for label, code in (("before", before), ("after", REPO)):
            data_dir = workdir / f"cme4-{label}"
            shutil.rmtree(data_dir, ignore_errors=True)
            data_dir.mkdir(parents=True)
            done = subprocess.run(
                [sys.executable, "-c", script, str(data_dir)],
                env={
                    **env,
                    "PYTHONPATH": str(code),
                    "CALLBOOK_TASK_RUNNER": "thread",
                    "CALLBOOK_WORKERS": "1",
                },
                capture_output=True,
                text=True,
                cwd=code,
                check=True,
            )
            seconds, cpu, written = json.loads(done.stdout.strip().splitlines()[-1])
            previous = best.get(label, (float("inf"), float("inf"), written))
            best[label] = (min(previous[0], seconds), min(previous[1], cpu), written)
    return [(label, *best[label]) for label in ("before", "after")]


# -- report -------------------------------------------------------------------------------------


def report(
    count: int,
    load_seconds: float,
    runs: list[dict],
    views: list[tuple[str, int, float, float]],
    publish: dict[str, float],
    demo_publish: dict[str, float] | None,
    side_by_side: list[tuple[str, float, float, int]],
    target_roots: int = 100,
) -> str:
    serial = runs[0]
    lines = [
        f"{count} generated demo roots (DEMO001..) x 25 years (2005-01-03 to {AS_OF}), with ES and "
        f"NQ loaded as their relative-strength peers; methodologies computed: "
        f"{', '.join(serial['methodologies'])} (those registered as the default on this "
        f"branch). Bars loaded without GX"
        f"{f' in {load_seconds:.0f} s' if load_seconds == load_seconds else ' beforehand'}. "
        "Each variant: the "
        "`callbook-backfill` flow in a fresh process under its own Prefect test server, after a "
        "one-day warm-up run; wall time from the call to its return (cluster start included).",
        "",
        "| variant | seconds | snapshots | snapshots/s | CPU s flow + workers | snapshots per CPU s | load at the end | peak RSS flow / workers / total MiB | warehouse MiB | vs serial |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in runs:
        rate = r["written"] / r["seconds"]
        lines.append(
            f"| {r['variant']} | {r['seconds']:.1f} | {r['written']:,} | **{rate:,.0f}** | "
            f"{r['cpu_seconds']:.0f} + {r['workers_cpu_seconds']:.0f} | "
            f"{r['written'] / (r['cpu_seconds'] + r['workers_cpu_seconds']):,.0f} | "
            f"{r['load']:.1f} | "
            f"{r['rss_flow_mib']:,.0f} / {r['rss_workers_mib']:,.0f} / "
            f"{r['rss_total_mib']:,.0f} | {r['warehouse_mib']:,.0f} | "
            f"{serial['seconds'] / r['seconds']:.2f}x |"
        )
    best = max(runs, key=lambda r: r["written"] / r["seconds"])
    best_rate = best["written"] / best["seconds"]
    slowest_full = max(views, key=lambda v: v[3])
    slowest_count = max(views, key=lambda v: v[2])
    peak = max(r["rss_total_mib"] for r in runs)
    reader_max = max(r["reader_max"] for r in runs)
    reader_p95 = max(r["reader_p95"] for r in runs)
    lines += [
        "",
        f"Targets: >= 5,000 snapshots/s: **{'met' if best_rate >= 5000 else 'NOT met'}** "
        f"(best {best_rate:,.0f}/s, {best['variant']}, with "
        f"{len(serial['methodologies'])} methodolog"
        f"{'y' if len(serial['methodologies']) == 1 else 'ies'}); every view < 1 s: "
        f"**{'met' if slowest_full[3] < 1 else 'NOT met'}** (slowest full result "
        f"`{slowest_full[0]}` {slowest_full[3]:.2f} s for {slowest_full[1]:,} rows; slowest "
        f"`count(*)` `{slowest_count[0]}` {slowest_count[2]:.2f} s); peak RSS < 2 GB: "
        f"**{'met' if peak < 2048 else 'NOT met'}** ({peak:,.0f} MiB, flow process and workers); "
        f"reader < 1 s during the backfill: **{'met' if reader_max < 1 else 'NOT met'}** "
        f"(slowest answer {reader_max:.2f} s, 95th percentile {reader_p95:.2f} s).",
    ]
    if count < target_roots:
        factor = target_roots / count
        lines += [
            "",
            f"**Extrapolated to {target_roots} roots** (NOT measured: {count} roots measured, "
            f"x{factor:g} linearly in the roots; snapshots/s as measured; peak RSS not "
            "extrapolated: it grows with the warehouse, so at 100 roots it is higher than "
            "measured here):",
            "",
            "| variant | seconds (extrapolated) | snapshots (extrapolated) | warehouse MiB (extrapolated) |",
            "|---|---:|---:|---:|",
            *(
                f"| {r['variant']} | {r['seconds'] * factor:,.0f} | "
                f"{r['written'] * factor:,.0f} | {r['warehouse_mib'] * factor:,.0f} |"
                for r in runs
            ),
        ]
    lines += [
        "",
        "A reader in another process during each backfill (`Warehouse.open_reader` and two queries "
        "on the published replica every 0.5 s):",
        "",
        "| variant | queries | median s | 95th percentile s | max s | answers with the state published before the run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['variant']} | {r['reader_queries']} | {r['reader_median']:.3f} | "
            f"{r['reader_p95']:.3f} | {r['reader_max']:.3f} | "
            f"{r['reader_saw_previous']} of {r['reader_queries']} "
            f"(states seen: {', '.join(f'{n:,}' for n in r['reader_states'])} snapshots) |"
        )
    lines += [
        "",
        f"Analyst views on the final replica ({slowest_full[1]:,} rows at most; best of 3):",
        "",
        "| view | rows | count(*) s | full result s |",
        "|---|---:|---:|---:|",
        *(f"| {v} | {rows:,} | {c:.3f} | {f:.3f} |" for v, rows, c, f in views),
        "",
        "Publishing the replica (what readers read): CHECKPOINT, copy the file, fsync, rename, "
        "against `COPY FROM DATABASE` into an attached file (DuckDB 2.0; no extension needed):",
        "",
        "| warehouse | MiB | file copy s | COPY FROM DATABASE s | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, costs in (("4 CME demo roots", demo_publish), (f"{count} roots", publish)):
        if costs:
            lines.append(
                f"| {label} | {costs['mib']:,.0f} | {costs['copy']:.2f} | "
                f"{costs['copy_from_database']:.2f} | "
                f"{costs['copy_from_database'] / costs['copy']:.0f}x |"
            )
    if side_by_side:
        (_, before_s, before_cpu, before_n), (_, after_s, after_cpu, after_n) = side_by_side
        lines += [
            "",
            "Before/after, side by side: the four CME demo roots to 2026-11-20 through the backfill "
            "flow of the foundation commit (a44a31a, chunks of 1,000, ranking views) and of this "
            "branch, serial runner (one worker thread), the same bars, alternately, best of 3:",
            "",
            "| code | seconds | flow CPU s | snapshots | snapshots/s |",
            "|---|---:|---:|---:|---:|",
            f"| before | {before_s:.2f} | {before_cpu:.2f} | {before_n:,} | {before_n / before_s:,.0f} |",
            f"| after | {after_s:.2f} | {after_cpu:.2f} | {after_n:,} | {after_n / after_s:,.0f} |",
            f"| before / after | {before_s / after_s:.2f}x | {before_cpu / after_cpu:.2f}x | | |",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--roots", type=int, default=100)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: a temp dir)")
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--methodologies", help="CALLBOOK_METHODOLOGIES of the runs (default: the configured)"
    )
    parser.add_argument("--section", default="Scale", help="the RESULTS.md section to write")
    parser.add_argument("--child")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data_dir, args.roots, args.data_dir.parent / "prefect-home")
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="callbook-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CALLBOOK_ROOTS_FILE": str(roots_file(workdir, args.roots)),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    if args.methodologies:
        env["CALLBOOK_METHODOLOGIES"] = args.methodologies
    os.environ["CALLBOOK_ROOTS_FILE"] = env["CALLBOOK_ROOTS_FILE"]
    print(machine_summary(), flush=True)
    try:
        base = workdir / "base"
        if not (base / "warehouse.duckdb").exists():
            load_seconds = load_bars(
                base / "warehouse.duckdb", [*PEERS, *synthetic_roots(args.roots)]
            )
        else:
            load_seconds = float("nan")
        runs = []
        for variant in args.variants.split(","):
            runs.append(run_variant(variant, base, workdir, args.roots, env))
            print(json.dumps(runs[-1]), flush=True)
        final = Path(runs[-1]["data_dir"]) / "warehouse.duckdb"
        views = time_views(final)
        publish = publish_costs(final)
        demo_publish = None
        side_by_side: list[tuple[str, float, float, int]] = []
        if args.before:
            side_by_side = before_after(args.before, workdir, env)
            demo_publish = publish_costs(workdir / "cme4-after" / "warehouse.duckdb")
        text = report(args.roots, load_seconds, runs, views, publish, demo_publish, side_by_side)
        print(text)
        if not args.no_write:
            command = " ".join(["bench/bench_scale.py", *sys.argv[1:]])
            update_section(args.section, f"`{command}`\n\n{machine_summary()}\n\n{text}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
