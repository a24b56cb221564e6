"""Contract specifications, quarterly expiries and the roll schedule.

Equity-index futures list quarterly contracts (H=Mar, M=Jun, U=Sep, Z=Dec) that expire on the
third Friday of the contract month (moved to the previous trade date if that Friday is not one).
The default roll is the Thursday 8 calendar days before expiry: from that session on, the next
contract is the front.

Each root's cash index (``RootSpec.cash_index``, Yahoo's symbol such as ``^GSPC``) is stored as
bars of the root under that symbol as the contract; front-month feeds measure their roll gaps
against it (:mod:`pipeline.market.rolls`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.market.calendar import is_trade_date, previous_trade_date
from pipeline.market.roots import INDEX_PREFIX, RootSpec, RootSpecs
from pipeline.text import excerpt

QUARTER_CODES: dict[int, str] = {3: "H", 6: "M", 9: "U", 12: "Z"}
CODE_MONTHS: dict[str, int] = {v: k for k, v in QUARTER_CODES.items()}
ROLL_DAYS_BEFORE_EXPIRY = 8


#: Every root's specification, from the roots registry (pipeline/market/roots.toml and the user's
#: CALLBOOK_ROOTS_FILE): a live view, so a configured file is seen wherever this is imported.
ROOT_SPECS: Mapping[str, RootSpec] = RootSpecs()
#: How far ahead of a session a quarterly contract can already be listed (CME lists the equity
#: index quarterlies about five quarters out; two years leaves room for any vendor's next-next).
LISTING_HORIZON_DAYS = 730


def is_index_symbol(code: str) -> bool:
    """True for a cash index symbol stored as a root's "contract" (``^GSPC``).

    >>> is_index_symbol("^DJI"), is_index_symbol("YM=F"), is_index_symbol("YMH26")
    (True, False, False)
    """
    return code.startswith(INDEX_PREFIX)


#: A root (see pipeline.market.roots.ROOT_PATTERN), the month code and a two-digit year.
_CONTRACT_RE = re.compile(r"^(?P<root>[A-Z][A-Z0-9]{0,11})(?P<code>[HMUZ])(?P<yy>\d{2})$")


@dataclass(frozen=True, order=True)
class Contract:
    """One quarterly contract, ordered by expiry."""

    year: int
    month: int
    root: str

    @property
    def code(self) -> str:
        """Exchange-style code with a two-digit year, e.g. ``RTYH26``.

        >>> Contract(2026, 3, "RTY").code
        'RTYH26'
        """
        return f"{self.root}{QUARTER_CODES[self.month]}{self.year % 100:02d}"

    @property
    def expiry(self) -> date:
        """Last trade date: the third Friday of the contract month (or the trade date before it).

        >>> Contract(2026, 3, "RTY").expiry
        datetime.date(2026, 3, 20)
        """
        third_friday = self.third_friday
        return third_friday if is_trade_date(third_friday) else previous_trade_date(third_friday)

    @property
    def third_friday(self) -> date:
        first = date(self.year, self.month, 1)
        return first + timedelta(days=(4 - first.weekday()) % 7 + 14)

    @property
    def roll_date(self) -> date:
        """First session on which the *next* contract is the front (calendar roll).

        Counted from the nominal third Friday, as CME publishes it, even when the expiry moves
        (June 2026: Juneteenth moves the expiry to Thursday 18 June; the roll stays on 11 June).

        >>> [Contract(2026, m, "RTY").roll_date.isoformat() for m in (3, 6, 9, 12)]
        ['2026-03-12', '2026-06-11', '2026-09-10', '2026-12-10']
        """
        d = self.third_friday - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY)
        return d if is_trade_date(d) else previous_trade_date(d)

    def next(self) -> Contract:
        return Contract(self.year + (self.month == 12), self.month % 12 + 3, self.root)

    def previous(self) -> Contract:
        return Contract(self.year - (self.month == 3), (self.month - 4) % 12 + 1, self.root)


def parse_contract(code: str) -> Contract:
    """``RTYH26`` -> Contract(2026, 3, 'RTY'). Two-digit years map to 2000-2099.

    >>> parse_contract("ESZ05")
    Contract(year=2005, month=12, root='ES')
    >>> parse_contract("DEMO042U31")
    Contract(year=2031, month=9, root='DEMO042')
    """
    m = _CONTRACT_RE.match(code)
    if not m:
        raise ValueError(f"not a quarterly contract code: {code!r}")
    return Contract(2000 + int(m["yy"]), CODE_MONTHS[m["code"]], m["root"])


def listing_problem(root: str, code: str | None, session: date | None) -> str | None:
    """Why ``code`` cannot be a bar of ``root`` on ``session``, or None if it can.

    A bar's contract is one of the root's quarterly contracts, listed on the session (expiring on
    or after it and at most LISTING_HORIZON_DAYS later), the root's continuous symbol (``ES=F``)
    or its cash index (``^GSPC``).

    >>> [listing_problem("ES", c, date(2026, 2, 4)) for c in ("ESH26", "ES=F", "^GSPC")]
    [None, None, None]
    >>> listing_problem("ES", "ESX26", date(2026, 2, 4))
    "'ESX26' is not a quarterly contract code (ROOT + H/M/U/Z + two-digit year)"
    >>> listing_problem("ES", "NQH26", date(2026, 2, 4))
    "'NQH26' is a contract of NQ, not of ES"
    >>> listing_problem("ES", "ESZ25", date(2026, 2, 4))
    'ESZ25 expired on 2025-12-19, before the session 2026-02-04'
    >>> listing_problem("ES", "ESZ29", date(2026, 2, 4))
    'ESZ29 (expiry 2029-12-21) was not listed on 2026-02-04 (more than 730 days ahead)'
    """
    spec = ROOT_SPECS.get(root)
    if spec is None:
        return f"unknown root {root!r}"
    if code is None or not code.strip():
        return "the contract is missing"
    if code in (spec.yahoo_continuous, spec.cash_index):
        return None
    if is_index_symbol(code) or code.endswith("=F"):
        return f"{excerpt(code)} is not {root}'s continuous symbol or cash index"
    try:
        contract = parse_contract(code)
    except ValueError:
        return f"{excerpt(code)} is not a quarterly contract code (ROOT + H/M/U/Z + two-digit year)"
    if contract.root != root:
        return f"{excerpt(code)} is a contract of {contract.root}, not of {root}"
    if session is None:
        return None  # an undated row is session.parsed's finding
    expiry = contract.expiry
    if expiry < session:
        return f"{code} expired on {expiry}, before the session {session}"
    if (expiry - session).days > LISTING_HORIZON_DAYS:
        return (
            f"{code} (expiry {expiry}) was not listed on {session} "
            f"(more than {LISTING_HORIZON_DAYS} days ahead)"
        )
    return None


def front_contract(root: str, d: date) -> Contract:
    """The front contract on session ``d`` under the calendar roll.

    >>> front_contract("RTY", date(2026, 3, 11)).code, front_contract("RTY", date(2026, 3, 12)).code
    ('RTYH26', 'RTYM26')
    """
    month = ((d.month - 1) // 3 + 1) * 3
    c = Contract(d.year, month, root)
    while c.roll_date <= d:
        c = c.next()
    return c


def first_expiring_on_or_after(root: str, day: date) -> Contract:
    """The contract of ``root`` with the earliest expiry on or after ``day``: the contract a vendor
    front-month feed holds on ``day`` (it stays on a contract through its expiry session).

    >>> [first_expiring_on_or_after("ES", date(2026, 3, d)).code for d in (19, 20, 23)]
    ['ESH26', 'ESH26', 'ESM26']
    """
    contract = front_contract(root, day).previous()
    while contract.expiry < day:
        contract = contract.next()
    return contract


def contracts_between(root: str, start: date, end: date) -> list[Contract]:
    """Every contract that is front or next at some session in [start, end], by expiry."""
    c = front_contract(root, start)
    out = [c]
    last = front_contract(root, end).next()
    while c < last:
        c = c.next()
        out.append(c)
    return out
