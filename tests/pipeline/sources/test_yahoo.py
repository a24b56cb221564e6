"""The Yahoo source through the real yfinance + curl_cffi code path, against a local fake of Yahoo."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from pipeline.market.calendar import ET
from pipeline.schema import BAR_SCHEMA
from pipeline.sources.base import Source, SourceError, TransientSourceError
from pipeline.sources.yahoo import (
    REQUEST_TIMEOUT_SECONDS,
    YahooSource,
    bars_from_raw,
    contract_month_from_short_name,
    fetch_error,
    reset_yfinance_state,
    yahoo_symbols,
)
from tests.fakes.yahoo import CRUMB, RATE_LIMIT_BODY, FakeYahoo, make_session, ny_midnight

MakeSource = Callable[..., YahooSource]

#: Saturday noon UTC: every session of the week of 2 February 2026 is final.
FETCHED_AT = datetime(2026, 2, 7, 12, 0, tzinfo=UTC)
MON, FRI = date(2026, 2, 2), date(2026, 2, 6)
RTY_SHORT_NAME = "E-mini Russell 2000 Mar 26"

# (session, open, high, low, close, volume), written by hand. RTY=F is the front (H26) spliced.
RTY_F = [
    (date(2026, 2, 2), 2630.0, 2652.4, 2621.3, 2648.1, 151_234),
    (date(2026, 2, 3), 2648.5, 2661.0, 2633.2, 2640.7, 163_402),
    (date(2026, 2, 4), 2641.0, 2655.9, 2610.4, 2619.8, 188_950),
    (date(2026, 2, 5), 2620.2, 2628.6, 2588.0, 2594.3, 201_377),
    (date(2026, 2, 6), 2595.0, 2633.1, 2590.5, 2629.9, 176_015),
]
# The cash index behind RTY (^RUT): the futures trade a few points above it.
RUT = [
    (date(2026, 2, 2), 2627.51, 2649.02, 2618.87, 2645.36, 4_210_550_000),
    (date(2026, 2, 3), 2645.12, 2658.47, 2630.09, 2638.04, 4_388_120_000),
    (date(2026, 2, 4), 2638.33, 2653.21, 2607.76, 2617.17, 4_902_730_000),
    (date(2026, 2, 5), 2617.58, 2625.96, 2585.43, 2591.66, 5_011_980_000),
    (date(2026, 2, 6), 2592.41, 2630.39, 2587.92, 2627.21, 4_475_300_000),
]
RTY_M26 = [
    (date(2026, 2, 2), 2648.6, 2670.9, 2639.8, 2666.6, 2_114),
    (date(2026, 2, 3), 2667.0, 2679.5, 2651.7, 2659.2, 2_530),
    (date(2026, 2, 4), 2659.5, 2674.4, 2628.9, 2638.3, 3_008),
    (date(2026, 2, 5), 2638.7, 2647.1, 2606.5, 2612.8, 3_411),
    (date(2026, 2, 6), 2613.5, 2651.6, 2609.0, 2648.4, 2_977),
]


def rows(table: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    keys = ("date", "open", "high", "low", "close", "volume")
    return [dict(zip(keys, row, strict=True)) for row in table]


def canonical(contract: str, table: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What BAR_SCHEMA rows of ``table`` look like (Yahoo has no open interest)."""
    return [("RTY", contract, *row, None) for row in table]


def serve_rty_week(fake: FakeYahoo) -> None:
    fake.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    fake.set_bars("^RUT", rows(RUT), short_name="Russell 2000")
    fake.set_bars("RTYH26.CME", rows(RTY_F), short_name="E-mini Russell 2000 Mar 26")
    fake.set_bars("RTYM26.CME", rows(RTY_M26), short_name="E-mini Russell 2000 Jun 26")


def history_requests(fake: FakeYahoo, symbol: str) -> list[Any]:
    return fake.chart_requests(symbol, probes=False)


