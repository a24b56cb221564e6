"""The coherence figures of stored model calls (issue 18, point 7): `callbook audit --quality`
and the site's call-quality page.

A plain service (no Prefect). Each stored call's note is rendered as `callbook show` renders it
(pipeline/report/note.py, with the call before it of the same root, methodology and source, so
that "What changed" is there) and read with its stored values by the coherence checker
(pipeline/audit/coherence, independent of the note writer), with what its methodology declares
for it (pipeline.analysis.methodology.coherence_settings). Nothing here is particular to one
methodology.

Rendering and checking cost a few milliseconds a call (bench/RESULTS.md, "Coherence figures"):
the findings of each call are kept (warehouse.checks) under the call, the call before it and
one hash of the code that renders and checks them, so a rerun (the nightly's site task) checks
only the calls it has not seen.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import polars as pl

from pipeline.analysis.methodology import coherence_settings
from pipeline.analysis.snapshot import MODEL_AUTHOR
from pipeline.audit.coherence import (
    VIOLATION_SCHEMA,
    CallCheck,
    CoherenceParams,
    Lexicon,
    StoredCall,
    check_call,
    report_of,
)
from warehouse.checks import CHECKS_SCHEMA, checks_path, read_checks, write_checks
from warehouse.store import Warehouse

#: The code a call's findings depend on: what renders a note (pipeline/report's note and number
#: formats and its templates, the snapshot read model, methodologies and root specs under
#: pipeline/analysis and pipeline/market) and the checker. A change of any of it checks every
#: call again; the site's pages, the audit's tables and charts do not.
_PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"
_CODE_DIRS = ("analysis", "market", "audit/coherence", "report/notes")
_CODE_LOOSE = ("", "report")  # the modules directly in these folders ...
_NOT_CODE = ("report/audit.py", "report/chart.py")  # ... but these
_CODE_ALSO = ("audit/__init__.py",)
_CODE_SUFFIXES = {".py", ".j2", ".toml"}


@dataclass(frozen=True)
class Coherence:
    """The checker's figures of every (root, methodology) of one source."""

    table: pl.DataFrame  # CoherenceReport.table(): one row per (root, methodology)
    violations: pl.DataFrame  # VIOLATION_SCHEMA
    checked: int  # calls rendered and checked by this run
    kept: int  # calls whose findings were kept from an earlier run
    seconds: float  # wall time


def coherence_code_files() -> list[Path]:
    """The files whose content decides a call's findings (see ``_CODE_DIRS``)."""
    found = [p for d in _CODE_DIRS for p in (_PIPELINE / d).rglob("*")]
    found += [p for d in _CODE_LOOSE for p in (_PIPELINE / d).glob("*.py")]
    found += [_PIPELINE / name for name in _CODE_ALSO]
    return sorted(
        p
        for p in set(found)
        if p.is_file()
        and p.suffix in _CODE_SUFFIXES
        and p.relative_to(_PIPELINE).as_posix() not in _NOT_CODE
    )


