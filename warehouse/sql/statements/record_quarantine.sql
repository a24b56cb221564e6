-- Error-severity findings of a batch (registered as `incoming_findings`); idempotent per
-- (batch, row, rule), so validating the same batch again adds nothing.
insert into quarantine
with findings as (
    select * from incoming_findings where severity = 'error'
),

final as (
    select
        $batch_id as batch_id, row_index, rule, detail, $source as source, $root as root,
        contract, session_date, raw_row::json as raw_row, $recorded_at as recorded_at
    from findings
)

select * from final
on conflict do nothing
