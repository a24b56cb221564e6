"""The Great Expectations suite that checks a batch of bars and records what failed.

:func:`validate_batch` is the validation step of ingest. :mod:`pipeline.quality.rules` computes,
in polars, each rule's inputs (raw columns, or derived columns such as ``body_low`` or
``jump_atr``); three in-code GX suites check them, and the unexpected row indices they report, mapped
back to rule names through each expectation's ``meta["rule"]``, become the findings:

* the *table* suite (row count, required columns, price columns that parse at all) decides
  whether the batch is rejected whole;
* the *copies* suite quarantines exact copies of an earlier row (``key.unique``), which the
  row rules then skip (a file of one row repeated 400,000 times is validated as one row);
* the *rows* suite holds one or more expectations per row rule, with ``result_format``
  COMPLETE so every unexpected row index comes back.

Every GX finding is cross-checked against the polars failure mask of the same rule; a
disagreement is a bug and raises, so the recorded results can be trusted to say what loaded.

``great_expectations`` costs ~8 s and ~300 MB to import: it is imported on the first validation
only, and the context, data source, asset, batch definition and suites are built once per process.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import math
import sys
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from pipeline.market.roots import RootSpec, builtin_spec
from pipeline.quality.result import FINDING_SCHEMA, ValidationResult, empty_findings
from pipeline.quality.rules import (
    BAR_SETTLEMENT_ONLY,
    BATCH_NOT_EMPTY,
    BATCH_RULES,
    CONTRACT_LISTED,
    COUNT_COLUMNS,
    KEY_UNIQUE,
    OHLC_HIGH_BOUND,
    OHLC_INVERTED,
    OHLC_LOW_BOUND,
    OHLC_SETTLEMENT_OUTSIDE,
    PRICE_JUMP,
    PRICE_NOT_NULL,
    PRICE_PLAUSIBLE,
    PRICE_POSITIVE,
    PRICE_TICK_GRID,
    RANGE_PARTIAL,
    REQUIRED_COLUMNS,
    ROW_RULES,
    ROWS_OUT_OF_ORDER,
    RULES,
    RULES_BY_NAME,
    SCHEMA_COLUMN_TYPES,
    SCHEMA_REQUIRED_COLUMNS,
    SESSION_BEFORE_WINDOW,
    SESSION_FINAL,
    SESSION_NOT_FUTURE,
    SESSION_PARSED,
    SESSION_TRADE_DATE,
    SUITE_NAME,
    SUITE_VERSION,
    VOLUME_NON_NEGATIVE,
    VOLUME_PLAUSIBLE,
    VOLUME_REPEATED,
    VOLUME_ZERO,
    QualityParams,
    cast_price_columns,
    derive_checks,
    detail,
    exact_copies,
    missing_required_columns,
    rule_failures,
    unparseable_price_columns,
)
from pipeline.schema import PRICE_COLUMNS, Batch, SchemaError, conform_bars, empty_bars

#: GX evaluates a value rule only on rows that are not deferred (pandas ``DataFrame.query`` text).
NOT_DEFERRED = "deferred==False"
#: Rows whose (contract, session_date) must be unique: dated, not deferred, not a later exact copy.
KEY_SCOPE = "key_scope==True"

#: The columns of the rules frame the rows suite reads (everything else stays in polars).
SUITE_INPUT_COLUMNS: tuple[str, ...] = (
    "contract",
    "session_date",
    *PRICE_COLUMNS,
    "volume",
    "lowest_price",
    "body_low",
    "body_high",
    "price_sign_ok",
    "is_trade_date",
    "not_future",
    "in_window",
    "session_final",
    "deferred",
    "duplicate_of",
    "key_scope",
    "jump_atr",
    "jump_fraction",
    "range_atr",
    "volume_changed",
    "in_order",
    "price_plausible",
    "volume_plausible",
    "contract_listed",
    "on_tick_grid",
    "full_bar",
    "settles_inside",
)

#: The three suites: whole-batch rules, exact copies, and the row rules of the other rows.
SuiteKind = Literal["table", "copies", "rows"]

_GX_LOGGER = "great_expectations"
#: Raw rows turned into JSON per slice (bounds the Python objects alive at once: 400,000 rows
#: as dicts and strings at once would cost ~0.4 GB).
RAW_JSON_SLICE = 10_000
#: Rows from which validation ends with a full garbage collection (it costs ~0.1-0.5 s).
COLLECT_AFTER_ROWS = 100_000


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, as data: the rule it records, the GX class name in
    ``great_expectations.expectations`` and its keyword arguments."""

    rule: str
    expectation: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def table_expectations() -> tuple[ExpectationSpec, ...]:
    """The batch-level checks: a failure rejects the batch."""
    return (
        ExpectationSpec(BATCH_NOT_EMPTY, "ExpectTableRowCountToBeBetween", {"min_value": 1}),
        *(
            ExpectationSpec(SCHEMA_REQUIRED_COLUMNS, "ExpectColumnToExist", {"column": c})
            for c in REQUIRED_COLUMNS
        ),
        *(
            ExpectationSpec(
                SCHEMA_COLUMN_TYPES,
                "ExpectColumnProportionOfNonNullValuesToBeBetween",
                {"column": c, "min_value": 0, "strict_min": True},
            )
            for c in PRICE_COLUMNS
        ),
    )


