"""Methodologies: named, versioned rule sets that make calls side by side, each one object.

A methodology turns continuous series into snapshot rows. Versions live side by side (DESIGN.md,
"Methodology versions"): an old version stays importable and reproducible, its snapshots keep their
content hashes, and a new one is computed for the same sessions so the audit can compare them.
Which ones a data directory computes, and which one is published (shown by default), is
configuration (``CALLBOOK_METHODOLOGIES``: the first is published).

Every methodology offers one interface (:class:`Methodology`): its call table and snapshot rows
(composed from the shared steps of :mod:`pipeline.analysis.steps`), :meth:`Methodology.analyse`
(the one driver), its parameters and their hash, the content columns and the hash scheme of its
snapshots (:mod:`pipeline.analysis.canonical`), its tuning declaration (:class:`Tuning`), the
name of its note templates (``pipeline/report/notes/<name>.md.j2``), its statement checker and
what the coherence checker needs to know of it (:func:`coherence_settings`).
How to add one: compose the shared steps (the module docstring of :mod:`pipeline.analysis.steps`)
in a package of its own and register a loader below; ``pipeline/analysis/v5/`` is the smallest
example (one rule flag on v4), ``pipeline/analysis/v3/`` the fullest (its own rules, templates and
checker).

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

from pipeline.analysis.schemes import ROW_SCHEME

if TYPE_CHECKING:
    import polars as pl

    from pipeline.analysis.engine import Analysis
    from pipeline.market.roots import RootSpec

#: The methodology of hand-written analyst calls (pipeline/audit/analyst.py).
ANALYST_METHODOLOGY = "analyst"


@dataclass(frozen=True)
class TunedOn:
    """Data a methodology's parameters were looked at on: instruments up to a session.

    An instrument is a root (``ES``) or the underlying cash index of roots (``^RUT``: RTY, and
    ICE's TF loaded as RTY, whatever root a file is stored under). Which source delivered the
    bars does not matter: the same market's history from a file or from Yahoo is the same data.
    ``synthetic``: the demo source's generated market (it says nothing of real prices, and real
    prices nothing of it)."""

    instruments: tuple[str, ...]
    through: date  # last session looked at (CME trade date)
    synthetic: bool = False


@dataclass(frozen=True)
class Tuning:
    """The data a methodology's parameters were chosen on (``periods``; none: nothing was
    chosen on data). Its calls on those instruments made on or before a period's last session
    are in sample: the audit leaves them out by default (or flags them). Not part of the
    parameters' hash (declaring it changes no stored call)."""

    periods: tuple[TunedOn, ...] = ()
    note: str = ""  # which parameters, chosen how

    def in_sample(
        self, root: str, as_of: date, *, synthetic: bool, underlying: str | None = None
    ) -> bool:
        """Whether a call on ``root`` (whose cash index is ``underlying``) made on ``as_of``
        lies in the data a period looked at.

        >>> t = Tuning((TunedOn(("ES", "^RUT"), date(2026, 2, 20)),))
        >>> t.in_sample("ES", date(2020, 3, 16), synthetic=False)
        True
        >>> t.in_sample("RTY", date(2020, 3, 16), synthetic=False, underlying="^RUT")
        True
        >>> t.in_sample("ES", date(2026, 2, 23), synthetic=False)
        False
        """
        return any(
            period.synthetic == synthetic
            and as_of <= period.through
            and (root in period.instruments or underlying in period.instruments)
            for period in self.periods
        )

    def tuned_roots(self, underlyings: Mapping[str, str | None]) -> list[tuple[str, bool, date]]:
        """(root, synthetic, through) for every root of ``underlyings`` (root -> its cash index,
        the root registry as a value) a period covers: the rows the warehouse's
        ``tuning_periods`` table holds (the latest ``through`` per root and market).

        >>> Tuning((TunedOn(("^RUT",), date(2026, 2, 20)),)).tuned_roots({"RTY": "^RUT", "ES": None})
        [('RTY', False, datetime.date(2026, 2, 20))]
        """
        latest: dict[tuple[str, bool], date] = {}
        for period in self.periods:
            for root, underlying in underlyings.items():
                if root in period.instruments or underlying in period.instruments:
                    key = (root, period.synthetic)
                    latest[key] = max(latest.get(key, period.through), period.through)
        return [(root, synthetic, through) for (root, synthetic), through in latest.items()]

    @property
    def through(self) -> date | None:
        """The last session any period looked at (None: nothing chosen on data)."""
        return max((p.through for p in self.periods), default=None)

    def describe(self) -> str:
        """The periods in words (the audit's header).

        >>> Tuning((TunedOn(("ES", "^RUT"), date(2026, 2, 20)),)).describe()
        'ES, ^RUT market data through 2026-02-20'
        """
        if not self.periods:
            return "no parameter chosen on data"
        return "; ".join(
            f"{', '.join(p.instruments)} {'synthetic demo' if p.synthetic else 'market'} data "
            f"through {p.through.isoformat()}"
            for p in self.periods
        )


