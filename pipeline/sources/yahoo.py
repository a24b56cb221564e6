"""Daily bars from Yahoo Finance, fetched with yfinance (``Ticker.history``, one symbol at a time).

Symbols: a root maps to Yahoo's continuous front-month series (``RTY=F``, unadjusted, spliced at
Yahoo's own roll) with its cash index (``^RUT``, ``RootSpec.cash_index``: the roll gaps of the
feed are measured against it, see :mod:`pipeline.market.rolls`), and to per-contract tickers for
the front and next contracts at the window's end (``RTYH26.CME``, ``RTYM26.CME``). ``mode`` picks
"continuous" (the feed and its index), "contracts" or "all" of them.

What a fetch promises:

* The window ``start..end`` (CME trade dates, both inclusive) is the caller's; yfinance's ``end`` is
  exclusive, so Yahoo is asked for ``start`` 00:00 to ``end + 1 day`` 00:00 New York time. A window
  without a trade date returns an empty batch without asking Yahoo.
* Nothing Yahoo returns is dropped: unfinished sessions (a live row relabelled as today), weekend rows,
  repeated rows and rows with null prices all reach validation, which decides (a bar for trade date D
  is final only after 17:00 ET on D). yfinance is asked for what it has as it has it:
  ``auto_adjust=False``, ``keepna=True``, ``repair=False``. (yfinance itself still keeps one row
  of several stamped on the same date, and turns a null volume into 0.)
* ``raw`` holds yfinance's frames as received (``symbol`` column added, Yahoo's column names);
  ``bars`` is the canonical frame aligned 1:1 with ``raw``.
* ``metadata["symbols"]`` records, per symbol fetched, Yahoo's ``history_metadata`` (shortName,
  currency, exchangeTimezoneName, instrumentType, symbol) and the contract month its shortName names
  (the ``=F`` series' name changes to the next contract once the old one has expired).
* Errors: rate limiting, HTTP 5xx and transport failures raise :class:`TransientSourceError`
  (retried by the flow); an unknown symbol, or no bars for a window holding trade dates whose
  sessions had ended by ``fetched_at``, raise :class:`SourceError` naming the symbol and the window.
  The cash index is the exception to the second rule: Yahoo has no index bar on CME-only trade
  dates, so its permanent failures are recorded (``metadata["symbols"][index]["error"]``) and the
  futures are kept; its rolls are then measured without it.

yfinance is imported on first fetch only (it costs about two seconds): importing this module stays
cheap, so the CLI's ``--help`` is fast.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args

import polars as pl
import pyarrow as pa

from pipeline.market.calendar import (
    CALENDAR_START,
    ET,
    session_end,
    trade_dates,
)
from pipeline.market.contracts import front_contract
from pipeline.market.roots import Registry, builtin_registry
from pipeline.schema import Batch, conform_bars
from pipeline.sources.base import SourceError, TransientSourceError

SOURCE_NAME = "yahoo"
Mode = Literal["continuous", "contracts", "all"]
MODES: tuple[str, ...] = get_args(Mode)

#: Yahoo's suffix for an individual CME contract (``RTYH26.CME``).
CONTRACT_SUFFIX = ".CME"
#: The keys of yfinance's ``history_metadata`` kept with each batch.
HISTORY_METADATA_KEYS: tuple[str, ...] = (
    "shortName",
    "currency",
    "exchangeTimezoneName",
    "instrumentType",
    "symbol",
)
#: Seconds yfinance waits for each HTTP answer.
REQUEST_TIMEOUT_SECONDS = 30
#: The Globex session of trade date D opens at 18:00 ET on D-1: shifting a New York timestamp by
#: the 6 hours from 18:00 to midnight puts every instant of that session on calendar day D.
TRADE_DATE_SHIFT = timedelta(hours=6)
HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500
HTTP_CLIENT_ERROR = 400
#: yfinance falls back to ``Ticker.info`` (another endpoint) when its time-zone probe fails, while
#: ``yfinance.base._tz_info_fetch_ctr`` is below this. For an unknown symbol that fallback ends in an
#: HTTP 404 error from the other endpoint instead of "no timezone found", and costs two requests.
_YFINANCE_INFO_FALLBACK_LIMIT = 2

#: The raw table of a fetch that returned no rows (the columns yfinance's frames have).
EMPTY_RAW_SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("Date", pa.timestamp("s", tz=str(ET))),
        ("Open", pa.float64()),
        ("High", pa.float64()),
        ("Low", pa.float64()),
        ("Close", pa.float64()),
        ("Adj Close", pa.float64()),
        ("Volume", pa.int64()),
        ("Dividends", pa.float64()),
        ("Stock Splits", pa.float64()),
    ]
)

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_SHORT_NAME_MONTH = re.compile(
    r"\b(?P<month>" + "|".join(_MONTHS) + r")[a-z]*\.?\s+'?(?P<year>\d{4}|\d{2})\s*$",
    re.IGNORECASE,
)


# -- pure helpers ------------------------------------------------------------------------------


def yahoo_symbols(
    root: str, end: date, *, mode: Mode = "all", registry: Registry | None = None
) -> tuple[str, ...]:
    """Yahoo symbols fetched for ``root`` over a window ending on ``end``.

    The continuous series and its cash index come first, then the front and next contracts on
    ``end`` (calendar roll). ``registry``: the roots registry (None: the built-in one).

    >>> yahoo_symbols("RTY", date(2026, 2, 4))
    ('RTY=F', '^RUT', 'RTYH26.CME', 'RTYM26.CME')
    >>> yahoo_symbols("ES", date(2026, 3, 12), mode="contracts")  # 12 March: June is the front
    ('ESM26.CME', 'ESU26.CME')
    """
    known = registry if registry is not None else builtin_registry()
    spec = known.get(root)
    if spec is None or spec.yahoo_continuous is None:
        on_yahoo = [r for r, s in known.specs.items() if s.yahoo_continuous is not None]
        raise SourceError(
            f"yahoo source has no root {root!r}; it knows {', '.join(on_yahoo)} "
            "(a root's yahoo_continuous symbol in the roots registry)"
        )
    if mode not in MODES:
        raise ValueError(f"unknown yahoo mode {mode!r}; choose {', '.join(MODES)}")
    symbols: list[str] = []
    if mode in ("continuous", "all"):
        symbols.append(spec.yahoo_continuous)
        if spec.cash_index is not None:
            symbols.append(spec.cash_index)
    if mode in ("contracts", "all") and spec.yahoo_contracts:
        front = front_contract(spec, end)
        symbols += [front.code + CONTRACT_SUFFIX, front.next().code + CONTRACT_SUFFIX]
    return tuple(symbols)


def contract_of_symbol(symbol: str) -> str:
    """The ``contract`` a Yahoo symbol's bars are stored under: the continuous symbol as is, a
    per-contract ticker without its exchange suffix.

    >>> contract_of_symbol("RTY=F"), contract_of_symbol("RTYH26.CME")
    ('RTY=F', 'RTYH26')
    """
    return symbol.removesuffix(CONTRACT_SUFFIX)


def contract_month_from_short_name(short_name: str) -> tuple[int, int] | None:
    """(year, month) of the contract a Yahoo shortName names, or None if it names none.

    Yahoo's ``=F`` series name their current contract ("E-Mini S&P 500 Sep 26"). Two-digit years
    map to 2000-2099.

    >>> contract_month_from_short_name("E-Mini S&P 500 Sep 26")
    (2026, 9)
    >>> contract_month_from_short_name("Russell 2000 Dec 2025"), contract_month_from_short_name("Russell 2000")
    ((2025, 12), None)
    """
    match = _SHORT_NAME_MONTH.search(short_name.strip())
    if match is None:
        return None
    year = int(match["year"])
    return (year if year >= 100 else 2000 + year), _MONTHS.index(match["month"].lower()) + 1


def window_label(start: date | None, end: date) -> str:
    """How errors and logs name a window.

    >>> window_label(date(2026, 2, 2), date(2026, 2, 6)), window_label(None, date(2026, 2, 6))
    ('2026-02-02..2026-02-06', 'the beginning..2026-02-06')
    """
    return f"{start or 'the beginning'}..{end}"


def window_trade_dates(start: date | None, end: date) -> list[date]:
    """CME trade dates in ``start..end`` (inclusive; ``start=None``: from the calendar's start).

    >>> window_trade_dates(date(2026, 2, 7), date(2026, 2, 8))  # a weekend
    []
    >>> window_trade_dates(date(2026, 2, 6), date(2026, 2, 9))
    [datetime.date(2026, 2, 6), datetime.date(2026, 2, 9)]
    """
    first = CALENDAR_START if start is None else start
    return trade_dates(first, end) if first <= end else []


def final_sessions(sessions: list[date], fetched_at: datetime) -> list[date]:
    """The ``sessions`` (trade dates) whose bars were final at ``fetched_at`` (17:00 ET passed).

    >>> from datetime import UTC
    >>> days = [date(2026, 2, 5), date(2026, 2, 6)]
    >>> final_sessions(days, datetime(2026, 2, 6, 21, 59, tzinfo=UTC))  # 16:59 ET
    [datetime.date(2026, 2, 5)]
    """
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    return [d for d in sessions if session_end(d) <= fetched_at]


def json_safe_history_metadata(history_metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`HISTORY_METADATA_KEYS` of yfinance's ``history_metadata``, JSON-serialisable
    (anything that is not a JSON scalar becomes its ``str``; a missing key is None).

    >>> json_safe_history_metadata({"shortName": "E-Mini S&P 500 Sep 26", "gmtoffset": -14400})
    {'shortName': 'E-Mini S&P 500 Sep 26', 'currency': None, 'exchangeTimezoneName': None, 'instrumentType': None, 'symbol': None}
    """
    out: dict[str, Any] = {}
    for key in HISTORY_METADATA_KEYS:
        value = history_metadata.get(key)
        out[key] = (
            value if value is None or isinstance(value, str | int | float | bool) else str(value)
        )
    return out


def bars_from_raw(raw: pa.Table, root: str) -> pl.DataFrame:
    """Canonical bars (BAR_SCHEMA) aligned 1:1 with a raw Yahoo table (``symbol``, ``Date``,
    ``Open``, ``High``, ``Low``, ``Close``, ``Volume``, ...).

    ``session_date`` is the CME trade date of the ``Date`` stamp: Yahoo stamps daily futures bars at
    00:00 New York time of the trade date, and a stamp in the evening (from 18:00 ET) belongs to the
    next trade date, whose Globex session it is. A tz-naive ``Date`` is read as New York wall time.
    Prices and volume are copied (nulls stay null); open interest is null (Yahoo has none).

    >>> from datetime import UTC
    >>> raw = pa.table({
    ...     "symbol": ["RTY=F", "RTYH26.CME"],
    ...     "Date": pa.array([datetime(2026, 2, 4, 5, tzinfo=UTC), datetime(2026, 2, 4, 23, tzinfo=UTC)],
    ...                      pa.timestamp("s", tz="UTC")),  # 00:00 and 18:00 ET on 4 Feb
    ...     "Open": [2650.0, 2651.0], "High": [2660.0, 2661.0], "Low": [2640.0, 2641.0],
    ...     "Close": [2655.5, 2656.5], "Volume": [120_000, 80_000]})
    >>> bars_from_raw(raw, "RTY").select("contract", "session_date", "close").rows()
    [('RTY=F', datetime.date(2026, 2, 4), 2655.5), ('RTYH26', datetime.date(2026, 2, 5), 2656.5)]
    """
    frame = pl.from_arrow(raw)
    assert isinstance(frame, pl.DataFrame)
    stamp = pl.col("Date")
    dtype = frame.schema["Date"]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        stamp = stamp.dt.convert_time_zone(str(ET))
    return conform_bars(
        frame.select(
            pl.lit(root).alias("root"),
            pl.col("symbol").str.strip_suffix(CONTRACT_SUFFIX).alias("contract"),
            (stamp + TRADE_DATE_SHIFT).dt.date().alias("session_date"),
            pl.col("Open").alias("open"),
            pl.col("High").alias("high"),
            pl.col("Low").alias("low"),
            pl.col("Close").alias("close"),
            pl.col("Volume").alias("volume"),
        )
    )


def raw_table(symbol: str, history: Any) -> pa.Table:
    """yfinance's frame for ``symbol`` (``Date`` index) as an Arrow table with a leading ``symbol``
    column, values untouched; pandas' schema metadata is dropped (it describes the index only)."""
    table = pa.Table.from_pandas(history.reset_index(), preserve_index=False)
    table = table.replace_schema_metadata(None)
    return table.add_column(0, "symbol", pa.array([symbol] * table.num_rows, pa.string()))


def concat_raw(tables: list[pa.Table]) -> pa.Table:
    """All symbols' raw tables in one; no table gives an empty :data:`EMPTY_RAW_SCHEMA` table.

    Columns a symbol lacks are null for its rows. Should two symbols' ``Date`` columns differ in
    time zone (an exchange time zone other than New York), all are shown in New York time: the
    instants are unchanged.

    >>> from datetime import UTC
    >>> a = pa.table({"symbol": ["A"], "Date": pa.array([datetime(2026, 2, 4, 5, tzinfo=UTC)], pa.timestamp("s", tz="America/New_York"))})
    >>> b = pa.table({"symbol": ["B"], "Date": pa.array([datetime(2026, 2, 4, 6, tzinfo=UTC)], pa.timestamp("s", tz="America/Chicago"))})
    >>> concat_raw([a, b]).column("Date").type, concat_raw([]).num_rows
    (TimestampType(timestamp[s, tz=America/New_York]), 0)
    """
    tables = [t for t in tables if t.num_rows > 0] or [EMPTY_RAW_SCHEMA.empty_table()]
    date_types = {t.schema.field("Date").type for t in tables}
    if len(date_types) > 1:
        tables = [_date_in_new_york(t) for t in tables]
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def _date_in_new_york(table: pa.Table) -> pa.Table:
    date_type = table.schema.field("Date").type
    unit = date_type.unit if pa.types.is_timestamp(date_type) else "s"
    index = table.schema.get_field_index("Date")
    return table.set_column(
        index, "Date", table.column("Date").cast(pa.timestamp(unit, tz=str(ET)))
    )


# -- yfinance state ----------------------------------------------------------------------------


def reset_yfinance_state() -> None:
    """Forget what yfinance keeps in-process between requests: its crumb and cookie (a crumb fetched
    while rate-limited is the error text) and its response cache (``YfData.cache_get`` replays any
    answer for a past window, failures included). Call it before each fetch attempt."""
    from yfinance.data import YfData

    data = YfData()  # the process-wide singleton
    data._set_cookie_strategy("basic")  # after a failure yfinance may have switched to "csrf"
    with data._cookie_lock:
        data._cookie = None
        data._crumb = None
    _forget_cached_responses()


def use_yfinance_cache_dir(cache_dir: Path) -> None:
    """Keep yfinance's persistent caches (time zone per symbol, cookie) in ``cache_dir``.

    ``yf.set_tz_cache_location`` only takes effect before the caches are first used, so the open
    cache handles are dropped when the location changes (tests and long-lived processes move it).
    """
    import yfinance
    import yfinance.cache as yf_cache

    if Path(yf_cache._TzDBManager.get_location()).resolve() == cache_dir.resolve():
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    yfinance.set_tz_cache_location(str(cache_dir))
    yf_cache._TzCacheManager._tz_cache = None
    yf_cache._CookieCacheManager._Cookie_cache = None
    yf_cache._ISINCacheManager._isin_cache = None


def _forget_cached_responses() -> None:
    # A fetch must see what Yahoo serves now (a revised bar, a recovered outage), never an answer
    # yfinance cached in this process for the same window.
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()


def _configured_yfinance(cache_dir: Path | None) -> ModuleType:
    import yfinance
    import yfinance.base

    if cache_dir is not None:
        use_yfinance_cache_dir(cache_dir)
    # Raise instead of logging "possibly delisted" and returning an empty frame.
    yfinance.config.debug.hide_exceptions = False
    yfinance.base._tz_info_fetch_ctr = max(
        yfinance.base._tz_info_fetch_ctr, _YFINANCE_INFO_FALLBACK_LIMIT
    )
    return yfinance


# -- the source --------------------------------------------------------------------------------


class YahooSource:
    """Daily bars for one root from Yahoo Finance (see the module docstring for the contract).

    ``session``: a curl_cffi (or requests) session for yfinance (None: yfinance's own);
    ``mode``: which symbols (:func:`yahoo_symbols`); ``cache_dir``: where yfinance keeps its
    time-zone and cookie caches (None: yfinance's default user cache directory).
    """

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        session: Any | None = None,
        mode: Mode = "all",
        cache_dir: Path | None = None,
        registry: Registry | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown yahoo mode {mode!r}; choose {', '.join(MODES)}")
        self.registry = registry if registry is not None else builtin_registry()
        self.session = session
        self.mode = mode
        self.cache_dir = None if cache_dir is None else Path(cache_dir)

    def reset(self) -> None:
        """Called by the flow before each fetch attempt: see :func:`reset_yfinance_state`."""
        reset_yfinance_state()

    def fetch(self, root: str, *, start: date | None, end: date, fetched_at: datetime) -> Batch:
        symbols = yahoo_symbols(root, end, mode=self.mode, registry=self.registry)
        sessions = window_trade_dates(start, end)
        metadata: dict[str, Any] = {
            "mode": self.mode,
            "symbols": {},
            "columns": {"volume": "Volume"},
        }
        if not sessions:
            metadata["note"] = f"no CME trade date in {window_label(start, end)}: Yahoo not asked"
            return self._batch(root, [], start, end, fetched_at, metadata)

        yf = _configured_yfinance(self.cache_dir)
        _forget_cached_responses()
        expected = final_sessions(sessions, fetched_at)
        tables = []
        index = self.registry.spec(root).cash_index
        for symbol in symbols:
            try:
                table, history_metadata = self._history(yf, symbol, start, end, expected)
            except SourceError as exc:
                if symbol != index or isinstance(exc, TransientSourceError):
                    raise
                metadata["symbols"][symbol] = {"contract": symbol, "rows": 0, "error": str(exc)}
                continue
            tables.append(table)
            short_name = history_metadata.get("shortName")
            month = contract_month_from_short_name(short_name) if short_name else None
            metadata["symbols"][symbol] = {
                "contract": contract_of_symbol(symbol),
                "rows": table.num_rows,
                "history_metadata": history_metadata,
                "contract_month": None if month is None else f"{month[0]}-{month[1]:02d}",
            }
        metadata["yahoo_request"] = {
            "start": None if start is None else start.isoformat(),
            "end_exclusive": (end + timedelta(days=1)).isoformat(),
            "interval": "1d",
        }
        metadata["yfinance_version"] = yf.__version__
        return self._batch(root, tables, start, end, fetched_at, metadata)

    def _history(
        self, yf: ModuleType, symbol: str, start: date | None, end: date, expected: list[date]
    ) -> tuple[pa.Table, dict[str, Any]]:
        """One symbol's raw table and JSON-safe history metadata; errors become SourceErrors."""
        from yfinance.exceptions import YFPricesMissingError

        window = window_label(start, end)
        ticker = yf.Ticker(symbol, session=self.session)
        try:
            with warnings.catch_warnings():
                # yfinance uses pandas APIs that pandas 3 deprecates: noise, not our concern.
                warnings.filterwarnings("ignore", category=DeprecationWarning, module="yfinance")
                history = ticker.history(
                    # No start: the whole history ("max" = 99 years before end, per yfinance).
                    **({"period": "max"} if start is None else {"start": start.isoformat()}),
                    end=(end + timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
                    interval="1d",
                    auto_adjust=False,
                    actions=True,
                    keepna=True,
                    repair=False,
                    rounding=False,
                    timeout=REQUEST_TIMEOUT_SECONDS,
                )
            table = raw_table(symbol, history)
        except YFPricesMissingError as exc:
            if exc.yahoo_reason is not None:  # Yahoo answered with an error, e.g. HTTP 404
                raise SourceError(
                    f"yahoo: unknown symbol {symbol} ({window}): {exc.yahoo_reason}"
                ) from exc
            # Yahoo knows the symbol but sent no bars for the window: judged below, as if empty.
            table = EMPTY_RAW_SCHEMA.empty_table()
        except Exception as exc:
            raise fetch_error(exc, symbol, window) from exc
        if table.num_rows == 0 and expected:
            raise SourceError(
                f"yahoo: no bars for {symbol} in {window}, although {len(expected)} trade "
                f"date(s) there were final when fetched ({expected[0]}..{expected[-1]})"
            )
        return table, json_safe_history_metadata(ticker.history_metadata)

    def _batch(
        self,
        root: str,
        tables: list[pa.Table],
        start: date | None,
        end: date,
        fetched_at: datetime,
        metadata: dict[str, Any],
    ) -> Batch:
        raw = concat_raw(tables)
        json.dumps(metadata)  # fail here, not in the warehouse, if something is not serialisable
        return Batch(
            source=SOURCE_NAME,
            root=root,
            raw=raw,
            bars=bars_from_raw(raw, root),
            fetched_at=fetched_at,
            window_start=start,
            window_end=end,
            metadata=metadata,
        )


def fetch_error(exc: Exception, symbol: str, window: str) -> SourceError:
    """The SourceError that a yfinance or transport exception means for ``symbol`` over ``window``.

    Transient: rate limiting (429), HTTP 5xx, transport failures, and answers yfinance could not read
    (a 5xx page where JSON was expected surfaces as a JSON decode error or a missing key).
    Permanent: an unknown symbol (HTTP 4xx, or yfinance finding no time zone for it) and any
    other yfinance error. yfinance does not expose the HTTP status of a chart answer, so a 5xx whose
    body is Yahoo's JSON chart error cannot be told from an unknown symbol: it is permanent too.
    """
    from yfinance.exceptions import (
        YFDataException,
        YFException,
        YFRateLimitError,
        YFTickerMissingError,
    )

    where = f"{symbol} ({window})"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, YFRateLimitError) or status == HTTP_TOO_MANY_REQUESTS:
        return TransientSourceError(f"yahoo: rate limited (HTTP 429) fetching {where}")
    if isinstance(status, int) and status >= HTTP_SERVER_ERROR:
        return TransientSourceError(f"yahoo: HTTP {status} fetching {where}: {exc}")
    if isinstance(status, int) and status >= HTTP_CLIENT_ERROR:
        return SourceError(f"yahoo: unknown symbol {where}: HTTP {status}: {exc}")
    if isinstance(exc, YFDataException):  # "Yahoo! Finance is currently down" (a 5xx page)
        return TransientSourceError(f"yahoo: Yahoo unavailable fetching {where}: {exc}")
    if isinstance(exc, YFTickerMissingError):
        return SourceError(f"yahoo: unknown symbol {where}: {exc}")
    if isinstance(exc, YFException):
        return SourceError(f"yahoo: fetching {where} failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):  # curl_cffi's errors: connection, timeout, TLS
        return TransientSourceError(
            f"yahoo: transport error fetching {where}: {type(exc).__name__}: {exc}"
        )
    if isinstance(exc, KeyError | ValueError):  # JSON decode errors are ValueErrors
        return TransientSourceError(
            f"yahoo: unreadable answer fetching {where} (a server error page?): "
            f"{type(exc).__name__}: {exc}"
        )
    return SourceError(f"yahoo: unexpected error fetching {where}: {type(exc).__name__}: {exc}")