# -- a normal fetch ----------------------------------------------------------------------------


def test_fetch_returns_every_symbol_as_received(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    serve_rty_week(fake_yahoo)
    source = yahoo_source("all")
    assert isinstance(source, Source)

    batch = source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)

    assert (batch.source, batch.root, batch.window_start, batch.window_end) == (
        "yahoo",
        "RTY",
        MON,
        FRI,
    )
    assert batch.fetched_at == FETCHED_AT
    assert batch.bars.schema == pl.Schema(BAR_SCHEMA)
    assert batch.bars.rows() == (
        canonical("RTY=F", RTY_F)
        + canonical("^RUT", RUT)
        + canonical("RTYH26", RTY_F)
        + canonical("RTYM26", RTY_M26)
    )

    # raw: yfinance's frames untouched, one symbol after the other, aligned with bars row by row
    assert batch.raw.schema.names == [
        "symbol",
        "Date",
        "Open",
        "High",
        "Low",
        "Close",
        "Adj Close",
        "Volume",
        "Dividends",
        "Stock Splits",
    ]
    assert batch.raw.schema.field("Date").type == pa.timestamp("s", tz="America/New_York")
    assert batch.raw.column("symbol").to_pylist() == (
        ["RTY=F"] * 5 + ["^RUT"] * 5 + ["RTYH26.CME"] * 5 + ["RTYM26.CME"] * 5
    )
    midnights = [datetime.combine(row[0], time(0), tzinfo=ET) for row in RTY_F]
    assert batch.raw.column("Date").to_pylist() == midnights * 4
    assert batch.raw.column("Close").to_pylist()[15:] == [row[4] for row in RTY_M26]

    # metadata: what Yahoo said about each symbol, JSON-serialisable
    symbols = batch.metadata["symbols"]
    assert list(symbols) == ["RTY=F", "^RUT", "RTYH26.CME", "RTYM26.CME"]
    assert symbols["RTY=F"] == {
        "contract": "RTY=F",
        "rows": 5,
        "history_metadata": {
            "shortName": RTY_SHORT_NAME,
            "currency": "USD",
            "exchangeTimezoneName": "America/New_York",
            "instrumentType": "FUTURE",
            "symbol": "RTY=F",
        },
        "contract_month": "2026-03",
    }
    assert symbols["^RUT"]["history_metadata"]["instrumentType"] == "INDEX"
    assert (symbols["^RUT"]["contract"], symbols["^RUT"]["contract_month"]) == ("^RUT", None)
    assert symbols["RTYM26.CME"]["contract_month"] == "2026-06"
    assert json.loads(json.dumps(batch.metadata)) == batch.metadata

    # one history request per symbol, for exactly the window (yfinance's end is exclusive)
    for symbol in symbols:
        [request] = history_requests(fake_yahoo, symbol)
        assert (request.period1, request.period2) == (
            ny_midnight(MON),
            ny_midnight(date(2026, 2, 7)),
        )
        assert request.params["interval"] == "1d"


@pytest.mark.parametrize(
    ("start", "end", "served", "expected"),
    [
        # winter (EST): the middle two of five sessions
        (date(2026, 2, 3), date(2026, 2, 4), RTY_F, RTY_F[1:3]),
        # summer (EDT), over the 3 July holiday: a window ending on a non-trade date
        (
            date(2026, 7, 2),
            date(2026, 7, 3),
            [
                (date(2026, 7, 1), 2710.0, 2722.5, 2701.1, 2718.4, 140_001),
                (date(2026, 7, 2), 2718.0, 2730.2, 2709.9, 2726.6, 98_765),
                (date(2026, 7, 6), 2727.0, 2731.0, 2690.3, 2695.5, 150_321),
            ],
            [(date(2026, 7, 2), 2718.0, 2730.2, 2709.9, 2726.6, 98_765)],
        ),
    ],
)
def test_incremental_window_is_respected(
    fake_yahoo: FakeYahoo,
    yahoo_source: MakeSource,
    start: date,
    end: date,
    served: list[tuple[Any, ...]],
    expected: list[tuple[Any, ...]],
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(served), short_name=RTY_SHORT_NAME)
    fetched_at = datetime.combine(end + timedelta(days=3), time(12), tzinfo=UTC)

    batch = yahoo_source("continuous").fetch("RTY", start=start, end=end, fetched_at=fetched_at)

    assert batch.bars.rows() == canonical("RTY=F", expected)
    [request] = history_requests(fake_yahoo, "RTY=F")
    assert (request.period1, request.period2) == (
        ny_midnight(start),
        ny_midnight(end + timedelta(days=1)),
    )


