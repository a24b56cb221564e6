"""Write the example bar files of examples/ from the demo source (synthetic bars, never market data).

    .venv/bin/python examples/make_examples.py      # from the repository root; rewrites the files

- ``YM_F.csv``: a Yahoo export of a front-month feed (``Date,Open,High,Low,Close,Volume``, no
  contract column) for YM, the sessions of 2025, spliced from the demo contracts as Yahoo's
  ``YM=F`` is (each session: the contract expiring on or after it), with two planted faults
  validation quarantines: a bar dated Saturday 2025-03-08 (``session.trade_date``) and, on
  2025-06-10, a high below the close (``ohlc.high_bound``).
- ``DJI.csv``: the demo's cash index behind YM (``^DJI``), the same sessions, Yahoo's layout.
- ``inbox/ES/ES_2026-11-19.csv`` and ``inbox/ES/ES_2026-11-20.csv``: two files an ES vendor
  drops (``Date,Contract,Open,High,Low,Settle,Volume``, every listed contract): the history
  2025-09-02 .. 2026-11-19, then the session of 2026-11-20.

The analyst call, ``rty-2026-02-04-analyst.toml``, is written by hand (for the demo bars of RTY on
2026-02-04: settlement 2,617.4, ATR 36.1).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from pipeline.market.contracts import first_expiring_on_or_after
from pipeline.sources.demo import demo_bars, demo_index_bars

HERE = Path(__file__).resolve().parent
YAHOO_COLUMNS = {
    "session_date": "Date",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "volume": "Volume",
}
VENDOR_COLUMNS = {
    "session_date": "Date",
    "contract": "Contract",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Settle",
    "volume": "Volume",
}
FEED_FIRST, FEED_LAST = date(2025, 1, 2), date(2025, 12, 31)
SATURDAY, SATURDAY_COPY_OF = date(2025, 3, 8), date(2025, 3, 7)
HIGH_BELOW_CLOSE = date(2025, 6, 10)
INBOX_FIRST, INBOX_HISTORY_LAST, INBOX_DAY = (
    date(2025, 9, 2),
    date(2026, 11, 19),
    date(2026, 11, 20),
)


def front_month_feed(root: str, first: date, last: date) -> pl.DataFrame:
    """The demo bars of the contract expiring on or after each session (a Yahoo ``=F`` feed)."""
    bars = demo_bars(root).filter(pl.col("session_date").is_between(first, last))
    front = {d: first_expiring_on_or_after(root, d).code for d in set(bars["session_date"])}
    return bars.filter(
        pl.col("contract") == pl.col("session_date").replace_strict(front, return_dtype=pl.String)
    ).sort("session_date")


def with_planted_faults(feed: pl.DataFrame) -> pl.DataFrame:
    saturday = feed.filter(pl.col("session_date") == SATURDAY_COPY_OF).with_columns(
        session_date=pl.lit(SATURDAY)
    )
    broken = (
        pl.when(pl.col("session_date") == HIGH_BELOW_CLOSE)
        .then(pl.col("close") - 5)
        .otherwise(pl.col("high"))
    )
    return pl.concat([feed.with_columns(high=broken), saturday]).sort("session_date")


def write_csv(frame: pl.DataFrame, columns: dict[str, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.select(pl.col(c).alias(name) for c, name in columns.items()).write_csv(path)
    print(f"{path.relative_to(HERE.parent)}: {frame.height} rows, {path.stat().st_size:,} bytes")


def main() -> None:
    feed = front_month_feed("YM", FEED_FIRST, FEED_LAST)
    write_csv(with_planted_faults(feed), YAHOO_COLUMNS, HERE / "YM_F.csv")
    index = demo_index_bars("YM").filter(pl.col("session_date").is_between(FEED_FIRST, FEED_LAST))
    write_csv(index.with_columns(volume=pl.lit(0)), YAHOO_COLUMNS, HERE / "DJI.csv")

    es = demo_bars("ES").filter(pl.col("session_date").is_between(INBOX_FIRST, INBOX_DAY))
    es = es.sort("session_date", "contract")
    inbox = HERE / "inbox" / "ES"
    history = es.filter(pl.col("session_date") <= INBOX_HISTORY_LAST)
    write_csv(history, VENDOR_COLUMNS, inbox / f"ES_{INBOX_HISTORY_LAST}.csv")
    write_csv(
        es.filter(pl.col("session_date") == INBOX_DAY),
        VENDOR_COLUMNS,
        inbox / f"ES_{INBOX_DAY}.csv",
    )


if __name__ == "__main__":
    main()
