"""The daily note: a Snapshot rendered as the Markdown an analyst would publish, from templates.

Each methodology writes its notes in its own words: ``pipeline/report/notes/<name>.md.j2`` (the
document: its sections in order) and ``<name>_parts.md.j2`` (the sections, macros), where
``<name>`` is the methodology's ``note_template`` (:mod:`pipeline.analysis.methodology`; v1's for
analysts' calls). What every note shares (title and provenance, relative strength bullets, what
changed since the previous call, the disclaimer, momentum and trend words) is in
``shared.md.j2``. The notes follow the seed note (``seed/rty-technical-analysis-2026-02-04.txt``)
section by section.

Every sentence is chosen by a rule in a template from the snapshot's facts and every number is a
snapshot field, only formatted here (prices on the root's tick grid, probabilities as whole
percents that sum to 100): the note never recomputes the call. This module only builds the
templates' context (the snapshot, its formatters and lookups) and renders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.analysis.methodology import note_template
from pipeline.analysis.snapshot import (
    MODEL_AUTHOR,
    SCENARIOS,
    Level,
    RelativeStrength,
    Scenario,
    Snapshot,
)
from pipeline.market.roots import Words
from pipeline.report.format import (
    format_date_long,
    format_number,
    format_percent,
    format_price,
    format_zone,
    root_spec,
    whole_percents,
)

TEMPLATES = Path(__file__).parent / "notes"
DEMO_LABEL = "DEMO DATA — synthetic prices, not market data"
#: ``Snapshot.source`` of synthetic bars: such a note is labelled even if the caller forgets
#: ``demo``.
DEMO_SOURCE = "demo"
#: The summary line lists the scenarios from the most to the least constructive, so named.
SUMMARY_LINE_NAMES: dict[str, str] = {"bull": "bull", "sideways": "side", "bear": "bear"}
LEVEL_TITLES: dict[str, str] = {
    "line_in_the_sand": "Line in the sand",
    "bias_defining": "Bias-defining level",
    "extension": "Extension",
    "deeper": "Deeper level",
}
#: The note's last section (every methodology's document ends with it, before the disclaimer).
TAKEAWAY_HEADING = "## Final Takeaway"


@dataclass(frozen=True)
class Prices:
    """Formats prices and zones on one root's tick grid, in its notation (ZN 112'30); ``unit``:
    what the prices are in (the registry's ``unit``: "index points", "US cents per bushel")."""

    tick: float
    notation: str = "decimal"
    unit: str = "index points"

    @classmethod
    def of(cls, root: str) -> Prices:
        spec = root_spec(root)
        return cls(spec.tick, spec.notation, spec.unit)

    def price(self, value: float) -> str:
        return format_price(value, tick=self.tick, notation=self.notation)

    def zone(self, level: Level) -> str:
        return format_zone(level.low, level.high, tick=self.tick, notation=self.notation)

    def span(self, low: float, high: float) -> str:
        return format_zone(low, high, tick=self.tick, notation=self.notation)


def render_note(
    snapshot: Snapshot,
    *,
    chart_file: str | None = None,
    demo: bool = False,
    previous: Snapshot | None = None,
) -> str:
    """The daily note of ``snapshot`` as Markdown (ends with a newline), in its methodology's
    words.

    ``chart_file`` is the chart's path or URL relative to where the note will live (linked from
    Market Structure & Trend). ``demo`` labels the title and the first body line as synthetic
    data; a snapshot whose ``source`` is ``demo`` is labelled either way. ``previous`` (the same
    root's earlier call) adds a section listing what changed.

    >>> from pipeline.analysis.snapshot import example_snapshot
    >>> note = render_note(example_snapshot())
    >>> note.splitlines()[0]
    '# E-mini Russell 2000 (RTY) Technical Analysis, 4 Feb 2026'
    >>> "Key support (line in the sand): 2,500.0–2,520.0" in note.splitlines()
    True
    """
    if previous is not None and previous.root != snapshot.root:
        raise ValueError(
            f"previous call is on {previous.root}, not {snapshot.root}: cannot compare calls "
            "on different roots"
        )
    name = _name(snapshot)
    _parts_module(name)  # made (once) before any note's values are in reach
    context = _context(snapshot)
    context.update(
        chart_file=chart_file,
        labelled=demo or snapshot.source == DEMO_SOURCE,
        previous=previous,
    )
    token = _NOTE.set(context)
    try:
        return str(environment().get_template(f"{name}.md.j2").render(context))
    finally:
        _NOTE.reset(token)


def scenario_headings(snapshot: Snapshot) -> dict[str, str]:
    """The scenario names the call's note uses (a v2 note names them by the call's orientation:
    a bull scenario of a downward call is a reversal).

    >>> from pipeline.analysis.snapshot import example_snapshot
    >>> scenario_headings(example_snapshot())["bull"]
    'Bullish Continuation'
    """
    with _words_of(snapshot) as parts:
        return {name: str(parts.scenario_heading(snapshot.orientation, name)) for name in SCENARIOS}


def change_words(snapshot: Snapshot, code: str | None) -> str:
    """A level's change reason (``accepted_through`` ...) in the words of the call's note."""
    if code is None:
        return ""
    with _words_of(snapshot) as parts:
        return str(parts.change_word(code))


def level_reason(snapshot: Snapshot, level: Level) -> str:
    """Why a level is there, in the words of the call's note: its stored reason (v2 stores
    words), else the words its methodology's parts template renders from the level's stored
    codes (a ``reason(s, kind, level)`` macro: v3), else nothing."""
    if level.reason:
        return level.reason
    with _words_of(snapshot) as parts:
        render = getattr(parts, "reason", None)
        return "" if render is None else str(render(snapshot, level.kind, level))


def render_summary_line(snapshot: Snapshot) -> str:
    """One line for tables and logs: root, as-of, revision, trend, perspective, levels, odds.

    The revision (``r3``: the stored version of the call; ``v1``/``v2`` name methodologies)
    appears once the snapshot is stored; an analyst's name follows ``by``.

    >>> from pipeline.analysis.snapshot import example_snapshot
    >>> render_summary_line(example_snapshot())
    'RTY 2026-02-04 by seed-note: Bullish, consolidation near highs; line 2,500.0–2,520.0; bias 2,650.0–2,700.0; bull 40% / side 40% / bear 20%'
    """
    prices = Prices.of(snapshot.root)
    head = f"{snapshot.root} {snapshot.as_of.isoformat()}"
    if snapshot.version is not None:
        head += f" r{snapshot.version}"
    if snapshot.author != MODEL_AUTHOR:
        head += f" by {snapshot.author}"
    if snapshot.source == DEMO_SOURCE:
        head = f"[DEMO] {head}"
    parts = [f"{snapshot.primary_trend}, {snapshot.perspective}"]
    for kind, short in (("line_in_the_sand", "line"), ("bias_defining", "bias")):
        level = snapshot.level(kind)
        if level is not None:
            parts.append(f"{short} {prices.zone(level)}")
    percents = scenario_percents(snapshot)
    if percents:
        parts.append(
            " / ".join(
                f"{SUMMARY_LINE_NAMES[name]} {percents[name]}%"
                for name in ("bull", "sideways", "bear")
                if name in percents
            )
        )
    return f"{head}: " + "; ".join(parts)


def scenario_percents(s: Snapshot) -> dict[str, int]:
    """The scenarios' probabilities as whole percents that sum to 100, by scenario name."""
    present = [sc for sc in s.scenarios if sc.name in SCENARIOS]
    percents = whole_percents([sc.probability for sc in present])
    return {sc.name: p for sc, p in zip(present, percents, strict=True)}


# --- the templates' context -----------------------------------------------------------------


@cache
def environment() -> Any:
    """The Jinja2 environment of the notes (Markdown: no autoescaping; every tag trims)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        auto_reload=False,  # the templates are code: a process renders the ones it started with
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.context_class = _note_context_class()
    env.filters.update(
        date_long=format_date_long,
        iso=lambda day: day.isoformat(),
        percent=lambda v, decimals=1, signed=False: format_percent(
            v, decimals=decimals, signed=signed
        ),
        number=lambda v, decimals=1, signed=False: format_number(
            v, decimals=decimals, signed=signed
        ),
        capitalised=lambda text: text[:1].upper() + text[1:],
        lowered=lambda text: text[:1].lower() + text[1:],
        joined=_joined,
        member_tokens=_member_tokens,
    )
    env.globals.update(
        DEMO_LABEL=DEMO_LABEL,
        LEVEL_TITLES=LEVEL_TITLES,
        MODEL_AUTHOR=MODEL_AUTHOR,
        market_name=_market_name,
        market_group=_market_group,
        peer_words=_peer_words,
        peers_of=_peers,
        percents_of=scenario_percents,
        find_scenario=_find_scenario,
        barrier=_barrier,
    )
    return env


def _name(snapshot: Snapshot) -> str:
    return note_template(snapshot.methodology_version)


#: The values of the note being rendered (:func:`_context`), for the parts modules' macros.
_NOTE: ContextVar[dict[str, Any] | None] = ContextVar("note", default=None)


def _note_context_class() -> type:
    from types import BuiltinMethodType, FunctionType, MethodType

    from jinja2.runtime import Context, Macro, missing

    plain = frozenset({FunctionType, MethodType, BuiltinMethodType})  # list.append: builtin

    class NoteContext(Context):
        """A template context that finds the note's values (``s``, ``prices``, ``percents``
        ...: :func:`_context`) of the note being rendered when it has no such name itself.

        The parts templates (and ``shared.md.j2``) are imported without context, so Jinja
        makes each of them a module once per process (their constants and macros) instead of
        once per note; their macros still read the note's values by name, from here. The
        values are per thread (a ``ContextVar``), set only while a note or its words render.
        """

        def resolve_or_missing(self, key: str) -> Any:
            if key in self.vars:
                return self.vars[key]
            if key in self.parent:
                return self.parent[key]
            note = _NOTE.get()
            if note is not None and key in note:
                return note[key]
            return missing

        def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            """Jinja's ``Context.call``, faster for what notes call (~400 a note: macros,
            functions, methods), none of which asks for a context or environment but a
            macro for its evaluation context."""
            kind = type(__obj)
            if kind is Macro:
                args = (__self.eval_ctx, *args)
            elif kind not in plain or hasattr(__obj, "jinja_pass_arg"):
                return Context.call(__self, __obj, *args, **kwargs)
            if kwargs:
                kwargs.pop("_block_vars", None)
                kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # as Jinja's own
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )

    return NoteContext


def _parts_module(name: str) -> Any:
    """The parts template ``<name>_parts.md.j2`` as a module (its macros), made once per
    process and outside any note: a constant that read a note's value would fail here."""
    if _NOTE.get() is not None:
        raise RuntimeError("a parts module is made outside a note's rendering")
    return environment().get_template(f"{name}_parts.md.j2").module