def copy_expectations() -> tuple[ExpectationSpec, ...]:
    """Exact copies of an earlier row (``duplicate_of`` set): quarantined by ``key.unique``
    before the rows suite runs on the other rows."""
    return (ExpectationSpec(KEY_UNIQUE, "ExpectColumnValuesToBeNull", {"column": "duplicate_of"}),)


def row_expectations(params: QualityParams) -> tuple[ExpectationSpec, ...]:
    """The row checks over the columns :func:`pipeline.quality.rules.derive_checks` prepares.

    GX's own expectations where they express the rule (nulls, bounds, column pairs, compound
    keys); a boolean column prepared in polars and expected to be True where GX has none (trade
    date, the sequential state, order). Value rules carry the row condition ``deferred==False``.
    """
    values = {"row_condition": NOT_DEFERRED, "condition_parser": "pandas"}
    pair = {"or_equal": True, "ignore_row_if": "either_value_is_missing", **values}

    def must_be_true(rule: str, column: str) -> ExpectationSpec:
        return ExpectationSpec(
            rule, "ExpectColumnValuesToBeInSet", {"column": column, "value_set": [True]}
        )

    return (
        ExpectationSpec(
            SESSION_PARSED, "ExpectColumnValuesToNotBeNull", {"column": "session_date"}
        ),
        must_be_true(SESSION_TRADE_DATE, "is_trade_date"),
        must_be_true(SESSION_NOT_FUTURE, "not_future"),
        must_be_true(SESSION_BEFORE_WINDOW, "in_window"),
        *(
            ExpectationSpec(
                PRICE_NOT_NULL, "ExpectColumnValuesToNotBeNull", {"column": c, **values}
            )
            for c in PRICE_COLUMNS
        ),
        must_be_true(PRICE_POSITIVE, "price_sign_ok"),
        ExpectationSpec(
            OHLC_INVERTED,
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "high", "column_B": "low", **pair},
        ),
        ExpectationSpec(
            OHLC_LOW_BOUND,
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "body_low", "column_B": "low", **pair},
        ),
        ExpectationSpec(
            OHLC_HIGH_BOUND,
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "high", "column_B": "body_high", **pair},
        ),
        ExpectationSpec(
            VOLUME_NON_NEGATIVE,
            "ExpectColumnValuesToBeBetween",
            {"column": "volume", "min_value": 0, **values},
        ),
        ExpectationSpec(KEY_UNIQUE, "ExpectColumnValuesToBeNull", {"column": "duplicate_of"}),
        ExpectationSpec(
            KEY_UNIQUE,
            "ExpectCompoundColumnsToBeUnique",
            {
                "column_list": ["contract", "session_date"],
                "row_condition": KEY_SCOPE,
                "condition_parser": "pandas",
            },
        ),
        ExpectationSpec(
            PRICE_JUMP,
            "ExpectColumnValuesToBeBetween",
            {"column": "jump_atr", "max_value": params.jump_atr_multiple},
        ),
        ExpectationSpec(
            PRICE_JUMP,
            "ExpectColumnValuesToBeBetween",
            {"column": "jump_fraction", "max_value": params.jump_fallback_fraction},
        ),
        ExpectationSpec(
            RANGE_PARTIAL,
            "ExpectColumnValuesToBeBetween",
            {"column": "range_atr", "min_value": params.partial_range_atr},
        ),
        must_be_true(PRICE_PLAUSIBLE, "price_plausible"),
        must_be_true(VOLUME_PLAUSIBLE, "volume_plausible"),
        must_be_true(CONTRACT_LISTED, "contract_listed"),
        must_be_true(SESSION_FINAL, "session_final"),
        ExpectationSpec(
            VOLUME_ZERO,
            "ExpectColumnValuesToNotBeInSet",
            {"column": "volume", "value_set": [0], **values},
        ),
        must_be_true(VOLUME_REPEATED, "volume_changed"),
        must_be_true(PRICE_TICK_GRID, "on_tick_grid"),
        must_be_true(BAR_SETTLEMENT_ONLY, "full_bar"),
        must_be_true(OHLC_SETTLEMENT_OUTSIDE, "settles_inside"),
        must_be_true(ROWS_OUT_OF_ORDER, "in_order"),
    )