@dataclass(frozen=True)
class Methodology:
    """One versioned rule set and everything that is its own: rules, numbers, words, checks."""

    version: str
    description: str
    params: Any  # a frozen dataclass extending CoreParams, with ``as_dict()``; hashed
    content_columns: tuple[str, ...]  # what its content hash covers, in this order
    #: (series, *, tick, params, peers) -> the call table: one row per session, composed from
    #: pipeline.analysis.steps and the methodology's own rules.
    call_table: Callable[..., pl.DataFrame]
    #: (table, params, publication) -> wide snapshot rows (content_columns + content_hash) of
    #: the sessions asked for (pipeline.analysis.assemble: Publication, assemble_rows).
    snapshot_rows: Callable[..., pl.DataFrame]
    hash_scheme: str = ROW_SCHEME  # how its content hash is taken (canonical.HASH_SCHEMES)
    tuning: Tuning | None = None  # None: the methodology does not declare it (calls flagged)
    #: its note: pipeline/report/notes/<note_template>.md.j2 and <note_template>_parts.md.j2
    #: (None: named after its version)
    note_template: str | None = None
    #: (call table, *, tick) -> its false statements (session_date, fact, detail); None: none
    statement_checker: Callable[..., pl.DataFrame] | None = None
    #: How the coherence checker (pipeline.audit.coherence) reads its calls, as plain data
    #: (analysis never imports the audit): overrides of ``CoherenceParams`` fields, e.g. its
    #: stated band limits ``(("band_max_pct", 0.10),)``, and phrases its templates use that the
    #: checker's ``Lexicon`` lacks (``Lexicon.extended`` keywords), e.g.
    #: ``(("thesis_markers", ("our call:",)),)``. Empty: the checker's defaults.
    coherence_params: tuple[tuple[str, Any], ...] = ()
    coherence_lexicon: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: True: its call table takes the root's trade calendar (``calendar=``) and counts sessions
    #: as trade dates (pipeline.analysis.sessions); False: a session is a row of the series.
    on_trade_calendar: bool = False

    def __post_init__(self) -> None:
        if self.note_template is None:  # named after the version (a variant keeps its own)
            object.__setattr__(self, "note_template", self.version)

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
        """Calls and snapshot rows of ``root`` for ``sessions`` (None: every session with a call).

        ``series_by_root`` holds continuous series (internal frame), each cut at the as-of date
        the caller wants: nothing after it is read. ``spec``: the root's registry entry (tick,
        peers, trade calendar; None: the built-in registry's). The root's peers and tick, one
        causal pass over the history (the nightly and the backfill alike), the input
        fingerprints, and the snapshot rows of ``sessions`` (horizons on the root's calendar)."""
        from pipeline.analysis.assemble import Publication
        from pipeline.analysis.engine import Analysis, known_spec, peers_of, root_tick
        from pipeline.analysis.fingerprint import input_fingerprints
        from pipeline.market.calendar import EQUITY

        known = known_spec(root, spec)
        series = series_by_root[root]
        peers = {peer: series_by_root[peer] for peer in peers_of(root, list(series_by_root), known)}
        tick = root_tick(root, known)
        calendar = known.trading_calendar if known is not None else EQUITY
        on_calendar = {"calendar": calendar} if self.on_trade_calendar else {}
        table = self.call_table(series, tick=tick, params=self.params, peers=peers, **on_calendar)
        fingerprints = input_fingerprints(
            series, peers=peers, methodology_version=self.version, params_hash=self.params_hash
        )
        if table.height != series.height:  # on the trade calendar: a row per trade date
            fingerprints = (
                table.select("session_date")
                .join_asof(
                    series.select("session_date").with_columns(fingerprints),
                    on="session_date",
                    strategy="backward",
                )
                .get_column("input_fingerprint")
            )
        publication = Publication(
            root, source, tick, fingerprints, self.version, sessions, calendar
        )
        return Analysis(root, table, self.snapshot_rows(table, self.params, publication))


def _v1() -> Methodology:
    from pipeline.analysis.assemble import CONTENT_COLUMNS, snapshot_rows
    from pipeline.analysis.calls import call_table
    from pipeline.analysis.params import METHODOLOGY_VERSION, AnalysisParams
    from pipeline.analysis.v2.statements import false_statements

    return Methodology(
        version=METHODOLOGY_VERSION,
        description="v1: zones clustered from swings and moving averages, base-rate probabilities",
        params=AnalysisParams(),
        content_columns=CONTENT_COLUMNS,
        call_table=call_table,
        snapshot_rows=snapshot_rows,
        tuning=V1_TUNING,
        # v1's facts mean the same words as v2's: v2's definitions judge them.
        statement_checker=false_statements,
    )


