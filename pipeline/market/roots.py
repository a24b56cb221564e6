"""The roots registry: which futures roots callbook knows and their contract specifications.

Data, not code: the built-in ``roots.toml`` beside this module describes each root by the
exchange's published contract facts (exchange, product group, listed months, last trading day and
first notice day rules, tick and how prices are written, point value, calendar, plausible prices,
relative-strength peers and the words the note uses for them); a user adds roots, or replaces the
default set, in files of the same shape. The registry is a value: :func:`load_registry` builds
one from files, :func:`builtin_registry` is the built-in file's. Pure code takes the registry (or
a root's ``RootSpec``) as an argument; only the edge (flows/settings.py) decides which files make
it, from the environment (``CALLBOOK_ROOTS_FILE``).

A ``[synthetic]`` table declares ``count`` generated demo roots (``DEMO001``, ``DEMO002`` ...): the
demo source gives each one seeded parameters on the equity calendar, so a benchmark or a demo can
run any number of roots.

>>> known = builtin_registry()
>>> known.spec("RTY").tick, known.spec("ES").peers, known.default
(0.1, ('NQ',), ('RTY', 'ES', 'NQ', 'YM'))
>>> known.spec("ZN").notation, known.spec("CL").price_range
('32nds', (-100.0, 1500.0))
>>> synthetic_names("DEMO", 3)
('DEMO001', 'DEMO002', 'DEMO003')
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.market.calendar import CALENDARS, TradingCalendar, trading_calendar
from pipeline.market.expiry import DateRule, RollRule, RuleError
from pipeline.market.notation import NotationError, PriceWriter, check

BUILTIN_FILE = Path(__file__).with_name("roots.toml")
#: The environment variable the edge (flows/settings.py) reads the user's roots file(s) from;
#: named here so that error messages can point to it.
ROOTS_FILE_ENV = "CALLBOOK_ROOTS_FILE"
#: A root is an upper-case letter or a digit, then up to 11 letters or digits (6E, ZN, RTY; its
#: contracts add a month code and a two-digit year: ZNH26).
ROOT_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9]{0,11}$")
#: Cash index symbols (Yahoo's ``^GSPC``) start with this; bars stored under such a "contract"
#: are the root's underlying index, not a futures contract.
INDEX_PREFIX = "^"
#: Synthetic demo roots: how many digits their number has at least (DEMO001).
SYNTHETIC_DIGITS = 3
#: The plausible price range of a root whose file declares none: it refuses only absurd values
#: (an infinity, a 1e300, a price at or below zero), not a unit error; declare ``price_range``
#: to catch those too.
DEFAULT_PRICE_RANGE = (1e-6, 1e9)
#: The plausible price range of synthetic demo roots: the union of the four CME roots' ranges
#: (roots.toml) times the demo's level scale (0.5 .. 2, pipeline/sources/demo.py).
SYNTHETIC_PRICE_RANGE = (25.0, 2_000_000.0)
#: The bound on a roll gap measured without an index, fraction of price per year, where a root
#: declares none (pipeline/market/rolls.py: financing minus dividend yield of an equity index).
DEFAULT_MAX_ANNUAL_CARRY = 0.07
#: The tick of a root no registry describes, price units (the analysis and the reports alike).
FALLBACK_TICK = 0.01
#: Month codes, January (F) to December (Z).
MONTH_CODES = "FGHJKMNQUVXZ"
GROUPS = ("equity_index", "energy", "metals", "rates", "grains", "currencies")
SETTLEMENTS = ("cash", "physical")
EXCHANGES = ("CME", "CBOT", "NYMEX", "COMEX")
CANONICAL_FILE_COLUMNS = (
    "session_date",
    "contract",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "open_interest",
)
#: What a root file may leave out (the CME equity-index conventions of the first four roots).
EQUITY_MONTHS = "HMUZ"
EQUITY_LAST_TRADE = DateRule("third_friday")
EQUITY_ROLL = RollRule("days_before_third_friday", (("days", 8),))


class RegistryError(ValueError):
    """A roots file that cannot be used, or an unknown root: the message names file and field."""


@dataclass(frozen=True)
class Words:
    """How a note names a root and its relative-strength peers ("small caps" / "large caps")."""

    root: str = ""  # roots.toml: words.self
    peers: str = ""


@dataclass(frozen=True)
class RootSpec:
    """One futures root's contract facts (see roots.toml for each field's meaning and units)."""

    root: str
    name: str
    multiplier: float  # point value: currency units per price unit
    tick: float  # price units
    yahoo_continuous: str | None = None  # Yahoo's front-month symbol ("RTY=F"); None: not on Yahoo
    yahoo_contracts: bool = False  # Yahoo lists single contracts as "RTYH26.CME"
    cash_index: str | None = None  # the underlying cash index, Yahoo symbol ("^RUT")
    peers: tuple[str, ...] = ()  # roots its relative strength is measured against
    file_columns: tuple[tuple[str, str], ...] = ()  # canonical -> vendor column
    synthetic: bool = False  # a generated demo root (the demo source only)
    #: (lowest, highest) price a bar of the root (or of its cash index) can plausibly have,
    #: price units; a negative lowest price allows settlements below zero.
    price_range: tuple[float, float] = DEFAULT_PRICE_RANGE
    exchange: str = "CME"
    group: str = "equity_index"
    calendar: str = "cme_equity"
    months: str = EQUITY_MONTHS  # listed month codes: the front-month feed's cycle
    active: str = EQUITY_MONTHS  # month codes a per-contract series rolls through
    last_trade: DateRule = EQUITY_LAST_TRADE
    first_notice: DateRule | None = None
    settlement: str = "cash"
    roll: RollRule = EQUITY_ROLL
    notation: str = "decimal"
    currency: str = "USD"
    unit: str = "index points"
    max_annual_carry: float = DEFAULT_MAX_ANNUAL_CARRY
    seasonal: bool = False
    words: Words = field(default_factory=Words)

    @property
    def columns(self) -> dict[str, str]:
        """``file_columns`` as a mapping canonical -> vendor column."""
        return dict(self.file_columns)

    @property
    def trading_calendar(self) -> TradingCalendar:
        return trading_calendar(self.calendar)

    @property
    def allows_negative(self) -> bool:
        """A settlement at or below zero is a real price of this root (CL: 20 Apr 2020)."""
        return self.price_range[0] <= 0

    @property
    def prices(self) -> PriceWriter:
        """Writes and parses this root's prices as the exchange does (``notation``)."""
        return PriceWriter(self.tick, self.notation)

    def month_numbers(self, codes: str) -> tuple[int, ...]:
        return tuple(MONTH_CODES.index(c) + 1 for c in codes)