# --------------------------------------------------------------------------------------------
# The GX runtime (imported and built on first use, once per process)


#: Modules Great Expectations imports at start-up only for expectations and renderers callbook
#: does not use (the KL-divergence and KS-test expectations, Altair charts): ~2.4 s of its ~6 s
#: import and ~75 MiB. They are registered as deferred modules first, loaded on first use.
DEFERRED_MODULES: tuple[str, ...] = ("altair", "scipy.stats")


class DeferredModule(types.ModuleType):
    """A module that is imported for real on the first use of one of its attributes (then every
    attribute is the real module's); ``import`` of it alone does not load it."""

    def __getattr__(self, attr: str) -> Any:
        real = sys.modules.get(self.__name__)
        if real is None or real is self:
            sys.modules.pop(self.__name__, None)
            real = importlib.import_module(self.__name__)
        return getattr(real, attr)


def _defer_modules(names: Sequence[str]) -> None:
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = DeferredModule(name)


def _great_expectations() -> Any:
    """``great_expectations``, imported quietly (it warns about deprecated modules and logs at
    INFO while registering its types), without the modules of :data:`DEFERRED_MODULES`."""
    logging.getLogger(_GX_LOGGER).setLevel(logging.ERROR)
    if "great_expectations" not in sys.modules:
        _defer_modules(DEFERRED_MODULES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations

    return great_expectations


@lru_cache(maxsize=1)
def _batch_definition() -> Any:
    """Ephemeral context -> pandas data source -> dataframe asset -> whole-dataframe batches."""
    gx = _great_expectations()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas(SUITE_NAME).add_dataframe_asset("bars")
    return asset.add_batch_definition_whole_dataframe("whole batch")


@lru_cache(maxsize=16)
def _suite(kind: SuiteKind, params: QualityParams) -> Any:
    gx = _great_expectations()
    import great_expectations.expectations as gxe

    specs = {
        "table": table_expectations,
        "rows": lambda: row_expectations(params),
        "copies": copy_expectations,
    }[kind]()
    return gx.ExpectationSuite(
        name=f"{SUITE_NAME}.{kind}",
        expectations=[
            getattr(gxe, s.expectation)(**s.kwargs, meta={"rule": s.rule, "position": i})
            for i, s in enumerate(specs)
        ],
        meta={"suite_version": SUITE_VERSION},
    )


def _release_batch_data() -> None:
    """Drop the frame GX's execution engine keeps after a validation (its batch cache holds the
    last validated pandas frame until the next one: 400,000 rows would stay in memory while
    the batch is loaded into the warehouse)."""
    engine = _batch_definition().data_asset.datasource.get_execution_engine()
    engine.batch_manager.reset_batch_cache()
    engine.batch_manager.batch_data_cache.clear()


@dataclass(frozen=True)
class ExpectationOutcome:
    """What GX reported for one expectation."""

    rule: str
    expectation: str  # the GX expectation type, e.g. "expect_column_values_to_not_be_null"
    kwargs: Mapping[str, Any]
    success: bool
    unexpected_rows: tuple[int, ...]  # positions in the validated frame
    error: str | None = None  # the exception GX caught while evaluating, if any


def run_suite(
    kind: SuiteKind, frame: pl.DataFrame, *, params: QualityParams
) -> list[ExpectationOutcome]:
    """Validate ``frame`` (converted to pandas, index = row position) with one of the suites."""
    suite = _suite(kind, params)
    batch = _batch_definition().get_batch(
        batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=True)}
    )
    try:
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    finally:
        _release_batch_data()
    # GX returns results (and keeps expectations) in its own order; report them in ours
    outcomes = []
    for r in sorted(result.results, key=lambda r: r.expectation_config.meta["position"]):
        config = r.expectation_config
        info = r.exception_info or {}
        raised = info.get("raised_exception") and info.get("exception_message")
        outcomes.append(
            ExpectationOutcome(
                rule=config.meta["rule"],
                expectation=config.type,
                kwargs=dict(config.kwargs),
                success=bool(r.success),
                unexpected_rows=tuple(int(i) for i in r.result.get("unexpected_index_list") or ()),
                error=str(raised) if raised else None,
            )
        )
    return outcomes


