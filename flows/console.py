"""What the command line prints, and how: frames, Markdown, wrapped text and progress, every line
at most WIDTH columns.

The commands decide what to say (flows/cli.py); pipeline/report renders it (tables, notes); this
module puts it on the terminal or in a log. A line never exceeds WIDTH columns: rich wraps what it
renders at the console width (the terminal's, at most WIDTH), plain text is wrapped here, and
Prefect's own log lines by flows/logs.py. Two kinds of line stay whole, whatever their length: a
word longer than a line (a path, a URL: it stands alone on its line) and a record a script reads
line by line (an error or failure, :func:`warn`; a difference `callbook verify` found). Progress is one line rewritten in place on a terminal,
and plain lines, one per step, when the output is a file or a pipe (a log).

Imports only the standard library at module level: rich loads when something is printed.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

#: No output line is wider (a terminal's default 80 columns plus the room a table needs).
WIDTH = 100
#: Shown for a missing value wherever a command prints one (never "null" or an empty cell).
MISSING = "-"


def width() -> int:
    """Columns to fill: the terminal's (or $COLUMNS), at most WIDTH; WIDTH when not a terminal."""
    return min(shutil.get_terminal_size((WIDTH, 24)).columns, WIDTH)


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(width=width(), stderr=stderr, highlight=False)


def wrapped(text: str, *, indent: str = "", first: str = "") -> list[str]:
    """``text`` as lines of at most :func:`width` columns (``first`` opens the first line,
    ``indent`` the others). A word longer than a line (a long path, a URL) is not broken, so it
    can still be copied: it stands alone on its line."""
    return textwrap.wrap(
        text,
        width=width(),
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def say(*texts: str, indent: str = "  ", file: TextIO | None = None) -> None:
    """Print each text wrapped to the width, continuation lines indented."""
    out = file or sys.stdout
    for text in texts:
        for paragraph in text.split("\n"):
            for line in wrapped(paragraph, indent=indent):
                print(line, file=out)


def warn(text: str) -> None:
    """One line on stderr, whole: an error, a failure or a wait is one line, whatever its length,
    so that scripts and logs read it as one (the exception to WIDTH)."""
    print(text, file=sys.stderr, flush=True)


def print_markdown(text: str) -> None:
    from rich.markdown import Markdown

    console().print(Markdown(text))


def print_frame(
    frame: pl.DataFrame,
    *,
    title: str | None = None,
    fmt: str = "auto",
    limit: int | None = 200,
    wrap: bool = False,
    laid_out_for: int | None = None,
) -> None:
    """Print a result frame in one of pipeline.report.table.FORMATS at the width (auto: table or
    vertical, whichever fits; ``wrap``: a table whose cells wrap at spaces still fits;
    ``laid_out_for``: the frame is made to fit that many columns, so from that width on auto is
    a table without measuring it first). An empty frame prints its header and "0 rows"."""
    from pipeline.report.table import render_output

    if fmt == "auto" and laid_out_for is not None and width() >= laid_out_for:
        fmt = "table"
    if title and fmt != "markdown":
        from rich.markup import escape

        title = escape(title)  # text, not markup: "[in tuning period]" is printed as it is
    sys.stdout.write(
        render_output(
            frame,
            fmt=fmt,
            title=title,
            limit=limit,
            wrap=wrap,
            width=width(),
            terminal=sys.stdout.isatty(),
        )
    )


def print_table(rows: Iterable[dict[str, Any]], *, title: str | None = None) -> None:
    """Rows of display strings (every cell already formatted) as a table that wraps its cells
    to fit the width."""
    import polars as pl

    frame = pl.DataFrame(list(rows))
    print_frame(frame, title=title, fmt="table" if frame.height else "auto", limit=None, wrap=True)


# -- progress ------------------------------------------------------------------------------------

_line_lock = threading.RLock()
_active: ProgressLine | None = None


def clock_text(seconds: float) -> str:
    """``seconds`` as m:ss, or h:mm:ss from an hour.

    >>> clock_text(42.4), clock_text(125), clock_text(3725)
    ('0:42', '2:05', '1:02:05')
    """
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressLine:
    """Counts, elapsed time and an estimate of the time left, for work made of ``total`` steps.

    On a terminal one line on stderr is rewritten in place (log lines printed meanwhile go above
    it: flows/logs.py clears and redraws it); in a log an :meth:`update` is a plain line of its
    own when a step was completed since the last one printed, or ``log_every`` seconds after it. The
    estimate assumes the steps left take as long as the ones done so far took on average: none is
    given before the first step is done.
    """

    def __init__(
        self,
        what: str,
        total: int,
        *,
        stream: TextIO | None = None,
        log_every: float = 30.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.what, self.total = what, total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.log_every, self.clock = log_every, clock
        self.started: float | None = None  # the first update: the work's own start
        self.printed_at = 0.0
        self.printed_steps = -1  # steps done when the last log line was printed
        self.text = ""

    def __enter__(self) -> ProgressLine:
        global _active
        with _line_lock:
            _active = self if self.live else None
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        with _line_lock:
            if self.live and self.text:
                self.stream.write("\n")
                self.stream.flush()
            _active = None

    def line(self, done: float, detail: str) -> str:
        """The progress line after ``done`` steps (a fraction counts a step under way)."""
        now = self.clock()
        if self.started is None:
            self.started = self.printed_at = now
        elapsed = now - self.started
        left = (
            f", about {clock_text(elapsed * (self.total - done) / done)} left"
            if 0 < done < self.total
            else ""
        )
        count = f"{int(done):,}/{self.total:,}"
        text = f"{self.what} {count}: {detail} ({clock_text(elapsed)} elapsed{left})"
        return wrapped(text)[0] if len(text) > width() else text

    def update(self, done: float, detail: str, *, total: int | None = None) -> None:
        """Report ``done`` steps of ``total`` (fractional while a step is under way; ``total``:
        the number of steps, once it is known)."""
        if total is not None:
            self.total = total
        text = self.line(done, detail)
        with _line_lock:
            self.text = text
            now = self.clock()
            if self.live:
                self.redraw()
            elif int(done) != self.printed_steps or now - self.printed_at >= self.log_every:
                self.stream.write(text + "\n")
                self.stream.flush()
                self.printed_at, self.printed_steps = now, int(done)

    def clear(self) -> None:
        if self.live and self.text:
            self.stream.write("\r\x1b[K")

    def redraw(self) -> None:
        if self.live and self.text:
            self.stream.write("\r\x1b[K" + self.text[: width() - 1])
            self.stream.flush()


def around_log_line() -> tuple[Any, Any]:
    """(before, after) for a log handler printing a line on a terminal: clear the progress line,
    then draw it again under the log line."""

    def before() -> None:
        _line_lock.acquire()
        if _active is not None:
            _active.clear()

    def after() -> None:
        try:
            if _active is not None:
                _active.redraw()
        finally:
            _line_lock.release()

    return before, after
