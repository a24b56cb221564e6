"""No look-ahead, for any methodology: the call published for D from the bars up to D is exactly
the call computed for D from a longer history (k sessions later) and from the whole history.

Shared by the methodologies' tests (test_engine.py for v1, v2/test_engine_v2.py): the demo
history of RTY (peers ES and NQ) and ES (peer NQ), seeded random days D and k = 1..K_MAX.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from pipeline.analysis.methodology import Methodology
from pipeline.market.calendar import add_sessions, trade_dates
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

HISTORY_END = date(2027, 12, 31)  # the demo goes on to 2035; this is history enough
FIRST_CALLS = date(2006, 1, 10)  # 250 sessions after the first demo session (2005-01-03)
LAST_D = date(2027, 9, 1)  # D + K_MAX sessions stays inside the history
SEED = 20260204
K_MAX = 60
ROOT_PEERS = {"RTY": ("ES", "NQ"), "ES": ("NQ",)}
#: Columns of the call table realised after D, by design (the outcome needs the future).
TABLE_COLUMNS_WITH_THE_FUTURE = ("outcome", "outcome_steps")


def demo_history() -> dict[str, pl.DataFrame]:
    return {
        root: demo_bars(root).filter(pl.col("session_date") <= HISTORY_END)
        for root in ("RTY", "ES", "NQ")
    }


def cut(history: Mapping[str, pl.DataFrame], root: str, last_day: date) -> dict[str, pl.DataFrame]:
    """Continuous series of the root and its peers from the bars known on ``last_day``."""
    return {
        name: continuous_series(history[name].filter(pl.col("session_date") <= last_day))
        for name in (root, *ROOT_PEERS[root])
    }


def cases(
    special: Mapping[str, Sequence[date]], random_days: Mapping[str, int]
) -> list[tuple[str, date, int]]:
    """(root, D, k): the special days and ``random_days`` seeded random ones per root."""
    rng = random.Random(SEED)
    days = trade_dates(FIRST_CALLS, LAST_D)
    out = []
    for root in ("RTY", "ES"):
        chosen = [*special[root], *rng.sample(days, random_days[root])]
        out += [(root, day, rng.randint(1, K_MAX)) for day in chosen]
    return out


def whole_history(methodology: Methodology, history: Mapping[str, pl.DataFrame]) -> dict:
    """Snapshot rows of the whole history per root."""
    return {
        root: methodology.analyse(cut(history, root, HISTORY_END), root, source="demo").snapshots
        for root in ROOT_PEERS
    }


def assert_no_look_ahead(
    methodology: Methodology,
    history: Mapping[str, pl.DataFrame],
    whole: Mapping[str, pl.DataFrame],
    case: tuple[str, date, int],
) -> None:
    """Snapshot rows and the call-table row of D alike from the bars to D, to D + k sessions
    and over the whole history; the rows hold the methodology's content columns."""
    root, day, k = case
    later = add_sessions(day, k)
    now = methodology.analyse(cut(history, root, day), root, source="demo", sessions=[day])
    then = methodology.analyse(cut(history, root, later), root, source="demo", sessions=[day])
    assert now.table["session_date"][-1] == day  # the bars really end on D
    assert then.table["session_date"][-1] == later
    assert now.snapshots.height == 1, f"no call on {day}"
    assert_frame_equal(now.snapshots, then.snapshots, check_exact=True)
    full_row = whole[root].filter(pl.col("as_of") == day)
    assert_frame_equal(now.snapshots, full_row, check_exact=True)
    columns = [c for c in now.table.columns if c not in TABLE_COLUMNS_WITH_THE_FUTURE]
    assert_frame_equal(
        now.table.tail(1).select(columns),
        then.table.filter(pl.col("session_date") == day).select(columns),
        check_exact=True,
    )
    assert list(now.snapshots.columns)[: len(methodology.content_columns) + 1] == [
        *methodology.content_columns,
        "content_hash",
    ]
