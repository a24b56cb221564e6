"""A local fake of Yahoo Finance's HTTP API, so tests run the real yfinance + curl_cffi code path offline.

What it serves (enough for ``yf.Ticker(symbol, session=...).history(start=..., end=...)``):

* ``https://fc.yahoo.com/`` -> 404 with ``Set-Cookie: A3=...`` (Yahoo's cookie step),
* ``/v1/test/getcrumb`` on query1/query2 -> a crumb string,
* ``/v8/finance/chart/{SYMBOL}`` -> the chart JSON for the daily bars set with :meth:`FakeYahoo.set_bars`
  (futures, per-contract tickers and cash indexes such as ``^RUT``, listed as ``INDEX``),
  filtered to ``period1 <= timestamp < period2``; ``range=1d`` (yfinance's time-zone probe) -> the last
  bar; a window with no bars -> a result without ``timestamp`` (what Yahoo sends); an unknown symbol
  -> HTTP 404 with Yahoo's ``{"chart": {"result": null, "error": {...}}}`` body,
* anything else (the consent pages yfinance tries after a failure) -> 404.

Scripted failures answer chart requests for one symbol with an HTTP status instead: 429 with Yahoo's
``Too Many Requests`` text, 5xx with Yahoo's HTML "Will be right back" page. Note that yfinance re-sends
a request once after any HTTP status >= 400 (with its other cookie strategy), so one failed fetch
attempt consumes TWO scripted failures of the symbol.

Usage::

    with FakeYahoo() as fake:
        fake.set_bars("RTY=F", [{"date": date(2026, 2, 4), "open": 2650.0, ...}], short_name="...")
        session = fake.session()          # curl_cffi session resolving Yahoo's hosts to the fake
        isolate_yfinance(tmp_path / "yf")  # fresh yfinance caches, exceptions raised
        yf.Ticker("RTY=F", session=session).history(start="2026-02-02", end="2026-02-07")
        fake.chart_requests("RTY=F")      # what yfinance asked for

The server is a stdlib ``ThreadingHTTPServer`` behind TLS with a self-signed certificate made at
test time (with ``cryptography`` when importable, else the ``openssl`` command); the session does not
verify it. No sleeps anywhere: every answer is immediate.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

import polars as pl

#: Every host yfinance talks to (cookie, crumb, chart, and the consent pages of its fallback).
YAHOO_HOSTS: tuple[str, ...] = (
    "fc.yahoo.com",
    "query1.finance.yahoo.com",
    "query2.finance.yahoo.com",
    "guce.yahoo.com",
    "consent.yahoo.com",
    "finance.yahoo.com",
)
CHART_PATH = "/v8/finance/chart/"
CRUMB_PATH = "/v1/test/getcrumb"
CRUMB = "fAkEcRuMb0"
#: The A3 cookie must carry an expiry: yfinance persists it and compares the expiry on reload.
COOKIE_LIFETIME = timedelta(days=365)
NEW_YORK = ZoneInfo("America/New_York")
#: Chart ranges Yahoo lists for futures (yfinance checks a ``period`` against them).
VALID_RANGES = ("1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max")
UNKNOWN_SYMBOL_BODY = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}
RATE_LIMIT_BODY = b"Edge: Too Many Requests"
SERVER_DOWN_BODY = (
    b"<!DOCTYPE html><html><head><title>Yahoo</title></head>"
    b"<body><p>Will be right back...</p></body></html>"
)


@dataclass(frozen=True)
class FakeBar:
    """One daily bar as Yahoo serves it: ``timestamp`` in epoch seconds (Yahoo stamps daily futures
    bars at 00:00 America/New_York of the trade date); a None price or volume is sent as JSON null."""

    timestamp: int
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: int | None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered: the Host it was addressed to, path, query and the status sent."""

    host: str
    path: str
    params: dict[str, str]
    status: int

    @property
    def symbol(self) -> str | None:
        """The chart symbol, or None for a cookie/crumb/consent request."""
        return self.path[len(CHART_PATH) :] if self.path.startswith(CHART_PATH) else None

    @property
    def is_probe(self) -> bool:
        """yfinance's time-zone probe (``range=1d``) rather than a history request."""
        return "range" in self.params

    @property
    def period1(self) -> int | None:
        return int(self.params["period1"]) if "period1" in self.params else None

    @property
    def period2(self) -> int | None:
        return int(self.params["period2"]) if "period2" in self.params else None


@dataclass
class _Series:
    bars: list[FakeBar]
    short_name: str


