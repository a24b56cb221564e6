"""The named date rules of futures contracts: last trading day, first notice day and roll day.

An exchange's contract specification states each date in words ("trading terminates on the
third last business day of the delivery month"); the roots registry (``roots.toml``) names one of
the rules below with its numbers (``{ rule = "nth_last_business_day", n = 3 }``), so a product is
data and only these few rules are code. "Business day" is a trade date of the root's calendar
(:class:`pipeline.market.calendar.TradingCalendar`): an exchange holiday is not one.

Date rules (``DateRule``), each evaluated for a contract month (year, month):

* ``third_friday``: the third Friday of the contract month, or the business day before it when
  that Friday is not one (CME equity index futures: ES, NQ, RTY, YM).
* ``business_days_before_day_of_prior_month`` (``day``, ``days``): ``days`` business days before
  the ``day``-th calendar day of the month before the contract month; when that day is not a
  business day, ``days`` business days before the last business day preceding it (NYMEX crude
  oil: 3 business days before the 25th, 4 when the 25th is not a business day).
* ``nth_last_business_day`` (``n``, ``month_offset``): the ``n``-th last business day of the
  contract month (``month_offset`` 0) or of the month before it (-1) (COMEX gold: third last of
  the delivery month; RBOB and heating oil: last of the month before; first notice days of
  metals, Treasuries and grains: last of the month before).
* ``business_days_before_last_business_day`` (``days``): (CBOT 10-year note and bonds: the
  seventh business day preceding the last business day of the delivery month).
* ``business_days_before_day`` (``day``, ``days``): ``days`` business days before the ``day``-th
  calendar day of the contract month (CBOT grains: the business day prior to the 15th).
* ``business_days_before_third_wednesday`` (``days``): (CME currencies: the second business day
  immediately preceding the third Wednesday; Canadian dollar: the first).

Roll rules (``RollRule``): when a per-contract series moves to the next contract, relative to a
contract's own dates:

* ``days_before_third_friday`` (``days``): the Thursday ``days`` = 8 calendar days before the
  nominal third Friday, or the business day before it (the CME equity roll convention: 2026 rolls
  on 12 Mar, 11 Jun, 10 Sep, 10 Dec).
* ``sessions_before`` (``anchor``, ``sessions``): ``sessions`` business days before the
  contract's ``first_notice`` day (physically delivered products: never hold a long into the
  delivery period) or its ``last_trade`` day (products without a notice period before the last
  trading day: crude oil, currencies).

Every rule is pure: calendar in, date out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pipeline.market.calendar import TradingCalendar

FRIDAY, WEDNESDAY = 4, 2


class RuleError(ValueError):
    """A rule name or parameter the registry cannot use; the message names both."""


def _month(year: int, month: int, offset: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + offset
    return index // 12, index % 12 + 1


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _on_or_before(cal: TradingCalendar, d: date) -> date:
    return d if cal.is_trade_date(d) else cal.previous_trade_date(d)


def _last_business_day(cal: TradingCalendar, year: int, month: int) -> date:
    y, m = _month(year, month, 1)
    return cal.previous_trade_date(date(y, m, 1))


def third_friday(cal: TradingCalendar, year: int, month: int) -> date:
    """The third Friday of the month, or the business day before it.

    >>> from pipeline.market.calendar import EQUITY
    >>> third_friday(EQUITY, 2026, 3), third_friday(EQUITY, 2026, 6)  # 19 Jun 2026: Juneteenth
    (datetime.date(2026, 3, 20), datetime.date(2026, 6, 18))
    """
    return _on_or_before(cal, _nth_weekday(year, month, FRIDAY, 3))


def business_days_before_day_of_prior_month(
    cal: TradingCalendar, year: int, month: int, *, day: int, days: int
) -> date:
    """``days`` business days before day ``day`` of the month before, counted from the last
    business day preceding that day when it is not itself a business day.

    >>> from pipeline.market.calendar import trading_calendar
    >>> energy = trading_calendar("cme_energy")
    >>> business_days_before_day_of_prior_month(energy, 2020, 5, day=25, days=3)  # CLK20
    datetime.date(2020, 4, 21)
    """
    y, m = _month(year, month, -1)
    anchor = date(y, m, day)
    if not cal.is_trade_date(anchor):
        anchor = cal.previous_trade_date(anchor)
    return cal.business_days_before(anchor, days)


def nth_last_business_day(
    cal: TradingCalendar, year: int, month: int, *, n: int, month_offset: int = 0
) -> date:
    """The ``n``-th last business day of the contract month shifted by ``month_offset``.

    >>> from pipeline.market.calendar import trading_calendar
    >>> nth_last_business_day(trading_calendar("cme_metals"), 2024, 4, n=3)  # GCJ24
    datetime.date(2024, 4, 26)
    """
    y, m = _month(year, month, month_offset)
    last = _last_business_day(cal, y, m)
    return last if n == 1 else cal.business_days_before(last, n - 1)


def business_days_before_last_business_day(
    cal: TradingCalendar, year: int, month: int, *, days: int
) -> date:
    """``days`` business days before the last business day of the contract month.

    >>> from pipeline.market.calendar import trading_calendar
    >>> business_days_before_last_business_day(trading_calendar("cme_rates"), 2017, 6, days=7)
    datetime.date(2017, 6, 21)
    """
    return cal.business_days_before(_last_business_day(cal, year, month), days)


def business_days_before_day(
    cal: TradingCalendar, year: int, month: int, *, day: int, days: int
) -> date:
    """``days`` business days before day ``day`` of the contract month.

    >>> from pipeline.market.calendar import trading_calendar
    >>> business_days_before_day(trading_calendar("cme_grains"), 2018, 7, day=15, days=1)
    datetime.date(2018, 7, 13)
    """
    return cal.business_days_before(date(year, month, day), days)


def business_days_before_third_wednesday(
    cal: TradingCalendar, year: int, month: int, *, days: int
) -> date:
    """``days`` business days before the third Wednesday of the contract month.

    >>> from pipeline.market.calendar import trading_calendar
    >>> business_days_before_third_wednesday(trading_calendar("cme_fx"), 2026, 3, days=2)
    datetime.date(2026, 3, 16)
    """
    return cal.business_days_before(_nth_weekday(year, month, WEDNESDAY, 3), days)


_Rule = Callable[..., date]
#: name -> (function, parameter names with their allowed ranges)
DATE_RULES: dict[str, tuple[_Rule, dict[str, tuple[int, int]]]] = {
    "third_friday": (third_friday, {}),
    "business_days_before_day_of_prior_month": (
        business_days_before_day_of_prior_month,
        {"day": (1, 28), "days": (1, 15)},
    ),
    "nth_last_business_day": (nth_last_business_day, {"n": (1, 15), "month_offset": (-2, 0)}),
    "business_days_before_last_business_day": (
        business_days_before_last_business_day,
        {"days": (1, 15)},
    ),
    "business_days_before_day": (business_days_before_day, {"day": (1, 28), "days": (1, 15)}),
    "business_days_before_third_wednesday": (
        business_days_before_third_wednesday,
        {"days": (1, 5)},
    ),
}
#: Parameters a rule may leave out, with their default.
DEFAULTS: dict[str, int] = {"month_offset": 0}


def _checked_params(
    kind: str, name: str, spec: Mapping[str, tuple[int, int]], values: Mapping[str, Any]
) -> tuple[tuple[str, Any], ...]:
    unknown = sorted(set(values) - set(spec))
    if unknown:
        raise RuleError(
            f"{kind} {name!r}: unknown parameter(s) {', '.join(unknown)}; "
            f"it takes {', '.join(spec) or 'none'}"
        )
    out = []
    for key, (low, high) in spec.items():
        value = values.get(key, DEFAULTS.get(key))
        if value is None:
            raise RuleError(f"{kind} {name!r}: parameter {key!r} is required")
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RuleError(
                f"{kind} {name!r}: parameter {key!r} must be an integer {low}..{high}, "
                f"got {value!r}"
            )
        out.append((key, value))
    return tuple(out)


@dataclass(frozen=True)
class DateRule:
    """A named date rule with its parameters (hashable: a registry value).

    >>> from pipeline.market.calendar import trading_calendar
    >>> rule = DateRule.parse({"rule": "business_days_before_day", "day": 15, "days": 1})
    >>> rule.date(trading_calendar("cme_grains"), 2024, 7), rule.describe()
    (datetime.date(2024, 7, 12), '1 business day(s) before day 15 of the contract month')
    """

    rule: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, table: Mapping[str, Any]) -> DateRule:
        if not isinstance(table, Mapping) or not isinstance(table.get("rule"), str):
            raise RuleError(f"a date rule is a table with a 'rule' name, got {table!r}")
        name = table["rule"]
        if name not in DATE_RULES:
            raise RuleError(f"unknown date rule {name!r}; known: {', '.join(DATE_RULES)}")
        values = {k: v for k, v in table.items() if k != "rule"}
        return cls(name, _checked_params("date rule", name, DATE_RULES[name][1], values))

    def date(self, cal: TradingCalendar, year: int, month: int) -> date:
        function = DATE_RULES[self.rule][0]
        return function(cal, year, month, **dict(self.params))

    def describe(self) -> str:
        """The rule in words (``callbook roots``)."""
        p = dict(self.params)
        where = "the month before" if p.get("month_offset") == -1 else "the contract month"
        texts = {
            "third_friday": "third Friday of the contract month (or the business day before)",
            "business_days_before_day_of_prior_month": (
                f"{p.get('days')} business day(s) before day {p.get('day')} of the month before "
                "(one more if that day is not a business day)"
            ),
            "nth_last_business_day": f"business day {p.get('n')} from the end of {where}",
            "business_days_before_last_business_day": (
                f"{p.get('days')} business day(s) before the last business day of the contract "
                "month"
            ),
            "business_days_before_day": (
                f"{p.get('days')} business day(s) before day {p.get('day')} of the contract month"
            ),
            "business_days_before_third_wednesday": (
                f"{p.get('days')} business day(s) before the third Wednesday of the contract month"
            ),
        }
        return texts[self.rule]


ROLL_RULES: dict[str, dict[str, tuple[int, int]]] = {
    "days_before_third_friday": {"days": (1, 20)},
    "sessions_before": {"sessions": (0, 20)},
}
ROLL_ANCHORS = ("first_notice", "last_trade")


@dataclass(frozen=True)
class RollRule:
    """When a per-contract series makes the next contract its front (see the module docstring)."""

    rule: str
    params: tuple[tuple[str, Any], ...] = ()
    anchor: str = "last_trade"  # sessions_before: first_notice | last_trade

    @classmethod
    def parse(cls, table: Mapping[str, Any]) -> RollRule:
        if not isinstance(table, Mapping) or not isinstance(table.get("rule"), str):
            raise RuleError(f"a roll rule is a table with a 'rule' name, got {table!r}")
        name = table["rule"]
        if name not in ROLL_RULES:
            raise RuleError(f"unknown roll rule {name!r}; known: {', '.join(ROLL_RULES)}")
        values = {k: v for k, v in table.items() if k not in ("rule", "anchor")}
        anchor = table.get("anchor", "last_trade")
        if name == "sessions_before" and anchor not in ROLL_ANCHORS:
            raise RuleError(
                f"roll rule {name!r}: anchor must be one of {', '.join(ROLL_ANCHORS)}, "
                f"got {anchor!r}"
            )
        if name != "sessions_before" and "anchor" in table:
            raise RuleError(f"roll rule {name!r}: takes no anchor")
        return cls(name, _checked_params("roll rule", name, ROLL_RULES[name], values), anchor)

    def date(
        self,
        cal: TradingCalendar,
        year: int,
        month: int,
        *,
        last_trade: date,
        first_notice: date | None,
    ) -> date:
        """The first session on which the next contract is the front."""
        p = dict(self.params)
        if self.rule == "days_before_third_friday":
            nominal = _nth_weekday(year, month, FRIDAY, 3) - timedelta(days=p["days"])
            return _on_or_before(cal, nominal)
        anchor = first_notice if self.anchor == "first_notice" else last_trade
        if anchor is None:
            raise RuleError("roll rule 'sessions_before' on first_notice: the root has none")
        return anchor if p["sessions"] == 0 else cal.business_days_before(anchor, p["sessions"])

    def describe(self) -> str:
        p = dict(self.params)
        if self.rule == "days_before_third_friday":
            return f"{p['days']} calendar days before the third Friday"
        return f"{p['sessions']} session(s) before the {self.anchor.replace('_', ' ')} day"
