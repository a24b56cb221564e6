-- Error-severity findings of a batch (registered as `incoming_findings`); idempotent per
-- (batch, row, rule) and per (bar, rule, raw content), so validating the same batch again, or
-- the same bad bar in an overlapping batch, adds nothing.
insert into quarantine
with findings as (
    select * from incoming_findings where severity = 'error'
),

-- The same bar fetched again in a later (overlapping) batch breaks the same rule again: it is
-- already on record, so it is not recorded twice.
new_findings as (
    select f.*
    from findings as f
    where not exists (
        select 1
        from quarantine as seen
        where seen.source = $source
          and seen.rule = f.rule
          and seen.contract is not distinct from f.contract
          and seen.session_date is not distinct from f.session_date
          and seen.raw_row::varchar = f.raw_row::json::varchar
    )
),

final as (
    select
        $batch_id as batch_id, row_index, rule, detail, $source as source, $root as root,
        contract, session_date, raw_row::json as raw_row, $recorded_at as recorded_at
    from new_findings
)

select * from final
on conflict do nothing
