"""Methodology v4: v3's rules, every window and horizon counted in trade dates.

v4 adds one number to v3's (:class:`V3Params`, unchanged): how many bars a window of N
sessions needs when some of its sessions have no bar (:mod:`pipeline.analysis.sessions`).
A v4 snapshot stores ``METHODOLOGY_VERSION`` and the hash of these parameters.

Units as in v2 and v3: ``_sessions`` are CME trade dates of the root's calendar, with or
without a bar.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.analysis.v3.params import V3Params

METHODOLOGY_VERSION = "v4"


@dataclass(frozen=True)
class V4Params(V3Params):
    """v4's rule beyond v3's (every v3 parameter keeps its value and meaning)."""

    # A window of N sessions (SMA 20/50/200, the recent, consolidation and 252-session extremes)
    # takes its statistic over the bars present in it and needs at least this fraction of N
    # (rounded up) present, else it is null. A convention, not fitted: half the window keeps a
    # statistic of the window's own bars (the real YM file's longest hole: 4 of 13 sessions).
    min_bars_fraction: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.min_bars_fraction <= 1:
            raise ValueError("v4 needs 0 < min_bars_fraction <= 1")

    def as_dict(self) -> dict[str, Any]:
        return {"methodology": METHODOLOGY_VERSION, **dataclasses.asdict(self)}
