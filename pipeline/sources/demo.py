"""Offline demo source: deterministic synthetic daily bars for every root of the registry.

DEMO DATA - synthetic, not market prices. The bars exist so that the whole pipeline (landing,
validation, continuous series, calls, outcomes) can run without a network; every batch says so in
its metadata.

How a path is made (all of it seeded, nothing read from the clock):

* One *market* process per seed on the CME equity trade-date calendar: a Markov chain of regimes (trending
  up, ranging, trending down; each lasting months) that sets a drift and a volatility level, a
  log-volatility AR(1) with leverage (falls raise volatility), a few crisis-like volatility episodes
  (autumn 2008, March 2020 and smaller ones), and fat-tailed (Student t, 5 degrees of freedom)
  daily shocks.
* One *index* path per (seed, root): the root's shock loads on the market shock (which makes the
  roots correlated) plus its own shock, scaled by the root's volatility. A log-space bridge through
  ``ANCHOR_LEVELS`` makes the path pass near plausible historical levels; after the last anchor the
  path drifts up with mean reversion toward a growth trend. Every other root of the built-in
  registry (energy, metals, Treasuries, grains, currencies) has hand-set parameters and anchors
  at its own price scale (``PRODUCTS``: crude near 145 in July 2008, gold near 1,900 in 2011, the
  10-year note near 108 in October 2022 ...) and loads on the market with its own sign (Treasuries
  rally when stocks fall). A root on another calendar (NYMEX energy traded on 2 Jan 2007) reads
  the market on its own trade dates: an extra session is a quiet one. A root outside the built-in
  registry (a synthetic ``DEMO001``, or any root a user registers) gets seeded parameters:
  volatility, market loading, carry, volume, and the anchors of one of the four equity roots
  scaled by a seeded factor (``synthetic_params``), so any number of roots share one calendar and
  one market. No close-to-close move exceeds ``MAX_DAILY_LOG_MOVE`` (the excess is carried into
  the next session).
* *Contracts* of the root's active months (``RootSpec.active``), with its expiry and roll rules:
  each trades from ``SESSIONS_BEFORE_FRONT`` sessions before it becomes the front (the previous
  contract's roll date) through its last trading day, priced as index level plus a basis
  ``level * carry * days_to_expiry / 365`` with an era-dependent carry (about rate minus dividend
  yield, plus the root's own offset), so the next contract trades at a premium that converges to
  zero at expiry, on the root's tick grid. Volume and open interest migrate from the front to the
  next contract around the roll date.
* *Expiry squeezes* (``EXPIRY_SQUEEZES``): bars planted on an expiring contract's last sessions,
  the demo's negative-price episode: WTI May 2020 (CLK20) settles at -37.63 on 20 Apr 2020, the
  day before its last trade, as the real contract did, while the next contract stays positive.

The whole path is generated once per (seed, root) for the fixed calendar horizon
``GENERATION_START`` .. ``HORIZON_END`` and cached; a fetch only slices it, so the bars of a date
never depend on the requested window, ``end`` or ``fetched_at``: incremental fetches agree with a
full fetch. Early-close sessions (``calendar.is_early_close``) have about half the usual volatility
and range and well under half the usual volume.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

from pipeline.market.calendar import EQUITY, trading_calendar
from pipeline.market.contracts import Contract, front_contract, parse_contract
from pipeline.market.notation import tick_decimals
from pipeline.market.roots import Registry, RootSpec, builtin_registry, describe_known
from pipeline.schema import Batch, conform_bars
from pipeline.sources.base import SourceError

GENERATOR = "callbook-demo-v1"
DEMO_LABEL = "DEMO DATA - synthetic, not market prices"
DEFAULT_SEED = 20050103
#: The first session the demo has bars for, and the last one it generates.
GENERATION_START = date(2005, 1, 3)
HORIZON_END = date(2035, 12, 31)
#: The path is simulated on a slightly wider calendar so that contracts overlapping the horizon's
#: edges have a well-defined volume split and basis; bars outside the horizon are never returned.
_DOMAIN_START = date(2004, 10, 1)
_DOMAIN_END = date(2036, 3, 31)

#: A contract starts trading this many sessions before it becomes the front.
SESSIONS_BEFORE_FRONT = 15
#: Cap on any close-to-close log move of the index (about 9.4 %).
MAX_DAILY_LOG_MOVE = 0.09


@dataclass(frozen=True)
class DemoRootParams:
    """How one root's synthetic index behaves.

    ``daily_vol`` is the root's typical daily log-return standard deviation (a fraction, 0.014 =
    1.4 %) before crisis episodes; ``market_loading`` is the correlation of its daily shock with the
    common market shock (two roots correlate at about the product of their loadings);
    ``carry_offset`` is added to the era carry (per year, e.g. a lower dividend yield raises it);
    ``volume`` and ``open_interest`` are typical totals across all listed contracts, in contracts.
    """

    daily_vol: float
    market_loading: float
    carry_offset: float
    volume: int
    open_interest: int


ROOT_PARAMS: dict[str, DemoRootParams] = {
    "RTY": DemoRootParams(0.0140, 0.83, 0.003, 230_000, 480_000),
    "ES": DemoRootParams(0.0108, 0.97, 0.000, 1_800_000, 2_200_000),
    "NQ": DemoRootParams(0.0137, 0.89, 0.008, 600_000, 260_000),
    "YM": DemoRootParams(0.0099, 0.92, -0.004, 180_000, 95_000),
}

#: The roots whose levels ANCHOR_LEVELS lists, in its column order.
ANCHOR_ROOTS: tuple[str, ...] = ("RTY", "ES", "NQ", "YM")

#: Seeded parameter ranges (uniform) of a root without hand-set parameters: daily volatility
#: (fraction), market loading, carry offset (per year), total volume and open interest (contracts),
#: and the multiple of its base root's anchor levels (log-uniform).
SYNTHETIC_DAILY_VOL = (0.008, 0.018)
SYNTHETIC_MARKET_LOADING = (0.55, 0.95)
SYNTHETIC_CARRY_OFFSET = (-0.006, 0.010)
SYNTHETIC_VOLUME = (20_000, 600_000)
SYNTHETIC_OPEN_INTEREST = (20_000, 500_000)
SYNTHETIC_LEVEL_SCALE = (0.5, 2.0)

#: Index levels the path passes through (session date: RTY, ES, NQ, YM), rounded from the public
#: history of the cash indices; a few are deliberately softened (e.g. RTY in April 2025).
ANCHOR_LEVELS: tuple[tuple[date, tuple[float, float, float, float]], ...] = (
    (date(2005, 1, 3), (620, 1200, 1600, 10700)),
    (date(2006, 5, 5), (780, 1330, 1800, 11580)),
    (date(2006, 7, 18), (670, 1240, 1480, 10800)),
    (date(2007, 7, 13), (850, 1555, 2040, 13900)),
    (date(2008, 9, 12), (720, 1255, 1770, 11400)),
    (date(2008, 11, 20), (390, 750, 1040, 7550)),
    (date(2009, 3, 9), (345, 680, 1050, 6550)),
    (date(2010, 4, 23), (740, 1215, 2030, 11200)),
    (date(2010, 7, 2), (590, 1020, 1760, 9700)),
    (date(2011, 4, 29), (865, 1360, 2400, 12800)),
    (date(2011, 10, 3), (610, 1090, 2060, 10650)),
    (date(2013, 5, 21), (1000, 1665, 3000, 15400)),
    (date(2014, 12, 31), (1205, 2055, 4235, 17800)),
    (date(2016, 2, 11), (955, 1825, 3960, 15650)),
    (date(2017, 12, 29), (1535, 2675, 6400, 24700)),
    (date(2018, 8, 31), (1740, 2900, 7660, 25950)),
    (date(2018, 12, 24), (1270, 2345, 5890, 21800)),
    (date(2020, 2, 19), (1690, 3390, 9730, 29350)),
    (date(2020, 3, 23), (1000, 2220, 6980, 18600)),
    (date(2021, 3, 15), (2350, 3965, 13080, 32950)),
    (date(2022, 1, 3), (2270, 4790, 16500, 36550)),
    (date(2022, 6, 16), (1650, 3670, 11120, 29950)),
    (date(2022, 10, 12), (1690, 3580, 10700, 29200)),
    (date(2023, 7, 31), (2000, 4590, 15750, 35550)),
    (date(2023, 10, 27), (1640, 4140, 14260, 32400)),
    (date(2024, 1, 2), (2060, 4790, 16720, 37700)),
    (date(2024, 7, 16), (2260, 5715, 20600, 40950)),
    (date(2024, 11, 25), (2420, 6005, 20880, 44750)),
    (date(2025, 4, 8), (1950, 5020, 17250, 37650)),
    (date(2025, 7, 15), (2200, 6250, 22900, 44000)),
    (date(2025, 10, 15), (2450, 6715, 24920, 46250)),
    (date(2026, 2, 17), (2500, 6800, 24900, 48500)),
)


#: Roots of the built-in registry beyond the four equity-index roots: their demo parameters
#: (``market_loading`` may be negative: Treasuries rally when stocks fall), their anchors (session
#: date, level in the root's price units, rounded from the public history of the front contract)
#: and their log growth per year after the last anchor.
@dataclass(frozen=True)
class ProductDemo:
    params: DemoRootParams
    anchors: tuple[tuple[date, float], ...]
    growth: float = 0.0


def _anchors(*points: tuple[int, int, int, float]) -> tuple[tuple[date, float], ...]:
    return tuple((date(y, m, d), level) for y, m, d, level in points)


PRODUCTS: dict[str, ProductDemo] = {
    "CL": ProductDemo(
        DemoRootParams(0.022, 0.35, 0.02, 900_000, 1_800_000),
        _anchors(
            (2005, 1, 3, 43), (2006, 7, 14, 77), (2007, 1, 18, 51), (2008, 7, 11, 145),
            (2008, 12, 19, 34), (2011, 4, 29, 113), (2012, 6, 21, 78), (2014, 6, 20, 107),
            (2016, 2, 11, 26), (2018, 10, 3, 76), (2019, 12, 31, 61), (2020, 4, 21, 15),
            (2020, 6, 8, 38), (2022, 3, 8, 124), (2023, 3, 17, 67), (2024, 4, 5, 87),
            (2025, 4, 8, 59), (2026, 2, 17, 65),
        ),
    ),
    "NG": ProductDemo(
        DemoRootParams(0.030, 0.15, 0.04, 400_000, 1_200_000),
        _anchors(
            (2005, 1, 3, 6.1), (2005, 12, 13, 15.4), (2006, 9, 29, 4.2), (2008, 7, 3, 13.6),
            (2009, 9, 4, 2.5), (2012, 4, 19, 1.9), (2014, 2, 24, 6.1), (2016, 3, 3, 1.6),
            (2018, 11, 14, 4.8), (2020, 6, 25, 1.5), (2022, 8, 22, 9.7), (2024, 2, 20, 1.6),
            (2025, 3, 10, 4.6), (2026, 2, 17, 3.3),
        ),
    ),
    "RB": ProductDemo(
        DemoRootParams(0.022, 0.30, 0.02, 150_000, 350_000),
        _anchors(
            (2005, 1, 3, 1.05), (2005, 9, 1, 2.9), (2008, 7, 11, 3.4), (2008, 12, 19, 0.8),
            (2011, 4, 29, 3.4), (2015, 1, 13, 1.3), (2016, 2, 11, 0.95), (2020, 3, 23, 0.45),
            (2022, 6, 9, 4.3), (2023, 12, 13, 2.0), (2026, 2, 17, 1.95),
        ),
    ),
    "HO": ProductDemo(
        DemoRootParams(0.020, 0.30, 0.02, 150_000, 350_000),
        _anchors(
            (2005, 1, 3, 1.2), (2008, 7, 3, 4.1), (2008, 12, 19, 1.3), (2011, 4, 8, 3.2),
            (2016, 1, 20, 0.9), (2020, 3, 31, 0.95), (2022, 5, 3, 5.2), (2023, 6, 1, 2.2),
            (2026, 2, 17, 2.3),
        ),
    ),
    "GC": ProductDemo(
        DemoRootParams(0.011, 0.05, 0.015, 250_000, 500_000),
        _anchors(
            (2005, 1, 3, 428), (2006, 5, 12, 720), (2008, 3, 17, 1000), (2008, 10, 24, 700),
            (2011, 9, 6, 1900), (2013, 6, 28, 1200), (2015, 12, 17, 1050), (2020, 8, 6, 2070),
            (2022, 9, 28, 1620), (2024, 10, 30, 2800), (2025, 10, 20, 4380), (2026, 2, 17, 5000),
        ),
        growth=0.03,
    ),
    "SI": ProductDemo(
        DemoRootParams(0.019, 0.15, 0.015, 80_000, 150_000),
        _anchors(
            (2005, 1, 3, 6.8), (2008, 3, 17, 21), (2008, 10, 28, 8.8), (2011, 4, 28, 48),
            (2015, 12, 14, 13.7), (2020, 3, 18, 12), (2020, 8, 7, 29), (2022, 9, 1, 17.8),
            (2024, 10, 22, 34.5), (2025, 12, 26, 79), (2026, 2, 17, 75),
        ),
    ),
    "HG": ProductDemo(
        DemoRootParams(0.015, 0.40, 0.01, 90_000, 200_000),
        _anchors(
            (2005, 1, 3, 1.45), (2006, 5, 11, 4.0), (2008, 12, 24, 1.3), (2011, 2, 14, 4.6),
            (2016, 1, 15, 1.95), (2020, 3, 19, 2.1), (2021, 5, 10, 4.9), (2022, 7, 14, 3.2),
            (2024, 5, 20, 5.1), (2026, 2, 17, 5.8),
        ),
    ),
    "PL": ProductDemo(
        DemoRootParams(0.014, 0.25, 0.01, 20_000, 70_000),
        _anchors(
            (2005, 1, 3, 860), (2008, 3, 4, 2250), (2008, 10, 24, 780), (2011, 8, 30, 1900),
            (2016, 1, 21, 820), (2020, 3, 16, 600), (2021, 2, 16, 1300), (2024, 6, 3, 1050),
            (2025, 10, 17, 1700), (2026, 2, 17, 2100),
        ),
    ),
    "ZT": ProductDemo(
        DemoRootParams(0.0012, -0.30, -0.02, 450_000, 3_500_000),
        _anchors(
            (2005, 1, 3, 104.5), (2006, 6, 28, 101.6), (2008, 12, 18, 109.2), (2011, 9, 22, 110.3),
            (2018, 11, 8, 105.2), (2020, 8, 4, 110.6), (2022, 10, 21, 101.4),
            (2023, 10, 19, 100.7), (2024, 9, 16, 104.5), (2026, 2, 17, 104.0),
        ),
    ),
    "ZF": ProductDemo(
        DemoRootParams(0.0025, -0.30, -0.02, 1_000_000, 5_000_000),
        _anchors(
            (2005, 1, 3, 109.5), (2006, 6, 28, 103.5), (2008, 12, 18, 122), (2012, 7, 24, 125),
            (2018, 11, 8, 111.5), (2020, 8, 4, 126.5), (2022, 10, 21, 104.5),
            (2023, 10, 19, 103.5), (2024, 9, 16, 110.5), (2026, 2, 17, 108.8),
        ),
    ),
    "ZN": ProductDemo(
        DemoRootParams(0.0040, -0.30, -0.02, 1_500_000, 4_500_000),
        _anchors(
            (2005, 1, 3, 112), (2006, 6, 28, 104.5), (2008, 12, 18, 127), (2012, 7, 24, 135),
            (2013, 9, 5, 122.5), (2016, 7, 8, 134), (2018, 10, 5, 117.5), (2020, 8, 4, 140),
            (2022, 10, 21, 108.5), (2023, 10, 19, 105.5), (2024, 9, 16, 115.5),
            (2026, 2, 17, 112.5),
        ),
    ),
    "ZB": ProductDemo(
        DemoRootParams(0.0070, -0.30, -0.02, 350_000, 1_500_000),
        _anchors(
            (2005, 1, 3, 112), (2006, 6, 28, 104), (2008, 12, 18, 140), (2012, 7, 24, 154),
            (2016, 7, 8, 178), (2018, 11, 2, 137), (2020, 3, 9, 190), (2022, 10, 21, 118),
            (2023, 10, 19, 107), (2024, 9, 16, 128.5), (2026, 2, 17, 117),
        ),
    ),
    "UB": ProductDemo(
        DemoRootParams(0.0090, -0.30, -0.02, 200_000, 1_500_000),
        _anchors(
            (2005, 1, 3, 115), (2008, 12, 18, 150), (2012, 7, 24, 168), (2016, 7, 8, 200),
            (2018, 11, 2, 144), (2020, 3, 9, 235), (2022, 10, 21, 125), (2023, 10, 19, 110),
            (2024, 9, 16, 137), (2026, 2, 17, 122),
        ),
    ),
    "ZC": ProductDemo(
        DemoRootParams(0.016, 0.15, 0.05, 350_000, 1_400_000),
        _anchors(
            (2005, 1, 3, 200), (2006, 9, 1, 230), (2007, 2, 23, 430), (2008, 6, 27, 755),
            (2008, 12, 5, 320), (2010, 6, 30, 330), (2012, 8, 10, 830), (2014, 9, 30, 320),
            (2016, 8, 31, 310), (2020, 4, 21, 310), (2022, 4, 29, 820), (2023, 12, 8, 470),
            (2024, 8, 26, 380), (2026, 2, 17, 430),
        ),
    ),
    "ZS": ProductDemo(
        DemoRootParams(0.014, 0.15, 0.04, 200_000, 700_000),
        _anchors(
            (2005, 1, 3, 545), (2008, 7, 3, 1650), (2008, 12, 5, 830), (2012, 9, 4, 1780),
            (2016, 3, 1, 850), (2020, 4, 21, 830), (2022, 6, 9, 1740), (2024, 8, 26, 960),
            (2026, 2, 17, 1100),
        ),
    ),
    "ZW": ProductDemo(
        DemoRootParams(0.018, 0.15, 0.05, 120_000, 400_000),
        _anchors(
            (2005, 1, 3, 310), (2008, 2, 27, 1280), (2008, 12, 5, 500), (2010, 6, 30, 460),
            (2012, 7, 23, 930), (2016, 8, 31, 380), (2020, 4, 21, 530), (2022, 3, 7, 1290),
            (2024, 8, 26, 510), (2026, 2, 17, 540),
        ),
    ),
    "ZL": ProductDemo(
        DemoRootParams(0.016, 0.20, 0.03, 100_000, 450_000),
        _anchors(
            (2005, 1, 3, 21), (2008, 7, 3, 70), (2008, 12, 5, 30), (2011, 4, 8, 58),
            (2014, 10, 1, 31), (2020, 3, 19, 25), (2022, 4, 29, 86), (2024, 1, 25, 46),
            (2026, 2, 17, 53),
        ),
    ),
    "ZM": ProductDemo(
        DemoRootParams(0.016, 0.10, 0.03, 100_000, 450_000),
        _anchors(
            (2005, 1, 3, 160), (2008, 7, 3, 450), (2009, 1, 2, 290), (2012, 9, 4, 540),
            (2016, 3, 1, 260), (2020, 4, 21, 290), (2022, 6, 9, 450), (2024, 8, 26, 305),
            (2026, 2, 17, 300),
        ),
    ),
    "6E": ProductDemo(
        DemoRootParams(0.0060, 0.30, 0.0, 250_000, 700_000),
        _anchors(
            (2005, 1, 3, 1.34), (2008, 7, 15, 1.60), (2008, 10, 27, 1.25), (2010, 6, 7, 1.19),
            (2011, 5, 4, 1.49), (2015, 3, 16, 1.05), (2018, 2, 16, 1.25), (2022, 9, 27, 0.96),
            (2023, 7, 18, 1.125), (2024, 10, 1, 1.10), (2025, 1, 13, 1.02),
            (2025, 9, 17, 1.19), (2026, 2, 17, 1.17),
        ),
    ),
    "6J": ProductDemo(
        DemoRootParams(0.0060, -0.20, 0.01, 150_000, 200_000),
        _anchors(
            (2005, 1, 3, 0.0097), (2007, 6, 22, 0.0081), (2011, 10, 31, 0.0132),
            (2015, 6, 5, 0.0080), (2016, 8, 19, 0.0100), (2022, 10, 21, 0.0067),
            (2024, 7, 10, 0.0062), (2026, 2, 17, 0.0066),
        ),
    ),
    "6B": ProductDemo(
        DemoRootParams(0.0060, 0.30, 0.0, 100_000, 250_000),
        _anchors(
            (2005, 1, 3, 1.91), (2007, 11, 8, 2.11), (2009, 1, 23, 1.36), (2014, 7, 15, 1.72),
            (2016, 10, 7, 1.21), (2021, 5, 31, 1.42), (2022, 9, 26, 1.05), (2024, 9, 27, 1.34),
            (2026, 2, 17, 1.36),
        ),
    ),
    "6A": ProductDemo(
        DemoRootParams(0.0080, 0.50, -0.01, 100_000, 180_000),
        _anchors(
            (2005, 1, 3, 0.77), (2008, 7, 15, 0.98), (2008, 10, 27, 0.61), (2011, 7, 27, 1.10),
            (2015, 9, 7, 0.69), (2020, 3, 19, 0.57), (2021, 2, 25, 0.80), (2022, 10, 13, 0.62),
            (2026, 2, 17, 0.70),
        ),
    ),
    "6C": ProductDemo(
        DemoRootParams(0.0050, 0.40, 0.0, 80_000, 150_000),
        _anchors(
            (2005, 1, 3, 0.83), (2007, 11, 7, 1.09), (2009, 3, 9, 0.77), (2011, 7, 21, 1.06),
            (2016, 1, 20, 0.68), (2020, 3, 18, 0.69), (2021, 6, 1, 0.83), (2022, 10, 13, 0.72),
            (2026, 2, 17, 0.73),
        ),
    ),
}  # fmt: skip

#: Bars planted on an expiring contract's last sessions, replacing the generated ones:
#: (contract, session) -> (open, high, low, close). CLK20, the WTI May 2020 contract, as it
#: really settled around its last trade on 21 Apr 2020 (NYMEX settlements), the demo's
#: negative-price episode; CLM20 and later contracts keep their generated (positive) prices.
EXPIRY_SQUEEZES: dict[tuple[str, date], tuple[float, float, float, float]] = {
    ("CLK20", date(2020, 4, 17)): (19.85, 20.39, 17.31, 18.27),
    ("CLK20", date(2020, 4, 20)): (17.73, 17.85, -40.32, -37.63),
    ("CLK20", date(2020, 4, 21)): (-14.00, 10.94, -16.74, 10.01),
}


#: Daily pull of the path toward its anchor line (half-life about 80 sessions), which keeps the
#: wander between anchors to about +-10 %.
WANDER_REVERSION = 1 / 60
#: After the last anchor the path follows a trend with this log growth per year.
POST_ANCHOR_GROWTH = 0.06

#: Annual carry (about short rate minus dividend yield) by era, linearly interpolated between knots.
CARRY_KNOTS: tuple[tuple[date, float], ...] = (
    (date(2004, 10, 1), 0.030),
    (date(2006, 6, 1), 0.035),
    (date(2007, 8, 1), 0.035),
    (date(2008, 6, 1), 0.005),
    (date(2009, 1, 1), -0.005),
    (date(2015, 12, 1), -0.005),
    (date(2016, 12, 1), 0.005),
    (date(2017, 6, 1), 0.015),
    (date(2019, 6, 1), 0.018),
    (date(2020, 3, 1), 0.000),
    (date(2021, 12, 1), 0.000),
    (date(2022, 12, 1), 0.025),
    (date(2023, 6, 1), 0.030),
    (date(2025, 6, 1), 0.028),
    (date(2026, 6, 1), 0.025),
    (date(2036, 3, 31), 0.020),
)

#: Volatility episodes: (peak session, peak multiplier, rise in sessions, decay in sessions).
VOL_EPISODES: tuple[tuple[date, float, int, int], ...] = (
    (date(2008, 10, 27), 3.0, 25, 90),
    (date(2010, 5, 6), 1.8, 3, 30),
    (date(2011, 8, 8), 2.0, 8, 40),
    (date(2015, 8, 24), 1.9, 3, 25),
    (date(2018, 2, 5), 1.7, 3, 20),
    (date(2020, 3, 16), 3.4, 12, 45),
    (date(2022, 5, 16), 1.4, 60, 120),
    (date(2025, 4, 7), 2.2, 4, 20),
)

#: Market regimes: daily log drift (for a 1 % daily-vol index; roots scale it by their own
#: volatility), volatility multiplier, mean length in sessions, and next-regime probabilities.
_UP, _RANGE, _DOWN = 0, 1, 2
_REGIME_DRIFT = np.array([0.0007, 0.0, -0.0010])
_REGIME_VOL = np.array([0.85, 1.0, 1.35])
_REGIME_MEAN_LENGTH = (140.0, 90.0, 60.0)
_REGIME_NEXT = ((0.0, 0.6, 0.4), (0.55, 0.0, 0.45), (0.5, 0.5, 0.0))

_SHOCK_DF = 5  # Student-t degrees of freedom of daily shocks
_SHOCK_CLIP = 5.5  # in standard deviations
_LOG_VOL_PERSISTENCE = 0.985
_LOG_VOL_NOISE = 0.04
_LOG_VOL_LEVERAGE = 0.045
_EARLY_CLOSE_VOL = 0.5  # early-close sessions move about half as much
_EARLY_CLOSE_VOLUME = 0.6  # ... and trade less on top of the lower volatility
_GAP_SCALE = 0.12  # open vs previous close, in units of the session's volatility
_RANGE_EXTENSION = 0.22  # mean high/low excursion beyond the open-close body, in volatilities
#: Narrowest full-session range, in volatilities: real ES/NQ sessions never range less than about
#: 0.2 ATR (~0.3 volatilities); without a floor the synthetic bars would look like partial bars.
_MIN_RANGE = 0.45
_VOLUME_VOL_ELASTICITY = 0.8
_VOLUME_NOISE = 0.2
_ROLL_VOLUME_BUMP = 0.3  # spread trading lifts total volume in the days around a roll
_VOLUME_ROLL_CENTER = -0.5  # volume crosses from front to next half a session before the roll date
_VOLUME_ROLL_WIDTH = 1.2
_OI_ROLL_CENTER = 1.0  # open interest crosses a session after the roll date
_OI_ROLL_WIDTH = 2.5
_MIN_VOLUME_SHARE = 0.004
_MIN_OI_SHARE = 0.002

_ROOT_STREAM: dict[str, int] = {"RTY": 1, "ES": 2, "NQ": 3, "YM": 4}
_MARKET_STREAM = 0
_CONTRACT_STREAM_OFFSET = 100
_SYNTHETIC_STREAM = 1000  # then the root's name hash, then one of:
_PARAMS_STREAM = 1
_SYNTHETIC_CONTRACT_STREAM = 2

_RAW_SCHEMA = pa.schema(
    [
        ("root", pa.string()),
        ("contract", pa.string()),
        ("session_date", pa.date32()),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.int64()),
        ("open_interest", pa.int64()),
    ]
)


class DemoSource:
    """Synthetic, seeded daily bars per contract (``RTYH26``, ``CLK20`` ...) for every root of
    ``registry`` (None: the built-in roots).

    ``start`` is the first session the source has (bars before it are not returned; the bars it
    does return are the same as with the default start). Bars exist from ``GENERATION_START`` to
    ``HORIZON_END``.
    """

    name = "demo"

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        start: date = GENERATION_START,
        registry: Registry | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"demo seed must be a non-negative integer, got {seed!r}")
        if not GENERATION_START <= start <= HORIZON_END:
            raise ValueError(
                f"demo start {start} is outside the generated horizon "
                f"{GENERATION_START}..{HORIZON_END}"
            )
        self.seed = seed
        self.start = start
        self.registry = registry if registry is not None else builtin_registry()

    def fetch(self, root: str, *, start: date | None, end: date, fetched_at: datetime) -> Batch:
        """Every demo bar of ``root`` with ``start <= session_date <= end`` whose session had ended
        at ``fetched_at`` (tz-aware), sorted by (session_date, contract)."""
        spec = _checked_spec(root, self.registry)
        if fetched_at.tzinfo is None:
            raise ValueError(f"fetched_at must be timezone-aware (UTC), got {fetched_at!r}")
        first = self.start if start is None else max(start, self.start)
        last = min(end, spec.trading_calendar.last_completed_session(fetched_at))
        full = _contract_bars(self.seed, spec)
        bars = full.filter(pl.col("session_date").is_between(first, last))
        raw = bars.to_arrow().cast(_RAW_SCHEMA)
        return Batch(
            source=self.name,
            root=root,
            raw=raw,
            bars=conform_bars(bars),
            fetched_at=fetched_at,
            window_start=start,
            window_end=end,
            metadata={"demo": True, "label": DEMO_LABEL, "seed": self.seed, "generator": GENERATOR},
        )


def demo_bars(
    root: str, *, seed: int = DEFAULT_SEED, registry: Registry | None = None
) -> pl.DataFrame:
    """All demo bars of ``root`` from GENERATION_START to HORIZON_END (BAR_SCHEMA, sorted by
    session_date then contract). Generated on first use per (seed, root), then cached.
    ``registry``: where ``root`` is described (None: the built-in roots).

    >>> bars = demo_bars("RTY")
    >>> bars.row(0)[:3], bars["session_date"].max()
    (('RTY', 'RTYH05', datetime.date(2005, 1, 3)), datetime.date(2035, 12, 31))
    """
    return _contract_bars(seed, _checked_spec(root, registry))


def _checked_spec(root: str, registry: Registry | None) -> RootSpec:
    known = registry if registry is not None else builtin_registry()
    if root not in known:
        raise SourceError(
            f"demo source has no root {root!r}; it knows the registered roots: "
            f"{describe_known(known.specs)}"
        )
    return known.spec(root)


def demo_index_bars(
    root: str, *, seed: int = DEFAULT_SEED, registry: Registry | None = None
) -> pl.DataFrame:
    """The cash index behind ``root``'s demo contracts (BAR_SCHEMA, contract the root's
    ``cash_index`` symbol, prices rounded to 0.01, no volume), GENERATION_START to HORIZON_END.

    Every contract of the demo trades at this index times its basis factor, so a front-month
    feed spliced from ``demo_bars`` and this index measure the demo's roll gaps by the basis.
    The demo source itself serves contracts only.

    >>> index = demo_index_bars("ES")
    >>> index["contract"][0], index.height == demo_bars("ES")["session_date"].n_unique()
    ('^GSPC', True)
    """
    spec = _checked_spec(root, registry)
    cash_index = spec.cash_index
    if cash_index is None:
        raise SourceError(f"root {root!r} has no cash_index in the roots registry")
    cal = _calendar(spec.calendar)
    index = _index_bars(seed, spec)
    frame = pl.DataFrame(
        {
            "root": root,
            "contract": cash_index,
            "session_date": np.array(cal.dates, dtype="datetime64[D]"),
            "open": np.round(index.open, 2),
            "high": np.round(index.high, 2),
            "low": np.round(index.low, 2),
            "close": np.round(index.close, 2),
        }
    )
    return conform_bars(
        frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("volume")).filter(
            pl.col("session_date").is_between(GENERATION_START, HORIZON_END)
        )
    )


@dataclass(frozen=True)
class _Calendar:
    dates: tuple[date, ...]
    days: np.ndarray  # int64 days since 1970-01-01, aligned with dates
    early_close: np.ndarray  # bool


@dataclass(frozen=True)
class _Market:
    shock: np.ndarray  # unit-variance fat-tailed daily shock
    vol: np.ndarray  # volatility multiplier, root-mean-square 1 over the domain
    drift: np.ndarray  # regime drift for a 1 % daily-vol index
    regime: np.ndarray  # _UP, _RANGE or _DOWN


@dataclass(frozen=True)
class _IndexBars:
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray  # total contracts across the listed contracts
    open_interest: np.ndarray


@lru_cache(maxsize=8)
def _calendar(name: str = EQUITY.name) -> _Calendar:
    """The domain's sessions on the trading calendar ``name`` (the market is simulated on the
    equity calendar's)."""
    cal = trading_calendar(name)
    dates = tuple(cal.trade_dates(_DOMAIN_START, _DOMAIN_END))
    days = np.array(dates, dtype="datetime64[D]").astype(np.int64)
    early = np.array([cal.is_early_close(d) for d in dates], dtype=bool)
    return _Calendar(dates, days, early)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _root_stream(root: str) -> tuple[int, ...]:
    """The random stream of a root's own shocks: fixed numbers for the four CME roots (their bars
    never change), a number from the root's name for any other."""
    if root in _ROOT_STREAM:
        return (_ROOT_STREAM[root],)
    return (_SYNTHETIC_STREAM, int.from_bytes(hashlib.sha256(root.encode()).digest()[:8], "big"))