@dataclass(frozen=True)
class Registry:
    specs: Mapping[str, RootSpec]
    default: tuple[str, ...]  # the roots a run covers unless told otherwise

    def __contains__(self, root: object) -> bool:
        return root in self.specs

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Registry) and self._key == other._key

    @cached_property
    def _key(self) -> tuple[object, ...]:
        return (tuple(self.specs.items()), self.default)

    def names(self) -> tuple[str, ...]:
        return tuple(self.specs)

    def spec(self, root: str) -> RootSpec:
        """The specification of a known root; a clear error naming the known ones otherwise."""
        try:
            return self.specs[root]
        except KeyError:
            raise RegistryError(
                f"unknown root {root!r}; callbook knows {describe_known(self.specs)} "
                f"(add roots in a file named by {ROOTS_FILE_ENV})"
            ) from None

    def get(self, root: str) -> RootSpec | None:
        return self.specs.get(root)


def synthetic_names(prefix: str, count: int) -> tuple[str, ...]:
    width = max(SYNTHETIC_DIGITS, len(str(count)))
    return tuple(f"{prefix}{i:0{width}d}" for i in range(1, count + 1))


def _fail(path: Path, where: str, message: str) -> RegistryError:
    return RegistryError(f"{path}: {where}: {message}")


def _root_name(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not ROOT_PATTERN.match(value):
        raise _fail(
            path,
            where,
            f"{value!r} is not a root name (an upper-case letter or digit, then A-Z or 0-9)",
        )
    return value


def _positive(path: Path, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(path, where, f"must be a positive number, got {value!r}")
    return float(value)


def _peers(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(path, where, f"must be a list of roots, got {value!r}")
    return tuple(_root_name(path, where, v) for v in value)


def _choice(path: Path, where: str, value: Any, options: Sequence[str]) -> str:
    if value not in options:
        raise _fail(path, where, f"must be one of {', '.join(options)}, got {value!r}")
    return str(value)


def _text(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, f"must be a non-empty string, got {value!r}")
    return value


def _months(path: Path, where: str, value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value
        or any(c not in MONTH_CODES for c in value)
        or "".join(sorted(set(value), key=MONTH_CODES.index)) != value
    ):
        raise _fail(
            path,
            where,
            f"must be month codes in calendar order without repeats ({MONTH_CODES}), got {value!r}",
        )
    return value


def _rule(path: Path, where: str, value: Any, kind: type[DateRule] | type[RollRule]) -> Any:
    try:
        return kind.parse(value)
    except RuleError as exc:
        raise _fail(path, where, str(exc)) from None


def _words(path: Path, where: str, value: Any) -> Words:
    if not isinstance(value, dict) or set(value) - {"self", "peers"}:
        raise _fail(path, where, f"must be a table {{ self = ..., peers = ... }}, got {value!r}")
    texts = {k: _text(path, f"{where}.{k}", v) for k, v in value.items()}
    return Words(root=texts.get("self", ""), peers=texts.get("peers", ""))


KNOWN_FIELDS = frozenset(
    {
        "name",
        "point_value",
        "tick",
        "yahoo_continuous",
        "yahoo_contracts",
        "cash_index",
        "peers",
        "file_columns",
        "price_range",
        "exchange",
        "group",
        "calendar",
        "months",
        "active",
        "last_trade",
        "first_notice",
        "settlement",
        "roll",
        "notation",
        "currency",
        "unit",
        "max_annual_carry",
        "seasonal",
        "words",
    }
)


def _spec(path: Path, root: str, table: Any) -> RootSpec:
    where = f"[roots.{root}]"
    if not isinstance(table, dict):
        raise _fail(path, where, "must be a table")
    unknown = sorted(set(table) - KNOWN_FIELDS)
    if unknown:
        raise _fail(
            path,
            where,
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_FIELDS))}",
        )
    for required in ("point_value", "tick"):
        if required not in table:
            raise _fail(path, where, f"field {required!r} is required")
    columns = table.get("file_columns", {})
    if not isinstance(columns, dict) or not all(
        k in CANONICAL_FILE_COLUMNS and isinstance(v, str) for k, v in columns.items()
    ):
        raise _fail(
            path,
            f"{where} file_columns",
            f"must map canonical columns ({', '.join(CANONICAL_FILE_COLUMNS)}) to column names",
        )
    continuous, index = table.get("yahoo_continuous"), table.get("cash_index")
    for name, value in (("yahoo_continuous", continuous), ("cash_index", index)):
        if value is not None and not isinstance(value, str):
            raise _fail(path, f"{where} {name}", f"must be a string, got {value!r}")
    if index is not None and not index.startswith(INDEX_PREFIX):
        raise _fail(path, f"{where} cash_index", f"must start with {INDEX_PREFIX!r}, got {index!r}")
    tick = _positive(path, f"{where} tick", table["tick"])
    notation = table.get("notation", "decimal")
    try:
        check(notation, tick)
    except NotationError as exc:
        raise _fail(path, f"{where} notation", str(exc)) from None
    months = _months(path, f"{where} months", table.get("months", EQUITY_MONTHS))
    active = _months(path, f"{where} active", table.get("active", months))
    if set(active) - set(months):
        raise _fail(path, f"{where} active", f"{active!r} names months not in months {months!r}")
    last_trade = _rule(
        path, f"{where} last_trade", table.get("last_trade", {"rule": "third_friday"}), DateRule
    )
    first_notice = None
    if "first_notice" in table:
        first_notice = _rule(path, f"{where} first_notice", table["first_notice"], DateRule)
    roll = EQUITY_ROLL
    if "roll" in table:
        roll = _rule(path, f"{where} roll", table["roll"], RollRule)
    if roll.anchor == "first_notice" and roll.rule == "sessions_before" and first_notice is None:
        raise _fail(path, f"{where} roll", "rolls before first_notice, but the root has none")
    settlement = _choice(path, f"{where} settlement", table.get("settlement", "cash"), SETTLEMENTS)
    if first_notice is not None and settlement != "physical":
        raise _fail(path, f"{where} first_notice", "only a physically delivered root has one")
    seasonal = table.get("seasonal", False)
    if not isinstance(seasonal, bool):
        raise _fail(path, f"{where} seasonal", f"must be true or false, got {seasonal!r}")
    return RootSpec(
        root=root,
        name=str(table.get("name", root)),
        multiplier=_positive(path, f"{where} point_value", table["point_value"]),
        tick=tick,
        yahoo_continuous=continuous,
        yahoo_contracts=bool(table.get("yahoo_contracts", False)),
        cash_index=index,
        peers=_peers(path, f"{where} peers", table.get("peers", [])),
        file_columns=tuple(columns.items()),
        price_range=_price_range(
            path, f"{where} price_range", table.get("price_range", DEFAULT_PRICE_RANGE)
        ),
        exchange=_choice(path, f"{where} exchange", table.get("exchange", "CME"), EXCHANGES),
        group=_choice(path, f"{where} group", table.get("group", "equity_index"), GROUPS),
        calendar=_choice(
            path, f"{where} calendar", table.get("calendar", "cme_equity"), tuple(CALENDARS)
        ),
        months=months,
        active=active,
        last_trade=last_trade,
        first_notice=first_notice,
        settlement=settlement,
        roll=roll,
        notation=notation,
        currency=_text(path, f"{where} currency", table.get("currency", "USD")),
        unit=_text(path, f"{where} unit", table.get("unit", "index points")),
        max_annual_carry=_positive(
            path,
            f"{where} max_annual_carry",
            table.get("max_annual_carry", DEFAULT_MAX_ANNUAL_CARRY),
        ),
        seasonal=seasonal,
        words=_words(path, f"{where} words", table.get("words", {})),
    )


