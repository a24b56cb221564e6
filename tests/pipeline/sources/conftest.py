"""Fixtures for the Yahoo source tests: a running fake Yahoo and a yfinance isolated per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.sources.yahoo import Mode, YahooSource
from tests.fakes.yahoo import FakeYahoo, isolate_yfinance


@pytest.fixture
def fake_yahoo() -> Iterator[FakeYahoo]:
    with FakeYahoo() as fake:
        yield fake


@pytest.fixture
def yfinance_cache_dir(tmp_path: Path) -> Path:
    """yfinance's time-zone and cookie caches for this test only; its in-process state reset."""
    cache_dir = tmp_path / "yfinance-cache"
    isolate_yfinance(cache_dir)
    return cache_dir


@pytest.fixture
def fake_session(fake_yahoo: FakeYahoo) -> Iterator[Any]:
    session = fake_yahoo.session()
    yield session
    session.close()


@pytest.fixture
def yahoo_source(fake_session: Any, yfinance_cache_dir: Path) -> Callable[..., YahooSource]:
    """``yahoo_source(mode)``: a YahooSource talking to the fake through the real yfinance."""

    def make(mode: Mode = "all") -> YahooSource:
        return YahooSource(session=fake_session, mode=mode, cache_dir=yfinance_cache_dir)

    return make
