"""The one small interface every source implements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol, runtime_checkable

from pipeline.schema import Batch


class SourceError(RuntimeError):
    """A fetch that failed for a reason that retrying will not fix (unknown symbol, bad file)."""


class TransientSourceError(SourceError):
    """A fetch that failed for a reason that may pass (rate limit, 5xx, transport): retry it."""


@runtime_checkable
class Source(Protocol):
    """A source of daily bars for one root at a time.

    ``fetch`` returns every bar with ``start <= session_date <= end`` (``start=None``: the whole
    history the source has) as a :class:`~pipeline.schema.Batch`. It never filters bad rows out:
    validation decides what is bad, and the raw batch is kept either way.
    """

    name: str

    def fetch(self, root: str, *, start: date | None, end: date, fetched_at: datetime) -> Batch: ...