@dataclass(frozen=True)
class SyntheticParams:
    """A root's demo parameters plus the anchors it follows: ``base``'s levels times ``scale``
    (``base`` one of ANCHOR_ROOTS or a PRODUCTS root)."""

    params: DemoRootParams
    base: str
    scale: float


@lru_cache(maxsize=256)
def synthetic_params(seed: int, root: str) -> SyntheticParams:
    """Seeded parameters of ``root``: hand-set for the roots of the built-in registry (the four
    CME equity roots and PRODUCTS), drawn for any other.

    >>> synthetic_params(DEFAULT_SEED, "RTY").scale, synthetic_params(DEFAULT_SEED, "ZN").base
    (1.0, 'ZN')
    >>> p = synthetic_params(DEFAULT_SEED, "DEMO001")
    >>> p == synthetic_params(DEFAULT_SEED, "DEMO001"), p.base in ANCHOR_ROOTS
    (True, True)
    >>> SYNTHETIC_DAILY_VOL[0] <= p.params.daily_vol <= SYNTHETIC_DAILY_VOL[1]
    True
    """
    if root in ROOT_PARAMS:
        return SyntheticParams(ROOT_PARAMS[root], root, 1.0)
    if root in PRODUCTS:
        return SyntheticParams(PRODUCTS[root].params, root, 1.0)
    rng = _rng(seed, *_root_stream(root), _PARAMS_STREAM)
    params = DemoRootParams(
        daily_vol=float(rng.uniform(*SYNTHETIC_DAILY_VOL)),
        market_loading=float(rng.uniform(*SYNTHETIC_MARKET_LOADING)),
        carry_offset=float(rng.uniform(*SYNTHETIC_CARRY_OFFSET)),
        volume=int(rng.uniform(*SYNTHETIC_VOLUME)),
        open_interest=int(rng.uniform(*SYNTHETIC_OPEN_INTEREST)),
    )
    base = ANCHOR_ROOTS[int(rng.integers(len(ANCHOR_ROOTS)))]
    low, high = SYNTHETIC_LEVEL_SCALE
    scale = float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return SyntheticParams(params, base, scale)