def coherence_code() -> str:
    """One hash of :func:`coherence_code_files` (their paths and contents)."""
    digest = hashlib.sha256()
    for path in coherence_code_files():
        digest.update(path.relative_to(_PIPELINE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def checker_settings(methodology: str) -> tuple[CoherenceParams, Lexicon]:
    """The checker's parameters and lexicon for calls of ``methodology`` (its declaration over
    the checker's defaults); a clear error names a declared parameter the checker lacks."""
    overrides, phrases = coherence_settings(methodology)
    known = {f.name for f in fields(CoherenceParams)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"methodology {methodology} declares coherence parameters the checker does not have: "
            f"{', '.join(unknown)} (pipeline.audit.coherence.CoherenceParams)"
        )
    return replace(CoherenceParams(), **overrides), Lexicon().extended(**phrases)


def coherence_report(
    warehouse: Warehouse,
    *,
    source: str,
    data_dir: Path | None,
    roots: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Coherence:
    """The checker's figures of every stored model call of ``source`` (all roots, or ``roots``).
    ``data_dir``: where findings are kept between runs (None: keep none); ``progress`` is told
    each (root, methodology) as it is done."""
    started = time.perf_counter()
    stored = warehouse.snapshot_rows(author=MODEL_AUTHOR, source=source)
    if roots is not None:
        stored = stored.filter(pl.col("root").is_in(list(roots)))
    code = coherence_code()
    tables, violations = [], []
    checked = kept = 0
    for (root, methodology), rows in sorted(
        stored.group_by(["root", "methodology_version"]), key=lambda g: (str(g[0][0]), str(g[0][1]))
    ):
        root, methodology = str(root), str(methodology)
        group_started = time.perf_counter()
        params, lexicon = checker_settings(methodology)
        path = (
            None
            if data_dir is None
            else checks_path(data_dir, source=source, root=root, methodology=methodology)
        )
        before = (
            pl.DataFrame(schema=CHECKS_SCHEMA) if path is None else read_checks(path, code=code)
        )
        checks, keys, new = _group_checks(rows.sort("as_of"), before, code, params, lexicon)
        report = report_of(
            (CallCheck.from_json(c) if isinstance(c, str) else c for c in checks),
            params=params,
            lexicon=lexicon,
        )
        tables.append(report.table())
        violations.append(report.violations)
        checked += new
        kept += len(checks) - new
        if path is not None and new:
            findings = [c if isinstance(c, str) else c.as_json() for c in checks]
            write_checks(path, keys.with_columns(pl.Series("findings", findings)))
        if progress is not None:
            progress(
                f"coherence: {root} {methodology}: {len(checks):,} calls, {new:,} checked now, "
                f"{len(checks) - new:,} kept ({time.perf_counter() - group_started:.1f} s)"
            )
    return Coherence(
        pl.concat(tables) if tables else pl.DataFrame(),
        pl.concat(violations) if violations else pl.DataFrame(schema=VIOLATION_SCHEMA),
        checked,
        kept,
        time.perf_counter() - started,
    )


def _group_checks(
    rows: pl.DataFrame,
    before: pl.DataFrame,
    code: str,
    params: CoherenceParams,
    lexicon: Lexicon,
) -> tuple[list[str | CallCheck], pl.DataFrame, int]:
    """Each call's findings in as-of order (kept JSON text, or a CallCheck checked now), the
    keys of them all (CHECKS_SCHEMA without ``findings``) and how many were checked now.

    A call is known by its id and content hash (a stored row is never changed in place; a
    re-derived one has another hash), together with the call before it."""
    from pipeline.analysis.assemble import snapshots_from_frame
    from pipeline.report.note import render_note

    call = pl.format("{}@{}", "snapshot_id", "content_hash")
    keys = rows.select(
        call.alias("snapshot_id"),
        call.shift(1).fill_null("").alias("previous_id"),
        pl.lit(code).alias("code"),
    )
    kept = keys.join(
        before.select("snapshot_id", "previous_id", "findings"),
        on=["snapshot_id", "previous_id"],
        how="left",
        maintain_order="left",
    )["findings"].to_list()
    missing = [i for i, text in enumerate(kept) if text is None]
    checks: list[str | CallCheck] = list(kept)
    if missing:
        wanted = sorted({j for i in missing for j in (i - 1, i) if j >= 0})
        picked = rows[wanted]
        snapshots = dict(zip(wanted, snapshots_from_frame(picked), strict=True))
        values = dict(zip(wanted, picked.to_dicts(), strict=True))
        for i in missing:
            note = render_note(snapshots[i], previous=snapshots.get(i - 1))
            checks[i] = check_call(
                StoredCall(values[i], note), values.get(i - 1), params=params, lexicon=lexicon
            )
    return checks, keys, len(missing)