# --------------------------------------------------------------------------------------------
# Validation


def validate_batch(
    batch: Batch,
    *,
    context: pl.DataFrame | None = None,
    params: QualityParams = QualityParams(),  # noqa: B008 - frozen dataclass, immutable
    spec: RootSpec | None = None,
) -> ValidationResult:
    """Validate one batch: which rows load, which are quarantined or deferred, and why.

    ``context`` holds stored current bars of the same root (BAR_SCHEMA; the last ~60 sessions
    before the batch, or None): the previous close, ATR and volume across the batch boundary.
    See :mod:`pipeline.quality.rules` for every rule, its scope and parameters. ``spec``: the
    batch root's contract facts (its registry entry; None: the built-in registry's).

    Raises ``ValueError`` if ``batch.raw`` and ``batch.bars`` are not aligned row for row (a
    source bug, not bad data), and ``RuntimeError`` if GX and polars disagree about a rule.
    """
    if batch.raw.num_rows != batch.bars.height:
        raise ValueError(
            f"{batch.source}/{batch.root} batch: raw has {batch.raw.num_rows} rows but bars has "
            f"{batch.bars.height}; they must be aligned row for row"
        )
    table = run_suite("table", cast_price_columns(batch.bars), params=params)
    table_failures = _table_failures(batch.bars, table)
    summaries = _summaries(table, {rule: list(items) for rule, items in table_failures.items()})
    if any(table_failures.values()):
        return _rejected(batch, _rejection_reasons(table_failures), summaries)
    try:
        bars = conform_bars(batch.bars)
    except SchemaError as exc:  # conform_bars and REQUIRED_COLUMNS agree; kept as a backstop
        return _rejected(batch, [f"{SCHEMA_REQUIRED_COLUMNS}: {exc}"], summaries)

    # Exact copies first: they are key.unique findings and nothing else (rules module docstring).
    copy_of = exact_copies(
        bars,
        window_end=batch.window_end,
        fetched_at=batch.fetched_at,
        window_start=batch.window_start,
    )
    copies = run_suite("copies", copy_of.to_frame("duplicate_of"), params=params)
    copy_rows = _flagged_rows(copies)[KEY_UNIQUE]
    _check_agreement(
        {KEY_UNIQUE: copy_rows},
        {KEY_UNIQUE: _non_null_rows(copy_of)},
    )
    originals = pl.int_range(bars.height, eager=True, dtype=pl.Int64).filter(copy_of.is_null())
    raw_cells = _raw_count_cells(batch)
    if spec is None:
        spec = builtin_spec(batch.root)
    checks = derive_checks(
        bars.filter(copy_of.is_null()),
        window_end=batch.window_end,
        fetched_at=batch.fetched_at,
        window_start=batch.window_start,
        context=context,
        raw_cells=None if raw_cells is None else raw_cells.filter(copy_of.is_null()),
        params=params,
        spec=spec,
    ).with_columns(row_index=originals)  # batch positions, not positions among the originals
    outcomes = run_suite("rows", checks.select(SUITE_INPUT_COLUMNS), params=params)
    flagged = _flagged_rows(outcomes, positions=originals)
    _check_agreement(flagged, rule_failures(checks, flagged))
    findings = _findings(checks, flagged, batch.raw, copies=_copy_findings(bars, copy_of))
    not_loaded = findings.filter(pl.col("severity").is_in(["error", "deferred"]))["row_index"]
    clean = (
        bars.with_row_index("_row")
        .filter(~pl.col("_row").cast(pl.Int64).is_in(not_loaded.unique()))
        .drop("_row")
        .sort("contract", "session_date")
    )
    quarantined = findings.filter(pl.col("severity") == "error").height > 0
    flagged[KEY_UNIQUE] = sorted([*flagged[KEY_UNIQUE], *copy_rows])
    if batch.bars.height >= COLLECT_AFTER_ROWS:
        # Validation leaves large frames in reference cycles (Great Expectations' validation
        # objects): a full collection frees them before the batch is loaded (10^6 rows: ~100
        # MiB).
        gc.collect()
    return ValidationResult(
        status="partial" if quarantined else "passed",
        clean=clean,
        findings=findings,
        suite_name=SUITE_NAME,
        suite_version=SUITE_VERSION,
        rejection=None,
        expectations=summaries + _summaries([*outcomes, *copies], flagged),
    )


