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
    uv run python bench/bench_site.py --real              # the real files of ../shared/data

``--real`` loads ES, NQ, YM (with ^DJI) and TF1 as RTY (with ^RUT) from ../shared/data as a user
does (``callbook ingest --source file`` then ``callbook backfill --source file``, ~10 min), or
takes BENCH_SITE_DATA made that way; its nightly is ``nightly --source file`` with the same
files dropped in the inbox again, for the files' last session (2026-02-23, held back at ingest
as provisional). Its results go to the section "Static site (real files)".
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.real_files
from machine import machine_summary, peak_rss_mib, update_section

from flows import tasks
from flows.cli import main as cli
from flows.site import build_site
from pipeline.market.calendar import next_trade_date, session_end
from tests.real_files import EQUITY_ROOTS, FILES, INDEX_FILES, SHARED_DATA, available
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


def make_real_data(path: Path) -> None:
    """ES, NQ, YM and TF1 (as RTY) from ../shared/data, as a user loads them."""
    for root in EQUITY_ROOTS:
        index = INDEX_FILES.get(root)
        extra = ["--index-path", str(SHARED_DATA / index)] if index else []
        argv = [
            "ingest",
            "--root",
            root,
            "--source",
            "file",
            "--path",
            str(SHARED_DATA / FILES[root]),
        ]
        assert cli(["--data-dir", str(path), *argv, *extra]) == 0
    roots = ",".join(EQUITY_ROOTS)
    assert cli(["--data-dir", str(path), "backfill", "--roots", roots, "--source", "file"]) == 0


def drop_real_files(data: Path) -> None:
    """The same files in the drop folder again: the nightly loads their held-back last row."""
    for root in EQUITY_ROOTS:
        folder = data / "inbox" / root
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_DATA / FILES[root], folder / FILES[root])


def main() -> None:
    real = "--real" in sys.argv[1:]
    if real and not available():
        print("bench_site --real: ../shared/data is not present, nothing to measure")
        return
    summary = machine_summary()
    work = Path(tempfile.mkdtemp(prefix="callbook-bench-site-"))
    data = work / "data"
    reuse = os.environ.get("BENCH_SITE_DATA")
    progress_at = [time.perf_counter()]

    def progress(drawn: int, to_draw: int) -> None:
        if time.perf_counter() - progress_at[0] >= 30 or drawn == to_draw:
            progress_at[0] = time.perf_counter()
            print(f"  {drawn:,} of about {to_draw:,} pages drawn", flush=True)

    try:
        if reuse:
            shutil.copytree(reuse, data)
            shutil.rmtree(data / "site", ignore_errors=True)
        elif real:
            make_real_data(data)
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
        if real:  # the files' clock: their last stored session settled, not today
            now = (session_end(last) + timedelta(hours=1)).astimezone(UTC)
            next_night = (session_end(next_trade_date(last)) + timedelta(hours=1)).astimezone(UTC)
        with frozen_clock(now):
            full = build_site(data_dir=data, full=True, progress=progress)
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
            if real:
                drop_real_files(data)
                result = nightly(
                    data_dir=str(data),
                    source="file",
                    roots=list(EQUITY_ROOTS),
                    as_of=next_trade_date(last),
                )
            else:
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
    data_words = (
        "the real files (../shared/data: ES, NQ, YM with ^DJI, TF1 as RTY with ^RUT) loaded "
        f"by `callbook ingest --source file` + `callbook backfill --source file`, to {last}"
        if real
        else "`callbook nightly` + `callbook backfill`, four demo roots, every session from "
        f"2005 to {last}"
    )
    body = f"""
`bench/bench_site.py`

{summary}

Data: {data_words}; calls per methodology: {", ".join(f"{m} {n:,}" for m, n in calls)};
call pages for the published methodology (the others are rows of their year page).

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
  home page and the scoreboard; the call-quality page (`audit --quality` over every stored
  call) on the first night of a week only; resolved calls' pages are not touched.
"""
    update_section("Static site (real files)" if real else "Static site", body)
    print(body)


if __name__ == "__main__":
    main()
