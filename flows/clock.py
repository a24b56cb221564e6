"""The flows' wall clock, in a module that imports nothing heavy (commands that need no flow read it
too). Pipeline code never reads the clock: flows and services pass the time in. Tests stop it with
tests/fakes/clock.py."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The wall clock (tests replace it)."""
    return datetime.now(UTC)