#: The four roots of the demo history and of the real files the parameters were looked at on.
_EQUITY_ROOTS: tuple[str, ...] = ("RTY", "ES", "NQ", "YM")

#: v1's one data-tuned parameter; every other one is a convention of DESIGN.md, not fitted.
V1_TUNING = Tuning(
    periods=(TunedOn(_EQUITY_ROOTS, date(2026, 11, 20), synthetic=True),),
    note=(
        "state_shrinkage_strength = 60 chosen on the demo history of RTY, ES, NQ and YM to "
        "2026-11-20 (bench/RESULTS.md, 'Probability model'); other parameters are conventions"
    ),
)

#: v2's levels and regimes were tuned looking at every call of the real files (../shared/data:
#: ES, NQ, YM and TF1, ICE's Russell 2000 mini, to 2026-02-20: the instruments ES, NQ, YM and
#: anything on the Russell 2000, ^RUT) and the demo history (to 2026-11-20).
V2_TUNING = Tuning(
    periods=(
        TunedOn(("ES", "NQ", "YM", "RTY", "^RUT"), date(2026, 2, 20)),
        TunedOn(_EQUITY_ROOTS, date(2026, 11, 20), synthetic=True),
    ),
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
    from pipeline.analysis.v2.assemble import V2_CONTENT_COLUMNS, snapshot_rows
    from pipeline.analysis.v2.calls import call_table
    from pipeline.analysis.v2.params import METHODOLOGY_VERSION, V2Params
    from pipeline.analysis.v2.statements import false_statements

    return Methodology(
        version=METHODOLOGY_VERSION,
        description=(
            "v2: tight zones (<= 1 ATR) from confirmed swings, moving averages and breakout "
            "structure, kept session to session; crash/selloff/rebound/breakout regimes; "
            "statements checked against the bars; base-rate probabilities on v2's barriers"
        ),
        params=V2Params(),
        content_columns=V2_CONTENT_COLUMNS,
        call_table=call_table,
        snapshot_rows=snapshot_rows,
        tuning=V2_TUNING,
        statement_checker=false_statements,
    )


#: v3 adds no parameter chosen on data: its barrier limits (5 % / 4 ATR), move limits and tie
#: width are conventions stated in the issue; its levels, regimes and probability model are v2's,
#: tuned as v2's were. Its tuning periods are therefore v2's.
V3_TUNING = Tuning(
    periods=V2_TUNING.periods,
    note=(
        "v2's level, regime and probability-model parameters (chosen as for v2); v3's own "
        "limits (barriers within min(5 % of price, 4 ATR), probability moves of at most 9.5 / "
        "19 points a session, ties within 2 points) are conventions, not fitted"
    ),
)


def _v3() -> Methodology:
    from pipeline.analysis.canonical import DECISION_SCHEME
    from pipeline.analysis.v3.assemble import V3_CONTENT_COLUMNS, snapshot_rows
    from pipeline.analysis.v3.calls import call_table
    from pipeline.analysis.v3.params import METHODOLOGY_VERSION, V3Params
    from pipeline.analysis.v3.statements import false_statements

    return Methodology(
        version=METHODOLOGY_VERSION,
        description=(
            "v3: v2's levels and regimes with barriers kept within min(5 % of price, 4 ATR), "
            "probabilities that move more than 9.5 points only for a named cause, and a thesis "
            "decided from the probabilities: one story per call"
        ),
        params=V3Params(),
        content_columns=V3_CONTENT_COLUMNS,
        call_table=call_table,
        snapshot_rows=snapshot_rows,
        hash_scheme=DECISION_SCHEME,
        tuning=V3_TUNING,
        statement_checker=false_statements,
    )


#: v4 chooses no parameter on data: its one number (the bars a window needs) is a convention;
#: every other one is v3's, tuned as v3's were. Its tuning periods are therefore v3's.
V4_TUNING = Tuning(
    periods=V3_TUNING.periods,
    note=(
        f"{V3_TUNING.note}; v4's own rule (a window of N sessions needs half its bars) is a "
        "convention, not fitted"
    ),
)


def _v4() -> Methodology:
    from pipeline.analysis.canonical import DECISION_SCHEME
    from pipeline.analysis.v3.assemble import V3_CONTENT_COLUMNS, snapshot_rows
    from pipeline.analysis.v3.statements import false_statements
    from pipeline.analysis.v4.calls import call_table
    from pipeline.analysis.v4.params import METHODOLOGY_VERSION, V4Params

    return Methodology(
        version=METHODOLOGY_VERSION,
        description=(
            "v4: v3's rules on the trade calendar: a missing or quarantined bar keeps its "
            "session, so every window and horizon of N sessions is N trade dates"
        ),
        params=V4Params(),
        content_columns=V3_CONTENT_COLUMNS,
        call_table=call_table,
        snapshot_rows=snapshot_rows,  # v3's rows: its columns, v4's parameters and version
        hash_scheme=DECISION_SCHEME,
        tuning=V4_TUNING,
        note_template="v3",  # v3's words: the calls mean the same things
        statement_checker=false_statements,
        on_trade_calendar=True,
    )


#: v5 chooses no parameter on data either: v4's numbers and tuning periods.
V5_TUNING = Tuning(
    periods=V4_TUNING.periods,
    note=(
        f"{V4_TUNING.note}; v5's own rule (the limited move's reference carried across a session "
        "without a bar) is the limit's own statement, not fitted"
    ),
)


def _v5() -> Methodology:
    from pipeline.analysis.canonical import DECISION_SCHEME
    from pipeline.analysis.v3.assemble import V3_CONTENT_COLUMNS, snapshot_rows
    from pipeline.analysis.v3.statements import false_statements
    from pipeline.analysis.v5.calls import call_table
    from pipeline.analysis.v5.params import METHODOLOGY_VERSION, V5Params

    return Methodology(
        version=METHODOLOGY_VERSION,
        description=(
            "v5: v4 (v3's rules on the trade calendar) with each call's probabilities limited "
            "against the last call even across sessions without a bar"
        ),
        params=V5Params(),
        content_columns=V3_CONTENT_COLUMNS,
        call_table=call_table,
        snapshot_rows=snapshot_rows,  # v3's rows: its columns, v5's parameters and version
        hash_scheme=DECISION_SCHEME,
        tuning=V5_TUNING,
        note_template="v3",  # v3's words: the calls mean the same things
        statement_checker=false_statements,
        on_trade_calendar=True,
    )


#: version -> a loader returning its Methodology (its code is imported on first use).
_LOADERS: dict[str, Callable[[], Methodology]] = {
    "v1": _v1,
    "v2": _v2,
    "v3": _v3,
    "v4": _v4,
    "v5": _v5,
}

#: What a data directory computes unless configured otherwise; the first is published. v3 and
#: v4 are not among them: v5 is v4 with the limited move kept across sessions without a bar, v4
#: is v3's rules with sessions counted on the trade calendar, and their calls are equal wherever
#: no session lacks a bar, so computing them all every night would store the same call two or
#: three times on almost every session. v3 and v4 stay registered: their stored snapshots
#: verify, and ``CALLBOOK_METHODOLOGIES=v5,v4,v3,v2,v1`` computes them beside v5.
DEFAULT_METHODOLOGIES: tuple[str, ...] = ("v5", "v2", "v1")


def registered() -> tuple[str, ...]:
    """Every methodology version callbook can compute."""
    return tuple(_LOADERS)


def register(version: str, loader: Callable[[], Methodology]) -> None:
    """Register a methodology under ``version`` (a loader, so that its code is imported only
    when it is first asked for). Refuses a version that is taken: a version names one rule set
    forever."""
    if version in _LOADERS or version == ANALYST_METHODOLOGY:
        raise ValueError(f"methodology {version!r} is registered already")
    _LOADERS[version] = loader


@cache
def get(version: str) -> Methodology:
    """The registered methodology ``version``; a clear error for an unknown one."""
    loader = _LOADERS.get(version)
    if loader is None:
        raise ValueError(
            f"unknown methodology {version!r}; callbook knows {', '.join(registered())}"
        )
    methodology = loader()
    if methodology.version != version:
        raise ValueError(f"the loader of {version!r} returned methodology {methodology.version!r}")
    return methodology


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


def note_template(methodology_version: str) -> str:
    """The note template of a stored call's methodology: its own, v1's for analyst calls and
    for a methodology this code does not register (an old variant: its fields are v1's)."""
    if methodology_version in _LOADERS:
        return str(get(methodology_version).note_template)
    return "v1"


def statement_checker(methodology_version: str) -> Callable[..., pl.DataFrame] | None:
    """The statement checker of a stored call's methodology (None: it has none, or this code
    does not register it)."""
    if methodology_version in _LOADERS:
        return get(methodology_version).statement_checker
    return None


def coherence_settings(
    methodology_version: str,
) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """What a stored call's methodology declares for the coherence checker: (parameter
    overrides, lexicon additions); none for analyst calls and a methodology this code does not
    register.

    >>> coherence_settings("v1"), coherence_settings("old-variant")
    (({}, {}), ({}, {}))
    """
    if methodology_version in _LOADERS:
        m = get(methodology_version)
        return dict(m.coherence_params), dict(m.coherence_lexicon)
    return {}, {}
