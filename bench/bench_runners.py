"""Benchmark: the same backfill on each task runner, through the installed command, side by side.

Issue 20: on 2 cores two workers should reach at least 1.6x serial, and no runner should need
more memory per worker than serial needs in all.

On one data directory of N generated demo roots (``[synthetic] count = N``) plus ES and NQ (their
relative-strength peers), bars to ``AS_OF`` (25 years from 2005, loaded without GX), each run is
``.venv/bin/callbook backfill --end AS_OF`` of the N roots, every default methodology, in its own
process, on a fresh copy of the data, against one Prefect server started for the benchmark (so no
run starts a server of its own, and the server is no part of any run). The variants run in
rounds (serial, then each parallel variant, then again): a round's runs share a window of the
shared machine's load, and the spread over rounds is reported.

Per run: wall time of the command; snapshots/s; CPU seconds of all its processes (the command
and its workers: process-pool or Dask worker processes, nannies) and the cores that makes
(CPU s / wall s); peak RSS of the command, of its worker processes and of all of them together
(the process tree sampled every 0.2 s); the load average at the start and the end; and, from the
Prefect API, the run's task runs: how long the one writer was busy (build-series, store-backfill,
resolve-outcomes task runs, one after the other in the flow's process) and the compute tasks'
seconds (each root x methodology, wherever it ran). Every run's snapshots (id, content hash) are
checked identical.

    uv run python bench/bench_runners.py                         # 100 roots, 3 rounds
    uv run python bench/bench_runners.py --roots 10 --rounds 1 --no-write   # a quick look

Variants: ``thread:1`` (serial: one compute thread beside the writer), ``process:2`` (a process
pool of two), ``dask:2`` (a local Dask cluster of two single-threaded worker processes);
``dask-cluster:2`` runs against a separately started ``dask scheduler`` and two ``dask worker``
processes (their RSS and CPU are sampled as the run's too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))
from bench_scale import AS_OF, PEERS, load_bars, roots_file, synthetic_roots  # noqa: E402
from machine import machine_summary, update_section  # noqa: E402

from tests.support.prefect_server import LocalPrefectServer  # noqa: E402

CALLBOOK = Path(sys.executable).with_name("callbook")
VARIANTS = ("thread:1", "process:2", "dask:2")
SAMPLE_SECONDS = 0.2
#: Task runs of the one writer (the flow's process, one after the other).
WRITER_TASKS = ("build-series", "store-backfill", "resolve-")


class TreeSampler(threading.Thread):
    """Peak RSS and CPU seconds of a process and its descendants (plus ``extra`` processes, e.g.
    a separately started Dask cluster), sampled every SAMPLE_SECONDS. CPU: the last reading of
    each process (a process that ends between two samples loses at most one interval)."""

    def __init__(self, pid: int, extra: list[int] | None = None) -> None:
        super().__init__(daemon=True)
        self.pid, self.extra = pid, extra or []
        self.own_peak = self.workers_peak = self.total_peak = 0
        self.cpu: dict[int, float] = {}
        self.cpu_start: dict[int, float] = {}
        self.stop = threading.Event()

    def _tree(self) -> list[object]:
        import psutil

        roots = [psutil.Process(self.pid), *(psutil.Process(p) for p in self.extra)]
        out: list[object] = []
        for root in roots:
            out.append(root)
            out.extend(root.children(recursive=True))
        return out

    def baseline(self) -> None:
        """CPU already spent by the extra processes (a cluster started before the run)."""
        import psutil

        for pid in self.extra:
            for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
                t = p.cpu_times()
                self.cpu_start[p.pid] = t.user + t.system

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                processes = self._tree()
            except psutil.Error:
                return
            own = workers = 0
            for p in processes:
                try:
                    rss = p.memory_info().rss  # type: ignore[attr-defined]
                    t = p.cpu_times()  # type: ignore[attr-defined]
                except psutil.Error:
                    continue
                pid = p.pid  # type: ignore[attr-defined]
                self.cpu[pid] = t.user + t.system - self.cpu_start.get(pid, 0.0)
                if pid == self.pid:
                    own = rss
                else:
                    workers += rss
            self.own_peak = max(self.own_peak, own)
            self.workers_peak = max(self.workers_peak, workers)
            self.total_peak = max(self.total_peak, own + workers)
            time.sleep(SAMPLE_SECONDS)


@dataclass
class Run:
    round: int
    variant: str
    seconds: float
    snapshots: int
    cpu_command: float
    cpu_workers: float
    rss_command_mib: float
    rss_workers_mib: float
    rss_total_mib: float
    load_start: float
    load_end: float
    flow_seconds: float
    writer_seconds: float
    compute_seconds: float
    compute_tasks: int
    digest: str
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.snapshots / self.seconds

    @property
    def workers(self) -> int:
        return int(self.variant.split(":")[1])

    @property
    def cores(self) -> float:
        return (self.cpu_command + self.cpu_workers) / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Snapshots per CPU second of all the run's processes (the Prefect server's excluded)."""
        return self.snapshots / (self.cpu_command + self.cpu_workers)


