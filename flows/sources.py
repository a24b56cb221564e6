"""Build a source from its name and options (the only place flows pick an implementation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.market.roots import Registry
from pipeline.sources.base import Source


def make_source(
    name: str,
    *,
    path: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    index_path: str | Path | None = None,
    yahoo_session: Any | None = None,
    yahoo_mode: str = "all",
    cache_dir: Path | None = None,
    registry: Registry | None = None,
    demo_start: date | None = None,
) -> Source:
    """The source ``name`` with its options; ``registry``: the roots it may be asked for
    (``Settings.registry``; None: the built-in roots); ``demo_start``: the demo's first session
    (a short history)."""
    if name == "demo":
        from pipeline.sources.demo import GENERATION_START, DemoSource

        return DemoSource(registry=registry, start=demo_start or GENERATION_START)
    if name == "file":
        if path is None:
            raise ValueError(
                "the file source needs a path (callbook ingest --source file --path FILE)"
            )
        from pipeline.sources.file import FileSource

        return FileSource(path, columns=columns, index_path=index_path, registry=registry)
    if name == "yahoo":
        from pipeline.sources.yahoo import YahooSource

        return YahooSource(
            session=yahoo_session,
            mode=yahoo_mode,  # type: ignore[arg-type]
            cache_dir=cache_dir,
            registry=registry,
        )
    raise ValueError(f"unknown source {name!r}; choose demo, yahoo or file")