#: The last snapshot's note values: a call's page asks for its words several times (scenario
#: titles, each level's reason and change); the snapshot is kept so its id cannot be reused.
_last_context: tuple[Snapshot, dict[str, Any]] | None = None


@contextmanager
def _words_of(snapshot: Snapshot) -> Iterator[Any]:
    """The methodology's parts module, its macros reading ``snapshot``'s note values while the
    block runs: the words the site shows beside the note."""
    global _last_context
    module = _parts_module(_name(snapshot))
    last = _last_context  # read once: another thread may replace it
    if last is not None and last[0] is snapshot:
        context = last[1]
    else:
        context = _context(snapshot)
        _last_context = (snapshot, context)
    token = _NOTE.set(context)
    try:
        yield module
    finally:
        _NOTE.reset(token)


def _context(snapshot: Snapshot) -> dict[str, Any]:
    prices = Prices.of(snapshot.root)

    def target(scenario: Scenario) -> str | None:
        if scenario.target_low is None or scenario.target_high is None:
            return None
        return prices.span(scenario.target_low, scenario.target_high)

    return {
        "s": snapshot,
        "st": snapshot.structure,
        "d": snapshot.details,
        "prices": prices,
        "percents": scenario_percents(snapshot),
        "params": _params(snapshot.methodology_version),
        "target": target,
        "chart_file": None,
        "labelled": False,
        "previous": None,
    }