def _fat_tailed_shocks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Student-t shocks scaled to unit variance, clipped at _SHOCK_CLIP standard deviations."""
    shocks = rng.standard_t(_SHOCK_DF, n) / math.sqrt(_SHOCK_DF / (_SHOCK_DF - 2))
    return np.clip(shocks, -_SHOCK_CLIP, _SHOCK_CLIP)


def _day_index(cal: _Calendar, d: date) -> int:
    """Index of the first domain session on or after ``d``."""
    return int(np.searchsorted(cal.days, np.datetime64(d, "D").astype(np.int64)))


def _regimes(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int8)
    state, i = _RANGE, 0
    while i < n:
        # Gamma(3) lengths: months long, rarely very short.
        length = max(10, round(rng.gamma(3.0, _REGIME_MEAN_LENGTH[state] / 3.0)))
        out[i : i + length] = state
        i += length
        state = int(rng.choice(3, p=_REGIME_NEXT[state]))
    return out


def _episode_multiplier(cal: _Calendar) -> np.ndarray:
    t = np.arange(len(cal.dates), dtype=float)
    mult = np.ones_like(t)
    for peak_day, peak, rise, decay in VOL_EPISODES:
        p = _day_index(cal, peak_day)
        shape = np.where(t < p, np.exp(-(((t - p) / rise) ** 2)), np.exp(-(t - p) / decay))
        mult += (peak - 1.0) * shape
    return mult


@lru_cache(maxsize=8)
def _market(seed: int) -> _Market:
    cal = _calendar()
    n = len(cal.dates)
    rng = _rng(seed, _MARKET_STREAM)
    shock = _fat_tailed_shocks(rng, n)
    noise = rng.standard_normal(n)
    regime = _regimes(rng, n)
    # Log-volatility AR(1) with leverage: inherently sequential, ~8k steps on Python floats.
    log_vol = [0.0] * n
    shocks, noises = shock.tolist(), noise.tolist()
    for i in range(1, n):
        log_vol[i] = (
            _LOG_VOL_PERSISTENCE * log_vol[i - 1]
            + _LOG_VOL_NOISE * noises[i]
            - _LOG_VOL_LEVERAGE * shocks[i - 1]
        )
    vol = np.exp(np.array(log_vol)) * _REGIME_VOL[regime] * _episode_multiplier(cal)
    vol /= math.sqrt(float(np.mean(vol**2)))
    vol = np.where(cal.early_close, vol * _EARLY_CLOSE_VOL, vol)
    return _Market(shock=shock, vol=vol, drift=_REGIME_DRIFT[regime] * 100, regime=regime)


@lru_cache(maxsize=16)
def _market_on(seed: int, calendar: str) -> _Market:
    """The market on the sessions of ``calendar``: the equity market's values on its sessions;
    on a session the equity calendar lacks (NYMEX traded on 2 Jan 2007), no market shock and the
    previous session's volatility, drift and regime (halved on an early close)."""
    market = _market(seed)
    if calendar == EQUITY.name:
        return market
    base, cal = _calendar(), _calendar(calendar)
    at = np.searchsorted(base.days, cal.days, side="right") - 1
    at = np.clip(at, 0, base.days.size - 1)
    same = base.days[at] == cal.days
    vol = np.where(
        cal.early_close & ~base.early_close[at], market.vol[at] * _EARLY_CLOSE_VOL, market.vol[at]
    )
    return _Market(
        shock=np.where(same, market.shock[at], 0.0),
        vol=vol,
        drift=market.drift[at],
        regime=market.regime[at],
    )


