"""The hash schemes of snapshot content hashes, by name (what each hashes:
:mod:`pipeline.analysis.canonical`). A module of its own so that naming a methodology's scheme
imports nothing heavy (``callbook --help`` reads the methodology registry).
"""

from __future__ import annotations

import re

#: The scheme every snapshot written before schemes were recorded was hashed with (v1, v2,
#: analyst calls): the canonical JSON of the content columns, whatever they hold.
ROW_SCHEME = "row-v1"
#: The scheme of methodologies from v3 on: codes, dates and numbers only, words never.
DECISION_SCHEME = "decision-v1"
HASH_SCHEMES: tuple[str, ...] = (ROW_SCHEME, DECISION_SCHEME)
#: A code (decision-v1's only text): an identifier-like token or a list of them, never words.
CODE = re.compile(r"[A-Za-z0-9_.:|,+-]*")
