"""flows/console.py: wrapped text, the progress line on a terminal and in a log, and Prefect's
log lines (flows/logs.py) fitted to the width."""

from __future__ import annotations

import io
import logging

import pytest

from flows import console


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # wider than the cap: the cap holds


def test_text_wraps_at_the_width_and_a_long_path_stays_whole() -> None:
    words = "word " * 60
    lines = console.wrapped(words, indent="  ")
    assert console.width() == console.WIDTH == 100
    assert all(len(line) <= 100 for line in lines) and len(lines) == 4
    assert all(line.startswith("  ") for line in lines[1:])
    path = "/data/" + "x" * 120 + ".png"
    assert console.wrapped(f"chart: {path}") == ["chart:", path]


def test_a_narrow_terminal_narrows_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    assert console.width() == 40
    assert max(len(line) for line in console.wrapped("word " * 30)) <= 40


def test_progress_in_a_log_is_one_plain_line_per_step_with_an_estimate() -> None:
    log, clock = io.StringIO(), Clock()
    with console.ProgressLine("backfill: jobs", 4, stream=log, clock=clock) as line:
        line.update(0, "computing calls")  # the clock starts here
        clock.now += 30
        line.update(0.5, "RTY v1, 500 of 1,000 snapshots stored")  # same step, 30 s on: printed
        clock.now += 1
        line.update(0.6, "RTY v1, 600 of 1,000 snapshots stored")  # same step, 1 s on: not
        clock.now += 9
        line.update(1, "RTY v1, 1,000 of 1,000 snapshots stored")
        clock.now += 40
        line.update(4, "ES v2, 10 of 10 snapshots stored")
    assert log.getvalue().splitlines() == [
        "backfill: jobs 0/4: computing calls (0:00 elapsed)",
        "backfill: jobs 0/4: RTY v1, 500 of 1,000 snapshots stored (0:30 elapsed, about 3:30 left)",
        # 40 s for one step of four: three more take 2:00
        "backfill: jobs 1/4: RTY v1, 1,000 of 1,000 snapshots stored (0:40 elapsed, about 2:00 left)",
        "backfill: jobs 4/4: ES v2, 10 of 10 snapshots stored (1:20 elapsed)",
    ]


def test_progress_on_a_terminal_rewrites_one_line() -> None:
    tty, clock = FakeTerminal(), Clock()
    with console.ProgressLine("backfill: jobs", 2, stream=tty, clock=clock) as line:
        line.update(0, "computing calls")
        clock.now += 10
        line.update(1, "RTY v1, 85 of 85 snapshots stored")
    out = tty.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")  # one line, ended when the work ends
    frames = out.rstrip("\n").split("\r\x1b[K")[1:]
    assert frames == [
        "backfill: jobs 0/2: computing calls (0:00 elapsed)",
        "backfill: jobs 1/2: RTY v1, 85 of 85 snapshots stored (0:10 elapsed, about 0:10 left)",
    ]


def test_a_log_line_goes_above_the_progress_line() -> None:
    tty = FakeTerminal()
    with console.ProgressLine("work", 2, stream=tty, clock=Clock()) as line:
        line.update(0, "starting")
        before, after = console.around_log_line()
        before()
        tty.write("12:00:00 a log line\n")
        after()
    out = tty.getvalue()
    assert out.startswith("\r\x1b[Kwork 0/2: starting (0:00 elapsed)\r\x1b[K12:00:00 a log line\n")
    assert out.endswith("\r\x1b[Kwork 0/2: starting (0:00 elapsed)\n")


def test_prefect_log_lines_fit_the_width() -> None:
    from flows.logs import FittingFormatter

    formatter = FittingFormatter(
        "%(asctime)s %(message)s", datefmt="%H:%M:%S", task_run_fmt="%(asctime)s %(message)s"
    )
    long = logging.LogRecord(
        "prefect.task_runs", logging.INFO, __file__, 1, "RTY: " + "word " * 40, None, None
    )
    lines = formatter.format(long).splitlines()
    assert len(lines) == 3 and all(len(line) <= 100 for line in lines)
    assert lines[1].startswith(" " * 9) and lines[0][8:] == " RTY: " + "word " * 16 + "word"
    warning = logging.LogRecord("prefect", logging.WARNING, __file__, 1, "late", None, None)
    assert formatter.format(warning)[8:] == " WARNING late"


def test_clock_text() -> None:
    assert [console.clock_text(s) for s in (0, 59.6, 61, 3600, 86399)] == [
        "0:00",
        "1:00",
        "1:01",
        "1:00:00",
        "23:59:59",
    ]
