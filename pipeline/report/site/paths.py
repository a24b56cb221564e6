"""Where each page of the static site lives, and relative links between pages.

Every link is relative, so the site works from any folder, from ``file://`` and behind any
static web server. One page per call of the published methodology and per analyst's call (root,
as_of, author, methodology, source: all its versions on one page; the other methodologies' calls
are rows of their year page), one page per root and per root and year, and the home, scoreboard
and data-quality pages.
"""

from __future__ import annotations

import re
from datetime import date

from pipeline.analysis.snapshot import MODEL_AUTHOR

HOME = "index.html"
SCOREBOARD = "scoreboard.html"
QUALITY = "quality.html"
CALL_QUALITY = "call-quality.html"
ASSETS = "assets"
STYLESHEET = f"{ASSETS}/site.css"
SCRIPT = f"{ASSETS}/site.js"
MANIFEST = "manifest.json"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe(text: str) -> str:
    """A path segment: anything but letters, digits, ``_.-`` becomes ``_``.

    >>> _safe("J. Smith/desk")
    'J._Smith_desk'
    """
    return _UNSAFE.sub("_", text).strip("_") or "_"


def call_path(root: str, as_of: date, author: str, methodology: str, source: str) -> str:
    """``calls/RTY/2026/2026-02-04-callbook-v1-demo.html``.

    >>> call_path("RTY", date(2026, 2, 4), "seed-note", "analyst", "analyst")
    'calls/RTY/2026/2026-02-04-seed-note-analyst-analyst.html'
    """
    name = call_anchor(as_of, author, methodology, source)
    return f"calls/{_safe(root)}/{as_of.year}/{name}.html"


def call_anchor(as_of: date, author: str, methodology: str, source: str) -> str:
    """The id of a call's row in its year page's table (``2026-02-04-callbook-v1-demo``)."""
    return "-".join(_safe(p) for p in (as_of.isoformat(), author, methodology, source))


def has_own_page(author: str, methodology: str, *, published: str | None) -> bool:
    """Whether a call gets a page of its own: the published methodology's calls and analysts'
    calls do; the other methodologies' calls (comparisons, computed for the same sessions) are
    rows of their year page (a site of 100 roots would otherwise draw a page per session for
    each methodology).

    >>> has_own_page("callbook", "v1", published="v3")
    False
    >>> has_own_page("seed-note", "analyst", published="v3")
    True
    """
    return author != MODEL_AUTHOR or published is None or methodology == published


def call_target(
    root: str, as_of: date, author: str, methodology: str, source: str, *, published: str | None
) -> str:
    """Where a link to a call goes: its own page, else its row in its year page.

    >>> call_target("RTY", date(2026, 2, 4), "callbook", "v1", "demo", published="v3")
    'roots/RTY/2026.html#2026-02-04-callbook-v1-demo'
    """
    if has_own_page(author, methodology, published=published):
        return call_path(root, as_of, author, methodology, source)
    return f"{year_path(root, as_of.year)}#{call_anchor(as_of, author, methodology, source)}"


def root_path(root: str) -> str:
    return f"roots/{_safe(root)}.html"


def year_path(root: str, year: int) -> str:
    return f"roots/{_safe(root)}/{year}.html"


def relative(from_page: str, to_page: str) -> str:
    """The link from one page of the site to another (or to an asset); both are paths inside
    the site, so this is string work only (no file system).

    >>> relative("calls/RTY/2026/x.html", "roots/RTY.html")
    '../../../roots/RTY.html'
    >>> relative("index.html", "roots/RTY/2026.html")
    'roots/RTY/2026.html'
    >>> relative("roots/RTY/2025.html", "roots/RTY/2026.html")
    '2026.html'
    """
    here = from_page.split("/")[:-1]
    there = to_page.split("/")
    common = 0
    while common < min(len(here), len(there) - 1) and here[common] == there[common]:
        common += 1
    return "/".join([".."] * (len(here) - common) + there[common:])
