"""Methodology v5: v4's rules and numbers, with the limited move carried across a session
without a bar.

v4 limits a scenario's move from one call to the next (v3's rule) but restarts the limit after
any row without a call, a session without a bar included: on the real files the first call
after such a session moved up to 49 points, 10 such moves over 10 points with no cause named
(ES, NQ, YM, TF1;
bench/RESULTS.md "Coherence: v4 beside v2 and v3"). v5 keeps the last call as the reference
across a session without a bar (a session with a bar and no call, the warm-up, still restarts
it). Every number is v4's; the rule is a flag here so that it is hashed into each snapshot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.analysis.v4.params import V4Params

METHODOLOGY_VERSION = "v5"


@dataclass(frozen=True)
class V5Params(V4Params):
    """v5's rule beyond v4's (every v4 parameter keeps its value and meaning)."""

    # The limited move's reference across a session without a bar: the last call (True), not
    # a restart (v3 and v4 restart). Not fitted: the rule the limit states.
    limit_across_missing_bars: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"methodology": METHODOLOGY_VERSION, **dataclasses.asdict(self)}