def _mean_reverting_walk(raw_returns: np.ndarray) -> np.ndarray:
    """Cumulated ``raw_returns`` with a weak pull toward zero (an AR(1) in log space), so that the
    path wanders like a random walk over weeks but not without bound over years."""
    keep = 1 - WANDER_REVERSION
    walk = [0.0] * len(raw_returns)
    level = 0.0
    for i, r in enumerate(raw_returns.tolist()):
        level = keep * level + r
        walk[i] = level
    return np.array(walk)


def _bridge_to_anchors(
    walk: np.ndarray, anchor_index: np.ndarray, anchor_log: np.ndarray, growth: float
) -> np.ndarray:
    """Log levels that follow ``walk`` but pass exactly through the anchors.

    Up to the last anchor the gap between the walk and the anchors is closed linearly between
    anchors (a log-space bridge: local dynamics kept, a constant drift added per segment). After
    it, the path is a trend growing at ``growth`` (log per year) plus the walk's own deviation
    started afresh at the last anchor (it decays at WANDER_REVERSION like the walk does).
    """
    t = np.arange(len(walk))
    levels = walk + np.interp(t, anchor_index, anchor_log - walk[anchor_index])
    last = int(anchor_index[-1])
    after = t[last + 1 :] - last
    levels[last + 1 :] = (
        anchor_log[-1]
        + growth / 252 * after
        + walk[last + 1 :]
        - walk[last] * (1 - WANDER_REVERSION) ** after
    )
    return levels