@dataclass
class _Failure:
    status: int
    remaining: int | None  # None: forever
    body: bytes


@dataclass
class _State:
    series: dict[str, _Series] = field(default_factory=dict)
    failures: dict[str, list[_Failure]] = field(default_factory=dict)
    log: list[RecordedRequest] = field(default_factory=list)


def ny_midnight(d: date) -> int:
    """Epoch seconds of 00:00 America/New_York on ``d`` (how Yahoo stamps a daily futures bar).

    >>> ny_midnight(date(2026, 2, 4)), ny_midnight(date(2026, 7, 1))  # EST, then EDT
    (1770181200, 1782878400)
    """
    return int(datetime.combine(d, time(0), tzinfo=NEW_YORK).timestamp())


def fake_bars(rows: pl.DataFrame | Iterable[Mapping[str, Any]]) -> list[FakeBar]:
    """Bars from rows with a ``date`` (or ``session_date``: stamped 00:00 New York) or a
    ``timestamp`` (aware datetime or epoch seconds), and ``open``, ``high``, ``low``, ``close``,
    ``volume`` (missing or None: JSON null). A BAR_SCHEMA frame (e.g. one contract of
    ``demo_bars``) works as is. Order and duplicates are kept: the fake serves what it is given.

    >>> fake_bars([{"date": date(2026, 2, 4), "close": 2650.5}])
    [FakeBar(timestamp=1770181200, open=None, high=None, low=None, close=2650.5, volume=None)]
    """
    dicts = rows.to_dicts() if isinstance(rows, pl.DataFrame) else [dict(r) for r in rows]
    return [
        FakeBar(
            timestamp=_timestamp_of(row),
            open=row.get("open"),
            high=row.get("high"),
            low=row.get("low"),
            close=row.get("close"),
            volume=row.get("volume"),
        )
        for row in dicts
    ]


def _timestamp_of(row: Mapping[str, Any]) -> int:
    if "timestamp" in row:
        stamp = row["timestamp"]
        if isinstance(stamp, datetime):
            if stamp.tzinfo is None:
                raise ValueError(f"timestamp {stamp} must be timezone-aware")
            return int(stamp.timestamp())
        return int(stamp)
    day = row.get("date", row.get("session_date"))
    if not isinstance(day, date):
        raise ValueError(f"row needs a date, session_date or timestamp: {dict(row)}")
    return ny_midnight(day)