def _raw_count_cells(batch: Batch) -> pl.DataFrame | None:
    """The vendor's text of the volume and open interest cells, aligned with the batch, when the
    source says which raw columns they came from (``metadata["columns"]``: canonical -> raw)."""
    mapping = batch.metadata.get("columns") or {}
    names = {
        canonical: mapping[canonical]
        for canonical in COUNT_COLUMNS
        if mapping.get(canonical) in batch.raw.column_names
    }
    if not names:
        return None
    frame = pl.from_arrow(batch.raw.select(list(dict.fromkeys(names.values()))))
    assert isinstance(frame, pl.DataFrame)
    return frame.select(pl.col(raw).cast(pl.String).alias(c) for c, raw in names.items())


def _non_null_rows(series: pl.Series) -> list[int]:
    return series.is_not_null().arg_true().to_list()


def _copy_findings(bars: pl.DataFrame, copy_of: pl.Series) -> pl.DataFrame:
    """key.unique findings of the exact copies (columns of :func:`_findings`' parts)."""
    return (
        bars.select("contract", "session_date")
        .with_columns(copy_of.alias("_of"))
        .with_row_index("row_index")
        .filter(pl.col("_of").is_not_null())
        .select(
            pl.col("row_index").cast(pl.Int64),
            pl.lit(KEY_UNIQUE).alias("rule"),
            pl.lit(RULES_BY_NAME[KEY_UNIQUE].severity).alias("severity"),
            pl.format("duplicate of row {}", pl.col("_of")).alias("detail"),
            "contract",
            "session_date",
        )
    )


def _table_failures(
    frame: pl.DataFrame, outcomes: Sequence[ExpectationOutcome]
) -> dict[str, list[str]]:
    """Batch rule -> what failed (column names, or the empty-batch note), agreed with polars.

    ``schema.column_types`` is judged only on price columns that exist in a non-empty batch (a
    missing column is ``schema.required_columns``' finding; an empty batch has no cells).
    """
    failed: dict[str, list[str]] = {r.name: [] for r in BATCH_RULES}
    for o in outcomes:
        if o.success:
            continue
        column = o.kwargs.get("column")
        if o.rule == BATCH_NOT_EMPTY:
            failed[o.rule].append("the batch has no rows")
            continue
        judged = o.rule == SCHEMA_REQUIRED_COLUMNS or (column in frame.columns and frame.height > 0)
        if judged:
            failed[o.rule].append(str(column))
    polars_view = {
        BATCH_NOT_EMPTY: ["the batch has no rows"] if frame.height == 0 else [],
        SCHEMA_REQUIRED_COLUMNS: missing_required_columns(frame),
        SCHEMA_COLUMN_TYPES: unparseable_price_columns(frame),
    }
    if failed != polars_view:
        raise RuntimeError(f"GX and polars disagree on the batch rules: {failed} vs {polars_view}")
    return failed