def _cap_daily_moves(log_levels: np.ndarray, cap: float) -> np.ndarray:
    """Clip every daily log move to ``[-cap, cap]``, carrying the excess into the next session."""
    moves = np.diff(log_levels)
    for _ in range(100):
        over = np.flatnonzero(np.abs(moves) > cap)
        if over.size == 0:
            break
        excess = moves[over] - np.clip(moves[over], -cap, cap)
        moves[over] -= excess
        carry_to = over + 1
        inside = carry_to < moves.size
        np.add.at(moves, carry_to[inside], excess[inside])
    return log_levels[0] + np.concatenate([[0.0], np.cumsum(moves)])


def _anchor_line(synthetic: SyntheticParams) -> tuple[list[date], list[float], float]:
    """The anchor dates, levels (times the scale) and post-anchor growth of a root's path."""
    if synthetic.base in ANCHOR_ROOTS:
        column = ANCHOR_ROOTS.index(synthetic.base)
        levels = [lv[column] * synthetic.scale for _, lv in ANCHOR_LEVELS]
        return [d for d, _ in ANCHOR_LEVELS], levels, POST_ANCHOR_GROWTH
    product = PRODUCTS[synthetic.base]
    return (
        [d for d, _ in product.anchors],
        [lv * synthetic.scale for _, lv in product.anchors],
        product.growth,
    )