def test_no_start_asks_for_the_whole_history(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)

    batch = yahoo_source("continuous").fetch("RTY", start=None, end=FRI, fetched_at=FETCHED_AT)

    assert batch.bars.rows() == canonical("RTY=F", RTY_F)
    assert batch.window_start is None and batch.metadata["yahoo_request"]["start"] is None
    [request] = history_requests(fake_yahoo, "RTY=F")
    assert request.period2 == ny_midnight(date(2026, 2, 7))
    assert request.period1 is not None and request.period1 < ny_midnight(date(1950, 1, 1))


def test_a_revised_bar_is_seen_by_the_next_fetch(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    source = yahoo_source("continuous")
    first = source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    revised = [*RTY_F[:3], (date(2026, 2, 5), 2620.2, 2628.6, 2588.0, 2596.1, 204_112), RTY_F[4]]
    fake_yahoo.set_bars("RTY=F", rows(revised))

    # the same window again in the same process: yfinance would replay its cached answer
    second = source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)

    thursday = pl.col("session_date") == date(2026, 2, 5)
    assert first.bars.filter(thursday).select("close", "volume").row(0) == (2594.3, 201_377)
    assert second.bars.filter(thursday).select("close", "volume").row(0) == (2596.1, 204_112)
    assert first.sha256 != second.sha256
    assert len(history_requests(fake_yahoo, "RTY=F")) == 2


# -- failures ----------------------------------------------------------------------------------


def test_rate_limited_then_success_after_reset(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    # yfinance re-sends a failed request once: two 429s fail one attempt
    fake_yahoo.fail_next("RTY=F", 429, times=2)
    source = yahoo_source("continuous")

    with pytest.raises(TransientSourceError) as failure:
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    assert "rate limited (HTTP 429)" in str(failure.value)
    assert "RTY=F (2026-02-02..2026-02-06)" in str(failure.value)

    reset_yfinance_state()  # what the flow does before the retry
    batch = source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)

    assert batch.bars["close"].to_list() == [row[4] for row in RTY_F]
    assert [r.status for r in fake_yahoo.chart_requests("RTY=F")] == [429, 429, 200, 200]


