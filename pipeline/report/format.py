"""Number and date formatting for notes and charts: prices on the tick grid, zones, percentages.

Everything here formats a value it is given; nothing recomputes a call. Prices are rounded to the
nearest multiple of the root's tick (half away from zero, in decimal arithmetic so 2512.35 is not
shown as 2512.3 because of binary floating point) and shown with thousands separators and as many
decimals as the tick has. Dates are formatted without the locale (month names are fixed English).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pipeline.market.notation import format_price as notation_price
from pipeline.market.notation import tick_decimals as tick_decimals
from pipeline.market.roots import FALLBACK_TICK, Registry, RootSpec, builtin_registry
from pipeline.text import format_date_long as format_date_long
from pipeline.text import format_date_short as format_date_short

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: The separator between the two edges of a zone (an en dash, as in a printed note).
ZONE_DASH = "–"
PERCENT_TOTAL = 100
#: In units of one tick: a value this close to a half tick is rounded in decimal arithmetic.
HALF_TICK_GUARD = 1e-6
#: Probabilities that sum to 1 within this are shown as whole percents that sum to exactly 100.
PROBABILITY_SUM_TOLERANCE = 0.005


def root_spec(root: str, registry: Registry | None = None) -> RootSpec:
    """The contract specification of ``root`` in ``registry`` (None: the built-in registry).

    A root the registry does not know (a user's root, a generated demo root, when the caller
    passes no registry) is written with a generic specification: its name, a 0.01 tick, decimal
    prices in points, the analysis's own fallback for such roots (pipeline/analysis/engine.py).

    >>> root_spec("ES").tick, root_spec("DEMO042").tick, root_spec("DEMO042").name
    (0.25, 0.01, 'DEMO042')
    """
    specs = (registry if registry is not None else builtin_registry()).specs
    spec = specs.get(root)
    return spec if spec is not None else RootSpec(root, root, 1.0, FALLBACK_TICK, unit="points")


def format_price(value: float, *, tick: float, notation: str = "decimal") -> str:
    """``value`` (price units) on the nearest tick, written in the root's ``notation``
    (:mod:`pipeline.market.notation`: decimal with thousands separators, 32nds, eighths).

    >>> format_price(2512.34, tick=0.1), format_price(2512.35, tick=0.1)
    ('2,512.3', '2,512.4')
    >>> format_price(6812.3, tick=0.25), format_price(44010.4, tick=1.0)
    ('6,812.25', '44,010')
    >>> format_price(112.9375, tick=0.015625, notation="32nds"), format_price(-37.63, tick=0.01)
    ("112'30", '-37.63')
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot format a non-finite price: {value!r}")
    if value == 0:  # 0.0 and -0.0 are one key of a cache
        return notation_price(value, tick=tick, notation=notation)
    return _cached_price(float(value), tick, notation)


@lru_cache(maxsize=1 << 16)
def _cached_price(value: float, tick: float, notation: str) -> str:
    """The site formats the same levels on page after page (a level stands for weeks)."""
    return notation_price(value, tick=tick, notation=notation)


def prices_on_grid(values: Sequence[float] | NDArray[Any], *, tick: float) -> list[str | None]:
    """Many prices as :func:`format_price` shows them but without thousands separators (for data
    a script reads), ``None`` for a missing value; fast for long arrays: binary arithmetic, with
    :func:`format_price`'s decimal rounding wherever a value sits within a hair of a half tick.

    >>> prices_on_grid([2512.35, 2512.34, float("nan")], tick=0.1)
    ['2512.4', '2512.3', None]
    """
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    steps = array / tick
    grid = np.floor(steps + 0.5) * tick
    decimals = tick_decimals(tick)
    out: list[str | None] = [f"{v:.{decimals}f}" for v in grid.tolist()]
    near_half = np.abs(steps - np.floor(steps) - 0.5) < HALF_TICK_GUARD
    for i in np.flatnonzero(near_half | (grid == 0)).tolist():
        out[i] = format_price(float(array[i]), tick=tick).replace(",", "")
    for i in np.flatnonzero(~np.isfinite(array)).tolist():
        out[i] = None
    return out


def format_zone(low: float, high: float, *, tick: float, notation: str = "decimal") -> str:
    """A zone as ``low–high`` (en dash), both edges on the tick grid, in the root's notation.

    >>> format_zone(2500.0, 2520.0, tick=0.1)
    '2,500.0–2,520.0'
    """
    low_text = format_price(low, tick=tick, notation=notation)
    return f"{low_text}{ZONE_DASH}{format_price(high, tick=tick, notation=notation)}"


def format_percent(fraction: float | None, *, decimals: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage; ``None`` (not available, e.g. in warm-up) as ``n/a``.

    >>> format_percent(0.0634), format_percent(-0.0123, signed=True), format_percent(None)
    ('6.3%', '-1.2%', 'n/a')
    >>> format_percent(0.021, signed=True, decimals=2)
    '+2.10%'
    """
    if fraction is None or not math.isfinite(fraction):
        return "n/a"
    return f"{format_number(fraction * PERCENT_TOTAL, decimals=decimals, signed=signed)}%"


def format_number(value: float | None, *, decimals: int = 1, signed: bool = False) -> str:
    """A plain number (ATR multiples, RSI, ADX); ``None`` as ``n/a``.

    >>> format_number(4.234), format_number(-0.25, signed=True), format_number(61.0, decimals=0)
    ('4.2', '-0.2', '61')
    >>> format_number(-0.004, signed=True), format_number(-0.04)
    ('+0.0', '0.0')
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    if round(value, decimals) == 0:
        value = 0.0  # never "-0.0": a value that rounds to zero has no sign worth showing
    sign = "+" if signed else ""
    return f"{value:{sign}.{decimals}f}"


def whole_percents(probabilities: Sequence[float]) -> list[int]:
    """Probabilities as whole percents that still sum to 100 (largest-remainder rounding).

    Each result is the floor or the ceiling of ``100 * p``; the ceilings go to the largest
    remainders (ties to the earlier entry). Probabilities that do not sum to 1 (an analyst's call
    that leaves some mass out) are rounded one by one instead.

    >>> whole_percents([0.2, 0.4, 0.4])
    [20, 40, 40]
    >>> whole_percents([0.3333, 0.3333, 0.3334])
    [33, 33, 34]
    >>> whole_percents([0.2, 0.3])
    [20, 30]
    """
    scaled = [Decimal(repr(p)) * PERCENT_TOTAL for p in probabilities]
    if abs(sum(probabilities) - 1.0) > PROBABILITY_SUM_TOLERANCE:
        return [int(s.to_integral_value(rounding=ROUND_HALF_UP)) for s in scaled]
    floors = [int(s // 1) for s in scaled]
    missing = PERCENT_TOTAL - sum(floors)
    by_remainder = sorted(range(len(scaled)), key=lambda i: (-(scaled[i] - floors[i]), i))
    for i in by_remainder[: max(0, missing)]:
        floors[i] += 1
    return floors
