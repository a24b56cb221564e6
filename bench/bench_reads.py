"""Benchmark: how long the read commands take as a user runs them (issue 20.2).

Targets: median wall time under 0.3 s for `status`, `sql "select 1"` and `calls list`, under
0.5 s for `show RTY`, on the demo data. Each command runs as a whole process, the installed
entry point `.venv/bin/callbook`, on a demo data directory made first (a nightly of the four
demo roots, then a backfill from --since: the calls `calls list` lists). Reported per command:
the median wall time and the median CPU time of the process (user + system) of --repeats runs,
after one unmeasured warm-up run (byte-compiles a fresh source tree).

With ``--baseline SRC`` (a checkout of an earlier commit) every command also runs from that
tree (the same entry point, ``PYTHONPATH=SRC`` ahead of the installed tree), alternating with
the current one run by run, so before and after are measured side by side under the same load.

    mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python bench/bench_reads.py --baseline /tmp/before     # table + bench/RESULTS.md
"""

from __future__ import annotations

import argparse
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
CALLBOOK = Path(sys.executable).with_name("callbook")
#: The query of the `sql` case, as a user types it (SQL lives in files, not in Python).
SELECT_ONE = (Path(__file__).parent / "queries" / "select_one.sql").read_text("utf-8").strip()
#: (label, arguments, target median wall seconds or None)
CASES: tuple[tuple[str, list[str], float | None], ...] = (
    ("`callbook status`", ["status"], 0.3),
    (f'`callbook sql "{SELECT_ONE}"`', ["sql", SELECT_ONE], 0.3),
    ("`callbook calls list`", ["calls", "list"], 0.3),
    ("`callbook show RTY`", ["show", "RTY"], 0.5),
    ("`callbook --help`", ["--help"], None),
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of the entry point."""
    cpu = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(
        [str(CALLBOOK), *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-300:]}")
    return wall, _children_cpu() - cpu


def make_data(data: Path, env: dict[str, str], since: str) -> None:
    for argv in (["nightly"], ["backfill", "--start", since]):
        started = time.perf_counter()
        subprocess.run(
            [str(CALLBOOK), "--data-dir", str(data), *argv],
            env=env,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=3600,
        )
        print(f"  {' '.join(argv)}: {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="source tree of an earlier commit")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--data", type=Path, help="an existing demo data directory to read")
    parser.add_argument("--since", default="2026-06-01", help="first session of the backfill")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the commands at this niceness, their session (autogroup) too (e.g. -20 as "
        "root, to approximate an idle machine on a busy shared one; recorded with the results)",
    )
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)  # inherited by every command
        autogroup = Path("/proc/self/autogroup")
        if autogroup.exists():  # Linux shares the CPU between sessions first, then by nice
            autogroup.write_text(str(args.nice))
    summary = machine_summary()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CALLBOOK_"))},
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    trees = {"now": {**env, "PYTHONPATH": str(ROOT)}}
    if args.baseline:
        trees["before"] = {**env, "PYTHONPATH": str(args.baseline.resolve())}
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            print(f"demo data in {data}:")
            make_data(
                data, {**trees["now"], "PREFECT_HOME": str(Path(tmp) / "prefect")}, args.since
            )
        rows = []
        for label, argv, target in CASES:
            full = argv if argv == ["--help"] else ["--data-dir", str(data), *argv]
            for tree_env in trees.values():
                run_once(full, tree_env)  # warm-up: byte-compiles the tree
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
            for _ in range(args.repeats):
                for name, tree_env in trees.items():
                    samples[name].append(run_once(full, tree_env))
            medians = {
                name: (
                    statistics.median(s[0] for s in got),
                    statistics.median(s[1] for s in got),
                )
                for name, got in samples.items()
            }
            rows.append((label, target, medians))
            shown = ", ".join(
                f"{n} {w:.2f} s wall / {c:.2f} s CPU" for n, (w, c) in medians.items()
            )
            print(f"{label}: {shown}")
    body = _table(
        rows, summary, os.getloadavg()[0], args.repeats, os.nice(0), baseline=args.baseline
    )
    print(body)
    if not args.no_write:
        update_section("Read commands", body)


def _table(
    rows: list[tuple[str, float | None, dict[str, tuple[float, float]]]],
    summary: str,
    load_end: float,
    repeats: int,
    niceness: int,
    *,
    baseline: Path | None,
) -> str:
    head = "| command | target | wall (median) | CPU (median) |"
    rule = "|---|---:|---:|---:|"
    if baseline:
        head += " before: wall | before: CPU | before / now: wall |"
        rule += "---:|---:|---:|"
    lines = [
        summary,
        f"- Load average (1 min) at the end: {load_end:.2f}; niceness of the commands: {niceness}",
        f"- Each command {repeats} times as a whole process (`.venv/bin/callbook`), after one "
        "warm-up run"
        + (", alternating with the baseline tree (`PYTHONPATH`)" if baseline else "")
        + "; demo data: `nightly` of RTY, ES, NQ, YM, then `backfill` of the last six months.",
        "",
        head,
        rule,
    ]
    for label, target, medians in rows:
        wall, cpu = medians["now"]
        goal = f"< {target:.1f} s" if target else "-"
        line = f"| {label} | {goal} | {wall:.2f} s | {cpu:.2f} s |"
        if baseline:
            before_wall, before_cpu = medians["before"]
            line += f" {before_wall:.2f} s | {before_cpu:.2f} s | {before_wall / wall:.1f}x |"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