def test_a_missing_index_keeps_the_futures_and_a_rate_limited_one_is_retried(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    source = yahoo_source("continuous")
    # Yahoo does not know the index (or has no bar in the window, as on a CME-only holiday): the
    # feed is kept and the failure recorded; the rolls are then measured without the index.
    batch = source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    assert batch.bars.rows() == canonical("RTY=F", RTY_F)
    error = batch.metadata["symbols"]["^RUT"]
    assert (error["contract"], error["rows"]) == ("^RUT", 0)
    assert error["error"].startswith("yahoo: unknown symbol ^RUT (2026-02-02..2026-02-06)")
    # A rate-limited index fails the attempt like any symbol: the flow retries it.
    fake_yahoo.set_bars("^RUT", rows(RUT), short_name="Russell 2000")
    fake_yahoo.fail_next("^RUT", 429, times=2)
    reset_yfinance_state()
    with pytest.raises(TransientSourceError, match=r"rate limited .* \^RUT"):
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    reset_yfinance_state()
    batch = source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    assert batch.bars.rows() == canonical("RTY=F", RTY_F) + canonical("^RUT", RUT)


def test_a_failed_answer_is_never_replayed_from_yfinance_cache(
    fake_yahoo: FakeYahoo, fake_session: Any, yahoo_source: MakeSource
) -> None:
    import yfinance as yf

    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    source = yahoo_source("continuous")
    source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)  # caches the time zone
    fake_yahoo.fail_next("RTY=F", 503, times=2)

    with pytest.raises(TransientSourceError, match=r"RTY=F \(2026-02-02..2026-02-06\)"):
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    assert [r.status for r in history_requests(fake_yahoo, "RTY=F")] == [200, 503, 503]

    # The hazard: yfinance on its own answers the same request from its cache, the 503 included,
    # although Yahoo is healthy again (no request reaches the fake).
    def yfinance_alone() -> Any:
        return yf.Ticker("RTY=F", session=fake_session).history(
            start=MON.isoformat(),
            end="2026-02-07",
            auto_adjust=False,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )

    with pytest.raises(yf.exceptions.YFDataException):
        yfinance_alone()
    assert len(history_requests(fake_yahoo, "RTY=F")) == 3
    # ... until reset_yfinance_state() clears it (the flow calls it before every attempt)
    reset_yfinance_state()
    assert yfinance_alone()["Close"].to_list() == [row[4] for row in RTY_F]

    fake_yahoo.fail_next("RTY=F", 503, times=2)
    with pytest.raises(TransientSourceError):
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    # the source itself never serves a cached answer: its next fetch asks Yahoo again
    batch = source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    assert batch.bars.height == 5
    assert [r.status for r in history_requests(fake_yahoo, "RTY=F")][-3:] == [503, 503, 200]


def test_reset_forgets_a_crumb_spoiled_by_rate_limiting(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    fake_yahoo.set_bars("^RUT", rows(RUT), short_name="Russell 2000")
    fake_yahoo.fail_crumb_next(429)
    source = yahoo_source("continuous")

    # The chart API answers without a valid crumb, so both fetches succeed; but yfinance keeps the
    # 429 body as its crumb and sends it on every request until reset_yfinance_state() drops it.
    for _ in range(2):
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    reset_yfinance_state()
    source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)

    sent = [r.params.get("crumb") for r in history_requests(fake_yahoo, "RTY=F")]
    assert sent == [RATE_LIMIT_BODY.decode(), RATE_LIMIT_BODY.decode(), CRUMB]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, None),  # Yahoo's "Will be right back" page
        (502, b"Bad Gateway"),
        (500, b"<html><body>Internal Server Error</body></html>"),
    ],
)
@pytest.mark.parametrize("time_zone_cached", [False, True], ids=["first-fetch", "later-fetch"])
def test_server_errors_are_transient_every_time(
    fake_yahoo: FakeYahoo,
    yahoo_source: MakeSource,
    status: int,
    body: bytes | None,
    time_zone_cached: bool,
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    source = yahoo_source("continuous")
    if time_zone_cached:  # yfinance then skips its time-zone probe: the history request fails
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    fake_yahoo.fail_always("RTY=F", status, body=body)
    fake_yahoo.clear_requests()

    for attempt in (1, 2):
        with pytest.raises(TransientSourceError, match=r"RTY=F \(2026-02-02..2026-02-06\)"):
            source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
        statuses = [r.status for r in fake_yahoo.chart_requests("RTY=F")]
        assert statuses == [status] * 2 * attempt  # Yahoo asked again on every attempt
        reset_yfinance_state()


def test_transport_error_is_transient(yfinance_cache_dir: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = make_session(port)
    source = YahooSource(session=session, mode="continuous", cache_dir=yfinance_cache_dir)

    with pytest.raises(TransientSourceError, match=r"transport error fetching RTY=F \(2026-02-02"):
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)
    session.close()


def test_unknown_symbol_is_a_source_error_naming_symbol_and_window(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    import yfinance.base

    fake_yahoo.set_bars("RTYM26.CME", rows(RTY_M26))
    # yfinance's .info fallback would turn this into an HTTP 404 from another endpoint (an OSError,
    # hence "transient"): the source must switch it off itself.
    yfinance.base._tz_info_fetch_ctr = 0

    with pytest.raises(SourceError) as failure:
        yahoo_source("contracts").fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)

    assert not isinstance(failure.value, TransientSourceError)
    assert "unknown symbol RTYH26.CME (2026-02-02..2026-02-06)" in str(failure.value)
    assert all("quoteSummary" not in r.path for r in fake_yahoo.requests)


def test_a_symbol_that_disappears_is_a_source_error(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)
    source = yahoo_source("continuous")
    source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)  # time zone now cached
    fake_yahoo.remove_symbol("RTY=F")

    with pytest.raises(SourceError) as failure:
        source.fetch("RTY", start=MON, end=FRI, fetched_at=FETCHED_AT)

    assert not isinstance(failure.value, TransientSourceError)
    assert "unknown symbol RTY=F (2026-02-02..2026-02-06): No data found" in str(failure.value)