def tree_cpu(pid: int) -> float:
    """CPU seconds so far of a process and its descendants."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def task_runs(server: LocalPrefectServer) -> tuple[float, list[dict]]:
    """The last `callbook-backfill` flow run's seconds and its task runs."""
    flows = server.api(
        "POST",
        "/flow_runs/filter",
        json={"sort": "EXPECTED_START_TIME_DESC", "limit": 1},
    )
    flow_run = flows[0]
    runs: list[dict] = []
    while True:
        page = server.api(
            "POST",
            "/task_runs/filter",
            json={
                "flow_runs": {"id": {"any_": [flow_run["id"]]}},
                "limit": 200,
                "offset": len(runs),
            },
        )
        runs.extend(page)
        if len(page) < 200:
            return float(flow_run["total_run_time"]), runs


def digest(path: Path) -> tuple[int, str]:
    from warehouse.store import Warehouse

    sql = (Path(__file__).with_name("queries") / "snapshot_hashes.sql").read_text(encoding="utf-8")
    with Warehouse.open_reader(path) as wh:
        rows = wh.con.sql(sql).fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def run_variant(
    round_: int,
    variant: str,
    base: Path,
    workdir: Path,
    roots: list[str],
    env: dict[str, str],
    server: LocalPrefectServer,
    cluster_pids: list[int],
    cluster_address: str | None,
) -> Run:
    runner, workers = variant.split(":")
    data_dir = workdir / f"run-{variant.replace(':', '-')}"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(base, data_dir)
    run_env = {
        **env,
        "CALLBOOK_TASK_RUNNER": "dask" if runner == "dask-cluster" else runner,
        "CALLBOOK_WORKERS": workers,
    }
    if runner == "dask-cluster":
        assert cluster_address
        run_env["CALLBOOK_DASK_ADDRESS"] = cluster_address
    log = (workdir / f"run-{round_}-{variant.replace(':', '-')}.log").open("w")
    load_start = os.getloadavg()[0]
    assert server.process is not None
    server_cpu = tree_cpu(server.process.popen.pid)
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(CALLBOOK),
            *("--data-dir", str(data_dir), "backfill"),
            *("--roots", ",".join(roots), "--source", "demo", "--end", AS_OF.isoformat()),
        ],
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    sampler = TreeSampler(process.pid, cluster_pids if runner == "dask-cluster" else [])
    sampler.baseline()
    sampler.start()
    process.wait()
    seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    load_end = os.getloadavg()[0]
    server_cpu = tree_cpu(server.process.popen.pid) - server_cpu
    log.close()
    if process.returncode != 0:
        raise RuntimeError(f"{variant}: exit {process.returncode}; see {log.name}")
    flow_seconds, tasks = task_runs(server)
    writer = sum(t["total_run_time"] for t in tasks if t["name"].startswith(WRITER_TASKS))
    computes = [t for t in tasks if t["name"].startswith("compute-")]
    snapshots, sha = digest(data_dir / "warehouse.duckdb")
    shutil.rmtree(data_dir)
    own = sampler.cpu.get(process.pid, 0.0)
    return Run(
        round=round_,
        variant=variant,
        seconds=seconds,
        snapshots=snapshots,
        cpu_command=own,
        cpu_workers=sum(sampler.cpu.values()) - own,
        rss_command_mib=sampler.own_peak / 2**20,
        rss_workers_mib=sampler.workers_peak / 2**20,
        rss_total_mib=sampler.total_peak / 2**20,
        load_start=load_start,
        load_end=load_end,
        flow_seconds=flow_seconds,
        writer_seconds=writer,
        compute_seconds=sum(t["total_run_time"] for t in computes),
        compute_tasks=len(computes),
        digest=sha,
        server_cpu=server_cpu,
    )


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}-{fmt.format(max(values))})"
    )


