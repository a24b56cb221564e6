"""Where callbook keeps its data and what it runs on, from flags, environment, or defaults.

Precedence: explicit argument > environment variable > default.

- ``CALLBOOK_DATA_DIR`` (default ``./data``): holds ``warehouse.duckdb``, ``lake/`` and ``reports/``.
- ``CALLBOOK_ROOTS`` (default ``RTY,ES,NQ,YM``).
- ``CALLBOOK_SOURCE`` (default ``demo``): ``demo`` | ``yahoo`` | ``file``.
- ``CALLBOOK_METHODOLOGIES`` (default: pipeline.analysis.methodology.DEFAULT_METHODOLOGIES): the
  methodology versions every run computes for the same sessions; the first is published.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.analysis.methodology import parse_methodologies
from pipeline.schema import ROOTS

SOURCES = ("demo", "yahoo", "file")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    roots: tuple[str, ...]
    source: str
    methodologies: tuple[str, ...] = parse_methodologies(None)

    @property
    def published_methodology(self) -> str:
        """The methodology shown by default (``callbook show``, notes, ``published_calls``)."""
        return self.methodologies[0]

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def parse_roots(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"rty, es"`` -> ``("RTY", "ES")``; unknown roots are refused with the list of known ones.

    >>> parse_roots("rty,ES")
    ('RTY', 'ES')
    """
    if value is None:
        return ROOTS
    items = value.split(",") if isinstance(value, str) else list(value)
    roots = tuple(dict.fromkeys(r.strip().upper() for r in items if r.strip()))
    unknown = [r for r in roots if r not in ROOTS]
    if unknown:
        raise ValueError(f"unknown root(s) {', '.join(unknown)}; callbook knows {', '.join(ROOTS)}")
    if not roots:
        raise ValueError("no roots given")
    return roots


def load_settings(
    *,
    data_dir: str | Path | None = None,
    roots: str | list[str] | tuple[str, ...] | None = None,
    source: str | None = None,
    methodologies: str | list[str] | tuple[str, ...] | None = None,
) -> Settings:
    source = (source or os.environ.get("CALLBOOK_SOURCE") or "demo").lower()
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    return Settings(
        data_dir=Path(data_dir or os.environ.get("CALLBOOK_DATA_DIR") or "data").expanduser(),
        roots=parse_roots(roots if roots is not None else os.environ.get("CALLBOOK_ROOTS")),
        source=source,
        methodologies=parse_methodologies(
            methodologies if methodologies is not None else os.environ.get("CALLBOOK_METHODOLOGIES")
        ),
    )


@lru_cache(maxsize=1)
def code_version() -> str:
    """callbook's version plus the git commit it runs from, when there is one ("0.1.0+ee3b48a")."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("callbook")
    except PackageNotFoundError:
        base = "0+unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return base
    return f"{base}+{commit}" if commit else base
