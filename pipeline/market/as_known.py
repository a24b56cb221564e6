"""Bars as known then: which sessions' calls a vendor revision made later would change.

A backfill computes the call for session D long after D. From the bars as stored now, a vendor
revision recorded after D (a corrected settlement, say) reaches D's call although nobody could
have known it on D. "As known" instead reads each bar in the version current when D was still
the last completed session (:func:`pipeline.market.calendar.session_superseded_at`); a bar first
recorded after that (history loaded later) counts in its first recorded version.

Computing every date from its own bars would cost one full analysis per date. It is not needed:
the bars up to D as known at ``T(D)`` differ from the current ones exactly when some bar version
with ``session_date <= D`` was superseded after ``T(D)`` (the version read at ``T(D)``, or the
first one, is then not the current one; without such a version every bar read is current). Only
those dates need their own computation; for all others the current-bars call is the same call.
Peers count too: a call reads its peers' series (relative strength).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from pipeline.market.calendar import session_superseded_at

#: The moment the bars of a call for session D are read as known (see the module docstring).
bars_known_at = session_superseded_at


def sessions_needing_own_bars(sessions: Sequence[date], superseded: pl.DataFrame) -> list[date]:
    """The ``sessions`` whose bars as known at ``bars_known_at(D)`` differ from the current ones.

    ``superseded``: one row per superseded bar version (``session_date``, ``superseded_at``
    tz-aware), of the root and of every peer its calls read. D qualifies iff a version with
    ``session_date <= D`` has ``superseded_at > bars_known_at(D)``. Sorted, distinct.

    >>> from datetime import datetime, timezone
    >>> revisions = pl.DataFrame({"session_date": [date(2026, 2, 3)],
    ...     "superseded_at": [datetime(2026, 2, 6, 23, 30, tzinfo=timezone.utc)]})
    >>> days = [date(2026, 2, d) for d in (2, 3, 4, 5, 6)]
    >>> # Revised Friday 6 Feb 18:30 ET: after Thursday's bars were read (17:00 ET Friday), before
    >>> # Friday's (17:00 ET Monday); Monday 2 Feb predates the revised session.
    >>> sessions_needing_own_bars(days, revisions)
    [datetime.date(2026, 2, 3), datetime.date(2026, 2, 4), datetime.date(2026, 2, 5)]
    """
    days = sorted(set(sessions))
    if not days or superseded.height == 0:
        return []
    latest = (
        superseded.select(
            pl.col("session_date").cast(pl.Date),
            pl.col("superseded_at").dt.convert_time_zone("UTC"),
        )
        .group_by("session_date")
        .agg(pl.col("superseded_at").max())
        .sort("session_date")
        .with_columns(pl.col("superseded_at").cum_max().alias("latest"))
    )
    frame = pl.DataFrame(
        {
            "session_date": days,
            "known_at": [bars_known_at(d) for d in days],
        },
        schema={"session_date": pl.Date, "known_at": pl.Datetime("us", "UTC")},
    ).join_asof(latest.select("session_date", "latest"), on="session_date", strategy="backward")
    return frame.filter(pl.col("latest") > pl.col("known_at"))["session_date"].to_list()