@lru_cache(maxsize=64)
def _index_bars(seed: int, spec: RootSpec) -> _IndexBars:
    root = spec.root
    cal = _calendar(spec.calendar)
    market = _market_on(seed, spec.calendar)
    synthetic = synthetic_params(seed, root)
    params = synthetic.params
    n = len(cal.dates)
    rng = _rng(seed, *_root_stream(root))
    own = _fat_tailed_shocks(rng, n)
    loading = params.market_loading
    sigma = params.daily_vol * market.vol
    shock = loading * market.shock + math.sqrt(1 - loading**2) * own
    # The equity roots follow the market's regime drift; a product by its loading's share.
    drift = market.drift if root in ROOT_PARAMS or root not in PRODUCTS else market.drift * loading
    raw = drift * params.daily_vol + sigma * shock
    raw[0] = 0.0

    anchor_dates, anchor_levels, growth = _anchor_line(synthetic)
    anchor_index = np.array([_day_index(cal, d) for d in anchor_dates])
    anchor_log = np.log(anchor_levels)
    log_close = _cap_daily_moves(
        _bridge_to_anchors(_mean_reverting_walk(raw), anchor_index, anchor_log, growth),
        MAX_DAILY_LOG_MOVE,
    )
    close = np.exp(log_close)

    gap = _GAP_SCALE * sigma * rng.standard_normal(n)
    previous_close = np.concatenate([[close[0]], close[:-1]])
    open_ = previous_close * np.exp(gap)
    high = np.maximum(open_, close) * np.exp(_RANGE_EXTENSION * sigma * rng.exponential(size=n))
    low = np.minimum(open_, close) * np.exp(-_RANGE_EXTENSION * sigma * rng.exponential(size=n))
    widen = np.maximum(_MIN_RANGE * sigma * close - (high - low), 0.0) / 2
    high, low = high + widen, low - widen

    roll_days = _roll_session_indices(cal, spec)
    nearest_roll = roll_days[
        np.clip(np.searchsorted(roll_days, np.arange(n)), 0, roll_days.size - 1)
    ]
    roll_bump = 1 + _ROLL_VOLUME_BUMP * np.exp(-(((np.arange(n) - nearest_roll + 2) / 2.0) ** 2))
    volume = (
        params.volume
        * market.vol**_VOLUME_VOL_ELASTICITY
        * np.exp(_VOLUME_NOISE * rng.standard_normal(n) - _VOLUME_NOISE**2 / 2)
        * np.where(cal.early_close, _EARLY_CLOSE_VOLUME, 1.0)
        * roll_bump
    )
    oi_noise = np.cumsum(rng.standard_normal(n)) * 0.01
    oi_level = oi_noise - np.convolve(oi_noise, np.ones(250) / 250, mode="same")
    open_interest = params.open_interest * np.exp(np.clip(oi_level, -0.3, 0.3))
    return _IndexBars(open_, high, low, close, volume, open_interest)


