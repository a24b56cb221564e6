"""Contracts of a root: codes, last trading days, first notice days and the roll schedule.

A contract is a root's delivery month (``CLK20``: WTI crude for May 2020). Its dates come from the
root's named rules in the roots registry (:mod:`pipeline.market.expiry`), evaluated on the root's
trade-date calendar:

* ``expiry``: the last trading day (CLK20: 21 Apr 2020; ESH26: 20 Mar 2026).
* ``first_notice``: the first notice day of a physically delivered root with a notice period
  before the last trading day (GCJ24: 28 Mar 2024), else None.
* ``roll_date``: the first session on which a per-contract series holds the next *active*
  contract (``RootSpec.active``): the CME equity convention for the index roots (the Thursday 8
  calendar days before the third Friday), sessions before first notice for physically delivered
  roots (sessions before the last trading day where there is no notice period).

Two cycles: a root's ``months`` are the contract months listed (codes validation accepts, the
months a vendor front-month feed walks through: :func:`first_expiring_on_or_after`); its
``active`` months are those a per-contract series holds (:func:`front_contract`). They differ
for the metals (gold lists every near month and trades G J M Q V Z).

Each root's cash index (``RootSpec.cash_index``, Yahoo's symbol such as ``^GSPC``) is stored as
bars of the root under that symbol as the contract; front-month feeds measure their roll gaps
against it (:mod:`pipeline.market.rolls`).

Pure: every function takes the root's ``RootSpec`` (a registry value) and dates; a root's name
instead of its spec means the built-in registry's entry (``builtin_spec``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from pipeline.market.roots import INDEX_PREFIX, MONTH_CODES, RootSpec, builtin_spec
from pipeline.text import excerpt

#: How far ahead of a session a contract can already be listed (CME lists the equity index
#: quarterlies about five quarters out; two years leaves room for any vendor's next-next).
LISTING_HORIZON_DAYS = 730


def is_index_symbol(code: str) -> bool:
    """True for a cash index symbol stored as a root's "contract" (``^GSPC``).

    >>> is_index_symbol("^DJI"), is_index_symbol("YM=F"), is_index_symbol("YMH26")
    (True, False, False)
    """
    return code.startswith(INDEX_PREFIX)


#: A root (see pipeline.market.roots.ROOT_PATTERN), the month code and a two-digit year.
_CONTRACT_RE = re.compile(
    r"^(?P<root>[A-Z0-9][A-Z0-9]{0,11})(?P<code>[FGHJKMNQUVXZ])(?P<yy>\d{2})$"
)


def _step(year: int, month: int, cycle: tuple[int, ...], forward: bool) -> tuple[int, int]:
    """The next (or previous) month of ``cycle`` strictly after (before) ``year``-``month``."""
    if forward:
        later = [m for m in cycle if m > month]
        return (year, later[0]) if later else (year + 1, cycle[0])
    earlier = [m for m in cycle if m < month]
    return (year, earlier[-1]) if earlier else (year - 1, cycle[-1])


@dataclass(frozen=True, order=True)
class Contract:
    """One contract of a root, ordered by delivery month (and so by expiry)."""

    year: int
    month: int
    root: str
    #: The root's contract facts; None: the built-in registry's entry for ``root``.
    spec: RootSpec | None = field(default=None, compare=False, repr=False, hash=False)

    @cached_property
    def facts(self) -> RootSpec:
        """The root's contract facts (``spec``, else the built-in registry's)."""
        return self.spec if self.spec is not None else builtin_spec(self.root)

    @property
    def code(self) -> str:
        """Exchange-style code with a two-digit year, e.g. ``RTYH26``.

        >>> from pipeline.market.roots import builtin_spec
        >>> contract(builtin_spec("CL"), 2020, 5).code
        'CLK20'
        """
        return f"{self.root}{MONTH_CODES[self.month - 1]}{self.year % 100:02d}"

    @cached_property
    def expiry(self) -> date:
        """The last trading day (the root's ``last_trade`` rule on its calendar).

        >>> from pipeline.market.roots import builtin_spec
        >>> contract(builtin_spec("RTY"), 2026, 3).expiry, contract(builtin_spec("CL"), 2020, 5).expiry
        (datetime.date(2026, 3, 20), datetime.date(2020, 4, 21))
        """
        return self.facts.last_trade.date(self.facts.trading_calendar, self.year, self.month)

    @cached_property
    def first_notice(self) -> date | None:
        """The first notice day of a physically delivered root that has one, else None.

        >>> from pipeline.market.roots import builtin_spec
        >>> contract(builtin_spec("GC"), 2024, 4).first_notice  # Good Friday 29 Mar 2024
        datetime.date(2024, 3, 28)
        """
        rule = self.facts.first_notice
        return (
            None if rule is None else rule.date(self.facts.trading_calendar, self.year, self.month)
        )

    @cached_property
    def roll_date(self) -> date:
        """First session on which the *next* active contract is a per-contract series' front.

        Equity index: counted from the nominal third Friday, as CME publishes it, even when the
        expiry moves (June 2026: Juneteenth moves the expiry to Thursday 18 June; the roll stays
        on 11 June).

        >>> from pipeline.market.roots import builtin_spec
        >>> [contract(builtin_spec("RTY"), 2026, m).roll_date.isoformat() for m in (3, 6, 9, 12)]
        ['2026-03-12', '2026-06-11', '2026-09-10', '2026-12-10']
        >>> contract(builtin_spec("GC"), 2024, 4).roll_date  # 2 sessions before first notice
        datetime.date(2024, 3, 26)
        """
        return self.facts.roll.date(
            self.facts.trading_calendar,
            self.year,
            self.month,
            last_trade=self.expiry,
            first_notice=self.first_notice,
        )

    def next(self) -> Contract:
        """The next contract of the root's active cycle."""
        y, m = _step(self.year, self.month, self.facts.month_numbers(self.facts.active), True)
        return Contract(y, m, self.root, self.facts)

    def previous(self) -> Contract:
        """The previous contract of the root's active cycle."""
        y, m = _step(self.year, self.month, self.facts.month_numbers(self.facts.active), False)
        return Contract(y, m, self.root, self.facts)

    def next_listed(self) -> Contract:
        """The next listed contract (``RootSpec.months``): the next one a front-month feed holds."""
        y, m = _step(self.year, self.month, self.facts.month_numbers(self.facts.months), True)
        return Contract(y, m, self.root, self.facts)


Root = RootSpec | str


def _facts(root: Root) -> RootSpec:
    return root if isinstance(root, RootSpec) else builtin_spec(root)


def contract(spec: Root, year: int, month: int) -> Contract:
    """The contract of ``spec``'s root for ``year``-``month`` (any month: a listed or an active
    one is the caller's business)."""
    facts = _facts(spec)
    return Contract(year, month, facts.root, facts)


def parse_contract(code: str, spec: Root | None = None) -> Contract:
    """``RTYH26`` -> the RTY March 2026 contract. Two-digit years map to 2000-2099; the month must
    be one of the root's listed months.

    >>> from pipeline.market.roots import builtin_spec
    >>> c = parse_contract("ESZ05", builtin_spec("ES"))
    >>> (c.year, c.month, c.root)
    (2005, 12, 'ES')
    >>> parse_contract("ESX05", builtin_spec("ES"))
    Traceback (most recent call last):
    ...
    ValueError: 'ESX05' is not a contract of ES (ROOT + a month of HMUZ + two-digit year)
    """
    m = _CONTRACT_RE.match(code)
    if spec is None and m:
        spec = m["root"]
    if spec is None:
        raise ValueError(f"{excerpt(code)} is not a contract code (ROOT + month code + yy)")
    spec = _facts(spec)
    if not m or m["root"] != spec.root or m["code"] not in spec.months:
        raise ValueError(
            f"{excerpt(code)} is not a contract of {spec.root} "
            f"(ROOT + a month of {spec.months} + two-digit year)"
        )
    return Contract(2000 + int(m["yy"]), MONTH_CODES.index(m["code"]) + 1, spec.root, spec)


def contract_root(code: str) -> str | None:
    """The root a contract code names (``ZNH26`` -> ``ZN``), None for anything else.

    >>> contract_root("ZNH26"), contract_root("6EM25"), contract_root("ES=F")
    ('ZN', '6E', None)
    """
    m = _CONTRACT_RE.match(code)
    return m["root"] if m else None


def listing_problem(
    spec: RootSpec | None, root: str, code: str | None, session: date | None
) -> str | None:
    """Why ``code`` cannot be a bar of ``root`` (its spec ``spec``) on ``session``, or None.

    A bar's contract is one of the root's listed contracts, listed on the session (expiring on
    or after it and at most LISTING_HORIZON_DAYS later), the root's continuous symbol (``ES=F``)
    or its cash index (``^GSPC``).

    >>> from pipeline.market.roots import builtin_spec
    >>> es = builtin_spec("ES")
    >>> [listing_problem(es, "ES", c, date(2026, 2, 4)) for c in ("ESH26", "ES=F", "^GSPC")]
    [None, None, None]
    >>> listing_problem(es, "ES", "ESX26", date(2026, 2, 4))
    "'ESX26' is not a contract of ES (ROOT + a month of HMUZ + two-digit year)"
    >>> listing_problem(es, "ES", "NQH26", date(2026, 2, 4))
    "'NQH26' is a contract of NQ, not of ES"
    >>> listing_problem(es, "ES", "ESZ25", date(2026, 2, 4))
    'ESZ25 expired on 2025-12-19, before the session 2026-02-04'
    >>> listing_problem(es, "ES", "ESZ29", date(2026, 2, 4))
    'ESZ29 (expiry 2029-12-21) was not listed on 2026-02-04 (more than 730 days ahead)'
    """
    if spec is None:
        return f"unknown root {root!r}"
    if code is None or not code.strip():
        return "the contract is missing"
    if code in (spec.yahoo_continuous, spec.cash_index):
        return None
    if is_index_symbol(code) or code.endswith("=F"):
        return f"{excerpt(code)} is not {root}'s continuous symbol or cash index"
    other = contract_root(code)
    if other is not None and other != root:
        return f"{excerpt(code)} is a contract of {other}, not of {root}"
    try:
        c = parse_contract(code, spec)
    except ValueError as exc:
        return str(exc)
    if session is None:
        return None  # an undated row is session.parsed's finding
    expiry = c.expiry
    if expiry < session:
        return f"{code} expired on {expiry}, before the session {session}"
    if (expiry - session).days > LISTING_HORIZON_DAYS:
        return (
            f"{code} (expiry {expiry}) was not listed on {session} "
            f"(more than {LISTING_HORIZON_DAYS} days ahead)"
        )
    return None


def front_contract(spec: Root, d: date) -> Contract:
    """The front contract of a per-contract series on session ``d`` (active cycle, roll rule).

    >>> from pipeline.market.roots import builtin_spec
    >>> rty = builtin_spec("RTY")
    >>> front_contract(rty, date(2026, 3, 11)).code, front_contract(rty, date(2026, 3, 12)).code
    ('RTYH26', 'RTYM26')
    >>> gc = builtin_spec("GC")
    >>> front_contract(gc, date(2024, 3, 25)).code, front_contract(gc, date(2024, 3, 26)).code
    ('GCJ24', 'GCM24')
    """
    spec = _facts(spec)
    c = _first_in_cycle(spec, spec.active, d.year, d.month).previous()
    while c.roll_date <= d:
        c = c.next()
    return c


def _first_in_cycle(spec: RootSpec, cycle: str, year: int, month: int) -> Contract:
    """The contract of the first month of ``cycle`` on or after ``year``-``month``."""
    months = spec.month_numbers(cycle)
    if month in months:
        return Contract(year, month, spec.root, spec)
    y, m = _step(year, month, months, True)
    return Contract(y, m, spec.root, spec)


def first_expiring_on_or_after(spec: Root, day: date) -> Contract:
    """The listed contract with the earliest expiry on or after ``day``: the contract a vendor
    front-month feed holds on ``day`` (it stays on a contract through its expiry session).

    >>> from pipeline.market.roots import builtin_spec
    >>> es = builtin_spec("ES")
    >>> [first_expiring_on_or_after(es, date(2026, 3, d)).code for d in (19, 20, 23)]
    ['ESH26', 'ESH26', 'ESM26']
    >>> cl = builtin_spec("CL")
    >>> [first_expiring_on_or_after(cl, date(2020, 4, d)).code for d in (20, 21, 22)]
    ['CLK20', 'CLK20', 'CLM20']
    """
    spec = _facts(spec)
    c = _first_in_cycle(spec, spec.months, day.year, day.month)
    while c.expiry < day:
        c = c.next_listed()
    return c


def contracts_between(spec: Root, start: date, end: date) -> list[Contract]:
    """Every active contract that is front or next at some session in [start, end], by expiry."""
    c = front_contract(spec, start)
    out = [c]
    last = front_contract(spec, end).next()
    while c < last:
        c = c.next()
        out.append(c)
    return out


def expiries_between(spec: Root, start: date, end: date) -> list[Contract]:
    """The listed contracts expiring in [start, end], by expiry (a front-month feed's rolls).

    >>> from pipeline.market.roots import builtin_spec
    >>> [c.code for c in expiries_between(builtin_spec("ZC"), date(2024, 1, 1), date(2024, 12, 31))]
    ['ZCH24', 'ZCK24', 'ZCN24', 'ZCU24', 'ZCZ24']
    """
    out = []
    c = first_expiring_on_or_after(spec, start)
    while c.expiry <= end:
        out.append(c)
        c = c.next_listed()
    return out
