"""Input fingerprints: a revision on day R changes every fingerprint from R on and none before."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.fingerprint import chain_hashes, input_fingerprints
from tests.pipeline.analysis.builders import series_frame

ROWS = 30
REVISED = 12  # the row of the revised bar


def closes(level: float) -> np.ndarray:
    return level + np.arange(ROWS, dtype=float)


ROOT = series_frame(closes(2000.0))
PEERS = {"ES": series_frame(closes(6000.0)), "NQ": series_frame(closes(20000.0))}


def fingerprints(root: pl.DataFrame = ROOT, peers=None, version: str = "v1", params: str = "p"):
    peers = PEERS if peers is None else peers
    return input_fingerprints(root, peers=peers, methodology_version=version, params_hash=params)


def revise(series: pl.DataFrame, row: int, column: str, value: object) -> pl.DataFrame:
    revised = pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value)).otherwise(pl.col(column))
    return series.with_columns(revised.cast(series.schema[column]).alias(column))


def changed_rows(before: pl.Series, after: pl.Series) -> list[int]:
    return (before != after).arg_true().to_list()


BASE = fingerprints()


def test_one_fingerprint_per_row_all_distinct() -> None:
    assert BASE.len() == ROWS
    assert BASE.n_unique() == ROWS
    assert BASE.str.len_chars().unique().to_list() == [64]  # sha256 hex


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("raw_close", 9999.0),
        ("raw_open", 9999.0),
        ("raw_high", 9999.0),
        ("raw_low", 1.0),
        ("contract", "RTYM19"),
        ("offset", -40.0),
        ("factor", 1.01),
    ],
)
def test_revising_one_bar_changes_every_fingerprint_from_that_day_on(column, value) -> None:
    revised = fingerprints(revise(ROOT, REVISED, column, value))
    assert changed_rows(BASE, revised) == list(range(REVISED, ROWS))


def test_columns_no_call_reads_are_not_part_of_it() -> None:
    assert changed_rows(BASE, fingerprints(revise(ROOT, REVISED, "volume", 1))) == []
    assert changed_rows(BASE, fingerprints(revise(ROOT, REVISED, "open_interest", 1))) == []


def test_a_peer_revision_changes_the_roots_fingerprint_from_that_day_on() -> None:
    for name in PEERS:
        peers = {**PEERS, name: revise(PEERS[name], REVISED, "raw_close", 1.0)}
        assert changed_rows(BASE, fingerprints(peers=peers)) == list(range(REVISED, ROWS))


def test_a_peer_session_the_root_lacks_counts_from_the_roots_next_session() -> None:
    root = ROOT.filter(pl.int_range(pl.len()) != REVISED)  # the root has no bar on that day
    base = fingerprints(root)
    peers = {**PEERS, "ES": revise(PEERS["ES"], REVISED, "raw_close", 1.0)}
    # Root row REVISED is the session after the missing one.
    assert changed_rows(base, fingerprints(root, peers)) == list(range(REVISED, ROWS - 1))


def test_bars_after_a_day_never_change_its_fingerprint() -> None:
    head = fingerprints(ROOT.head(REVISED), {k: v.head(REVISED) for k, v in PEERS.items()})
    assert head.to_list() == BASE.head(REVISED).to_list()
    assert chain_hashes(ROOT.head(REVISED)).to_list() == chain_hashes(ROOT).head(REVISED).to_list()


def test_methodology_parameters_and_peer_names_are_part_of_it() -> None:
    assert changed_rows(BASE, fingerprints(version="v2")) == list(range(ROWS))
    assert changed_rows(BASE, fingerprints(params="q")) == list(range(ROWS))
    swapped = {"ES": PEERS["NQ"], "NQ": PEERS["ES"]}
    assert changed_rows(BASE, fingerprints(peers=swapped)) == list(range(ROWS))
    assert changed_rows(BASE, fingerprints(peers={"ES": PEERS["ES"]})) == list(range(ROWS))
    # The order in which peers are given does not matter.
    reordered = {"NQ": PEERS["NQ"], "ES": PEERS["ES"]}
    assert changed_rows(BASE, fingerprints(peers=reordered)) == []
