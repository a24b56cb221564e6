"""Prefect's console log lines as the command line prints them: at most flows.console.WIDTH
columns, and above the progress line rather than through it.

`callbook`'s flow commands point Prefect at flows/logging.yml (PREFECT_LOGGING_SETTINGS_PATH,
unless the user set one), which is Prefect's default configuration with this formatter and
handler on the console: a line is the time, the task run's name (a flow run's is in the Prefect
UI), the level when it is not INFO, and the message, wrapped at spaces with the continuation
indented.
"""

from __future__ import annotations

import logging

from prefect.logging.formatters import PrefectFormatter
from prefect.logging.handlers import PrefectConsoleHandler

from flows import console

CONTINUATION = " " * 9


class FittingFormatter(PrefectFormatter):
    """``HH:MM:SS [LEVEL ][task-run: ]message``, wrapped to the console width."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno != logging.INFO:
            at, _, message = text.partition(" ")
            text = f"{at} {record.levelname} {message}"
        lines = []
        for part in text.split("\n"):
            lines += console.wrapped(part, indent=CONTINUATION) if part else [""]
        return "\n".join(lines)


class ConsoleLogHandler(PrefectConsoleHandler):
    """Prefect's console handler, clearing the progress line before a log line and drawing it
    again after."""

    def emit(self, record: logging.LogRecord) -> None:
        before, after = console.around_log_line()
        before()
        try:
            super().emit(record)
        finally:
            after()
