"""Benchmark: the coherence figures of `callbook audit --quality` and the call-quality page on the
full demo history (issue 18, point 7).

On a data directory made by the real flows (``callbook nightly`` then ``callbook backfill`` for
the four demo roots, every session since 2005), measures flows/coherence.py:

1. where a call's time goes: rendering its note (with the previous call, as `callbook show`)
   and checking it, per call, on one root and methodology;
2. every stored call checked, nothing kept yet (the first `audit --quality` or site build);
3. again, every call's findings kept (a rerun);
4. after the next session's nightly: the new calls only (the findings kept before that nightly
   put back, so that this run, not the nightly's site task, checks them); and that nightly's
   site task, which redraws the call-quality page with them (the site built in full first,
   with every finding kept, as bench_site.py does);
5. `callbook audit --quality` as a user runs it (its own process), findings kept.

Wall time on a shared 2-core machine moves with the load; CPU time less so: both are reported.

    uv run python bench/bench_coherence_figures.py          # makes its own data directory
    BENCH_DATA=/path/to/data uv run python bench/bench_coherence_figures.py   # reuse one (copied)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_site import cpu_seconds, frozen_clock, make_data
from machine import machine_summary, peak_rss_mib, update_section

from flows.coherence import coherence_report
from flows.site import build_site
from pipeline.analysis.assemble import snapshots_from_frame
from pipeline.audit.coherence import StoredCall, check_calls
from pipeline.market.calendar import next_trade_date, session_end
from pipeline.report.note import render_note
from warehouse.checks import CHECKS_DIR
from warehouse.store import Warehouse

CALLBOOK = Path(sys.executable).with_name("callbook")


def timed(run):  # type: ignore[no-untyped-def]
    t, cpu = time.perf_counter(), cpu_seconds()
    result = run()
    return result, time.perf_counter() - t, cpu_seconds() - cpu


def split(data: Path, root: str, methodology: str) -> tuple[int, float, float]:
    """Calls of one root and methodology, CPU ms a call to render and to check (check_calls)."""
    with Warehouse.open(data / "warehouse.duckdb", read_only=True) as wh:
        rows = wh.snapshot_rows(root, author="callbook", methodology=methodology).sort("as_of")
    snapshots = snapshots_from_frame(rows)
    notes, _, render_cpu = timed(
        lambda: [
            render_note(s, previous=snapshots[i - 1] if i else None)
            for i, s in enumerate(snapshots)
        ]
    )
    calls = [StoredCall(v, n) for v, n in zip(rows.to_dicts(), notes, strict=True)]
    _, _, check_cpu = timed(lambda: check_calls(calls))
    return rows.height, 1000 * render_cpu / rows.height, 1000 * check_cpu / rows.height


def report(data: Path) -> tuple[int, int, float, float]:
    with Warehouse.open(data / "warehouse.duckdb", read_only=True) as wh:
        found, wall, cpu = timed(lambda: coherence_report(wh, source="demo", data_dir=data))
    return found.checked, found.kept, wall, cpu


def main() -> None:
    summary = machine_summary()
    work = Path(tempfile.mkdtemp(prefix="callbook-bench-coherence-"))
    data = work / "data"
    reuse = os.environ.get("BENCH_DATA")
    try:
        if reuse:
            shutil.copytree(reuse, data, ignore=shutil.ignore_patterns("site"))
        else:
            make_data(data)
        shutil.rmtree(data / CHECKS_DIR, ignore_errors=True)
        with Warehouse.open(data / "warehouse.duckdb", read_only=True) as wh:
            stored = wh.snapshot_rows(author="callbook")
            last = wh.table_rows("bars_current")["session_date"].max()
            written = wh.table_rows("snapshots")["created_at"].max()
        per_methodology = stored.group_by("methodology_version").len("n").sort("n").rows()

        n_split, render_ms, check_ms = split(data, "RTY", "v2")
        print(f"split: {n_split} calls, render {render_ms:.2f} ms, check {check_ms:.2f} ms")
        cold = report(data)
        print(f"cold: {cold}", flush=True)
        warm = report(data)
        print(f"warm: {warm}", flush=True)

        kept_before = work / "kept"
        shutil.copytree(data / CHECKS_DIR, kept_before)
        now = max((session_end(last) + timedelta(hours=1)).astimezone(UTC), written)
        now += timedelta(minutes=1)
        with frozen_clock(now):  # the site as the nightly finds it (its findings kept)
            full = build_site(data_dir=data, full=True)
        print(f"full site: {full.summary()}", flush=True)
        next_night = max(
            (session_end(next_trade_date(last)) + timedelta(hours=1)).astimezone(UTC),
            now + timedelta(hours=2),
        )
        from flows.nightly import nightly

        with frozen_clock(next_night):
            night = nightly(data_dir=str(data))
        assert night.site is not None
        print(f"nightly site task: {night.site.summary()}", flush=True)
        shutil.rmtree(data / CHECKS_DIR)
        shutil.copytree(kept_before, data / CHECKS_DIR)
        after = report(data)
        print(f"after the nightly: {after}", flush=True)

        t = time.perf_counter()
        cli = subprocess.run(
            [str(CALLBOOK), "--data-dir", str(data), "audit", "--quality"],
            capture_output=True,
            text=True,
            check=True,
        )
        cli_wall = time.perf_counter() - t
        told = next(line for line in cli.stdout.splitlines() if "checked now" in line)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    calls = stored.height
    body = f"""
`bench/bench_coherence_figures.py`

{summary}

Data: `callbook nightly` + `callbook backfill`, four demo roots, every session from 2005 to
{last}; calls per methodology: {", ".join(f"{m} {n:,}" for m, n in per_methodology)}.

| run | calls checked | findings kept | wall s | CPU s |
|---|---:|---:|---:|---:|
| every call, nothing kept yet | {cold[0]:,} | {cold[1]:,} | {cold[2]:.1f} | {cold[3]:.1f} |
| again, every finding kept | {warm[0]:,} | {warm[1]:,} | {warm[2]:.1f} | {warm[3]:.1f} |
| after the next session's nightly ({next_trade_date(last)}) | {after[0]:,} | {after[1]:,} | {after[2]:.1f} | {after[3]:.1f} |

- Per call (RTY v2, {n_split:,} calls, CPU): rendering its note {render_ms:.2f} ms, checking it
  {check_ms:.2f} ms: {1000 / (render_ms + check_ms):,.0f} calls a second on one core; every
  call of the {calls:,}, nothing kept: {cold[3]:.0f} s of CPU ({calls / max(cold[3], 1e-9):,.0f} calls/s).
- Kept findings (`reports/coherence/<source>/<root>-<methodology>.parquet`, one row per call,
  keyed by the call, the call before it and one hash of the code that renders and checks it)
  make a rerun and the nightly's call-quality page cheap: that nightly's site task took
  {night.site.seconds:.1f} s ({night.site.cpu_seconds:.1f} s CPU) with the page redrawn
  (not comparable with "Static site": that site had v1 and v2 only, 42,232 pages; the full
  build here: {full.seconds:.0f} s, {full.cpu_seconds:.0f} s CPU, findings kept).
- `callbook audit --quality` in its own process, findings kept: {cli_wall:.1f} s wall
  ("{told.strip()}"). Peak memory of the
  benchmark {peak_rss_mib():,.0f} MiB.
- A change of the note templates, the number formats, a methodology or the checker
  (flows/coherence.py, `coherence_code_files`) checks every call again once.
"""
    update_section("Coherence figures", body)
    print(body)


if __name__ == "__main__":
    main()
