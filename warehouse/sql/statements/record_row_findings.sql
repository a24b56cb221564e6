-- Warnings and deferrals of a batch (registered as `incoming_findings`); idempotent.
insert into row_findings
with findings as (
    select * from incoming_findings where severity in ('warning', 'deferred')
),

final as (
    select
        $batch_id as batch_id, row_index, rule, severity, detail, $source as source, $root as root,
        contract, session_date, raw_row::json as raw_row, $recorded_at as recorded_at
    from findings
)

select * from final
on conflict do nothing
