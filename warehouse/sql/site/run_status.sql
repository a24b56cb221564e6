-- Home page: per source and root, how fresh the data is and how its last run went (UTC times):
-- the last session stored, the last fetch and its outcome, the last validation and its status,
-- and when the last call was written.
with status as (
    select * from ingest_status
),

last_validation as (
    select b.source, b.root, v.validated_at, v.status as validation_status, v.quarantined_rows,
        v.warning_count
    from validation_runs as v
    join ingest_batches as b using (batch_id)
    qualify row_number() over (partition by b.source, b.root order by v.validated_at desc, v.validation_id desc) = 1
),

last_call as (
    select root, max(created_at) as last_call_written_at, max(as_of) as last_call_as_of
    from snapshots
    where author = 'callbook'
    group by root
),

final as (
    select
        s.source, s.root, s.first_session, s.last_session, s.sessions, s.revised_rows,
        s.quarantined_rows, s.last_fetch_at, s.last_fetch_outcome,
        v.validated_at, v.validation_status, v.quarantined_rows as last_batch_quarantined,
        v.warning_count as last_batch_warnings,
        c.last_call_as_of, c.last_call_written_at
    from status as s
    left join last_validation as v using (source, root)
    left join last_call as c using (root)
)

select * from final order by source, root
