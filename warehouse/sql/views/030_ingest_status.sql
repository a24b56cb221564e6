-- ingest_status: per source and root, what the warehouse holds and how the last fetch went.
create or replace view ingest_status as
with current_bars as (
    select * from bars_current
),

bar_stats as (
    select
        source, root,
        min(session_date) as first_session,
        max(session_date) as last_session,
        count(distinct session_date) as sessions,
        count(*) as bar_rows,
        count(distinct contract) as contracts
    from current_bars
    group by source, root
),

revisions as (
    select source, root, count(*) as revised_rows
    from bars
    where superseded_at is not null
    group by source, root
),

quarantined as (
    select source, root, count(distinct (batch_id, row_index)) as quarantined_rows
    from quarantine
    group by source, root
),

last_fetch as (
    select source, root, fetched_at as last_fetch_at, outcome as last_fetch_outcome
    from fetch_log
    qualify row_number() over (partition by source, root order by fetched_at desc, fetch_id desc) = 1
),

final as (
    select
        coalesce(b.source, f.source) as source,
        coalesce(b.root, f.root) as root,
        b.first_session, b.last_session,
        coalesce(b.sessions, 0) as sessions,
        coalesce(b.bar_rows, 0) as bar_rows,
        coalesce(b.contracts, 0) as contracts,
        coalesce(r.revised_rows, 0) as revised_rows,
        coalesce(q.quarantined_rows, 0) as quarantined_rows,
        f.last_fetch_at, f.last_fetch_outcome
    from bar_stats as b
    full join last_fetch as f on f.source = b.source and f.root = b.root
    left join revisions as r on r.source = coalesce(b.source, f.source) and r.root = coalesce(b.root, f.root)
    left join quarantined as q on q.source = coalesce(b.source, f.source) and q.root = coalesce(b.root, f.root)
)

select * from final order by source, root
