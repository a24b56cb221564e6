"""The roots registry: built-in roots, a user's file, generated demo roots, clear refusals."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flows.settings import load_registry_from_env, parse_roots
from pipeline.market.contracts import front_contract
from pipeline.market.expiry import DateRule
from pipeline.market.roots import (
    BUILTIN_FILE,
    RegistryError,
    RootSpec,
    Words,
    builtin_registry,
    load_registry,
)
from pipeline.sources.demo import demo_bars, synthetic_params

#: The roots issue 19 asks the registry for, by product group.
REQUIRED_ROOTS = {
    "equity_index": {"ES", "NQ", "YM", "RTY"},
    "energy": {"CL", "NG", "RB", "HO"},
    "metals": {"GC", "SI", "HG", "PL"},
    "rates": {"ZT", "ZF", "ZN", "ZB", "UB"},
    "grains": {"ZC", "ZS", "ZW", "ZL", "ZM"},
    "currencies": {"6E", "6J", "6B", "6A", "6C"},
}


def write(tmp_path: Path, text: str, name: str = "roots.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_built_in_file_keeps_the_four_cme_roots_facts_and_default() -> None:
    def cme(
        root: str,
        name: str,
        point: float,
        tick: float,
        index: str,
        peers: tuple[str, ...],
        price_range: tuple[float, float],
        words: tuple[str, str],
        exchange: str = "CME",
    ) -> RootSpec:
        return RootSpec(
            root,
            name,
            point,
            tick,
            yahoo_continuous=f"{root}=F",
            yahoo_contracts=True,
            cash_index=index,
            peers=peers,
            price_range=price_range,
            exchange=exchange,
            words=Words(*words),
        )

    specs = builtin_registry().specs
    assert {r: specs[r] for r in ("RTY", "ES", "NQ", "YM")} == {
        "RTY": cme(
            "RTY", "E-mini Russell 2000", 50.0, 0.10, "^RUT", ("ES", "NQ"), (50, 5e4),
            ("small caps", "large caps"),
        ),
        "ES": cme(
            "ES", "E-mini S&P 500", 50.0, 0.25, "^GSPC", ("NQ",), (300, 2e5),
            ("the S&P 500", "the Nasdaq-100"),
        ),
        "NQ": cme(
            "NQ", "E-mini Nasdaq-100", 20.0, 0.25, "^NDX", ("ES",), (400, 5e5),
            ("the Nasdaq-100", "the S&P 500"),
        ),
        "YM": cme(
            "YM", "E-mini Dow ($5)", 5.0, 1.0, "^DJI", ("ES", "NQ"), (1500, 1e6),
            ("the Dow", "the broad market"), exchange="CBOT",
        ),
    }  # fmt: skip
    assert builtin_registry().default == ("RTY", "ES", "NQ", "YM")


def test_the_built_in_registry_describes_every_market_issue_19_names() -> None:
    specs = builtin_registry().specs
    by_group: dict[str, set[str]] = {}
    for spec in specs.values():
        by_group.setdefault(spec.group, set()).add(spec.root)
    assert len(specs) >= 25
    for group, roots in REQUIRED_ROOTS.items():
        assert roots <= by_group[group], group
    for spec in specs.values():
        # Physically delivered roots roll before first notice (or the last trade where none).
        assert (spec.settlement == "cash") == (spec.root in REQUIRED_ROOTS["equity_index"])
        if spec.first_notice is not None:
            assert spec.roll.anchor == "first_notice", spec.root
        assert spec.words.root and spec.words.peers, spec.root
        assert set(spec.peers) <= set(specs) and spec.root not in spec.peers
        assert spec.price_range[0] < spec.price_range[1]
    assert [r for r, s in specs.items() if s.allows_negative] == ["CL"]
    assert specs["ZN"].notation == "32nds" and specs["ZC"].notation == "eighths"
    assert specs["GC"].active == "GJMQVZ" and specs["GC"].months == "FGHJKMNQUVXZ"
    assert specs["CL"].last_trade == DateRule(
        "business_days_before_day_of_prior_month", (("day", 25), ("days", 3))
    )


def test_every_root_cites_its_exchange_contract_specification() -> None:
    text = BUILTIN_FILE.read_text()
    for root in builtin_registry().names():
        block = text[: text.index(f"[roots.{root}]")].rsplit("\n\n", 1)[-1]
        assert "Rulebook Chapter" in block, root


def test_a_user_file_adds_roots_replaces_one_and_sets_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        """
        default = ["RTY", "MES"]

        [roots.MES]
        name = "Micro E-mini S&P 500"
        point_value = 5
        tick = 0.25
        peers = ["ES"]
        price_range = [30, 200_000]

        [roots.YM]
        point_value = 5.0
        tick = 1.0
        file_columns = { close = "Settle" }
        """,
    )
    known = load_registry([BUILTIN_FILE, path])
    assert known.names()[:4] == ("RTY", "ES", "NQ", "YM") and known.names()[-1] == "MES"
    assert known.default == ("RTY", "MES")
    assert known.spec("MES") == RootSpec(
        "MES", "Micro E-mini S&P 500", 5.0, 0.25, peers=("ES",), price_range=(30.0, 200_000.0)
    )
    assert known.spec("YM").columns == {"close": "Settle"}
    assert known.spec("YM").yahoo_continuous is None
    assert known.spec("YM").price_range == (1e-6, 1e9)  # none declared: only absurd prices refused
    assert parse_roots(None, known) == ("RTY", "MES")
    assert parse_roots("mes,es", known) == ("MES", "ES")
    # The environment is read at the edge only (flows/settings.py), and only there.
    monkeypatch.setenv("CALLBOOK_ROOTS_FILE", str(path))
    assert load_registry_from_env() == known and parse_roots(None) == ("RTY", "MES")
    monkeypatch.delenv("CALLBOOK_ROOTS_FILE")
    assert "MES" not in load_registry_from_env()
    assert parse_roots(None) == ("RTY", "ES", "NQ", "YM")
    assert "MES" not in builtin_registry()


def test_generated_demo_roots_share_the_calendar_with_seeded_parameters(tmp_path: Path) -> None:
    known = load_registry([BUILTIN_FILE, write(tmp_path, "[synthetic]\ncount = 12\n")])
    names = [r for r, s in known.specs.items() if s.synthetic]
    assert names == [f"DEMO{i:03d}" for i in range(1, 13)]
    assert parse_roots(None, known) == ("RTY", "ES", "NQ", "YM")  # asked for by name only
    with pytest.raises(ValueError, match=r"and 12 synthetic demo roots \(DEMO001\.\.DEMO012\)"):
        parse_roots("DEMO013", known)
    rty, demo7 = demo_bars("RTY"), demo_bars("DEMO007", registry=known)
    assert demo7["session_date"].unique().sort().equals(rty["session_date"].unique().sort())
    assert demo7["contract"].str.starts_with("DEMO007").all()
    ticks = demo7.select((pl.col("close") / 0.25 - (pl.col("close") / 0.25).round(0)).abs().max())
    assert ticks.item() < 1e-6  # prices on the 0.25 tick of the generated roots
    least, most = known.spec("DEMO007").price_range
    assert (least, most) == (25.0, 2_000_000.0)
    assert least <= demo7["low"].min() and demo7["high"].max() <= most  # type: ignore[operator]
    day = demo7["session_date"][4000]
    front = front_contract(known.spec("DEMO007"), day).code
    assert front in demo7.filter(pl.col("session_date") == day)["contract"].to_list()
    params = [synthetic_params(20050103, name) for name in names]
    assert len({p.params.daily_vol for p in params}) == len(names)  # each root its own draw
    assert demo_bars("DEMO007", registry=known).equals(demo7)  # seeded: the same bars every time


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[roots.mes]\ntick = 0.25\npoint_value = 5\n", "'mes' is not a root name"),
        ("[roots.MES]\ntick = 0.25\n", r"\[roots.MES\]: field 'point_value' is required"),
        ("[roots.MES]\ntick = -1\npoint_value = 5\n", "tick: must be a positive number, got -1"),
        ("[roots.MES]\ntick = 1\npoint_value = 5\nsize = 3\n", r"unknown field\(s\) size"),
        ("[roots.MES]\ntick = 1\npoint_value = 5\npeers = ['XX']\n", r"unknown peer\(s\) XX"),
        ("default = ['ZZ']\n", r"default names unknown root\(s\) ZZ"),
        ("[synthetic]\ncount = -1\n", "count: must be an integer 0..100000, got -1"),
        ("roots = 3\n", r"\[roots\]: must be a table"),
        ("[roots.MES]\ntick = 1\npoint_value = 5\ncash_index = 'SPX'\n", "must start with '\\^'"),
        ("[roots.MES\n", "not valid TOML"),
        (
            "[roots.MES]\ntick = 1\npoint_value = 5\nprice_range = [9, 3]\n",
            r"\[roots.MES\] price_range: must be \[lowest, highest\] with lowest < highest",
        ),
        ("[synthetic]\ncount = 2\nprice_range = [0, 5]\n", r"\[synthetic\] price_range"),
        (
            "[roots.MES]\ntick = 1\npoint_value = 5\nlast_trade = { rule = 'full_moon' }\n",
            r"\[roots.MES\] last_trade: unknown date rule 'full_moon'",
        ),
        (
            "[roots.MES]\ntick = 1\npoint_value = 5\n"
            "last_trade = { rule = 'business_days_before_day', day = 15 }\n",
            r"last_trade: date rule 'business_days_before_day': parameter 'days' is required",
        ),
        (
            "[roots.MES]\ntick = 0.3\npoint_value = 5\nnotation = '32nds'\n",
            r"\[roots.MES\] notation: notation '32nds' needs a tick of 1/32",
        ),
        ("[roots.MES]\ntick = 1\npoint_value = 5\nmonths = 'ZH'\n", r"months: must be month"),
        (
            "[roots.MES]\ntick = 1\npoint_value = 5\n"
            "roll = { rule = 'sessions_before', anchor = 'first_notice', sessions = 2 }\n",
            r"roll: rolls before first_notice, but the root has none",
        ),
    ],
)
def test_a_bad_roots_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RegistryError, match=message) as raised:
        load_registry([BUILTIN_FILE, path])
    assert str(path) in str(raised.value) or "unknown" in str(raised.value)


def test_a_missing_user_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"no such roots file \(CALLBOOK_ROOTS_FILE\)"):
        load_registry([BUILTIN_FILE, tmp_path / "absent.toml"])
