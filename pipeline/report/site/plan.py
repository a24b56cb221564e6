"""What the static site consists of and what a build must redraw.

Every page has an *inputs hash*: a sha256 over everything it is drawn from (for a call page: each
stored version's id and content hash, the outcome, the reference score, the status so far while
it is open, the neighbouring calls it links and the other calls of its day),
plus a hash of the code that draws it (given by the caller). A build renders only the pages whose hash differs from the
manifest of the previous build, so a nightly run redraws the day's new calls, the open calls
whose status moved, the calls that were resolved, and the summary pages, not the whole history:
a resolved call's page is immutable until a new version of it is stored.

Pure: frames in, frames and dicts out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

from pipeline.analysis.snapshot import MODEL_AUTHOR
from pipeline.audit.scores import TooFewCallsError, paired_difference
from pipeline.report.site import paths

#: The columns that identify one call (all its versions share one page).
CALL_KEY: tuple[str, ...] = ("root", "as_of", "author", "methodology_version", "source")
SERIES_KEY: tuple[str, ...] = ("root", "author", "methodology_version", "source")


def digest(*parts: object) -> str:
    """sha256 (hex) of the parts' text, separated so that ("ab", "c") != ("a", "bc").

    >>> digest("a", 1) == digest("a", "1") and digest("ab", "c") != digest("a", "bc")
    True
    """
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def call_pages(index: pl.DataFrame, *, code: str, published: str | None = None) -> pl.DataFrame:
    """The call index with, per call: ``path``, ``previous_path`` / ``next_path`` (the same
    series' calls of the neighbouring sessions), ``inputs`` (the page's inputs hash: its
    stored facts, ``page_inputs``, its neighbours, the other calls of its day, and ``code``, the
    hash of what draws it) and ``own_page`` (:func:`paths.has_own_page`: a call of another
    methodology than ``published`` is a row of its year page, not a page)."""
    if index.height == 0:
        return index.with_columns(
            *(
                pl.lit(None, dtype=pl.String).alias(c)
                for c in ("path", "previous_path", "next_path", "inputs")
            ),
            pl.lit(None, dtype=pl.Boolean).alias("own_page"),
        )
    ordered = index.sort([*SERIES_KEY, "as_of"])
    frame = ordered.with_columns(
        pl.Series(
            "path",
            [paths.call_path(*key) for key in ordered.select(CALL_KEY).iter_rows()],
            dtype=pl.String,
        )
    )
    frame = frame.with_columns(
        pl.col("path").shift(1).over(SERIES_KEY).alias("previous_path"),
        pl.col("path").shift(-1).over(SERIES_KEY).alias("next_path"),
    )
    day = frame.group_by("root", "as_of").agg(
        pl.col("page_inputs").sort().str.join(",").alias("_day_inputs")
    )
    frame = frame.join(day, on=["root", "as_of"], how="left")
    inputs = [
        digest(code, *row)
        for row in frame.select(
            "page_inputs", "previous_path", "next_path", "_day_inputs"
        ).iter_rows()
    ]
    own = (pl.col("author") != MODEL_AUTHOR) | (
        pl.lit(True) if published is None else pl.col("methodology_version") == published
    )
    return frame.drop("_day_inputs").with_columns(
        pl.Series("inputs", inputs, dtype=pl.String), own.alias("own_page")
    )


def stale(pages: pl.DataFrame, manifest: Mapping[str, str]) -> pl.DataFrame:
    """The rows of ``pages`` (path, inputs) whose page must be (re)drawn."""
    built = pl.DataFrame(
        {"path": list(manifest), "_built": list(manifest.values())},
        schema={"path": pl.String, "_built": pl.String},
    )
    return (
        pages.join(built, on="path", how="left")
        .filter(pl.col("_built").is_null() | (pl.col("_built") != pl.col("inputs")))
        .drop("_built")
    )


def group_inputs(
    pages: pl.DataFrame, by: Sequence[str], *, extra: str, code: str
) -> dict[tuple, str]:
    """An inputs hash per group of call pages (a root page, a year page): over the group's
    call inputs in order, plus ``extra`` (e.g. the bars its timeline draws)."""
    out = {}
    for key, part in pages.sort("path").group_by(list(by), maintain_order=True):
        out[tuple(key)] = digest(code, extra, *part["page_inputs"].to_list())
    return out


def year_summary(calls: pl.DataFrame) -> list[dict]:
    """Per year: calls, resolved, open, who called, mean RPS of the resolved ones."""
    if calls.height == 0:
        return []
    frame = calls.with_columns(pl.col("as_of").dt.year().alias("year"))
    summary = (
        frame.group_by("year")
        .agg(
            pl.len().alias("calls"),
            pl.col("outcome").is_not_null().sum().alias("resolved"),
            pl.col("outcome").is_null().sum().alias("open"),
            pl.col("rps").mean().alias("mean_rps"),
            pl.col("_by").unique().sort().str.join(", ").alias("by"),
        )
        .sort("year", descending=True)
    )
    return summary.to_dicts()


def with_by(calls: pl.DataFrame) -> pl.DataFrame:
    """``_by``: ``callbook v1`` for the model's calls, the analyst's name otherwise."""
    return calls.with_columns(
        pl.when(pl.col("author") == MODEL_AUTHOR)
        .then(pl.format("{} {}", "author", "methodology_version"))
        .otherwise(pl.col("author"))
        .alias("_by")
    )


def methodology_comparison(
    scored: pl.DataFrame, *, order: Sequence[str], n_boot: int = 2000, seed: int = 0
) -> pl.DataFrame:
    """The model's methodologies scored on the sessions both called (per root, kind, source).

    For each pair (A before B in ``order``: the published one first, so A is v2 and B v1): shared
    sessions, mean RPS of each, and the paired differences A - B of the RPS and of the RPS less
    each call's own climatology reference (each methodology is resolved on its own barriers, so
    the second is the fairer comparison), by :func:`pipeline.audit.scores.paired_difference`
    over the paired sessions in as-of order. Negative favours A. The interval follows the
    audit's one rule (blocks of three horizons, Student-t; none below three horizons of shared
    calls: ``interval`` then says why there is none).
    """
    schema = {
        "root": pl.String, "kind": pl.String, "source": pl.String, "a": pl.String,
        "b": pl.String, "sessions": pl.Int64, "mean_rps_a": pl.Float64,
        "mean_rps_b": pl.Float64, "rps_difference": pl.Float64, "rps_low": pl.Float64,
        "rps_high": pl.Float64, "vs_reference_difference": pl.Float64,
        "vs_reference_low": pl.Float64, "vs_reference_high": pl.Float64, "interval": pl.String,
    }  # fmt: skip
    model = scored.filter(pl.col("author") == MODEL_AUTHOR)
    rank = {m: i for i, m in enumerate(order)}
    rows = []
    for (root, kind, source), group in model.group_by(
        "root", "kind", "source", maintain_order=True
    ):
        versions = sorted(
            group["methodology_version"].unique().to_list(), key=lambda m: (rank.get(m, 99), m)
        )
        for i, a in enumerate(versions):
            for b in versions[i + 1 :]:
                left = group.filter(pl.col("methodology_version") == a).select(
                    "as_of", "horizon_sessions", pl.col("rps").alias("rps_a"),
                    (pl.col("rps") - pl.col("ref_rps")).alias("rel_a"),
                )  # fmt: skip
                right = group.filter(pl.col("methodology_version") == b).select(
                    "as_of", pl.col("rps").alias("rps_b"),
                    (pl.col("rps") - pl.col("ref_rps")).alias("rel_b"),
                )  # fmt: skip
                paired = left.join(right, on="as_of").sort("as_of")
                if paired.height < 2:
                    continue
                horizon = int(paired["horizon_sessions"].max() or 1)  # type: ignore[arg-type]
                rps = paired["rps_a"] - paired["rps_b"]
                relative = paired["rel_a"] - paired["rel_b"]
                row: dict[str, object] = {
                    "root": root, "kind": kind, "source": source, "a": a, "b": b,
                    "sessions": paired.height, "mean_rps_a": paired["rps_a"].mean(),
                    "mean_rps_b": paired["rps_b"].mean(), "rps_difference": rps.mean(),
                    "vs_reference_difference": relative.mean(),
                }  # fmt: skip
                try:
                    for name, a_scores, b_scores in (
                        ("rps", paired["rps_a"], paired["rps_b"]),
                        ("vs_reference", paired["rel_a"], paired["rel_b"]),
                    ):
                        d = paired_difference(
                            a_scores, b_scores, horizon=horizon, n_boot=n_boot, seed=seed
                        )
                        row[f"{name}_low"], row[f"{name}_high"] = d.low, d.high
                except TooFewCallsError as exc:  # no falsely narrow interval
                    row = {**row, "rps_low": None, "rps_high": None, "interval": str(exc)}
                    row.update(vs_reference_low=None, vs_reference_high=None)
                rows.append(row)
    return pl.DataFrame(rows, schema=schema)


def neighbours_of(row: Mapping[str, object]) -> dict[str, str | None]:
    return {"previous": row.get("previous_path"), "next": row.get("next_path")}  # type: ignore[dict-item]


def same_day_map(pages: pl.DataFrame) -> dict[tuple[str, date], list[dict]]:
    """(root, as_of) -> the index rows of every call on that day, for days with several calls
    (a call's page lists the others beside it)."""
    shared = pages.filter(pl.len().over("root", "as_of") > 1)
    out: dict[tuple[str, date], list[dict]] = {}
    for row in shared.sort("root", "as_of", "author", "methodology_version").iter_rows(named=True):
        out.setdefault((row["root"], row["as_of"]), []).append(row)
    return out


def keys_by_path(pages: pl.DataFrame) -> dict[str, tuple]:
    """path -> the call's key (CALL_KEY values) for every call page."""
    return {row[0]: tuple(row[1:]) for row in pages.select("path", *CALL_KEY).iter_rows()}


def latest_versions(versions: pl.DataFrame) -> pl.DataFrame:
    """The current (highest) version of each call among stored wide rows."""
    return versions.filter(pl.col("version") == pl.col("version").max().over(CALL_KEY))


def versions_by_key(versions: pl.DataFrame) -> dict[tuple, list[dict]]:
    """Call key -> its stored versions (wide rows as dicts), oldest first."""
    out: dict[tuple, list[dict]] = {}
    for row in versions.sort(*CALL_KEY, "version").iter_rows(named=True):
        out.setdefault(tuple(row[k] for k in CALL_KEY), []).append(row)
    return out


def latest_per_series(pages: pl.DataFrame) -> pl.DataFrame:
    """The newest call of each root, author, methodology and source (the home page)."""
    return pages.filter(pl.col("as_of") == pl.col("as_of").max().over(*SERIES_KEY)).sort(
        "root", "author", "methodology_version"
    )


def of_root(pages: pl.DataFrame, root: str) -> pl.DataFrame:
    return with_by(pages.filter(pl.col("root") == root))


def of_year(frame: pl.DataFrame, year: int, column: str = "as_of") -> pl.DataFrame:
    return frame.filter(pl.col(column).dt.year() == year) if frame.height else frame


def model_series(calls: pl.DataFrame, order: Sequence[str]) -> list[tuple[str, str, pl.DataFrame]]:
    """(methodology, source, calls sorted by as_of) of the model's calls, in ``order`` first."""
    rank = {m: i for i, m in enumerate(order)}
    model = calls.filter(pl.col("author") == MODEL_AUTHOR)
    groups = [
        (str(m), str(s), part.sort("as_of"))
        for (m, s), part in model.group_by("methodology_version", "source")
    ]
    return sorted(groups, key=lambda g: (rank.get(g[0], len(rank)), g[0], g[1]))


def with_bar_source(pages: pl.DataFrame, sources: Mapping[str, Sequence[str]]) -> pl.DataFrame:
    """``bar_source``: whose bars a call's chart is drawn on — the source it is resolved on
    (``resolved_on_source``: the model's own, the data's for an analyst) when bars of it are
    stored, else the root's first stored source."""

    def pick(root: str, source: str | None) -> str | None:
        known = sources.get(root, [])
        return source if source in known else (known[0] if known else None)

    return pages.with_columns(
        pl.Series(
            "bar_source",
            [pick(r, s) for r, s in pages.select("root", "resolved_on_source").iter_rows()],
            dtype=pl.String,
        )
    )


def chunks(frame: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    return [frame.slice(offset, size) for offset in range(0, frame.height, size)]
