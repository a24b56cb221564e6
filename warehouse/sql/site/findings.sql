-- Data quality: every quarantined row (severity error: never loaded) and every warning or
-- deferral, with its rule, detail and the raw row exactly as received. Newest batch first.
with findings as (
    select batch_id, row_index, rule, 'error' as severity, detail, source, root, contract,
        session_date, raw_row::varchar as raw_row, recorded_at
    from quarantine
    union all
    select batch_id, row_index, rule, severity, detail, source, root, contract, session_date,
        raw_row::varchar, recorded_at
    from row_findings
),

final as (
    select f.*, b.fetched_at
    from findings as f
    join ingest_batches as b using (batch_id)
)

select * from final
order by fetched_at desc, root, session_date desc, row_index, rule
