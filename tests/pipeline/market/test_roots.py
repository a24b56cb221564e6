"""The roots registry: built-in roots, a user's file, generated demo roots, clear refusals."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flows.settings import parse_roots
from pipeline.market.contracts import ROOT_SPECS, front_contract
from pipeline.market.roots import (
    BUILTIN_FILE,
    RegistryError,
    RootSpec,
    load_registry,
    registry,
    spec,
)
from pipeline.sources.demo import demo_bars, synthetic_params


def write(tmp_path: Path, text: str, name: str = "roots.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_built_in_file_holds_the_four_cme_roots_as_before() -> None:
    def cme(
        root: str,
        name: str,
        point: float,
        tick: float,
        index: str,
        peers: tuple,
        price_range: tuple[float, float],
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
        )

    assert load_registry([BUILTIN_FILE]).specs == {
        "RTY": cme("RTY", "E-mini Russell 2000", 50.0, 0.10, "^RUT", ("ES", "NQ"), (50, 5e4)),
        "ES": cme("ES", "E-mini S&P 500", 50.0, 0.25, "^GSPC", ("NQ",), (300, 2e5)),
        "NQ": cme("NQ", "E-mini Nasdaq-100", 20.0, 0.25, "^NDX", ("ES",), (400, 5e5)),
        "YM": cme("YM", "E-mini Dow ($5)", 5.0, 1.0, "^DJI", ("ES", "NQ"), (1500, 1e6)),
    }


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
    monkeypatch.setenv("CALLBOOK_ROOTS_FILE", str(path))
    known = registry()
    assert known.names() == ("RTY", "ES", "NQ", "YM", "MES")
    assert known.default == ("RTY", "MES")
    assert spec("MES") == RootSpec(
        "MES", "Micro E-mini S&P 500", 5.0, 0.25, peers=("ES",), price_range=(30.0, 200_000.0)
    )
    assert spec("YM").file_columns == {"close": "Settle"} and spec("YM").yahoo_continuous is None
    assert spec("YM").price_range == (1e-6, 1e9)  # none declared: only absurd prices refused
    assert ROOT_SPECS["MES"].tick == 0.25  # the contracts module sees the same registry
    assert parse_roots(None) == ("RTY", "MES")
    assert parse_roots("mes,es") == ("MES", "ES")
    monkeypatch.delenv("CALLBOOK_ROOTS_FILE")
    assert "MES" not in registry() and parse_roots(None) == ("RTY", "ES", "NQ", "YM")


def test_generated_demo_roots_share_the_calendar_with_seeded_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBOOK_ROOTS_FILE", str(write(tmp_path, "[synthetic]\ncount = 12\n")))
    names = [r for r, s in registry().specs.items() if s.synthetic]
    assert names == [f"DEMO{i:03d}" for i in range(1, 13)]
    assert parse_roots(None) == ("RTY", "ES", "NQ", "YM")  # generated roots are asked for by name
    with pytest.raises(ValueError, match=r"and 12 synthetic demo roots \(DEMO001\.\.DEMO012\)"):
        parse_roots("DEMO013")
    rty, demo7 = demo_bars("RTY"), demo_bars("DEMO007")
    assert demo7["session_date"].unique().sort().equals(rty["session_date"].unique().sort())
    assert demo7["contract"].str.starts_with("DEMO007").all()
    ticks = demo7.select((pl.col("close") / 0.25 - (pl.col("close") / 0.25).round(0)).abs().max())
    assert ticks.item() < 1e-6  # prices on the 0.25 tick of the generated roots
    least, most = spec("DEMO007").price_range
    assert (least, most) == (25.0, 2_000_000.0)
    assert least <= demo7["low"].min() and demo7["high"].max() <= most  # type: ignore[operator]
    day = demo7["session_date"][4000]
    front = front_contract("DEMO007", day).code
    assert front in demo7.filter(pl.col("session_date") == day)["contract"].to_list()
    params = [synthetic_params(20050103, name) for name in names]
    assert len({p.params.daily_vol for p in params}) == len(names)  # each root its own draw
    assert demo_bars("DEMO007").equals(demo7)  # seeded: the same bars every time


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
            r"\[roots.MES\] price_range: must be \[lowest, highest\] with 0 < lowest < highest",
        ),
        ("[synthetic]\ncount = 2\nprice_range = [0, 5]\n", r"\[synthetic\] price_range"),
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
