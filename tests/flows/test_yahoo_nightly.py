"""The nightly flow against a local fake of Yahoo's HTTP API, through real yfinance and curl_cffi."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from flows import clock as flows_clock
from flows import tasks
from flows.nightly import nightly
from pipeline.market.roots import builtin_spec
from pipeline.sources.demo import demo_bars, demo_index_bars
from tests.fakes import feeds
from tests.fakes.yahoo import FakeYahoo, isolate_yfinance
from tests.support.sql import query
from warehouse.store import Warehouse

AS_OF = date(2026, 11, 20)
HISTORY_START = date(2025, 6, 2)  # ~370 sessions: past the 250-session warm-up


def front_month_feed(root: str) -> pl.DataFrame:
    """A Yahoo-like ``=F`` series: the demo's contracts spliced as Yahoo splices them (on a
    contract through its expiry session, the expiry close its final settlement), not adjusted."""
    feed = feeds.front_month_feed(demo_bars(root), root, index=index_bars(root))
    return feed.filter(pl.col("session_date").is_between(HISTORY_START, date(2026, 12, 21)))


def index_bars(root: str) -> pl.DataFrame:
    """The cash index behind the demo's contracts (Yahoo's ``^RUT``, ``^GSPC``)."""
    index = demo_index_bars(root)
    return index.filter(pl.col("session_date").is_between(HISTORY_START, date(2026, 12, 21)))


def contract_bars(code: str, root: str) -> pl.DataFrame:
    return demo_bars(root).filter(
        (pl.col("contract") == code) & (pl.col("session_date") >= HISTORY_START)
    )


@pytest.fixture
def fake_yahoo(tmp_path: Path) -> Iterator[FakeYahoo]:
    isolate_yfinance(tmp_path / "yfinance-cache")
    with FakeYahoo() as fake:
        for root, name in (("RTY", "E-mini Russell 2000 Dec 26"), ("ES", "E-Mini S&P 500 Dec 26")):
            feed = front_month_feed(root)
            fake.set_bars(
                f"{root}=F", feed.filter(pl.col("session_date") <= AS_OF), short_name=name
            )
            index = index_bars(root).filter(pl.col("session_date") <= AS_OF)
            fake.set_bars(builtin_spec(root).cash_index, index)
            for code in (f"{root}Z26", f"{root}H27"):
                bars = contract_bars(code, root).filter(pl.col("session_date") <= AS_OF)
                fake.set_bars(f"{code}.CME", bars)
        yield fake


@pytest.fixture
def no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        tasks,
        "fetch_bars",
        tasks.fetch_bars.with_options(retry_delay_seconds=0, retry_jitter_factor=None),
    )


def clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    monkeypatch.setattr(flows_clock, "utcnow", lambda: at)


def run(fake: FakeYahoo, data_dir: Path, roots: list[str], **kwargs: Any):
    # The Yahoo path's mechanics, on one methodology (the default computes v2 and v1).
    kwargs.setdefault("methodologies", ["v1"])
    return nightly(
        roots=roots,
        source="yahoo",
        data_dir=str(data_dir),
        source_options={"yahoo_session": fake.session(), "cache_dir": data_dir / "yfinance"},
        **kwargs,
    )


def test_nightly_on_yahoo_makes_calls_and_a_second_run_changes_nothing(
    prefect_harness: None,
    fake_yahoo: FakeYahoo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_wait: None,
) -> None:
    clock(monkeypatch, datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    first = run(fake_yahoo, tmp_path, ["RTY", "ES"])
    assert first.as_of == AS_OF
    assert [s.status for s in first.ingest] == ["ok", "ok"]
    assert first.snapshots.written == 2
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path, read_only=True) as wh:
        contracts = query(
            wh,
            "select contract, count(*) as n from bars_current where root = 'RTY' group by 1 order by 1",
        )
        call = wh.snapshot_rows("RTY").row(0, named=True)
        meta = query(
            wh,
            "select metadata->'$.symbols.\"RTY=F\".history_metadata.shortName' as name"
            " from ingest_batches where root = 'RTY'",
        )
        hashes = {t: wh.content_hash(t) for t in ("bars", "snapshots")}
    feed = front_month_feed("RTY").filter(pl.col("session_date") <= AS_OF)
    assert dict(contracts.rows())["RTY=F"] == feed.height
    assert {"RTYZ26", "RTYH27"} <= set(contracts["contract"])
    assert (call["as_of"], call["source"], call["contract"]) == (AS_OF, "yahoo", "RTYZ26")
    assert call["close"] == feed.filter(pl.col("session_date") == AS_OF)["close"].item()
    assert meta["name"].to_list() == ['"E-mini Russell 2000 Dec 26"']

    again = run(fake_yahoo, tmp_path, ["RTY", "ES"])
    assert all(s.inserted == 0 and s.revised == 0 for s in again.ingest)
    assert again.snapshots.written == 0
    with Warehouse.open(path, read_only=True) as wh:
        assert {t: wh.content_hash(t) for t in hashes} == hashes

    # Yahoo revises the settlement of 2026-11-18 (inside the re-fetched overlap): a new version
    # of that bar, the old one kept, and a new version of the day's call that used it.
    revised_day = date(2026, 11, 18)
    changed = feed.with_columns(
        pl.when(pl.col("session_date") == revised_day)
        .then(pl.col("close") + 0.5)
        .otherwise(pl.col("close"))
        .alias("close")
    ).with_columns(pl.max_horizontal("high", "close").alias("high"))
    fake_yahoo.set_bars("RTY=F", changed)
    third = run(fake_yahoo, tmp_path, ["RTY"])
    assert (third.ingest[0].revised, third.ingest[0].inserted) == (1, 0)
    assert (third.snapshots.written, third.snapshots.superseding) == (1, 1)
    with Warehouse.open(path, read_only=True) as wh:
        history = query(
            wh,
            "select close, superseded_at is null as current from bars where contract = 'RTY=F'"
            " and session_date = $day order by recorded_at",
            {"day": revised_day},
        ).rows()
    old_close = feed.filter(pl.col("session_date") == revised_day)["close"].item()
    assert history == [(old_close, False), (old_close + 0.5, True)]


def test_unfinished_session_is_deferred_then_loaded_the_next_night(
    prefect_harness: None,
    fake_yahoo: FakeYahoo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_wait: None,
) -> None:
    # Yahoo's live row for Monday 2026-11-23, fetched at 15:00 ET before the session ended.
    feed = front_month_feed("RTY")
    fake_yahoo.set_bars("RTY=F", feed)
    clock(monkeypatch, datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    first = run(fake_yahoo, tmp_path, ["RTY"], as_of=date(2026, 11, 23))
    assert first.ingest[0].deferred >= 1
    with Warehouse.open(tmp_path / "warehouse.duckdb", read_only=True) as wh:
        assert wh.last_session("RTY", source="yahoo") == AS_OF
        deferred = query(
            wh, "select rule, session_date from row_findings where severity = 'deferred'"
        )
        assert ("session.final", date(2026, 11, 23)) in deferred.rows()
        assert wh.snapshot_rows("RTY")["as_of"].to_list() == [AS_OF]  # the last final session

    clock(monkeypatch, datetime(2026, 11, 23, 23, 30, tzinfo=UTC))  # 18:30 ET: final now
    second = run(fake_yahoo, tmp_path, ["RTY"], as_of=date(2026, 11, 23))
    assert second.ingest[0].inserted >= 1
    with Warehouse.open(tmp_path / "warehouse.duckdb", read_only=True) as wh:
        assert wh.last_session("RTY", source="yahoo") == date(2026, 11, 23)


def test_rate_limit_is_retried_and_a_dead_root_does_not_stop_the_others(
    prefect_harness: None,
    fake_yahoo: FakeYahoo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_wait: None,
) -> None:
    clock(monkeypatch, datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    fake_yahoo.fail_next("RTY=F", 429, times=2)  # yfinance itself re-sends a failed request once
    fake_yahoo.fail_always("ES=F", 503)
    with pytest.raises(tasks.RootsFailed, match=r"^1 of 2 root\(s\) failed: ES failed: ") as failed:
        run(fake_yahoo, tmp_path, ["RTY", "ES"])
    result = failed.value.result
    rty, es = result.ingest
    assert rty.status == "ok" and rty.inserted > 300
    assert es.status == "failed"
    assert es.message.startswith(f"gave up after {tasks.FETCH_RETRIES + 1} attempts")
    assert "ES=F" in es.message
    with Warehouse.open(tmp_path / "warehouse.duckdb", read_only=True) as wh:
        roots = query(wh, "select distinct root from bars").rows()
        failures = query(wh, "select root, outcome from fetch_log where outcome = 'failed'").rows()
        assert wh.snapshot_rows("RTY").height == 1
        assert wh.snapshot_rows("ES").height == 0
    assert roots == [("RTY",)]
    assert failures == [("ES", "failed")]
    # One fetch attempt per try (the task retried FETCH_RETRIES times); each attempt's request may
    # be re-sent by yfinance itself.
    assert len(fake_yahoo.chart_requests("ES=F")) >= tasks.FETCH_RETRIES + 1


def test_unknown_symbol_fails_clearly_without_retries(
    prefect_harness: None,
    fake_yahoo: FakeYahoo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_wait: None,
) -> None:
    clock(monkeypatch, datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    fake_yahoo.remove_symbol("ES=F")
    state = run(fake_yahoo, tmp_path, ["ES"], return_state=True)
    # The run ends Failed in Prefect, naming the root, as `callbook nightly` exits 1 ...
    assert state.is_failed()
    assert "RootsFailed: 1 of 1 root(s) failed: ES failed: " in state.message
    failed = state.result(raise_on_failure=False)
    assert isinstance(failed, tasks.RootsFailed)
    (es,) = failed.result.ingest
    assert es.status == "failed"
    assert "unknown symbol ES=F" in es.message
    assert len(fake_yahoo.chart_requests("ES=F")) <= 2  # not retried by the task
    # ... and its per-root summary artifact was still written.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    (summary,) = [a for a in artifacts if a.key == "callbook-nightly-summary"]
    assert "| ES |" in summary.data and "failed: " in summary.data


def test_the_roll_is_placed_by_calendar_and_measured_against_the_index(
    prefect_harness: None,
    fake_yahoo: FakeYahoo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_wait: None,
) -> None:
    """Three nights around the December 2026 expiry (Friday 18 Dec): the expiry session reads as
    the expiring contract whatever Yahoo's name already says, the next session as the new one;
    its roll gap is the jump in RTY=F - ^RUT, stored with its evidence; and the calls made on
    each night are the calls a later run computes."""
    feed, index = front_month_feed("RTY"), index_bars("RTY")
    # Front and next once the December roll date has passed; the demo's June contract does not
    # trade yet, so serve March's prices plus a basis for it.
    march = contract_bars("RTYH27", "RTY")
    fake_yahoo.set_bars("RTYH27.CME", march)
    fake_yahoo.set_bars(
        "RTYM27.CME", march.with_columns(pl.col("open", "high", "low", "close") + 15.0)
    )
    nights = (
        (date(2026, 12, 17), "E-mini Russell 2000 Dec 26"),
        (date(2026, 12, 18), "E-mini Russell 2000 Mar 27"),
        (date(2026, 12, 21), "E-mini Russell 2000 Mar 27"),
    )
    for night, short_name in nights:
        upto = pl.col("session_date") <= night
        fake_yahoo.set_bars("RTY=F", feed.filter(upto), short_name=short_name)
        fake_yahoo.set_bars("^RUT", index.filter(upto))
        clock(monkeypatch, datetime(night.year, night.month, night.day, 23, 30, tzinfo=UTC))
        result = run(fake_yahoo, tmp_path, ["RTY"])
        assert result.as_of == night and result.ingest[0].status == "ok"
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path, read_only=True) as wh:
        observations = wh.contract_month_observations("RTY", symbol="RTY=F")
        calls = query(wh, "select as_of, contract, content_hash from snapshots order by as_of")
        roll = query(
            wh,
            "select * from rolls_current where root = 'RTY' and roll_session = $day",
            {"day": date(2026, 12, 21)},
        ).row(0, named=True)
        rolls = query(wh, "select count(*) as n, count(distinct method) as m from rolls").row(0)
    assert observations[-3:] == [
        (date(2026, 12, 17), "2026-12"),
        (date(2026, 12, 18), "2027-03"),
        (date(2026, 12, 21), "2027-03"),
    ]
    assert calls.select("as_of", "contract").rows() == [
        (date(2026, 12, 17), "RTYZ26"),
        (date(2026, 12, 18), "RTYZ26"),
        (date(2026, 12, 21), "RTYH27"),
    ]
    # The gap: the basis on the roll session minus the basis on Thursday, read off the served bars.
    f = dict(zip(feed["session_date"], feed["close"], strict=True))
    i = dict(zip(index["session_date"], index["close"], strict=True))
    thursday, monday = date(2026, 12, 17), date(2026, 12, 21)
    assert (roll["method"], roll["estimated"], roll["clipped"]) == ("basis", False, False)
    assert (roll["old_contract"], roll["new_contract"]) == ("RTYZ26", "RTYH27")
    assert (roll["before_session"], roll["after_session"]) == (thursday, monday)
    assert roll["gap"] == pytest.approx((f[monday] - i[monday]) - (f[thursday] - i[thursday]))
    assert roll["within_carry_bound"]
    # Every roll of the history was stored once (the nights re-derive them unchanged), all of
    # them measured by the basis.
    assert rolls == (7, 1)

    # A backfill computed later from everything stored makes the same three calls.
    from flows.history import backfill

    backfill(
        roots=["RTY"],
        source="yahoo",
        start=thursday,
        end=monday,
        data_dir=str(tmp_path),
        methodologies=["v1"],  # as the nights above (run() pins v1)
    )
    with Warehouse.open(path, read_only=True) as wh:
        versions = query(wh, "select as_of, count(*) as n from snapshots group by 1 order by 1")
    assert versions["n"].to_list() == [1, 1, 1]
