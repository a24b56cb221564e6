"""Prices as the exchange writes them: one formatter and one parser per notation.

A root's ``notation`` (roots registry) and ``tick`` decide how a price is written:

* ``decimal``: on the tick grid with as many decimals as the tick has and thousands separators
  (CL ``66.38``, GC ``5,252.8``, ES ``6,812.25``, 6E ``1.0845``, 6J ``0.0067105``).
* ``32nds``: Treasury futures in points and 32nds of a point, ``'`` between them: ZN ``112'30``
  is 112 30/32. A tick finer than 1/32 adds a third digit for the fraction of a 32nd, the first
  decimal of that fraction as CME writes it: a half ``112'305`` (112 30.5/32), quarters
  ``108'072`` / ``108'075`` / ``108'077`` (7.25, 7.5, 7.75/32), eighths ``'071 .. '077``
  (CME's 1/8 digits 1, 2, 3, 5, 6, 7, and 8 for 7/8). A price on a whole 32nd shows two digits.
* ``eighths``: grains in cents and eighths of a cent: ZC ``427'4`` is 427 4/8 = 427.5 cents per
  bushel; a quarter-cent tick shows the digits 0, 2, 4, 6.

A negative price is written with a leading minus (CL ``-37.63``). Formatting rounds to the
nearest tick first (half away from zero, in decimal arithmetic so 2512.35 is not shown as
2512.3 because of binary floating point); parsing accepts what formatting writes (and plain
decimals, which a person may type) and returns the price as a float on the grid.

Pure: strings and floats in and out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

NOTATIONS = ("decimal", "32nds", "eighths")
THIRTY_SECOND = 1 / 32
#: Ticks a ``32nds`` root may have: 1/32 and its half, quarter and eighth.
THIRTY_SECOND_TICKS = {THIRTY_SECOND / k: k for k in (1, 2, 4, 8)}
#: The third digit CME writes for each eighth of a 32nd (0/8 .. 7/8).
EIGHTH_DIGITS = ("0", "1", "2", "3", "5", "6", "7", "8")


class NotationError(ValueError):
    """A notation or a price text that cannot be used; the message names both."""


def tick_decimals(tick: float) -> int:
    """Decimals needed to show every multiple of ``tick`` exactly.

    >>> tick_decimals(0.1), tick_decimals(0.25), tick_decimals(1.0), tick_decimals(0.0000005)
    (1, 2, 0, 7)
    """
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def on_tick(value: float, tick: float) -> Decimal:
    """``value`` rounded to the nearest multiple of ``tick`` (half away from zero), exactly.

    >>> import numpy as np
    >>> on_tick(2512.35, 0.1), on_tick(-37.625, 0.01), on_tick(np.float64(101.5), 0.00390625)
    (Decimal('2512.4'), Decimal('-37.63'), Decimal('101.50000000'))
    """
    if not math.isfinite(value):
        raise NotationError(f"cannot write a non-finite price: {value!r}")
    step = Decimal(repr(float(tick)))
    return (Decimal(repr(float(value))) / step).to_integral_value(rounding=ROUND_HALF_UP) * step


def check(notation: str, tick: float) -> None:
    """Refuse a notation the tick cannot be written in (a clear error naming both).

    >>> check("32nds", 0.015625)
    >>> check("eighths", 0.3)
    Traceback (most recent call last):
    ...
    pipeline.market.notation.NotationError: notation 'eighths' needs a tick that is a multiple of 1/8, got 0.3
    """
    if notation not in NOTATIONS:
        raise NotationError(f"unknown notation {notation!r}; known: {', '.join(NOTATIONS)}")
    if notation == "32nds" and tick not in THIRTY_SECOND_TICKS:
        raise NotationError(
            f"notation '32nds' needs a tick of 1/32, 1/64, 1/128 or 1/256, got {tick!r}"
        )
    if notation == "eighths" and (tick * 8) != round(tick * 8):
        raise NotationError(
            f"notation 'eighths' needs a tick that is a multiple of 1/8, got {tick!r}"
        )


def _split(grid: Decimal, unit: Decimal) -> tuple[str, int, Decimal]:
    """Sign, whole part and the remainder in ``unit`` steps of a non-negative decimal."""
    sign = "-" if grid < 0 else ""
    magnitude = abs(grid)
    whole = int(magnitude)
    return sign, whole, (magnitude - whole) / unit


def _decimal(value: float, tick: float, separators: bool) -> str:
    grid = on_tick(value, tick)
    decimals = tick_decimals(tick)
    text = f"{grid:,.{decimals}f}" if separators else f"{grid:.{decimals}f}"
    return text[1:] if text.startswith("-") and grid == 0 else text


def _thirty_seconds(value: float, tick: float, separators: bool) -> str:
    per = THIRTY_SECOND_TICKS[tick]  # ticks per 32nd
    sign, whole, steps = _split(on_tick(value, tick), Decimal(repr(tick)))
    count = int(steps)  # ticks above the whole point
    thirty_seconds, part = divmod(count, per)
    head = f"{whole:,}" if separators else str(whole)
    text = f"{sign}{head}'{thirty_seconds:02d}"
    if part:
        text += EIGHTH_DIGITS[part * 8 // per]
    return "0'00" if text == "-0'00" else text


def _eighths(value: float, tick: float, separators: bool) -> str:
    sign, whole, eighths = _split(on_tick(value, tick), Decimal("0.125"))
    head = f"{whole:,}" if separators else str(whole)
    text = f"{sign}{head}'{int(eighths)}"
    return "0'0" if text == "-0'0" else text


_FORMATTERS: dict[str, Callable[[float, float, bool], str]] = {
    "decimal": _decimal,
    "32nds": _thirty_seconds,
    "eighths": _eighths,
}


def format_price(
    value: float, *, tick: float, notation: str = "decimal", separators: bool = True
) -> str:
    """``value`` on the nearest tick, written in ``notation`` (see the module docstring).

    ``separators``: thousands separators (off for data a script reads, e.g. CSV cells).

    >>> format_price(2512.35, tick=0.1), format_price(-37.63, tick=0.01)
    ('2,512.4', '-37.63')
    >>> format_price(112.9375, tick=0.015625, notation="32nds")
    "112'30"
    >>> format_price(112.953125, tick=0.015625, notation="32nds")
    "112'305"
    >>> [format_price(108 + (7 + q / 4) / 32, tick=0.0078125, notation="32nds") for q in range(4)]
    ["108'07", "108'072", "108'075", "108'077"]
    >>> format_price(427.5, tick=0.25, notation="eighths"), format_price(5252.8, tick=0.1)
    ("427'4", '5,252.8')
    """
    if notation not in _FORMATTERS:
        raise NotationError(f"unknown notation {notation!r}; known: {', '.join(NOTATIONS)}")
    return _FORMATTERS[notation](value, tick, separators)


_PLAIN = re.compile(r"^\s*(?P<sign>-?)\s*(?P<number>\d[\d,]*(?:\.\d*)?|\.\d+)\s*$")
_FRACTION = re.compile(r"^\s*(?P<sign>-?)(?P<whole>\d[\d,]*)['\-](?P<fraction>\d+)\s*$")


def parse_price(text: str, *, tick: float, notation: str = "decimal") -> float:
    """The price ``text`` writes, in ``notation`` (or as a plain decimal), checked against the
    tick grid: a clear error names the text and the notation when it is neither.

    >>> parse_price("112'30", tick=0.015625, notation="32nds")
    112.9375
    >>> parse_price("112'305", tick=0.015625, notation="32nds"), parse_price("108'077", tick=0.0078125, notation="32nds")
    (112.953125, 108.2421875)
    >>> parse_price("427'4", tick=0.25, notation="eighths"), parse_price("-37.63", tick=0.01)
    (427.5, -37.63)
    >>> parse_price("5,252.8", tick=0.1), parse_price("112.9375", tick=0.015625, notation="32nds")
    (5252.8, 112.9375)
    >>> parse_price("112'33", tick=0.015625, notation="32nds")
    Traceback (most recent call last):
    ...
    pipeline.market.notation.NotationError: "112'33" is not a price in 32nds (points'32nds, e.g. 112'30 or 112'305)
    """
    if notation not in NOTATIONS:
        raise NotationError(f"unknown notation {notation!r}; known: {', '.join(NOTATIONS)}")
    plain = _PLAIN.match(text)
    if plain:
        value = float(plain["number"].replace(",", ""))
        return _on_grid(-value if plain["sign"] else value, text, tick, notation)
    fraction = _FRACTION.match(text)
    if fraction is None or notation == "decimal":
        raise NotationError(f"{text!r} is not a price in {_EXAMPLES[notation]}")
    whole = int(fraction["whole"].replace(",", ""))
    digits = fraction["fraction"]
    part = _fraction(digits, notation)
    if part is None:
        raise NotationError(f"{text!r} is not a price in {_EXAMPLES[notation]}")
    value = whole + part
    return _on_grid(-value if fraction["sign"] else value, text, tick, notation)


_EXAMPLES = {
    "decimal": "decimal notation (e.g. 66.38 or 5,252.8)",
    "32nds": "32nds (points'32nds, e.g. 112'30 or 112'305)",
    "eighths": "eighths (cents'eighths, e.g. 427'4)",
}


def _fraction(digits: str, notation: str) -> float | None:
    """The fraction of a point (32nds) or of a cent (eighths) the digits after ``'`` write."""
    if notation == "eighths":
        return int(digits) / 8 if len(digits) == 1 and int(digits) < 8 else None
    if len(digits) not in (2, 3) or int(digits[:2]) >= 32:
        return None
    eighths = (
        0
        if len(digits) == 2
        else EIGHTH_DIGITS.index(digits[2])
        if digits[2] in EIGHTH_DIGITS
        else -1
    )
    if eighths < 0:
        return None
    return (int(digits[:2]) + eighths / 8) / 32


def _on_grid(value: float, text: str, tick: float, notation: str) -> float:
    grid = float(on_tick(value, tick))
    if abs(grid - value) > tick * 1e-6:
        raise NotationError(f"{text!r} is not on the tick grid ({tick!r}) of {_EXAMPLES[notation]}")
    return grid


@dataclass(frozen=True)
class PriceWriter:
    """One root's way of writing prices: ``PriceWriter(tick, notation)``."""

    tick: float
    notation: str = "decimal"

    def __call__(self, value: float, *, separators: bool = True) -> str:
        return format_price(value, tick=self.tick, notation=self.notation, separators=separators)

    def parse(self, text: str) -> float:
        return parse_price(text, tick=self.tick, notation=self.notation)