def _rejection_reasons(failures: Mapping[str, list[str]]) -> list[str]:
    """ "<rule>: <why>" for each failed batch rule."""
    reasons = []
    if failures.get(BATCH_NOT_EMPTY):
        reasons.append(f"{BATCH_NOT_EMPTY}: the batch has no rows")
    if missing := failures.get(SCHEMA_REQUIRED_COLUMNS):
        reasons.append(f"{SCHEMA_REQUIRED_COLUMNS}: missing required columns: {', '.join(missing)}")
    if text := failures.get(SCHEMA_COLUMN_TYPES):
        reasons.append(
            f"{SCHEMA_COLUMN_TYPES}: no cell of {', '.join(text)} parses as a number "
            "(is the column text?)"
        )
    return reasons


def _rejected(
    batch: Batch, reasons: Sequence[str], summaries: list[dict[str, Any]]
) -> ValidationResult:
    message = (
        f"{batch.source} batch for {batch.root} (window {batch.window_start} .. "
        f"{batch.window_end}) rejected by " + "; ".join(reasons)
    )
    return ValidationResult(
        status="rejected",
        clean=empty_bars(),
        findings=empty_findings(),
        suite_name=SUITE_NAME,
        suite_version=SUITE_VERSION,
        rejection=message,
        expectations=summaries,
    )


def _flagged_rows(
    outcomes: Sequence[ExpectationOutcome], *, positions: pl.Series | None = None
) -> dict[str, list[int]]:
    """Row rule -> sorted row indices GX found unexpected (union over the rule's expectations).

    ``positions`` maps a position in the validated frame to its batch row (default: the same)."""
    flagged: dict[str, set[int]] = {r.name: set() for r in ROW_RULES}
    for o in outcomes:
        if o.error:
            raise RuntimeError(f"GX could not evaluate {o.rule} ({o.expectation}): {o.error}")
        flagged[o.rule].update(o.unexpected_rows)
    if positions is None:
        return {rule: sorted(rows) for rule, rows in flagged.items()}
    return {
        rule: positions.gather(sorted(rows)).to_list() if rows else []
        for rule, rows in flagged.items()
    }


def _check_agreement(gx: Mapping[str, list[int]], polars: Mapping[str, list[int]]) -> None:
    for rule, rows in gx.items():
        if rows != sorted(polars[rule]):
            raise RuntimeError(
                f"GX and polars disagree on {rule}: GX flags rows {rows}, "
                f"polars flags rows {sorted(polars[rule])}"
            )


def _summaries(
    outcomes: Sequence[ExpectationOutcome], failed: Mapping[str, Sequence[object]]
) -> list[dict[str, Any]]:
    """One dict per rule present in ``outcomes``, in rule order."""
    out = []
    for rule in RULES:
        types = list(dict.fromkeys(o.expectation for o in outcomes if o.rule == rule.name))
        if not types:
            continue
        count = len(failed.get(rule.name, ()))
        out.append(
            {
                "rule": rule.name,
                "expectation": " + ".join(types),
                "severity": rule.severity,
                "success": count == 0,
                "unexpected_count": count,
            }
        )
    return out


