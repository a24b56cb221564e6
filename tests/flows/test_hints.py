"""A flow command given what does not exist says what does, as users run it: `.venv/bin/callbook`
in a subprocess (the read commands' hints are in test_commands.py).

- An unknown root, in any flow command: one line listing the known roots, exit 1, before any
  Prefect server starts, never an exception's type name.
- `nightly --as-of` a day that is no CME session: the run says which sessions surround it and
  makes the calls of the session before it (the call a run on that day would make), as a live
  run's or a backfill's by that session.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from flows.nightly import session_as_of
from tests.support.cli import Run, run_callbook

SATURDAY, FRIDAY, MONDAY = date(2026, 3, 28), date(2026, 3, 27), date(2026, 3, 30)
THANKSGIVING = date(2026, 11, 26)  # a weekday the CME equity session is closed


def said(ran: Run) -> str:
    """stdout and stderr, whitespace folded (log lines wrap at 100 columns)."""
    return " ".join(f"{ran.out}\n{ran.err}".split())


@dataclass(frozen=True)
class Book:
    data: Path
    env: dict[str, str]

    def run(self, *argv: str) -> Run:
        return run_callbook(*argv, data_dir=self.data, env=self.env, timeout=600)


@pytest.fixture(scope="module")
def book(prefect_harness: None) -> Iterator[Book]:
    """RTY's demo bars of 2025-01-02..2026-03-31 (enough sessions for a call in March 2026)."""
    from prefect.settings import PREFECT_API_URL

    env = {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_LOGGING_LEVEL": "INFO"}
    data = Path(tempfile.mkdtemp(prefix="cb-hints-", dir="/tmp")) / "data"
    book = Book(data, env)
    ingest = book.run(
        "ingest",
        "--root",
        "RTY",
        "--source",
        "demo",
        "--start",
        "2025-01-02",
        "--end",
        "2026-03-31",
    )
    assert ingest.code == 0, ingest.err
    yield book
    shutil.rmtree(data.parent, ignore_errors=True)


def test_session_as_of_takes_the_session_before_a_day_without_one() -> None:
    assert session_as_of(None, FRIDAY) == (FRIDAY, None)
    assert session_as_of(MONDAY, FRIDAY) == (MONDAY, None)  # a session: as given
    assert session_as_of(SATURDAY, MONDAY) == (
        FRIDAY,
        "2026-03-28 is not a CME trade date (the sessions around it: 2026-03-27 and "
        "2026-03-30): the calls are made as of 2026-03-27",
    )
    day, said = session_as_of(THANKSGIVING, date(2026, 12, 4))
    assert day == date(2026, 11, 25) and said and "2026-11-25 and 2026-11-27" in said


@pytest.mark.parametrize(
    "argv",
    [
        ("nightly", "--roots", "RTY,XYZ"),
        ("backfill", "--roots", "xyz"),
        ("ingest", "--root", "XYZ", "--source", "demo"),
        ("resolve", "--roots", "XYZ"),
    ],
    ids=lambda argv: argv[0],
)
def test_an_unknown_root_lists_the_known_ones_before_any_server_starts(
    book: Book, argv: tuple[str, ...]
) -> None:
    ran = book.run(*argv)
    assert ran.code == 1 and ran.out == ""
    (line,) = ran.err.splitlines()  # one line, nothing before it (no Prefect server started)
    assert line.startswith("callbook: error: unknown root(s) XYZ; callbook knows ")
    known = line.removeprefix("callbook: error: unknown root(s) XYZ; callbook knows ")
    assert {"RTY", "ES", "NQ", "YM"} <= set(known.replace(",", " ").split())
    assert "Error:" not in line  # the message, not an exception's type name


def test_nightly_on_a_day_without_a_session_says_which_session_it_takes(book: Book) -> None:
    ran = book.run("nightly", "--roots", "RTY", "--as-of", SATURDAY.isoformat())
    assert ran.code == 0, ran.err
    assert (
        "2026-03-28 is not a CME trade date (the sessions around it: 2026-03-27 and 2026-03-30): "
        "the calls are made as of 2026-03-27"
    ) in said(ran)
    assert "callbook nightly: as of 2026-03-27 (backfill)" in said(ran)
    shown = book.run("show", "RTY", "--as-of", FRIDAY.isoformat(), "--format", "markdown")
    assert shown.code == 0, shown.err
    assert "2026-03-27" in shown.out
    # The Saturday itself has no call: `show` names the sessions around it and the call before.
    saturday = book.run("show", "RTY", "--as-of", SATURDAY.isoformat())
    assert saturday.code == 1
    assert (
        "2026-03-28 is not a CME trade date (the sessions around it: 2026-03-27 and 2026-03-30); "
        "nearest calls: before 2026-03-27"
    ) in said(saturday)
