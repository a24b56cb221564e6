"""Benchmark: a small valid file through `callbook ingest`, with a Prefect server already running
and with the command's own temporary server (issue 16, point 7: "a small valid file against a
running Prefect server takes seconds, not a server start").

The file: the first 30 sessions of examples/YM_F.csv (January-February 2025, no planted fault).
Each run is the real command in a fresh process (`python -c` around ``flows.cli.main``, so the
process reports its own peak resident memory) on a new data directory; the wall time is measured
from outside (process start, imports and exit included). The running server is a real
`prefect server start` with its own PREFECT_HOME (tests/support/prefect_server.py); the
temporary server is the one the command starts without PREFECT_API_URL (a child process: its
memory is not in the command's peak). Runs alternate between the two cases.

    .venv/bin/python bench/bench_small_ingest.py [--repeats 5] [--no-write]

``--against DIR`` (a source tree of another version, e.g. ``git archive main | tar -x -C DIR``)
runs the running-server case only, alternating between that tree and this one (same venv), and
prints the side-by-side table (nothing written):

    .venv/bin/python bench/bench_small_ingest.py --against /tmp/main-src [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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

EXAMPLE = ROOT / "examples" / "YM_F.csv"
ROWS = 30
SECTION = "A small valid file, with and without a running Prefect server"

RUN = """
import json, resource, sys
from flows.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def small_file(path: Path) -> Path:
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: ROWS + 1]))
    return path


Sample = tuple[float, float, float, int]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(path: Path, data_dir: Path, env: dict[str, str], code: Path = ROOT) -> Sample:
    """(wall seconds, CPU seconds of the command's process tree, peak RSS MiB of the command's
    process, exit status). A temporary server is in the tree; a running server is not."""
    argv = ["--data-dir", str(data_dir), "ingest", "--root", "YM", "--source", "file"]
    argv += ["--path", str(path), "--end", "2025-12-31"]
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUN, *argv],
        cwd=code,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    if done.returncode != 0:
        print(f"  ! exit {done.returncode}: {done.stderr[-400:]}")
        return wall, cpu, float("nan"), done.returncode
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, cpu, float(report["peak_mib"]), int(report["status"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--against", type=Path, help="another version's source tree")
    args = parser.parse_args()
    if args.against is not None:
        compare(args.against.resolve(), args.repeats)
        return
    summary = machine_summary()
    samples: dict[str, list[Sample]] = {"running": [], "temporary": []}
    with tempfile.TemporaryDirectory(prefix="bench-small-ingest-") as tmp:
        work = Path(tmp)
        path = small_file(work / "YM_F-30.csv")
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        base.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
        started = time.perf_counter()
        with local_prefect_server(work / "server-home") as server:
            server_start = time.perf_counter() - started
            print(f"server up in {server_start:.1f} s at {server.api_url}")
            envs = {
                "running": {
                    **base,
                    "PREFECT_HOME": str(work / "client"),
                    "PREFECT_API_URL": server.api_url,
                },
                "temporary": {**base, "PREFECT_HOME": str(work / "ephemeral")},
            }
            for i in range(args.repeats):
                for case, env in envs.items():
                    got = run_once(path, work / f"data-{case}-{i}", env)
                    samples[case].append(got)
                    print(
                        f"  {case:9} run {i + 1}: {got[0]:.1f} s wall, {got[1]:.1f} s CPU, "
                        f"{got[2]:.0f} MiB, exit {got[3]}",
                        flush=True,
                    )
    load_end = os.getloadavg()[0]
    body = _report(samples, summary, load_end, server_start, args.repeats)
    print(body)
    if not args.no_write:
        update_section(SECTION, body)


def compare(other: Path, repeats: int) -> None:
    """The running-server case, alternating between ``other``'s code and this tree's."""
    summary = machine_summary()
    samples: dict[str, list[Sample]] = {"other": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="bench-small-ingest-") as tmp:
        work = Path(tmp)
        path = small_file(work / "YM_F-30.csv")
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        base.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
        with local_prefect_server(work / "server-home") as server:
            env = {**base, "PREFECT_HOME": str(work / "client"), "PREFECT_API_URL": server.api_url}
            for i in range(repeats):
                for case, code in (("other", other), ("this", ROOT)):
                    got = run_once(path, work / f"data-{case}-{i}", env, code)
                    samples[case].append(got)
                    print(
                        f"  {case:5} run {i + 1}: {got[0]:.1f} s wall, {got[1]:.1f} s CPU, "
                        f"{got[2]:.0f} MiB, exit {got[3]}",
                        flush=True,
                    )
    print(summary)
    print(f"- Load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    print(f"A server already running; {repeats} runs per version, alternating.")
    print(
        "| code | wall s (median) | wall s (range) | CPU s (median) | CPU s (range) | "
        "peak RSS MiB (median) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for case, label in (("other", str(other)), ("this", "this tree")):
        got = samples[case]
        walls, cpus = [s[0] for s in got], [s[1] for s in got]
        print(
            f"| {label} | {statistics.median(walls):.1f} | {min(walls):.1f}-{max(walls):.1f} | "
            f"{statistics.median(cpus):.1f} | {min(cpus):.1f}-{max(cpus):.1f} | "
            f"{statistics.median(s[2] for s in got):,.0f} |"
        )


def _report(
    samples: dict[str, list[Sample]],
    summary: str,
    load_end: float,
    server_start: float,
    repeats: int,
) -> str:
    labels = {
        "running": "PREFECT_API_URL set: a server already running",
        "temporary": "no PREFECT_API_URL: the command's temporary server",
    }
    rows = []
    for case, got in samples.items():
        walls = [s[0] for s in got]
        rows.append(
            f"| {labels[case]} | {statistics.median(walls):.1f} | {min(walls):.1f}-"
            f"{max(walls):.1f} | {statistics.median(s[1] for s in got):.1f} | "
            f"{statistics.median(s[2] for s in got):,.0f} | {','.join(str(s[3]) for s in got)} |"
        )
    return "\n".join(
        [
            "`bench/bench_small_ingest.py`",
            "",
            summary,
            f"- Load average (1 min) at the end: {load_end:.2f}",
            "",
            f"`callbook ingest --root YM --source file` of a {ROWS}-row valid file (the first "
            f"{ROWS} sessions of examples/YM_F.csv), each run a fresh process on a new data "
            f"directory, {repeats} runs per case, alternating. Wall time from outside the "
            "process; CPU (user + system) of the command's process tree, which holds a "
            "temporary server but not a running one; peak RSS of the command's own process (a "
            f"temporary server is a child process, not counted). The running server took {server_start:.0f} s to start "
            "(not in the figures).",
            "",
            "| case | wall s (median) | wall s (range) | CPU s (median) | peak RSS MiB "
            "(median) | exit codes |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
        ]
    )


if __name__ == "__main__":
    main()
