"""Shared by the benchmarks: what machine a result was measured on, and writing RESULTS.md.

Each benchmark owns one ``## <title>`` section of bench/RESULTS.md and rewrites only the block
between its generated markers, so hand-written notes around it survive a re-run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """CPU model, cores, RAM and OS of this machine, on one line."""
    import polars as pl

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown CPU",
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kib = next(
        (int(line.split()[1]) for line in meminfo.splitlines() if "MemTotal" in line), 0
    )
    return (
        f"{model}, {os.cpu_count()} logical cores (polars thread pool {pl.thread_pool_size()}), "
        f"{total_kib / 1024**2:.1f} GiB RAM, {platform.system()} {platform.release()}"
    )


def machine_summary() -> str:
    """Date, machine, load and library versions as a Markdown list."""
    import duckdb
    import numpy as np
    import polars as pl

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join(
        [
            f"- Date: {dt.date.today().isoformat()}",
            f"- Machine: {machine()}",
            f"- Load average (1 min) at the start: {load:.2f}",
            f"- Versions: Python {platform.python_version()}, polars {pl.__version__}, "
            f"duckdb {duckdb.__version__}, numpy {np.__version__}",
        ]
    )


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def update_section(title: str, body: str, path: Path = RESULTS) -> None:
    """Replace the generated block of section ``## title`` (creating the section if needed)."""
    begin, end = f"<!-- generated: {title} -->", f"<!-- end generated: {title} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    heading = f"## {title}"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    elif heading in text:
        head, rest = text.split(heading, 1)
        text = head + heading + "\n\n" + block + "\n" + rest
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    path.write_text(text)
