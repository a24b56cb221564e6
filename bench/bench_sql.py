"""Benchmark: `callbook sql` start-up and the bounds of a hostile query (issue 16 point 4).

Each command runs as its own process (`python -m flows.cli`, as `.venv/bin/callbook` does) on
a small real data directory (tests/warehouse/small_book.py: RTY, ES and NQ bars 2024-01-02 ..
2026-06-30 with their calls and outcomes). Reported per command: the median wall time of N runs,
the CPU time of its process tree (user + system), and its peak memory: the largest RSS of the
command or of the query process it waited for (``wait4``), and, for the bounded command, each
of the two apart (``CALLBOOK_SQL_STATS=1``: the command prints the query process's peak RSS and
its own). With ``--baseline SRC`` (a checkout of an earlier commit) every command also runs from
that tree, alternating run by run, so before and after see the same load.

This process stays small while it measures (the data directory and the machine summary are
made in processes of their own): Linux counts the memory of the process that started a command
into the command's ``ru_maxrss`` (the pre-``exec`` image), so the "largest process" column
includes this process's size at the time (printed with the results, ~10 MiB); the query
process and parent columns do not.

The two hostile queries of issue 16 (a 2 GB string, 2 GB of rows) run once per tree with
``--memory-mb 256``; before the bounds they need 4-8 GB of memory for 40-50 s, so the baseline
runs them only with ``--baseline-heavy``.

    .venv/bin/python bench/bench_sql.py                          # table + bench/RESULTS.md
    mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python bench/bench_sql.py --baseline /tmp/before --baseline-heavy --nice -20
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import update_section

ROOT = Path(__file__).resolve().parents[1]

HUGE_STRING = "select length(repeat('x', 2000000000))"
HUGE_ROWS = "select repeat('x', 10000000) s from range(200)"
STATS = re.compile(
    r"query process peak RSS (?P<child>[\d,.]+) MiB, CPU [\d.]+ s; parent peak RSS "
    r"(?P<parent>[\d,.]+) MiB"
)


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    code: int
    peak_mib: float  # the largest RSS in the waited process tree
    child_mib: float | None  # the query process (bounded command only)
    parent_mib: float | None
    out_bytes: int
    err_lines: list[str]


def run_once(src: Path, argv: list[str], data_dir: Path) -> Sample:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOOK_")}
    env.update(PYTHONPATH=str(src), CALLBOOK_SQL_STATS="1")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), "sql", *argv],
            cwd=src,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        size = out.seek(0, os.SEEK_END)
        err.seek(0)
        lines = err.read().decode("utf-8", errors="replace").strip().splitlines()
    stats = next((m for line in lines if (m := STATS.search(line))), None)
    shown = [line for line in lines if not STATS.search(line)]
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        code=process.returncode,
        peak_mib=usage.ru_maxrss / 1024,
        child_mib=float(stats["child"].replace(",", "")) if stats else None,
        parent_mib=float(stats["parent"].replace(",", "")) if stats else None,
        out_bytes=size,
        err_lines=shown,
    )


def interleaved(
    sources: dict[str, Path], argv: list[str], data_dir: Path, repeats: int
) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {name: [] for name in sources}
    for _ in range(repeats):
        for name, src in sources.items():
            samples[name].append(run_once(src, argv, data_dir))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="source tree of an earlier commit")
    parser.add_argument(
        "--baseline-heavy",
        action="store_true",
        help="run the two hostile queries on the baseline too (4-8 GB of memory for ~50 s each)",
    )
    parser.add_argument("--repeats", type=int, default=10)
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
        os.nice(args.nice)
        autogroup = Path("/proc/self/autogroup")
        if autogroup.exists():
            autogroup.write_text(str(args.nice))
    sources = {"current": ROOT}
    if args.baseline:
        sources["baseline"] = args.baseline.resolve()
    summary = _in_own_process("from machine import machine_summary; print(machine_summary())")
    rows: list[tuple[str, dict[str, list[Sample]]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        print("building the small data directory ...")
        _in_own_process(
            "from pathlib import Path; from tests.warehouse.small_book import "
            f"build_small_data_dir; build_small_data_dir(Path({str(data_dir)!r}))"
        )
        own_rss = _own_rss_mib()
        light = {
            '`sql "select 1"`': (["select 1"], args.repeats),
            '`sql "select * from bars" --format csv` (2,529 rows)': (
                ["select * from bars", "--format", "csv"],
                max(3, args.repeats // 2),
            ),
        }
        for label, (argv, repeats) in light.items():
            print(f"{label} x {repeats} ...")
            rows.append((label, interleaved(sources, argv, data_dir, repeats)))
        heavy_sources = sources if args.baseline_heavy else {"current": ROOT}
        heavy = {
            f'`sql "{HUGE_STRING}" --memory-mb 256`': [HUGE_STRING, "--memory-mb", "256"],
            f'`sql "{HUGE_ROWS}" --memory-mb 256 --format csv`': [
                HUGE_ROWS,
                "--memory-mb",
                "256",
                "--format",
                "csv",
            ],
        }
        for label, argv in heavy.items():
            print(f"{label} ...")
            rows.append((label, interleaved(heavy_sources, argv, data_dir, 1)))
    load_end = os.getloadavg()[0]
    body = _report(rows, sources, summary, load_end, args, own_rss)
    print(body)
    if not args.no_write:
        update_section("SQL sandbox", body)


def _in_own_process(code: str) -> str:
    """Run ``code`` in a Python process of its own (bench/ and the repository importable)."""
    path = os.pathsep.join([str(ROOT / "bench"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _own_rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        line = next(line for line in fh if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MiB"


def _report(
    rows: list[tuple[str, dict[str, list[Sample]]]],
    sources: dict[str, Path],
    summary: str,
    load_end: float,
    args: argparse.Namespace,
    own_rss: float,
) -> str:
    lines = [
        summary,
        f"- Load average (1 min) at the end: {load_end:.2f}; niceness of the commands: "
        f"{os.nice(0)}; RSS of the measuring process {own_rss:.0f} MiB (counted into the "
        "largest-process column)",
        f"- `select 1` {args.repeats} times, `select * from bars` {max(3, args.repeats // 2)} "
        "times, the hostile queries once; source trees alternating run by run"
        + (f"; before = {args.baseline}" if args.baseline else ""),
        "",
        "| command | tree | wall (median) | CPU | exit | peak RSS (largest process) "
        "| query process | parent | printed | stderr |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, by_tree in rows:
        for name, samples in by_tree.items():
            last = samples[-1]
            err = " / ".join(last.err_lines)[:90].replace("|", "\\|") or "-"
            err = f"{len(last.err_lines)} line(s): {err}" if last.err_lines else "-"
            lines.append(
                f"| {label} | {'now' if name == 'current' else 'before'} "
                f"| {statistics.median(s.wall for s in samples):.2f} s "
                f"| {statistics.median(s.cpu for s in samples):.2f} s "
                f"| {last.code} | {_mib(max(s.peak_mib for s in samples))} "
                f"| {_mib(max((s.child_mib or 0) for s in samples) or None)} "
                f"| {_mib(max((s.parent_mib or 0) for s in samples) or None)} "
                f"| {last.out_bytes:,} B | {err} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
