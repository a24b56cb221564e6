"""Benchmark: the static site of the full demo history, built in full and brought up to date by the
next nightly run.

Measures, on a data directory made by the real flows (``callbook nightly`` then ``callbook
backfill`` for the four demo roots, every session since 2005: ~21,000 calls per methodology):

1. a full build (every page drawn): wall time, CPU time, pages, call pages per second, bytes on
   disk, peak memory;
2. a rebuild with nothing changed (the manifest says every page is fresh);
3. the next session's nightly run, whose last task brings the site up to date: how many pages it
   redrew and how long the site task took (the flow's own `SiteBuild.seconds`).

Wall time on a shared 2-core machine moves with the load; CPU time (user + system of this
process) less so: both are reported, with the load average at the start.

    uv run python bench/bench_site.py                    # makes its own data directory (~4 min)
    BENCH_SITE_DATA=/path/to/data uv run python bench/bench_site.py   # reuse one (copied first)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

# A temporary Prefect API starts for the nightly flow; on a busy 2-core machine it needs longer
# than Prefect's default 20 s (as the CLI allows). Set before prefect is imported.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, peak_rss_mib, update_section

from flows import tasks
from flows.cli import main as cli
from flows.site import build_site
from pipeline.market.calendar import next_trade_date, session_end
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # the last completed session is 2026-11-20


@contextmanager
def frozen_clock(at: datetime) -> Iterator[None]:
    """The flows read ``at`` as the time (as tests/fakes/clock.py does for the tests)."""
    original = tasks.utcnow
    tasks.utcnow = lambda: at  # type: ignore[assignment]
    try:
        yield
    finally:
        tasks.utcnow = original  # type: ignore[assignment]


def cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


def disk_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def make_data(path: Path) -> None:
    with frozen_clock(NOW):
        assert cli(["--data-dir", str(path), "nightly"]) == 0
        assert cli(["--data-dir", str(path), "backfill"]) == 0


def main() -> None:
    summary = machine_summary()
    work = Path(tempfile.mkdtemp(prefix="callbook-bench-site-"))
    data = work / "data"
    reuse = os.environ.get("BENCH_SITE_DATA")
    try:
        if reuse:
            shutil.copytree(reuse, data)
            shutil.rmtree(data / "site", ignore_errors=True)
        else:
            make_data(data)
            shutil.rmtree(data / "site", ignore_errors=True)  # the nightly built a small one
        with Warehouse.open(data / "warehouse.duckdb", read_only=True) as wh:
            snapshots = wh.snapshot_rows()
            calls = snapshots.group_by("methodology_version").len("n").rows()
            last = wh.table_rows("bars_current")["session_date"].max()
            written = wh.table_rows("snapshots")["created_at"].max()
        # The clock after the last stored session settled and the data was written, then after
        # the next session settled.
        now = max((session_end(last) + timedelta(hours=1)).astimezone(UTC), written)
        now += timedelta(minutes=1)
        next_night = max(
            (session_end(next_trade_date(last)) + timedelta(hours=1)).astimezone(UTC),
            now + timedelta(hours=1),
        )

        t, cpu = time.perf_counter(), cpu_seconds()
        with frozen_clock(now):
            full = build_site(data_dir=data, full=True)
        full_wall, full_cpu = time.perf_counter() - t, cpu_seconds() - cpu
        print(f"full: {full.summary()}; wall {full_wall:.1f} s, CPU {full_cpu:.1f} s", flush=True)
        files, size = disk_bytes(data / "site")

        t, cpu = time.perf_counter(), cpu_seconds()
        with frozen_clock(now):
            again = build_site(data_dir=data)
        again_wall, again_cpu = time.perf_counter() - t, cpu_seconds() - cpu
        print(f"again: {again.summary()}; CPU {again_cpu:.1f} s", flush=True)

        from flows.nightly import nightly

        with frozen_clock(next_night):
            result = nightly(data_dir=str(data))
        nightly_site = result.site
        assert nightly_site is not None
        print(f"nightly: {nightly_site.summary()}", flush=True)
        t, cpu = time.perf_counter(), cpu_seconds()
        with frozen_clock(next_night):
            after = build_site(data_dir=data)
        after_wall, after_cpu = time.perf_counter() - t, cpu_seconds() - cpu
    finally:
        shutil.rmtree(work, ignore_errors=True)

    per_page_ms = 1000 * full_cpu / max(full.written, 1)
    body = f"""
`bench/bench_site.py`

{summary}

Data: `callbook nightly` + `callbook backfill`, four demo roots, every session from 2005 to
{last}; calls per methodology: {", ".join(f"{m} {n:,}" for m, n in calls)}.

| build | pages drawn | of pages | call pages drawn | wall s | CPU s |
|---|---:|---:|---:|---:|---:|
| full (every page) | {full.written:,} | {full.pages:,} | {full.call_pages_written:,} | {full_wall:.1f} | {full_cpu:.1f} |
| again, nothing changed | {again.written:,} | {again.pages:,} | {again.call_pages_written:,} | {again_wall:.1f} | {again_cpu:.1f} |
| the next session's nightly: its site task ({next_trade_date(last)}) | {nightly_site.written:,} | {nightly_site.pages:,} | {nightly_site.call_pages_written:,} | {nightly_site.seconds:.1f} | {nightly_site.cpu_seconds:.1f} |
| again after that nightly | {after.written:,} | {after.pages:,} | {after.call_pages_written:,} | {after_wall:.1f} | {after_cpu:.1f} |

- Full build: {per_page_ms:.1f} ms of CPU per page drawn; {files:,} files, {size / 1024**2:,.0f} MiB
  ({size / max(full.call_pages, 1) / 1024:.1f} KiB per call page on average); peak memory of the
  whole benchmark {peak_rss_mib():,.0f} MiB.
- The nightly's site task redraws the new calls, the calls before them (their "next" link),
  the open calls (their status so far moved), the root pages, the current year's pages, the
  home page, the scoreboard and the call-quality page (`audit --quality` over every stored
  call: it is recomputed whenever calls or bars change); resolved calls' pages are not touched.
"""
    update_section("Static site", body)
    print(body)


if __name__ == "__main__":
    main()
