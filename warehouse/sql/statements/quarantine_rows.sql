with quarantined as (
    select * from quarantine
),

final as (
    select
        q.source, q.root, q.contract, q.session_date, q.rule, q.detail, q.raw_row::varchar as raw_row,
        b.fetched_at, q.batch_id
    from quarantined as q
    join ingest_batches as b using (batch_id)
    where $root is null or q.root = $root
)

select * from final
order by fetched_at desc, session_date desc, rule
limit $limit