def _price_range(path: Path, where: str, value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not -float("inf") < value[0] < value[1] < float("inf")
    ):
        raise _fail(
            path,
            where,
            f"must be [lowest, highest] with lowest < highest (lowest <= 0 only where prices "
            f"at or below zero have happened), got {value!r}",
        )
    return float(value[0]), float(value[1])


def _synthetic(path: Path, table: Any) -> list[RootSpec]:
    where = "[synthetic]"
    if not isinstance(table, dict):
        raise _fail(path, where, "must be a table")
    count = table.get("count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100_000:
        raise _fail(path, f"{where} count", f"must be an integer 0..100000, got {count!r}")
    prefix = table.get("prefix", "DEMO")
    _root_name(path, f"{where} prefix", prefix)
    tick = _positive(path, f"{where} tick", table.get("tick", 0.25))
    multiplier = _positive(path, f"{where} point_value", table.get("point_value", 10.0))
    peers = _peers(path, f"{where} peers", table.get("peers", ["ES", "NQ"]))
    price_range = _price_range(
        path, f"{where} price_range", table.get("price_range", SYNTHETIC_PRICE_RANGE)
    )
    if price_range[0] <= 0:
        raise _fail(path, f"{where} price_range", "synthetic demo roots have positive prices")
    return [
        RootSpec(
            root=name,
            name=f"Synthetic demo root {i}",
            multiplier=multiplier,
            tick=tick,
            peers=peers,
            synthetic=True,
            price_range=price_range,
        )
        for i, name in enumerate(synthetic_names(prefix, count), start=1)
    ]


def parse_registry_file(path: Path) -> tuple[list[RootSpec], tuple[str, ...] | None]:
    """The roots a file declares and its ``default`` list (None when it sets none)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such roots file ({ROOTS_FILE_ENV})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"default", "roots", "synthetic"})
    if unknown:
        raise _fail(path, "top level", f"unknown key(s) {', '.join(unknown)}")
    roots = data.get("roots", {})
    if not isinstance(roots, dict):
        raise _fail(path, "[roots]", "must be a table of [roots.<ROOT>] tables")
    specs = [_spec(path, _root_name(path, "[roots]", r), t) for r, t in roots.items()]
    if "synthetic" in data:
        specs += _synthetic(path, data["synthetic"])
    default = data.get("default")
    if default is not None:
        default = _peers(path, "default", default)
    return specs, default


def load_registry(paths: Sequence[Path]) -> Registry:
    """The registry built from ``paths`` in order: a later file's root replaces an earlier one's,
    a later ``default`` replaces the earlier. Peers and defaults must name known roots."""
    specs: dict[str, RootSpec] = {}
    default: tuple[str, ...] = ()
    for path in paths:
        declared, file_default = parse_registry_file(path)
        specs.update((s.root, s) for s in declared)
        if file_default is not None:
            default = file_default
    for s in specs.values():
        missing = [p for p in s.peers if p not in specs]
        if missing:
            raise RegistryError(f"root {s.root}: unknown peer(s) {', '.join(missing)}")
    unknown = [r for r in default if r not in specs]
    if unknown:
        raise RegistryError(f"default names unknown root(s) {', '.join(unknown)}")
    return Registry(specs, default or tuple(specs))


@cache
def cached_registry(paths: tuple[Path, ...]) -> Registry:
    """:func:`load_registry` once per set of files (a registry is an immutable value)."""
    return load_registry(paths)


def builtin_registry() -> Registry:
    """The registry of the built-in ``roots.toml`` alone."""
    return cached_registry((BUILTIN_FILE,))


def builtin_spec(root: str) -> RootSpec:
    """The built-in specification of ``root`` (a clear error for an unknown one).

    >>> builtin_spec("GC").active
    'GJMQVZ'
    """
    return builtin_registry().spec(root)


def roots_table(registry: Registry) -> pl.DataFrame:
    """What the registry knows, one row per root (``callbook roots``): name, group, the listed
    months (the cycle), the tick written as the root writes prices, the notation, the peers and
    the note's words for them; generated demo roots are left out.

    >>> table = roots_table(builtin_registry())
    >>> table.filter(pl.col("root") == "ZN").row(0)
    ('ZN', '10-Year T-Note', 'rates', 'HMUZ', "0'005", '32nds', 'ZT ZF ZB', 'the 10-year vs the rest of the curve')
    """
    rows = [
        (
            s.root,
            s.name,
            s.group,
            s.months if s.active == s.months else f"{s.months} (active {s.active})",
            s.prices(s.tick),
            s.notation,
            " ".join(s.peers),
            f"{s.words.root} vs {s.words.peers}" if s.words.root else "",
        )
        for s in registry.specs.values()
        if not s.synthetic
    ]
    return pl.DataFrame(
        rows,
        schema=["root", "name", "group", "cycle", "tick", "notation", "peers", "words"],
        orient="row",
    )


def describe_known(specs: Mapping[str, RootSpec]) -> str:
    """The known roots for an error message (generated demo roots summarised, not listed)."""
    named = [r for r, s in specs.items() if not s.synthetic]
    synthetic = [r for r, s in specs.items() if s.synthetic]
    text = ", ".join(named)
    if synthetic:
        text += f" and {len(synthetic)} synthetic demo roots ({synthetic[0]}..{synthetic[-1]})"
    return text
