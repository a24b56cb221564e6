"""Planted calls for the coherence checker's tests: hand-built values and hand-written notes.

``VALUES`` is the stored row of a real-looking call (ES, 9 Apr 2020, v2's numbers); ``note``
assembles a Markdown note from sections, so each test writes only the sentences it is about.
Two wordings are used: v2's (as its notes print them) and a template wording a later
methodology might use (other headings, other phrases), which the checker must read alike.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline.audit.coherence import StoredCall

VALUES: dict[str, Any] = {
    "root": "ES",
    "as_of": date(2020, 4, 9),
    "methodology_version": "v2",
    "primary_trend": "Bearish",
    "perspective": "rebound after crash",
    "orientation": "down",
    "close": 2779.75,
    "atr14": 150.9,
    "sma50": 2896.5,
    "sma200": 2995.75,
    "sma50_change": -180.0,
    "sma200_change": -12.0,
    "p_bear": 0.005,
    "p_sideways": 0.548,
    "p_bull": 0.447,
    "upper_barrier": 2959.75,
    "lower_barrier": 2700.0,  # (the real call: 2,700.00, a band of 29 % of price)
    "line_low": 2907.75,
    "line_high": 2959.75,
    "risk_level": 2896.5,
    "rs_nq_verdict": "lagging",
}

SUMMARY = [
    "Primary trend: Bearish",
    "Current market perspective: Rebound after crash",
    "Key resistance (line in the sand): 2,907.75–2,959.75",
    "Risk to the thesis: Sustained acceptance back above the 50-day moving average (now 2,896.50)",
]


def note(sections: dict[str, list[str]], *, title: str = "# ES Technical Analysis") -> str:
    """``{"Summary": [...], "Final Takeaway": [...]}`` -> a Markdown note (paragraphs apart)."""
    blocks = [title]
    for heading, paragraphs in sections.items():
        blocks.append(f"## {heading}")
        blocks.extend(paragraphs)
    return "\n\n".join(blocks) + "\n"


def scenario_sections(
    percents: dict[str, int],
    *,
    bull_target: str = "3,168.25–3,250.75",
    bear_target: str = "2,500.00–2,550.00",
) -> list[str]:
    """The scenarios as v2 prints them for a downward call (headings, trigger, target)."""
    return [
        f"### Bullish Reversal ({percents['bull']}%)",
        "ES is accepted back above the line in the sand at 2,959.75.",
        f"- Trigger: acceptance above 2,959.75 (two settlements beyond it by more than 0.1 ATR)\n"
        f"- Target zone: {bull_target}",
        f"### Sideways Consolidation ({percents['sideways']}%)",
        "Price stays between 2,700.00 and 2,959.75 without acceptance beyond either.",
        "- Trigger: neither barrier accepted; price stays between 2,700.00 and 2,959.75",
        f"### Bearish Continuation ({percents['bear']}%)",
        "ES stays below 2,959.75 and is accepted below 2,700.00.",
        f"- Trigger: acceptance below 2,700.00 (two settlements beyond it by more than 0.1 ATR)\n"
        f"- Target zone: {bear_target}",
    ]


def call(note_text: str, **values: Any) -> StoredCall:
    return StoredCall({**VALUES, **values}, note_text)