def _findings(
    checks: pl.DataFrame,
    flagged: Mapping[str, list[int]],
    raw: pa.Table,
    *,
    copies: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """FINDING_SCHEMA rows: one per (row, failed rule), by row then rule order; ``copies`` adds
    the exact copies' key.unique findings (:func:`_copy_findings`)."""
    parts = [
        checks.filter(pl.col("row_index").is_in(pl.Series(rows, dtype=pl.Int64))).select(
            "row_index",
            pl.lit(rule).alias("rule"),
            pl.lit(RULES_BY_NAME[rule].severity).alias("severity"),
            pl.col(detail(rule)).alias("detail"),
            "contract",
            "session_date",
        )
        for rule, rows in flagged.items()
        if rows
    ]
    if copies is not None and copies.height:
        parts.append(copies)
    if not parts:
        return empty_findings()
    rule_order = pl.DataFrame({"rule": [r.name for r in RULES], "_order": list(range(len(RULES)))})
    findings = (
        pl.concat(parts)
        .join(rule_order, on="rule", how="left")
        .sort("row_index", "_order")
        .drop("_order")
    )
    raw_rows = raw_rows_json(raw, findings["row_index"].unique().sort())
    return findings.join(raw_rows, on="row_index", how="left", maintain_order="left").select(
        pl.col(c).cast(t) for c, t in FINDING_SCHEMA.items()
    )


def raw_rows_json(raw: pa.Table, indices: pl.Series) -> pl.DataFrame:
    """``row_index`` (the given ``indices``) -> ``raw_row``: each raw row as
    :func:`raw_rows_as_json` writes it.

    Slice by slice (the JSON of 400,000 rows never sits in one Python list), and within a slice
    the text is built once per distinct raw row and shared by its copies: a file of one bad row
    repeated 10^6 times makes 100 JSON texts, not a million (40 s and ~300 MiB less).
    """
    schema = {"row_index": pl.Int64(), "raw_row": pl.String()}
    slices = [pl.DataFrame(schema=schema)]
    positions = indices.cast(pl.Int64)
    for start in range(0, positions.len(), RAW_JSON_SLICE):
        chunk = positions.slice(start, RAW_JSON_SLICE)
        first = _first_identical_row(raw.take(chunk.to_arrow()))  # in the slice
        distinct = first.filter(first == pl.int_range(first.len(), eager=True, dtype=pl.Int64))
        texts = pl.DataFrame(
            {
                "_first": distinct,
                "raw_row": raw_rows_as_json(raw, chunk.gather(distinct).to_list()),
            },
            schema={"_first": pl.Int64(), "raw_row": pl.String()},
        )
        slices.append(
            pl.DataFrame({"row_index": chunk, "_first": first})
            .join(texts, on="_first", how="left", maintain_order="left")
            .select(pl.col(c).cast(t) for c, t in schema.items())
        )
    return pl.concat(slices)


def _first_identical_row(rows: pa.Table) -> pl.Series:
    """For each row of ``rows``, the position of the first row whose cells are all identical to
    its own (itself when it is the first). Cells are compared by the text of their physical
    value (``-0.0`` and ``0.0``, which JSON writes differently, stay apart; null is not the text
    "null"); a column with no text form (nested, binary) makes every row its own."""
    own = pl.int_range(rows.num_rows, eager=True, dtype=pl.Int64).alias("_first")
    names = [f"c{i}" for i in range(rows.num_columns)]  # vendor names may clash with ours
    try:
        frame = pl.from_arrow(rows.rename_columns(names))
        assert isinstance(frame, pl.DataFrame)
        # The physical value: a zoned time's text may name its offset ambiguously.
        text = frame.select(pl.col(n).to_physical().cast(pl.String) for n in names)
    except (pl.exceptions.PolarsError, pa.ArrowException, TypeError, ValueError):
        return own
    keyed = text.with_columns(own)
    firsts = keyed.unique(subset=names, keep="first", maintain_order=True)
    return keyed.select(names).join(
        firsts, on=names, how="left", nulls_equal=True, maintain_order="left"
    )["_first"]


def raw_rows_as_json(raw: pa.Table, indices: Sequence[int]) -> list[str]:
    """The raw rows at ``indices`` as JSON objects, vendor columns in vendor order and values as
    received (CSV text stays text). Dates and times are ISO strings; non-finite floats, which
    JSON cannot hold, are written as strings ("nan", "inf").

    >>> raw_rows_as_json(pa.table({"Date": ["2026-02-20"], "Close": ["6923.25"], "Volume": [float("nan")]}), [0])
    ['{"Date": "2026-02-20", "Close": "6923.25", "Volume": "nan"}']
    """
    rows = raw.take(pa.array(indices, type=pa.int64())).to_pylist()
    return [json.dumps({k: _json_value(v) for k, v in row.items()}) for row in rows]


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
