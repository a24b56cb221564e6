-- `callbook status`, calls: one row per root, author, methodology, source and kind.
-- `by` is the methodology for the model's calls ("callbook v1") and the analyst's name otherwise;
-- `root` carries the bar source only when calls were made on more than one (analysts' calls,
-- source 'analyst', do not count); last_written is UTC. The published methodology's rows come
-- first within a root.
with status as (
    select
        s.*,
        count(distinct s.source) filter (where s.source <> 'analyst') over () as sources,
        coalesce(m.published, false) as published
    from snapshot_status as s
    left join methodologies as m on m.methodology_version = s.methodology_version
),

final as (
    select
        case when sources > 1 and source <> 'analyst' then source || '/' || root else root end as root,
        case when author = 'callbook' then author || ' ' || methodology_version else author end as "by",
        kind,
        sessions as calls,
        snapshots as versions,
        first_as_of || ' → ' || last_as_of as "as of",
        strftime(last_written_at, '%m-%d %H:%MZ') as written,
        published
    from status
)

select * exclude (published) from final order by root, published desc, "by", kind
