-- The warnings and deferrals of a batch (registered as `incoming_findings`) that row_findings
-- does not hold yet (Warehouse.load_batch inserts them); idempotent.
with findings as (
    select * from incoming_findings where severity in ('warning', 'deferred')
),

-- The same bar fetched again in a later (overlapping) batch breaks the same rule again: it is
-- already on record, so it is not recorded twice; nor is a finding of this batch already stored
-- (the batch loaded again). Anti joins, not ON CONFLICT: DuckDB's
-- conflict check costs ~0.7 KB per inserted row, 300 MB for 400,000 quarantined copies.
seen_elsewhere as (
    select rule, contract, session_date, raw_row::varchar as raw_text
    from row_findings
    where source = $source and batch_id <> $batch_id
),

-- Only the rows of the findings' range ($first_row..$last_row: Warehouse.load_batch inserts a
-- batch's findings in slices of rows): the rows a finding can match, not the whole batch's.
seen_here as (
    select row_index, rule from row_findings
    where batch_id = $batch_id and row_index between $first_row and $last_row
),

new_findings as (
    select f.*
    from findings as f
    anti join seen_here as h on h.row_index = f.row_index and h.rule = f.rule
    anti join seen_elsewhere as s
        on s.rule = f.rule
        and s.contract is not distinct from f.contract
        and s.session_date is not distinct from f.session_date
        and s.raw_text = f.raw_row::json::varchar
),

final as (
    select
        $batch_id as batch_id, row_index, rule, severity, detail, $source as source, $root as root,
        contract, session_date, raw_row::json as raw_row, $recorded_at as recorded_at
    from new_findings
)

select * from final