def report(count: int, runs: list[Run], load_seconds: float) -> str:
    serial_variant = runs[0].variant
    by_round = {r.round: {x.variant: x for x in runs if x.round == r.round} for r in runs}
    variants = list(dict.fromkeys(r.variant for r in runs))
    identical = len({r.digest for r in runs}) == 1
    load = f" in {load_seconds:.0f} s" if load_seconds == load_seconds else ""
    lines = [
        f"{count} generated demo roots (DEMO001..) x 25 years to {AS_OF}, with ES and NQ as their "
        f"peers (bars loaded without GX{load}); each run `callbook backfill "
        f"--end {AS_OF}` of the {count} roots through the installed command, its own process, "
        "on a fresh copy of the data, against one Prefect server started for the benchmark; "
        f"variants in rounds ({', '.join(variants)}), {len(by_round)} round(s). "
        f"Snapshots of every run identical (ids and content hashes): "
        f"**{'yes' if identical else 'NO'}**.",
        "",
        "| round | variant | seconds | snapshots/s | vs serial (same round) | CPU s command + "
        "workers | cores used | Prefect server CPU s | writer busy s | compute task s | peak RSS "
        "command / workers / total MiB | load start / end |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in runs:
        serial = by_round[r.round].get(serial_variant)
        ratio = f"{serial.seconds / r.seconds:.2f}x" if serial else "-"
        lines.append(
            f"| {r.round} | {r.variant} | {r.seconds:.1f} | {r.rate:,.0f} | {ratio} | "
            f"{r.cpu_command:.0f} + {r.cpu_workers:.0f} | {r.cores:.2f} | {r.server_cpu:.0f} | "
            f"{r.writer_seconds:.0f} | {r.compute_seconds:.0f} | "
            f"{r.rss_command_mib:,.0f} / {r.rss_workers_mib:,.0f} / {r.rss_total_mib:,.0f} | "
            f"{r.load_start:.1f} / {r.load_end:.1f} |"
        )
    lines += [
        "",
        "Per variant: median (min-max) over the rounds; the ratio is each round's serial seconds "
        "over the variant's, so both ran in the same window of the machine's load.",
        "",
        "| variant | snapshots/s | vs serial | cores used | snapshots per CPU s | peak RSS total "
        "MiB | total / workers MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    serial_total = max(r.rss_total_mib for r in runs if r.variant == serial_variant)
    cores = os.cpu_count() or 1
    loads = [x for r in runs for x in (r.load_start, r.load_end)]
    loaded = statistics.median(loads) > cores
    verdicts = []
    for v in variants:
        mine = [r for r in runs if r.variant == v]
        ratios = [
            by_round[r.round][serial_variant].seconds / r.seconds
            for r in mine
            if serial_variant in by_round[r.round]
        ]
        per_worker = max(r.rss_total_mib for r in mine) / mine[0].workers
        lines.append(
            f"| {v} | {spread([r.rate for r in mine])} | {spread(ratios, '{:.2f}x')} | "
            f"{spread([r.cores for r in mine], '{:.2f}')} | "
            f"{spread([r.per_cpu_second for r in mine])} | "
            f"{spread([r.rss_total_mib for r in mine])} | {per_worker:,.0f} |"
        )
        if v != serial_variant:
            met = ratios and statistics.median(ratios) >= 1.6
            verdicts.append(
                f"{v}: speed-up {spread(ratios, '{:.2f}x')} -> 1.6x "
                f"**{'not judged (loaded machine)' if loaded else 'met' if met else 'NOT met'}**; "
                f"memory per worker {per_worker:,.0f} MiB vs serial in all {serial_total:,.0f} "
                f"MiB **{'met' if per_worker <= serial_total else 'NOT met'}**"
            )
    lines += ["", "Targets: " + "; ".join(verdicts) + "."]
    if loaded:
        serial_cost = statistics.median(
            r.per_cpu_second for r in runs if r.variant == serial_variant
        )
        costs = ", ".join(
            f"{v} {serial_cost / statistics.median(r.per_cpu_second for r in runs if r.variant == v):.2f}x"
            for v in variants
            if v != serial_variant
        )
        lines += [
            "",
            f"**The machine was loaded** (median load average {statistics.median(loads):.1f} on "
            f"{cores} cores): every run got a share of contended CPUs, and a variant with more "
            "busy processes gets a larger share, so the wall-time ratios above overstate what "
            "the parallel variants gain on idle cores. CPU per snapshot, against serial "
            f"(all the run's processes): {costs}.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--roots", type=int, default=100)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--section", default="Runners")
    parser.add_argument(
        "--from-log", type=Path, help="report the runs printed (one JSON line each) by a run"
    )
    args = parser.parse_args()
    if args.from_log:
        lines = args.from_log.read_text().splitlines()
        logged = [Run(**json.loads(line)) for line in lines if line.startswith("{")]
        header = "\n".join(line for line in lines if line.startswith("- "))[:2000]
        text = report(args.roots, logged, float("nan"))
        print(text)
        if not args.no_write:
            command = " ".join(["bench/bench_runners.py", *sys.argv[1:]])
            update_section(args.section, f"`{command}`\n\n{header}\n\n{text}")
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="callbook-runners-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["CALLBOOK_ROOTS_FILE"] = str(roots_file(workdir, args.roots))
    roots = synthetic_roots(args.roots)
    summary = machine_summary()
    print(summary, flush=True)
    variants = args.variants.split(",")
    try:
        with ExitStack() as stack:
            server = LocalPrefectServer(workdir / "prefect")
            server.start()
            stack.callback(server.stop)
            env = server.env(
                CALLBOOK_ROOTS_FILE=os.environ["CALLBOOK_ROOTS_FILE"],
                PREFECT_SERVER_ANALYTICS_ENABLED="false",
            )
            cluster_pids: list[int] = []
            cluster_address = None
            if any(v.startswith("dask-cluster") for v in variants):
                from tests.support.dask_cluster import dask_cluster

                workers = int(
                    next(v for v in variants if v.startswith("dask-cluster:")).split(":")[1]
                )
                cluster = stack.enter_context(
                    dask_cluster(workdir / "cluster", env=env, workers=workers)
                )
                cluster_address = cluster.address
                cluster_pids = [p.popen.pid for p in (cluster.scheduler, *cluster.workers)]
            base = workdir / "base"
            load_seconds = float("nan")
            if not (base / "warehouse.duckdb").exists():
                load_seconds = load_bars(base / "warehouse.duckdb", [*PEERS, *roots])
            runs: list[Run] = []
            for round_ in range(1, args.rounds + 1):
                for variant in variants:
                    runs.append(
                        run_variant(
                            round_,
                            variant,
                            base,
                            workdir,
                            roots,
                            env,
                            server,
                            cluster_pids,
                            cluster_address,
                        )
                    )
                    print(json.dumps(asdict(runs[-1])), flush=True)
        text = report(args.roots, runs, load_seconds)
        print(text)
        if not args.no_write:
            command = " ".join(["bench/bench_runners.py", *sys.argv[1:]])
            update_section(args.section, f"`{command}`\n\n{summary}\n\n{text}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