def test_no_bars_for_final_sessions_is_a_source_error(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F), short_name=RTY_SHORT_NAME)  # February only

    with pytest.raises(SourceError) as failure:
        yahoo_source("continuous").fetch(
            "RTY", start=date(2026, 1, 5), end=date(2026, 1, 9), fetched_at=FETCHED_AT
        )

    assert not isinstance(failure.value, TransientSourceError)
    assert str(failure.value) == (
        "yahoo: no bars for RTY=F in 2026-01-05..2026-01-09, although 5 trade date(s) there "
        "were final when fetched (2026-01-05..2026-01-09)"
    )


def test_no_bar_yet_for_an_unfinished_session_is_not_an_error(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    fake_yahoo.set_bars("RTY=F", rows(RTY_F[:4]), short_name=RTY_SHORT_NAME)  # up to Thursday
    friday_morning = datetime.combine(FRI, time(10), tzinfo=ET)

    batch = yahoo_source("continuous").fetch("RTY", start=FRI, end=FRI, fetched_at=friday_morning)

    assert batch.bars.is_empty() and batch.raw.num_rows == 0
    assert batch.metadata["symbols"]["RTY=F"]["rows"] == 0
    assert len(history_requests(fake_yahoo, "RTY=F")) == 1  # Yahoo was asked


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 2, 7), date(2026, 2, 8)),  # a weekend
        (date(2026, 2, 6), date(2026, 2, 5)),  # start after end
        (date(2025, 12, 25), date(2025, 12, 25)),  # Christmas
    ],
)
def test_an_empty_window_asks_yahoo_nothing(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource, start: date, end: date
) -> None:
    serve_rty_week(fake_yahoo)

    batch = yahoo_source("all").fetch("RTY", start=start, end=end, fetched_at=FETCHED_AT)

    assert fake_yahoo.requests == []
    assert batch.bars.is_empty() and batch.bars.schema == pl.Schema(BAR_SCHEMA)
    assert batch.raw.num_rows == 0 and "Close" in batch.raw.schema.names
    assert (batch.window_start, batch.window_end) == (start, end)
    assert "no CME trade date" in batch.metadata["note"]


# -- rows the source must not drop -------------------------------------------------------------


