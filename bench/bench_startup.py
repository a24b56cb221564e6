"""Benchmark: how long the `callbook` commands take to start and finish when there is little to do.

Targets (issue 9): a no-op `nightly` against a running Prefect server < 10 s; `calls add` < 3 s;
commands that need no flow start no Prefect server. Each command runs as its own process
(`python -m flows.cli`), as a user runs it, on a demo data directory (RTY and ES, made first by a
nightly); a real local Prefect server (`prefect server start`, its own home) serves the flow
commands that are given PREFECT_API_URL. Reported: the median wall time of N runs and the CPU
time of the command's process tree (user + system; the running server's own CPU is not in it).

With ``--baseline SRC`` (a checkout of an earlier commit), every command is also run from that
source tree (same environment, ``PYTHONPATH=SRC``), alternating with the current one, so the
ratios are measured side by side under the same load.

    .venv/bin/python bench/bench_startup.py                       # table + bench/RESULTS.md
    mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python bench/bench_startup.py --baseline /tmp/before
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
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.prefect_server import local_prefect_server  # noqa: E402

SEED_CALL = ROOT / "pipeline/audit/examples/rty-2026-02-04-seed.toml"
CASES = ("help", "status", "show", "calls", "resolve", "nightly", "temporary")
ROOTS = "RTY,ES"


@dataclass(frozen=True)
class Timing:
    wall: list[float]
    cpu: list[float]
    returncodes: list[int]

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(src: Path, argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    before_cpu = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", *argv],
        cwd=src,
        env={**env, "PYTHONPATH": str(src)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        print(f"  ! {' '.join(argv)} exited {result.returncode}: {result.stderr[-300:]}")
    return wall, _children_cpu() - before_cpu, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="source tree of an earlier commit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the server and the commands at this niceness, their session (autogroup) too "
        "(e.g. -20 as root, to approximate an idle machine on a busy shared one; recorded with "
        "the results)",
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated subset of {','.join(CASES)} (default: all)",
    )
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)  # inherited by the server and every command
        autogroup = Path("/proc/self/autogroup")
        if autogroup.exists():  # Linux shares the CPU between sessions first, then by nice
            autogroup.write_text(str(args.nice))
    wanted = set(args.cases.split(","))
    sources = {"current": ROOT}
    if args.baseline:
        sources["baseline"] = args.baseline.resolve()

    summary = machine_summary()
    rows: list[tuple[str, dict[str, Timing]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        work = Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        base_env.update(
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        with local_prefect_server(work / "server-home") as server:
            with_api = {**base_env, "PREFECT_HOME": str(work / "client"), **_api(server.api_url)}
            no_api = {**base_env, "PREFECT_HOME": str(work / "ephemeral")}
            data = {name: work / f"data-{name}" for name in sources}
            print(f"populating demo data ({ROOTS}) with a nightly per source tree ...")
            for name, src in sources.items():
                wall, _, code = run_once(
                    src, ["--data-dir", str(data[name]), "nightly", "--roots", ROOTS], with_api
                )
                assert code == 0, f"the first nightly ({name}) failed"
                print(f"  {name}: first nightly {wall:.1f} s")

            cases: dict[str, tuple[str, list[str], dict[str, str], int]] = {
                "help": ("`callbook --help`", ["--help"], no_api, args.repeats + 2),
                "status": ("`callbook status`", ["status"], no_api, args.repeats),
                "show": ("`callbook show RTY`", ["show", "RTY"], no_api, args.repeats),
                "calls": ("`callbook calls add` (seed call)", ["calls", "add", str(SEED_CALL)], no_api, args.repeats),
                "resolve": ("`callbook resolve` (no-op), no PREFECT_API_URL", ["resolve", "--roots", ROOTS], no_api, 1),
                "nightly": ("`callbook nightly` (no-op), running server", ["nightly", "--roots", ROOTS], with_api, args.repeats),
                "temporary": ("`callbook nightly` (no-op), temporary server", ["nightly", "--roots", ROOTS], no_api, 1),
            }  # fmt: skip
            for key in CASES:
                if key not in wanted:
                    continue
                label, argv, env, repeats = cases[key]
                print(f"{label} ...")
                with_data = None if argv == ["--help"] else data
                timing = interleaved(sources, with_data, argv, env, repeats)
                rows.append((label, timing))
                for name, t in timing.items():
                    print(f"  {name}: {t.median_wall:.2f} s wall, {t.median_cpu:.2f} s CPU")
    load_end = os.getloadavg()[0]
    body = _table(rows, sources, summary, load_end, args.repeats, os.nice(0))
    print(body)
    if not args.no_write:
        update_section("Start-up", body)


def _api(url: str) -> dict[str, str]:
    return {"PREFECT_API_URL": url}


def interleaved(
    sources: dict[str, Path],
    data: dict[str, Path] | None,
    argv: list[str],
    env: dict[str, str],
    repeats: int,
) -> dict[str, Timing]:
    """Run ``argv`` ``repeats`` times per source tree (each on its own data directory),
    alternating the trees run by run so that both see the same load."""
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in sources}
    for _ in range(repeats):
        for name, src in sources.items():
            prefix = ["--data-dir", str(data[name])] if data else []
            samples[name].append(run_once(src, [*prefix, *argv], env))
    return {
        name: Timing([s[0] for s in got], [s[1] for s in got], [s[2] for s in got])
        for name, got in samples.items()
    }


def _table(
    rows: list[tuple[str, dict[str, Timing]]],
    sources: dict[str, Path],
    summary: str,
    load_end: float,
    repeats: int,
    niceness: int,
) -> str:
    baseline = "baseline" in sources
    head = "| command | wall (median) | CPU, process tree |"
    rule = "|---|---:|---:|"
    if baseline:
        head += " before: wall | before: CPU | before / now: wall, CPU |"
        rule += "---:|---:|---:|"
    lines = [
        summary,
        f"- Load average (1 min) at the end: {load_end:.2f}; niceness of the server and the "
        f"commands: {niceness}",
        f"- Each command {repeats} times (`--help` {repeats + 2}, the temporary-server and "
        "`resolve` cases once), alternating the source trees; demo data for RTY and ES.",
        "",
        head,
        rule,
    ]
    for label, timing in rows:
        now = timing["current"]
        line = f"| {label} | {now.median_wall:.2f} s | {now.median_cpu:.2f} s |"
        if baseline:
            before = timing["baseline"]
            line += (
                f" {before.median_wall:.2f} s | {before.median_cpu:.2f} s |"
                f" {before.median_wall / now.median_wall:.1f}x,"
                f" {before.median_cpu / max(now.median_cpu, 1e-3):.1f}x |"
            )
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