def _params(methodology_version: str) -> Any:
    from pipeline.analysis.methodology import get, registered
    from pipeline.analysis.params import AnalysisParams

    return (
        get(methodology_version).params
        if methodology_version in registered()
        else (AnalysisParams())
    )


def _find_scenario(s: Snapshot, name: str) -> Scenario | None:
    return next((sc for sc in s.scenarios if sc.name == name), None)


def _barrier(s: Snapshot, scenario: Scenario, side: str) -> float:
    """The scenario's own trigger level when it is the barrier asked for, else the snapshot's."""
    if scenario.name == side and scenario.trigger_level is not None:
        return scenario.trigger_level
    return s.upper_barrier if side == "bull" else s.lower_barrier


def _peers(s: Snapshot) -> list[RelativeStrength]:
    """Peers with a verdict (none during warm-up), never the root against itself."""
    return [rs for rs in s.relative_strength if rs.verdict is not None and rs.peer != s.root]


def _market_name(root: str) -> str:
    try:
        return root_spec(root).name
    except ValueError:
        return root


def _market_group(root: str) -> str:
    """The registry's product group of ``root`` ("equity_index", "energy" ...)."""
    return root_spec(root).group


def _peer_words(root: str) -> Words:
    """How the note names ``root`` and its peers (roots.toml ``words``; empty if unknown)."""
    return root_spec(root).words


def _member_tokens(members: str | None) -> list[dict[str, Any]]:
    """A level's stored members (``swing_high:2020-03-12:flipped,sma50``) as ``kind``, ``day``
    (a date or None) and ``flipped``: the codes a template words a level's reason from.

    >>> _member_tokens("swing_low:2020-03-12,sma50")[0]["day"]
    datetime.date(2020, 3, 12)
    """
    from datetime import date

    out = []
    for token in (members or "").split(","):
        if not token:
            continue
        kind, _, rest = token.partition(":")
        day, _, flag = rest.partition(":")
        out.append(
            {"kind": kind, "day": date.fromisoformat(day) if day else None, "flipped": bool(flag)}
        )
    return out


def _joined(parts: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
