"""The real front-month feeds of ../shared/data as the warehouse would hold them: read by the file
source (with the cash index file where one exists), validated by the bar suite, clean rows only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import polars as pl

#: root -> (futures file, cash index file or None)
FILES: dict[str, tuple[str, str | None]] = {
    "ES": ("ES_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv", None),
    "NQ": ("NQ_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv", None),
    "YM": (
        "YM_F_yahoo_continuous_daily_2002-04-05_2026-02-23.csv",
        "DJI_index_daily_1992-01-02_2026-02-23.csv",
    ),
    "RTY": (
        "TF1_ICE_russell2000_mini_front_month_quandl_daily_2006-12-18_2018-06-15.csv",
        "RUT_index_daily_1987-09-10_2026-02-23.csv",
    ),
    "CL": ("CL_F_yahoo_continuous_daily_2000-08-23_2026-02-23.csv", None),
    "GC": ("GC_F_yahoo_continuous_daily_2000-08-30_2026-02-23.csv", None),
    "ZN": ("ZN_F_yahoo_continuous_daily_2000-09-21_2026-02-23.csv", None),
    "ZC": ("ZC_F_yahoo_continuous_daily_2000-07-17_2026-02-23.csv", None),
}
LAST_SESSION = date(2026, 2, 23)
#: After the close of the files' last (provisional) row: every row is final.
FETCHED_AT = datetime(2026, 2, 24, 12, 0, tzinfo=UTC)


@cache
def real_bars(shared_data: Path, root: str, *, with_index: bool) -> pl.DataFrame:
    """The clean bars (BAR_SCHEMA) of ``root``'s file, and of its index file if ``with_index``."""
    from pipeline.quality.suite import validate_batch
    from pipeline.sources.file import FileSource

    futures, index = FILES[root]
    source = FileSource(
        shared_data / futures,
        index_path=shared_data / index if with_index and index is not None else None,
    )
    batch = source.fetch(root, start=None, end=LAST_SESSION, fetched_at=FETCHED_AT)
    return validate_batch(batch).clean


@cache
def real_validation(shared_data: Path, root: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the file's canonical bars, validation findings) of ``root``'s futures file alone."""
    from pipeline.quality.suite import validate_batch
    from pipeline.sources.file import FileSource

    batch = FileSource(shared_data / FILES[root][0]).fetch(
        root, start=None, end=LAST_SESSION, fetched_at=FETCHED_AT
    )
    return batch.bars, validate_batch(batch).findings