class FakeYahoo:
    """The fake Yahoo server (TLS on 127.0.0.1, a free port) with a small programmable API.

    Thread-safe: the handler threads and the test share one lock.
    """

    def __init__(self, *, exchange_timezone: str = "America/New_York") -> None:
        self.exchange_timezone = exchange_timezone
        self._state = _State()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeYahoo:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        # The handshake happens in each handler thread (on first read), never in the accept loop.
        server.socket = _tls_context().wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeYahoo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(
                "FakeYahoo is not running: call start() or use it as a context manager"
            )
        return int(self._server.server_address[1])

    def session(self) -> Any:
        """A curl_cffi session that sends Yahoo's hosts to this server (see :func:`make_session`)."""
        return make_session(self.port)

    # -- programming it ----------------------------------------------------------------------

    def set_bars(
        self,
        symbol: str,
        rows: pl.DataFrame | Iterable[Mapping[str, Any]],
        *,
        short_name: str | None = None,
    ) -> None:
        """Serve ``rows`` (see :func:`fake_bars`) for ``symbol``, replacing what it served before.

        ``short_name`` is ``meta.shortName`` (for ``=F`` series it names the contract month, e.g.
        "E-Mini S&P 500 Sep 26"); None keeps the previous one (or the symbol for a new series).
        """
        bars = fake_bars(rows)
        with self._lock:
            previous = self._state.series.get(symbol)
            name = short_name or (previous.short_name if previous else symbol)
            self._state.series[symbol] = _Series(bars, name)

    def remove_symbol(self, symbol: str) -> None:
        """Make ``symbol`` unknown again (an expired contract: 404)."""
        with self._lock:
            self._state.series.pop(symbol, None)

    def fail_next(
        self, symbol: str, status: int = 429, *, times: int = 1, body: bytes | None = None
    ) -> None:
        """Answer the next ``times`` chart requests for ``symbol`` with HTTP ``status`` (queued after
        failures already scripted). Remember yfinance sends a failed request twice."""
        self._script(symbol, _Failure(status, times, body or _default_body(status)))

    def fail_always(self, symbol: str, status: int = 503, *, body: bytes | None = None) -> None:
        """Answer every chart request for ``symbol`` with HTTP ``status`` until :meth:`clear_failures`."""
        self._script(symbol, _Failure(status, None, body or _default_body(status)))

    def fail_crumb_next(self, status: int = 429, *, times: int = 1) -> None:
        """Answer the next ``times`` crumb requests with HTTP ``status`` (Yahoo rate-limits those too)."""
        self._script(CRUMB_PATH, _Failure(status, times, _default_body(status)))

    def clear_failures(self, symbol: str | None = None) -> None:
        """Drop scripted failures: of ``symbol`` (CRUMB_PATH: the crumb's), or all."""
        with self._lock:
            if symbol is None:
                self._state.failures.clear()
            else:
                self._state.failures.pop(symbol, None)

    def _script(self, key: str, failure: _Failure) -> None:
        """Queue ``failure`` for ``key``: a chart symbol, or CRUMB_PATH for the crumb endpoint."""
        if failure.remaining is not None and failure.remaining < 1:
            raise ValueError(f"times must be >= 1, got {failure.remaining}")
        with self._lock:
            self._state.failures.setdefault(key, []).append(failure)

    # -- what happened -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first."""
        with self._lock:
            return list(self._state.log)

    def chart_requests(
        self, symbol: str | None = None, *, probes: bool = True
    ) -> list[RecordedRequest]:
        """Chart requests (for ``symbol``, or all), optionally without the ``range=1d`` probes."""
        return [
            r
            for r in self.requests
            if r.symbol is not None
            and (symbol is None or r.symbol == symbol)
            and (probes or not r.is_probe)
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._state.log.clear()

    # -- answering (called from handler threads) ---------------------------------------------

    def _answer(self, host: str, path: str, params: dict[str, str]) -> _Response:
        with self._lock:
            response = self._route(host, path, params)
            self._state.log.append(RecordedRequest(host, path, params, response.status))
        return response

    def _route(self, host: str, path: str, params: dict[str, str]) -> _Response:
        if host == "fc.yahoo.com":
            expires = (datetime.now(UTC) + COOKIE_LIFETIME).strftime("%a, %d %b %Y %H:%M:%S GMT")
            cookie = f"A3=d=AQABBfake&S=AQAAAfake; Expires={expires}; Domain=.yahoo.com; Path=/; Secure; HttpOnly"
            return _Response(404, b"Not Found", "text/plain", (("Set-Cookie", cookie),))
        if path == CRUMB_PATH:
            return self._scripted_failure(CRUMB_PATH) or _Response(
                200, CRUMB.encode(), "text/plain"
            )
        if path.startswith(CHART_PATH):
            return self._chart(path[len(CHART_PATH) :], params)
        return _Response(404, b"Not Found", "text/plain")

    def _scripted_failure(self, key: str) -> _Response | None:
        queue = self._state.failures.get(key)
        if not queue:
            return None
        failure = queue[0]
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining == 0:
                queue.pop(0)
        return _Response(failure.status, failure.body, _content_type(failure.body))

    def _chart(self, symbol: str, params: dict[str, str]) -> _Response:
        failed = self._scripted_failure(symbol)
        if failed is not None:
            return failed
        series = self._state.series.get(symbol)
        if series is None:
            return _json_response(404, UNKNOWN_SYMBOL_BODY)
        if "range" in params:
            bars = series.bars[-1:]
        else:
            first = int(params.get("period1", 0))
            end = int(params.get("period2", 2**62))
            bars = [b for b in series.bars if first <= b.timestamp < end]
        return _json_response(200, self._chart_body(symbol, series, bars, params.get("range")))

    def _chart_body(
        self, symbol: str, series: _Series, bars: list[FakeBar], range_: str | None
    ) -> dict[str, Any]:
        tz = ZoneInfo(self.exchange_timezone)
        last = series.bars[-1] if series.bars else None
        offset = datetime.fromtimestamp(last.timestamp if last else 0, tz).utcoffset()
        index = symbol.startswith("^")  # a cash index (^GSPC): Yahoo lists it as an index
        meta: dict[str, Any] = {
            "currency": "USD",
            "symbol": symbol,
            "exchangeName": "SNP" if index else "CME",
            "fullExchangeName": "SNP" if index else "CME",
            "instrumentType": "INDEX" if index else "FUTURE",
            "firstTradeDate": series.bars[0].timestamp if series.bars else None,
            "regularMarketTime": last.timestamp if last else None,
            "hasPrePostMarketData": False,
            "gmtoffset": int(offset.total_seconds()) if offset else 0,
            "timezone": datetime.fromtimestamp(last.timestamp if last else 0, tz).tzname(),
            "exchangeTimezoneName": self.exchange_timezone,
            "regularMarketPrice": last.close if last else None,
            "shortName": series.short_name,
            "chartPreviousClose": series.bars[0].close if series.bars else None,
            "priceHint": 2,
            "dataGranularity": "1d",
            "range": range_ or "",
            "validRanges": list(VALID_RANGES),
        }
        result: dict[str, Any] = {"meta": meta}
        if bars:
            result["timestamp"] = [b.timestamp for b in bars]
            result["indicators"] = {
                "quote": [
                    {
                        "open": [b.open for b in bars],
                        "high": [b.high for b in bars],
                        "low": [b.low for b in bars],
                        "close": [b.close for b in bars],
                        "volume": [b.volume for b in bars],
                    }
                ],
                "adjclose": [{"adjclose": [b.close for b in bars]}],
            }
        else:
            # Yahoo's answer for a window without bars: metadata, no timestamps, empty quote.
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return {"chart": {"result": [result], "error": None}}


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


def _json_response(status: int, payload: Any) -> _Response:
    return _Response(status, json.dumps(payload).encode(), "application/json;charset=utf-8")


def _default_body(status: int) -> bytes:
    return RATE_LIMIT_BODY if status == 429 else SERVER_DOWN_BODY


def _content_type(body: bytes) -> str:
    if body.lstrip().startswith((b"{", b"[")):
        return "application/json;charset=utf-8"
    return "text/html" if body.lstrip().startswith(b"<") else "text/plain"


def _handler_for(fake: FakeYahoo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so curl reuses its TLS connections

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            self._send(fake._answer(host, unquote(url.path), params))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.do_GET()

        def _send(self, response: _Response) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is fake.requests; stderr stays quiet

    return Handler


# -- the client side -------------------------------------------------------------------------


def make_session(port: int, *, hosts: Iterable[str] = YAHOO_HOSTS) -> Any:
    """A real ``curl_cffi.requests.Session`` (impersonating Chrome, as yfinance's own) that resolves
    Yahoo's ``hosts`` to 127.0.0.1:``port`` and skips certificate checks.

    ``CurlOpt.PORT`` sends every URL to ``port``; ``RESOLVE`` pins the hosts; ``NOPROXY`` and
    ``trust_env=False`` keep proxy variables of the environment out of the way.
    """
    from curl_cffi import CurlOpt
    from curl_cffi.requests import Session

    return Session(
        impersonate="chrome",
        verify=False,
        trust_env=False,
        curl_options={
            CurlOpt.PORT: port,
            CurlOpt.NOPROXY: "*",
            CurlOpt.RESOLVE: [f"{host}:{port}:127.0.0.1" for host in hosts],
        },
    )


def isolate_yfinance(cache_dir: Path) -> None:
    """Put yfinance in a known state for a test: caches (time zones, cookie) in ``cache_dir``,
    crumb/cookie and response cache forgotten, exceptions raised instead of logged, and no
    ``.info`` fallback when the time-zone probe fails (it would send extra requests).
    """
    import yfinance
    import yfinance.base

    from pipeline.sources.yahoo import reset_yfinance_state, use_yfinance_cache_dir

    use_yfinance_cache_dir(cache_dir)
    yfinance.config.debug.hide_exceptions = False
    yfinance.base._tz_info_fetch_ctr = 2
    reset_yfinance_state()


# -- TLS -------------------------------------------------------------------------------------


def _tls_context() -> ssl.SSLContext:
    cert, key = _self_signed_certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])  # the stdlib server speaks no HTTP/2
    return context


@lru_cache(maxsize=1)
def _self_signed_certificate() -> tuple[Path, Path]:
    """(certificate, key) PEM files for the Yahoo hosts, made once per process."""
    directory = Path(tempfile.mkdtemp(prefix="fake-yahoo-tls-"))
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _write_with_cryptography(cert, key)
    except ImportError:
        _write_with_openssl(cert, key)
    return cert, key


def _write_with_cryptography(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yahoo.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in YAHOO_HOSTS]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write_with_openssl(cert_path: Path, key_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("FakeYahoo needs the cryptography package or the openssl command")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=yahoo.com",
            "-keyout",
            str(key_path),
            "-out",
            str(cert_path),
        ],
        check=True,
        capture_output=True,
    )