def _domain_contracts(spec: RootSpec) -> list[Contract]:
    """Every active contract with a bar in the domain, by expiry."""
    contract = front_contract(spec, _DOMAIN_START)
    out = []
    while contract.previous().roll_date <= _DOMAIN_END:
        out.append(contract)
        contract = contract.next()
    return out


def _roll_session_indices(cal: _Calendar, spec: RootSpec) -> np.ndarray:
    rolls = [c.roll_date for c in _domain_contracts(spec)]
    return np.array([_day_index(cal, d) for d in rolls])


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@lru_cache(maxsize=64)
def _contract_bars(seed: int, spec: RootSpec) -> pl.DataFrame:
    root = spec.root
    cal = _calendar(spec.calendar)
    index = _index_bars(seed, spec)
    params = synthetic_params(seed, root).params

    codes: list[str] = []
    rows_per_contract: list[np.ndarray] = []
    becomes_front: list[int] = []
    stops_being_front: list[int] = []
    expiry_day: list[int] = []
    for contract in _domain_contracts(spec):
        front_from = _day_index(cal, contract.previous().roll_date)
        front_until = _day_index(cal, contract.roll_date)
        expiry = _day_index(cal, contract.expiry)
        rows = np.arange(
            max(front_from - SESSIONS_BEFORE_FRONT, 0), min(expiry + 1, len(cal.dates))
        )
        codes.append(contract.code)
        rows_per_contract.append(rows)
        becomes_front.append(front_from)
        stops_being_front.append(front_until)
        expiry_day.append(int(np.datetime64(contract.expiry, "D").astype(np.int64)))

    counts = np.array([r.size for r in rows_per_contract])
    rows = np.concatenate(rows_per_contract)
    which = np.repeat(np.arange(len(codes)), counts)
    sessions_in = rows - np.array(becomes_front)[which]
    sessions_out = rows - np.array(stops_being_front)[which]

    carry = np.interp(
        cal.days,
        [np.datetime64(d, "D").astype(np.int64) for d, _ in CARRY_KNOTS],
        [c for _, c in CARRY_KNOTS],
    )
    days_to_expiry = np.array(expiry_day)[which] - cal.days[rows]
    basis_factor = 1 + (carry[rows] + params.carry_offset) * days_to_expiry / 365

    decimals = tick_decimals(spec.tick)

    def to_tick(values: np.ndarray) -> np.ndarray:
        return np.round(np.round(values / spec.tick) * spec.tick, decimals)

    def share(
        sessions_in: np.ndarray, sessions_out: np.ndarray, center: float, width: float
    ) -> np.ndarray:
        return _logistic((sessions_in - center) / width) * (
            1 - _logistic((sessions_out - center) / width)
        )

    stream = _root_stream(root)
    rng = (
        _rng(seed, _CONTRACT_STREAM_OFFSET + stream[0])
        if root in _ROOT_STREAM
        else _rng(seed, *stream, _SYNTHETIC_CONTRACT_STREAM)
    )
    volume_share = np.maximum(
        share(sessions_in, sessions_out, _VOLUME_ROLL_CENTER, _VOLUME_ROLL_WIDTH), _MIN_VOLUME_SHARE
    )
    volume = index.volume[rows] * volume_share * np.exp(0.15 * rng.standard_normal(rows.size))
    oi_share = np.maximum(
        share(sessions_in, sessions_out, _OI_ROLL_CENTER, _OI_ROLL_WIDTH), _MIN_OI_SHARE
    )
    open_interest = index.open_interest[rows] * oi_share

    session_date = cal.days[rows].astype("datetime64[D]")
    frame = pl.DataFrame(
        {
            "root": np.full(rows.size, root),
            "contract": np.array(codes)[which],
            "session_date": session_date,
            "open": to_tick(index.open[rows] * basis_factor),
            "high": to_tick(index.high[rows] * basis_factor),
            "low": to_tick(index.low[rows] * basis_factor),
            "close": to_tick(index.close[rows] * basis_factor),
            "volume": np.round(volume).astype(np.int64),
            "open_interest": np.round(open_interest).astype(np.int64),
        }
    )
    frame = _with_squeezes(frame, spec)
    return conform_bars(
        frame.filter(pl.col("session_date").is_between(GENERATION_START, HORIZON_END)).sort(
            "session_date", "contract"
        )
    )


def _with_squeezes(frame: pl.DataFrame, spec: RootSpec) -> pl.DataFrame:
    """``frame`` with the EXPIRY_SQUEEZES bars of the root's contracts planted (on its tick)."""
    planted = [
        (code, day, *prices)
        for (code, day), prices in EXPIRY_SQUEEZES.items()
        if code.startswith(spec.root) and _is_contract_of(code, spec)
    ]
    if not planted:
        return frame
    squeezes = pl.DataFrame(
        planted,
        schema={
            "contract": pl.String,
            "session_date": pl.Date,
            "_open": pl.Float64,
            "_high": pl.Float64,
            "_low": pl.Float64,
            "_close": pl.Float64,
        },
        orient="row",
    )
    return (
        frame.join(squeezes, on=["contract", "session_date"], how="left")
        .with_columns(pl.coalesce(f"_{p}", p).alias(p) for p in ("open", "high", "low", "close"))
        .drop("_open", "_high", "_low", "_close")
    )


def _is_contract_of(code: str, spec: RootSpec) -> bool:
    try:
        parse_contract(code, spec)
    except ValueError:
        return False
    return True
