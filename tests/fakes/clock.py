"""The flows' wall clock (flows.clock.utcnow) stopped at a given moment, for any test scope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from flows import clock


@contextmanager
def frozen_clock(at: datetime) -> Iterator[None]:
    """While the block runs, the flows read ``at`` as the time (module fixtures can use it too,
    unlike pytest's function-scoped monkeypatch)."""
    original = clock.utcnow
    clock.utcnow = lambda: at  # type: ignore[assignment]
    try:
        yield
    finally:
        clock.utcnow = original  # type: ignore[assignment]