def test_a_partial_last_session_is_returned_with_its_trade_date(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    live_stamp = datetime.combine(FRI, time(14, 32), tzinfo=ET)  # Yahoo's live row, mid-session
    served = [
        *rows(RTY_F[:4]),
        {"timestamp": live_stamp, "open": 2595.0, "high": 2611.2, "low": 2590.5, "close": 2604.4},
    ]
    fake_yahoo.set_bars("RTY=F", served, short_name=RTY_SHORT_NAME)
    before_the_close = datetime.combine(FRI, time(15, 0), tzinfo=ET)

    batch = yahoo_source("continuous").fetch("RTY", start=MON, end=FRI, fetched_at=before_the_close)

    assert batch.bars["session_date"].to_list() == [row[0] for row in RTY_F]
    assert batch.bars.row(4) == ("RTY", "RTY=F", FRI, 2595.0, 2611.2, 2590.5, 2604.4, 0, None)


def test_weekend_duplicate_and_empty_rows_come_through(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    saturday = date(2026, 2, 7)
    served = [
        *rows(RTY_F[:3]),
        {"date": date(2026, 2, 5)},  # Yahoo's null row: no prices, no volume
        *rows([RTY_F[4], (saturday, *RTY_F[4][1:])]),  # Friday repeated on Saturday
    ]
    fake_yahoo.set_bars("RTY=F", served, short_name=RTY_SHORT_NAME)

    batch = yahoo_source("continuous").fetch(
        "RTY", start=MON, end=date(2026, 2, 8), fetched_at=datetime(2026, 2, 9, 12, tzinfo=UTC)
    )

    assert (
        batch.bars.rows()
        == [
            *canonical("RTY=F", RTY_F[:3]),
            ("RTY", "RTY=F", date(2026, 2, 5), None, None, None, None, 0, None),  # volume: yfinance
            *canonical("RTY=F", [RTY_F[4], (saturday, *RTY_F[4][1:])]),
        ]
    )
    assert batch.raw.num_rows == 6


# -- the roll of the continuous series ---------------------------------------------------------


def test_a_roll_of_the_continuous_series_is_recorded(
    fake_yahoo: FakeYahoo, yahoo_source: MakeSource
) -> None:
    march = [
        (date(2026, 3, 10), 2580.0, 2594.0, 2571.2, 2590.3, 190_000),
        (date(2026, 3, 11), 2590.1, 2601.7, 2577.9, 2582.6, 230_500),
    ]
    june = [(date(2026, 3, 12), 2601.0, 2615.4, 2588.8, 2609.9, 260_700)]  # + basis at the roll
    source = yahoo_source("continuous")
    fake_yahoo.set_bars("RTY=F", rows(march), short_name="E-mini Russell 2000 Mar 26")
    before = source.fetch(
        "RTY", start=date(2026, 3, 10), end=date(2026, 3, 11), fetched_at=FETCHED_AT + timedelta(40)
    )
    fake_yahoo.set_bars("RTY=F", rows(march + june), short_name="E-mini Russell 2000 Jun 26")
    after = source.fetch(
        "RTY", start=date(2026, 3, 12), end=date(2026, 3, 12), fetched_at=FETCHED_AT + timedelta(40)
    )

    names = [
        b.metadata["symbols"]["RTY=F"]["history_metadata"]["shortName"] for b in (before, after)
    ]
    assert names == ["E-mini Russell 2000 Mar 26", "E-mini Russell 2000 Jun 26"]
    assert [contract_month_from_short_name(n) for n in names] == [(2026, 3), (2026, 6)]
    assert [b.metadata["symbols"]["RTY=F"]["contract_month"] for b in (before, after)] == [
        "2026-03",
        "2026-06",
    ]
    assert after.bars["contract"].to_list() == ["RTY=F"]  # the series keeps its name


@pytest.mark.parametrize(
    ("short_name", "month"),
    [
        ("E-Mini S&P 500 Sep 26", (2026, 9)),
        ("E-mini Russell 2000 Index Futur Dec 25", (2025, 12)),
        ("Nasdaq 100 Mar 2027", (2027, 3)),
        ("Mini Dow Jones Indus.-$5 Jun 26 ", (2026, 6)),
        ("E-mini Russell 2000 Index Futures", None),
        ("Sep", None),
    ],
)
def test_contract_month_from_short_name(short_name: str, month: tuple[int, int] | None) -> None:
    assert contract_month_from_short_name(short_name) == month


# -- pure parts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "mode", "symbols"),
    [
        (date(2026, 3, 11), "all", ("RTY=F", "^RUT", "RTYH26.CME", "RTYM26.CME")),
        (date(2026, 3, 12), "contracts", ("RTYM26.CME", "RTYU26.CME")),  # roll date: June leads
        (date(2026, 12, 10), "continuous", ("RTY=F", "^RUT")),
        (date(2026, 12, 10), "contracts", ("RTYH27.CME", "RTYM27.CME")),  # across the year end
    ],
)
def test_yahoo_symbols(end: date, mode: Any, symbols: tuple[str, ...]) -> None:
    assert yahoo_symbols("RTY", end, mode=mode) == symbols


def test_bad_root_and_mode_are_refused() -> None:
    with pytest.raises(SourceError, match="no root 'XX'"):
        yahoo_symbols("XX", FRI)
    with pytest.raises(ValueError, match="unknown yahoo mode 'front'"):
        YahooSource(mode="front")  # type: ignore[arg-type]


def test_session_date_is_the_cme_trade_date_of_the_stamp() -> None:
    stamps = [
        datetime(2026, 3, 6, 5, 0, tzinfo=UTC),  # 00:00 EST Friday
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # 00:00 EDT Monday, after the DST change
        datetime(2026, 3, 9, 21, 0, tzinfo=UTC),  # 17:00 EDT: Monday's close
        datetime(2026, 3, 9, 22, 0, tzinfo=UTC),  # 18:00 EDT: Tuesday's Globex open
        datetime(2026, 11, 2, 3, 59, tzinfo=UTC),  # 22:59 EST Sunday 1 Nov: Monday's session
    ]
    raw = pa.table(
        {
            "symbol": ["RTY=F"] * len(stamps),
            "Date": pa.array(stamps, pa.timestamp("s", tz="UTC")),
            "Open": [1.0] * len(stamps),
            "High": [1.0] * len(stamps),
            "Low": [1.0] * len(stamps),
            "Close": [1.0] * len(stamps),
            "Volume": [1] * len(stamps),
        }
    )
    assert bars_from_raw(raw, "RTY")["session_date"].to_list() == [
        date(2026, 3, 6),
        date(2026, 3, 9),
        date(2026, 3, 9),
        date(2026, 3, 10),
        date(2026, 11, 2),
    ]


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


def _http_error(status: int) -> Exception:
    from curl_cffi.requests.exceptions import HTTPError

    return HTTPError(f"HTTP Error {status}", 0, _Response(status))


@pytest.mark.parametrize(
    ("make_error", "transient"),
    [
        (lambda: _http_error(429), True),
        (lambda: _http_error(500), True),
        (lambda: _http_error(503), True),
        (lambda: _http_error(404), False),  # e.g. yfinance's .info fallback for an unknown symbol
        (lambda: _http_error(401), False),
        (lambda: KeyError("chart"), True),  # a JSON answer that is not a chart (an error page)
        (lambda: json.JSONDecodeError("Expecting value", "<html>", 0), True),
        (lambda: TimeoutError("timed out"), True),
        (lambda: TypeError("unsupported operand"), False),  # a bug, not the network
    ],
)
def test_errors_are_classified(make_error: Callable[[], Exception], transient: bool) -> None:
    error = fetch_error(make_error(), "ES=F", "2026-02-02..2026-02-06")

    assert isinstance(error, SourceError)
    assert isinstance(error, TransientSourceError) is transient
    assert "ES=F (2026-02-02..2026-02-06)" in str(error)


def test_importing_the_module_does_not_import_yfinance() -> None:
    code = "import sys, pipeline.sources.yahoo; sys.exit('yfinance' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
