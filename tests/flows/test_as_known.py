"""`callbook backfill --as-known`: each date from the bars as known then, and only the dates a later
vendor revision reaches computed on their own bars.

RTY bars arrive from a file in three loads, each on the evening its last session became final:
history to S+3, then a load to E that also revises S's settlement (a vendor correction), then
a load to the end. A call for D reads bars as known at the end of the session after D
(17:00 ET): the revision recorded on E's evening is after that for every D in [S, E), and
before it for D >= E. The oracle computes EVERY date from the bars as known at its own moment,
one by one; the backfill recomputes only [S, E) and must match it everywhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest

from flows.cli import EXIT_OK, main
from flows.history import backfill
from flows.nightly import ingest
from pipeline.analysis.methodology import get as get_methodology
from pipeline.market.as_known import bars_known_at
from pipeline.market.calendar import ET, add_sessions, trade_dates
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.store import Warehouse

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

HISTORY_START = date(2024, 11, 1)  # ~300 sessions before S: past the 250-session warm-up
S = date(2026, 1, 21)  # the revised session (a Wednesday; RTYH26 is the front)
LOADED_TO = add_sessions(S, 3)
E = add_sessions(S, 8)
END = add_sessions(E, 5)
FIRST = add_sessions(S, -4)  # the backfill range: four dates before the revision's reach
REVISED_CONTRACT = "RTYH26"


def evening(d: date) -> datetime:
    """17:30 ET on trade date d: its bars are final, the next session has not opened."""
    return datetime.combine(d, time(17, 30), tzinfo=ET).astimezone(UTC)


def write_file(path: Path, bars: pl.DataFrame) -> Path:
    bars.select(
        "session_date", "contract", "open", "high", "low", "close", "volume", "open_interest"
    ).write_csv(path)
    return path


@pytest.fixture(scope="module")
def revised(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("as-known")
    data_dir = tmp / "data"
    bars = demo_bars("RTY").filter(pl.col("session_date").is_between(HISTORY_START, END))
    original = bars.filter(
        (pl.col("contract") == REVISED_CONTRACT) & (pl.col("session_date") == S)
    ).row(0, named=True)
    corrected = round((original["close"] + original["low"]) / 2, 1)  # still inside the range
    assert corrected != original["close"]
    revised_bars = bars.with_columns(
        pl.when((pl.col("contract") == REVISED_CONTRACT) & (pl.col("session_date") == S))
        .then(pl.lit(corrected))
        .otherwise(pl.col("close"))
        .alias("close")
    )
    loads = [
        (bars.filter(pl.col("session_date") <= LOADED_TO), LOADED_TO),
        (revised_bars.filter(pl.col("session_date").is_between(S, E)), E),
        (revised_bars.filter(pl.col("session_date") > E), END),
    ]
    for i, (frame, last) in enumerate(loads):
        path = write_file(tmp / f"load-{i}.csv", frame)
        with frozen_clock(evening(last)):
            summary = ingest(
                root="RTY",
                source="file",
                end=last,
                data_dir=str(data_dir),
                source_options={"path": str(path), "columns": {}},
            )
        assert summary.status == "ok", summary.message
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        revisions = wh.superseded_bars("RTY", source="file")
    assert revisions["session_date"].to_list() == [S]  # exactly one vendor revision
    return data_dir


def bars_at(wh: Warehouse, day: date) -> pl.DataFrame:
    return wh.bars_as_known("RTY", source="file", known_at=bars_known_at(day), end=day)


def test_bars_as_known_match_the_versions_by_hand(revised: Path) -> None:
    with Warehouse.open(revised / "warehouse.duckdb", read_only=True) as wh:
        versions = query(wh, "select * from bars where root = 'RTY'")
        for day in (add_sessions(S, -1), S, add_sessions(E, -1), E, END):
            known_at = bars_known_at(day)
            # By hand: per bar, the version recorded by then and not yet superseded, else the
            # first version ever recorded.
            expected = {}
            for row in versions.sort("recorded_at").iter_rows(named=True):
                if row["session_date"] > day:
                    continue
                key = (row["contract"], row["session_date"])
                known = row["recorded_at"] <= known_at and (
                    row["superseded_at"] is None or row["superseded_at"] > known_at
                )
                if known or key not in expected:
                    expected[key] = row["close"]
            got = {
                (r["contract"], r["session_date"]): r["close"]
                for r in bars_at(wh, day).iter_rows(named=True)
            }
            assert got == expected, day


def test_only_dates_a_later_revision_reaches_differ_and_the_backfill_matches_each_date(
    revised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data-dir", str(revised), "backfill", "--roots", "RTY", "--source", "file"]
    argv += ["--start", FIRST.isoformat(), "--end", END.isoformat(), "--as-known"]
    argv += ["--methodologies", "v1"]  # checked against v1's analysis below
    with frozen_clock(evening(END) + timedelta(days=3)):
        assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert (  # the console wraps at the terminal's width: read the words whole
        "bars: as_known — each date computed from the bars as known at the end of the next"
        in " ".join(out.split())
    )
    days = trade_dates(FIRST, END)
    reached = set(trade_dates(S, add_sessions(E, -1)))
    with Warehouse.open(revised / "warehouse.duckdb", read_only=True) as wh:
        stored = wh.snapshot_rows("RTY", source="file").filter(pl.col("as_of") >= FIRST)
        current = wh.current_bars("RTY", source="file")
        # What a current-bars backfill writes: one pass over the whole history.
        one_pass = analyse(
            {"RTY": continuous_series(current.filter(pl.col("session_date") <= END))},
            "RTY",
            source="file",
        ).snapshots
        for day in days:
            known = bars_at(wh, day).sort("contract", "session_date")
            now = current.filter(pl.col("session_date") <= day).sort("contract", "session_date")
            # The proof the shortcut rests on: outside the revision's reach the bars as known
            # then ARE the current bars up to that day (so the call is the current-bars call);
            # inside it they differ (the corrected settlement of S).
            assert known.equals(now) == (day not in reached), day
            row = stored.filter(pl.col("as_of") == day)
            assert row.height == 1, day
            if day in reached:
                oracle = analyse(
                    {"RTY": continuous_series(known)}, "RTY", source="file", sessions=[day]
                ).snapshots
                assert (
                    oracle["close"].item() != one_pass.filter(pl.col("as_of") == S)["close"].item()
                    or day != S
                )
            else:
                oracle = one_pass.filter(pl.col("as_of") == day)
            assert row["content_hash"].item() == oracle["content_hash"].item(), day
            assert row["bars_mode"].item() == "as_known"
            assert row["bars_known_at"].item() == bars_known_at(day)
        # The call for S itself published the settlement as first delivered, not the correction.
        first, correction = query(
            wh,
            "select close from bars where contract = $c and session_date = $d order by recorded_at",
            {"c": REVISED_CONTRACT, "d": S},
        )["close"].to_list()
    assert stored.filter(pl.col("as_of") == S)["close"].item() == first != correction
    assert one_pass.filter(pl.col("as_of") == S)["close"].item() == correction
    assert len(reached) == 8 and len(days) == 18


def test_a_current_backfill_afterwards_supersedes_only_the_revised_dates(revised: Path) -> None:
    with frozen_clock(evening(END) + timedelta(days=4)):
        result = backfill(
            roots=["RTY"],
            source="file",
            start=FIRST,
            end=END,
            data_dir=str(revised),
            methodologies=["v1"],
        )
    (root,) = result.roots
    assert (root.written, root.unchanged) == (8, 10)
    with Warehouse.open(revised / "warehouse.duckdb", read_only=True) as wh:
        latest = wh.snapshot_rows("RTY", source="file").filter(pl.col("as_of") >= FIRST)
    new = latest.filter(pl.col("version") == 2)
    assert sorted(new["as_of"].to_list()) == trade_dates(S, add_sessions(E, -1))
    assert set(new["bars_mode"]) == {"current"}
    assert set(latest.filter(pl.col("version") == 1)["bars_mode"]) == {"as_known"}
