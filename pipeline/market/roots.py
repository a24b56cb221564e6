"""The roots registry: which futures roots callbook knows and their contract specifications.

Configuration, not code: the built-in ``roots.toml`` beside this module declares the four CME
equity-index roots (RTY, ES, NQ, YM); a user adds roots, or replaces the default set, in files of
the same shape named by ``CALLBOOK_ROOTS_FILE`` (several: joined by ``os.pathsep``). The variable is
read here, not passed in, so that every process of a run (task-runner workers included) sees the
same registry as long as it inherits the environment.

A ``[synthetic]`` table declares ``count`` generated demo roots (``DEMO001``, ``DEMO002`` ...): the
demo source gives each one seeded parameters on the same calendar, so a benchmark or a demo can run
any number of roots.

>>> spec("RTY").tick, spec("ES").peers
(0.1, ('NQ',))
>>> registry().default
('RTY', 'ES', 'NQ', 'YM')
>>> synthetic_names("DEMO", 3)
('DEMO001', 'DEMO002', 'DEMO003')
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

BUILTIN_FILE = Path(__file__).with_name("roots.toml")
#: Environment variable naming the user's roots file(s).
ROOTS_FILE_ENV = "CALLBOOK_ROOTS_FILE"
#: A root is an upper-case letter then up to 11 letters or digits (its contracts add H26 etc.).
ROOT_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")
#: Cash index symbols (Yahoo's ``^GSPC``) start with this; bars stored under such a "contract"
#: are the root's underlying index, not a futures contract.
INDEX_PREFIX = "^"
#: Synthetic demo roots: how many digits their number has at least (DEMO001).
SYNTHETIC_DIGITS = 3
#: The plausible price range (index points) of a root whose file declares none: it refuses only
#: absurd values (an infinity, a 1e300, a negative price), not a unit error; declare
#: ``price_range`` to catch those too.
DEFAULT_PRICE_RANGE = (1e-6, 1e9)
#: The plausible price range of synthetic demo roots: the union of the four CME roots' ranges
#: (roots.toml) times the demo's level scale (0.5 .. 2, pipeline/sources/demo.py).
SYNTHETIC_PRICE_RANGE = (25.0, 2_000_000.0)
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


class RegistryError(ValueError):
    """A roots file that cannot be used: the message names the file and the field."""


@dataclass(frozen=True)
class RootSpec:
    """One futures root: quarterly H/M/U/Z contracts with CME expiries and the calendar roll."""

    root: str
    name: str
    multiplier: float  # USD per index point
    tick: float  # index points
    yahoo_continuous: str | None = None  # Yahoo's front-month symbol ("RTY=F"); None: not on Yahoo
    yahoo_contracts: bool = False  # Yahoo lists single contracts as "RTYH26.CME"
    cash_index: str | None = None  # the underlying cash index, Yahoo symbol ("^RUT"); index points
    peers: tuple[str, ...] = ()  # roots its relative strength is measured against
    file_columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> vendor column
    synthetic: bool = False  # a generated demo root (the demo source only)
    #: (lowest, highest) price a bar of the root (or of its cash index) can plausibly have, index
    #: points: about half the lowest level ever seen and about 10x the highest, so a unit error, a
    #: 1e300 or an infinity is refused while decades of real moves fit (validation rule
    #: price.plausible; the levels of analyst calls are held to it too).
    price_range: tuple[float, float] = DEFAULT_PRICE_RANGE


@dataclass(frozen=True)
class Registry:
    specs: Mapping[str, RootSpec]
    default: tuple[str, ...]  # the roots a run covers unless told otherwise

    def __contains__(self, root: object) -> bool:
        return root in self.specs

    def names(self) -> tuple[str, ...]:
        return tuple(self.specs)


def synthetic_names(prefix: str, count: int) -> tuple[str, ...]:
    width = max(SYNTHETIC_DIGITS, len(str(count)))
    return tuple(f"{prefix}{i:0{width}d}" for i in range(1, count + 1))


def _fail(path: Path, where: str, message: str) -> RegistryError:
    return RegistryError(f"{path}: {where}: {message}")


def _root_name(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not ROOT_PATTERN.match(value):
        raise _fail(
            path, where, f"{value!r} is not a root name (an upper-case letter, then A-Z or 0-9)"
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


def _spec(path: Path, root: str, table: Any) -> RootSpec:
    where = f"[roots.{root}]"
    if not isinstance(table, dict):
        raise _fail(path, where, "must be a table")
    known = {
        "name",
        "point_value",
        "tick",
        "yahoo_continuous",
        "yahoo_contracts",
        "cash_index",
        "peers",
        "file_columns",
        "price_range",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise _fail(
            path, where, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
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
    return RootSpec(
        root=root,
        name=str(table.get("name", root)),
        multiplier=_positive(path, f"{where} point_value", table["point_value"]),
        tick=_positive(path, f"{where} tick", table["tick"]),
        yahoo_continuous=continuous,
        yahoo_contracts=bool(table.get("yahoo_contracts", False)),
        cash_index=index,
        peers=_peers(path, f"{where} peers", table.get("peers", [])),
        file_columns=dict(columns),
        price_range=_price_range(
            path, f"{where} price_range", table.get("price_range", DEFAULT_PRICE_RANGE)
        ),
    )


def _price_range(path: Path, where: str, value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not 0 < value[0] < value[1] < float("inf")
    ):
        raise _fail(
            path, where, f"must be [lowest, highest] with 0 < lowest < highest, got {value!r}"
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


def configured_files() -> list[Path]:
    """The built-in file, then the user's files from ``CALLBOOK_ROOTS_FILE``."""
    extra = os.environ.get(ROOTS_FILE_ENV, "")
    return [BUILTIN_FILE, *(Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip())]


def registry() -> Registry:
    """The registry for the current configuration (cached per set of files)."""
    return _cached_registry(tuple(configured_files()))


@cache
def _cached_registry(paths: tuple[Path, ...]) -> Registry:
    return load_registry(paths)


def spec(root: str) -> RootSpec:
    """The specification of a known root; a clear error naming the known ones otherwise."""
    specs = registry().specs
    try:
        return specs[root]
    except KeyError:
        raise RegistryError(
            f"unknown root {root!r}; callbook knows {describe_known(specs)} "
            f"(add roots in a file named by {ROOTS_FILE_ENV})"
        ) from None


def describe_known(specs: Mapping[str, RootSpec]) -> str:
    """The known roots for an error message (generated demo roots summarised, not listed)."""
    named = [r for r, s in specs.items() if not s.synthetic]
    synthetic = [r for r, s in specs.items() if s.synthetic]
    text = ", ".join(named)
    if synthetic:
        text += f" and {len(synthetic)} synthetic demo roots ({synthetic[0]}..{synthetic[-1]})"
    return text


class RootSpecs(Mapping[str, RootSpec]):
    """A read-only view of the current registry's specifications (``ROOT_SPECS``)."""

    def __getitem__(self, root: str) -> RootSpec:
        return registry().specs[root]

    def __iter__(self) -> Iterator[str]:
        return iter(registry().specs)

    def __len__(self) -> int:
        return len(registry().specs)
