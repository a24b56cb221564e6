"""The real daily files of ../shared/data loaded the way a user loads them (tests and benchmarks).

Each file goes through the project's own file source, the validation suite (bad rows
quarantined, the provisional last row deferred) and the continuous series builder: exactly the
bars the nightly would analyse after ``callbook ingest --source file``. TF1 (ICE Russell 2000
mini, 2006-2018) is loaded as RTY: its predecessor contract, a front-month feed like RTY=F. YM and
TF1 come with their cash index (^DJI, ^RUT), as ``callbook ingest --index-path`` loads them.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES: dict[str, str] = {
    "ES": "ES_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv",
    "NQ": "NQ_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv",
    "YM": "YM_F_yahoo_continuous_daily_2002-04-05_2026-02-23.csv",
    "RTY": "TF1_ICE_russell2000_mini_front_month_quandl_daily_2006-12-18_2018-06-15.csv",
    "CL": "CL_F_yahoo_continuous_daily_2000-08-23_2026-02-23.csv",
    "GC": "GC_F_yahoo_continuous_daily_2000-08-30_2026-02-23.csv",
    "ZN": "ZN_F_yahoo_continuous_daily_2000-09-21_2026-02-23.csv",
    "ZC": "ZC_F_yahoo_continuous_daily_2000-07-17_2026-02-23.csv",
}
#: The equity-index roots (with their peers) and the roots beyond equity indexes (issue 19).
EQUITY_ROOTS = ("ES", "NQ", "YM", "RTY")
NEW_ROOTS = ("CL", "GC", "ZN", "ZC")
#: The cash index paired with a front-month file (the rolls are measured from the basis).
INDEX_FILES: dict[str, str] = {
    "YM": "DJI_index_daily_1992-01-02_2026-02-23.csv",
    "RTY": "RUT_index_daily_1987-09-10_2026-02-23.csv",
}
#: What each root's file really is (RTY here is TF1).
LABELS: dict[str, str] = {
    "ES": "ES", "NQ": "NQ", "YM": "YM", "RTY": "TF1 (as RTY)",
    "CL": "CL", "GC": "GC", "ZN": "ZN", "ZC": "ZC",
}  # fmt: skip
LAST_DAY = date(2026, 2, 23)
#: The files were captured during the 2026-02-23 session: its row is provisional.
FETCHED_AT = datetime(2026, 2, 23, 15, 0, tzinfo=ZoneInfo("America/New_York"))


def real_series(root: str, *, data: Path = SHARED_DATA) -> pl.DataFrame:
    """The continuous series of ``root``'s real file: file source -> validation -> series."""
    return real_series_and_rolls(root, data=data)[0]


def real_series_and_rolls(
    root: str, *, data: Path = SHARED_DATA
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The series and its roll table (ROLL_SCHEMA): YM with ^DJI and TF1 with ^RUT are sized
    from the basis, ES and NQ (no index file) bounded by carry."""
    from pipeline.market.continuous import continuous_series_and_rolls
    from pipeline.quality.suite import validate_batch
    from pipeline.sources.file import FileSource

    index = INDEX_FILES.get(root)
    source = FileSource(data / FILES[root], index_path=None if index is None else data / index)
    batch = source.fetch(root, start=None, end=LAST_DAY, fetched_at=FETCHED_AT)
    return continuous_series_and_rolls(validate_batch(batch).clean)


def available(data: Path = SHARED_DATA) -> bool:
    return all((data / name).is_file() for name in (*FILES.values(), *INDEX_FILES.values()))
