-- `callbook status`, bars: one row per source and root, narrow enough for a 100-column terminal.
-- `root` carries the source ("yahoo/ES") only when the warehouse holds more than one source;
-- last_fetch is "MM-DD HH:MMZ outcome" (UTC).
with status as (
    select *, count(distinct source) over () as sources from ingest_status
),

final as (
    select
        case when sources > 1 then source || '/' || root else root end as root,
        first_session as "first",
        last_session as "last",
        sessions,
        bar_rows as bars,
        revised_rows as revised,
        quarantined_rows as quarantined,
        strftime(last_fetch_at, '%m-%d %H:%MZ') || ' ' || last_fetch_outcome as "last fetch"
    from status
)

select * from final order by root
