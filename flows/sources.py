"""Build a source from its name and options (the only place flows pick an implementation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
) -> Source:
    if name == "demo":
        from pipeline.sources.demo import DemoSource

        return DemoSource()
    if name == "file":
        if path is None:
            raise ValueError(
                "the file source needs a path (callbook ingest --source file --path FILE)"
            )
        from pipeline.sources.file import FileSource

        return FileSource(path, columns=columns, index_path=index_path)
    if name == "yahoo":
        from pipeline.sources.yahoo import YahooSource

        return YahooSource(session=yahoo_session, mode=yahoo_mode, cache_dir=cache_dir)  # type: ignore[arg-type]
    raise ValueError(f"unknown source {name!r}; choose demo, yahoo or file")
