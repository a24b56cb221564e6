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
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.market.calendar import is_trade_date, previous_trade_date

QUARTER_CODES: dict[int, str] = {3: "H", 6: "M", 9: "U", 12: "Z"}
CODE_MONTHS: dict[str, int] = {v: k for k, v in QUARTER_CODES.items()}
ROLL_DAYS_BEFORE_EXPIRY = 8
#: Cash index symbols (Yahoo's ``^GSPC``) start with this; bars stored under such a "contract"
#: are the root's underlying index, not a futures contract.
INDEX_PREFIX = "^"


@dataclass(frozen=True)
class RootSpec:
    root: str
    name: str
    multiplier: float  # USD per index point
    tick: float  # index points
    yahoo_continuous: str
    cash_index: str  # the underlying cash index, Yahoo symbol (index points, no volume of use)


ROOT_SPECS: dict[str, RootSpec] = {
    "RTY": RootSpec("RTY", "E-mini Russell 2000", 50.0, 0.10, "RTY=F", "^RUT"),
    "ES": RootSpec("ES", "E-mini S&P 500", 50.0, 0.25, "ES=F", "^GSPC"),
    "NQ": RootSpec("NQ", "E-mini Nasdaq-100", 20.0, 0.25, "NQ=F", "^NDX"),
    "YM": RootSpec("YM", "E-mini Dow ($5)", 5.0, 1.0, "YM=F", "^DJI"),
}


def is_index_symbol(code: str) -> bool:
    """True for a cash index symbol stored as a root's "contract" (``^GSPC``).

    >>> is_index_symbol("^DJI"), is_index_symbol("YM=F"), is_index_symbol("YMH26")
    (True, False, False)
    """
    return code.startswith(INDEX_PREFIX)


_CONTRACT_RE = re.compile(r"^(?P<root>[A-Z]{1,3})(?P<code>[HMUZ])(?P<yy>\d{2})$")


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
    """
    m = _CONTRACT_RE.match(code)
    if not m:
        raise ValueError(f"not a quarterly contract code: {code!r}")
    return Contract(2000 + int(m["yy"]), CODE_MONTHS[m["code"]], m["root"])


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
