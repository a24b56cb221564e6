"""Methodologies: named, versioned rule sets that make calls side by side.

A methodology turns continuous series into snapshot rows. Versions live side by side (DESIGN.md,
"Methodology versions"): an old version stays importable and reproducible, its snapshots keep their
content hashes, and a new one is computed for the same sessions so the audit can compare them.
Which ones a data directory computes, and which one is published (shown by default), is
configuration (``CALLBOOK_METHODOLOGIES``: the first is published).

Each methodology is registered here under its version with a loader, so that naming one costs
no import of its code (``callbook --help`` stays fast).

>>> get("v1").version, get("v1").params_hash == get("v1").params_hash
('v1', True)
>>> parse_methodologies("v1")
('v1',)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from pipeline.analysis.engine import Analysis
    from pipeline.market.roots import RootSpec

#: The methodology of hand-written analyst calls (pipeline/audit/analyst.py).
ANALYST_METHODOLOGY = "analyst"


@dataclass(frozen=True)
class Tuning:
    """The data a methodology's parameters were chosen on. Its calls on bars of ``sources`` made
    on or before ``through`` are in sample: the audit leaves them out by default (or flags
    them). Not part of the parameters' hash (declaring it changes no stored call)."""

    through: date | None  # last session of the data looked at; None: nothing chosen on data
    sources: tuple[str, ...] = ()  # bar sources of that data (demo data says nothing of yahoo's)
    note: str = ""  # which parameters, chosen how


@dataclass(frozen=True)
class Methodology:
    """One versioned rule set: its parameters, the columns its content hash covers, its analysis."""

    version: str
    description: str
    params: Any  # a frozen dataclass with ``as_dict()``; hashed into every snapshot
    content_columns: tuple[str, ...]  # what its content hash covers, in this order
    analyse_fn: Callable[..., Analysis]
    tuning: Tuning | None = None  # None: the methodology does not declare it (calls flagged)

    @property
    def params_hash(self) -> str:
        from pipeline.analysis.params import params_hash

        return params_hash(self.params)

    def analyse(
        self,
        series_by_root: Mapping[str, pl.DataFrame],
        root: str,
        *,
        source: str,
        sessions: Sequence[date] | None = None,
        spec: RootSpec | None = None,
    ) -> Analysis:
        """Calls and snapshot rows of ``root`` for ``sessions`` (None: every session with a call);
        ``spec``: the root's registry entry (None: the built-in registry's)."""
        return self.analyse_fn(
            series_by_root,
            root,
            source=source,
            sessions=sessions,
            params=self.params,
            methodology_version=self.version,
            spec=spec,
        )


def _v1() -> Methodology:
    from pipeline.analysis.assemble import CONTENT_COLUMNS
    from pipeline.analysis.engine import analyse
    from pipeline.analysis.params import METHODOLOGY_VERSION, AnalysisParams

    return Methodology(
        version=METHODOLOGY_VERSION,
        description="v1: zones clustered from swings and moving averages, base-rate probabilities",
        params=AnalysisParams(),
        content_columns=CONTENT_COLUMNS,
        analyse_fn=analyse,
        tuning=V1_TUNING,
    )


#: v1's one data-tuned parameter; every other one is a convention of DESIGN.md, not fitted.
V1_TUNING = Tuning(
    through=date(2026, 11, 20),
    sources=("demo",),
    note=(
        "state_shrinkage_strength = 60 chosen on the demo history of RTY, ES, NQ and YM to "
        "2026-11-20 (bench/RESULTS.md, 'Probability model'); other parameters are conventions"
    ),
)

#: v2's levels and regimes were tuned looking at every call of the real files (../shared/data:
#: ES, NQ, YM, TF1 to 2026-02-20, source "file") and the demo history (to 2026-11-20).
V2_TUNING = Tuning(
    through=date(2026, 11, 20),
    sources=("file", "demo"),
    note=(
        "level persistence and distance parameters (line_preferred_atr, line_distance_discount, "
        "line_min_pick_atr, line_keep_atr, replace_margin, trail_after_atr, "
        "zone_max_scored_swings), the trend (breakdown, crash) and consolidation rules and the "
        "analog distance buckets (quartiles of v2's barrier distances) chosen on the real files' "
        "whole history and the demo history "
        "(bench/bench_quality.py); the base-rate shrinkage is v1's"
    ),
)


def _v2() -> Methodology:
    from pipeline.analysis.v2.assemble import V2_CONTENT_COLUMNS
    from pipeline.analysis.v2.engine import analyse
    from pipeline.analysis.v2.params import METHODOLOGY_VERSION, V2Params

    return Methodology(
        version=METHODOLOGY_VERSION,
        description=(
            "v2: tight zones (<= 1 ATR) from confirmed swings, moving averages and breakout "
            "structure, kept session to session; crash/selloff/rebound/breakout regimes; "
            "statements checked against the bars; base-rate probabilities on v2's barriers"
        ),
        params=V2Params(),
        content_columns=V2_CONTENT_COLUMNS,
        analyse_fn=analyse,
        tuning=V2_TUNING,
    )


#: version -> a loader returning its Methodology (its code is imported on first use).
_LOADERS: dict[str, Callable[[], Methodology]] = {
    "v1": _v1,
    "v2": _v2,
}

#: What a data directory computes unless configured otherwise; the first is published.
DEFAULT_METHODOLOGIES: tuple[str, ...] = ("v2", "v1")


def registered() -> tuple[str, ...]:
    """Every methodology version callbook can compute."""
    return tuple(_LOADERS)


@cache
def get(version: str) -> Methodology:
    """The registered methodology ``version``; a clear error for an unknown one."""
    loader = _LOADERS.get(version)
    if loader is None:
        raise ValueError(
            f"unknown methodology {version!r}; callbook knows {', '.join(registered())}"
        )
    return loader()


def parse_methodologies(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"v2,v1"`` -> ``("v2", "v1")``: registered versions, the first published."""
    if value is None:
        return DEFAULT_METHODOLOGIES
    items = value.split(",") if isinstance(value, str) else list(value)
    versions = tuple(dict.fromkeys(v.strip() for v in items if v.strip()))
    if not versions:
        raise ValueError("no methodology given")
    unknown = [v for v in versions if v not in _LOADERS]
    if unknown:
        raise ValueError(
            f"unknown methodology {', '.join(unknown)}; callbook knows {', '.join(registered())}"
        )
    return versions


def content_columns(methodology_version: str) -> tuple[str, ...]:
    """The columns the content hash of a stored snapshot of this methodology covers."""
    if methodology_version == ANALYST_METHODOLOGY:
        from pipeline.analysis.assemble import CONTENT_COLUMNS

        return CONTENT_COLUMNS
    return get(methodology_version).content_columns
