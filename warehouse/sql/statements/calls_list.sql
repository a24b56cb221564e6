-- `callbook calls list`: the current version of every call, newest first, with its outcome or
-- when its horizon ends. Filters are optional ($root, $methodology, $author, $kind, $since).
-- On one day and root, the published methodology's call comes first.
with calls as (
    select s.*, coalesce(m.published, false) as published
    from latest_snapshots as s
    left join methodologies as m on m.methodology_version = s.methodology_version
),

final as (
    select
        c.as_of, c.root, c.author, c.methodology_version, c.kind, c.source, c.version,
        c.primary_trend, c.perspective, c.p_bull, c.p_sideways, c.p_bear, c.horizon_end,
        o.outcome, o.resolved_session, o.rps, c.published
    from calls as c
    left join outcomes as o using (snapshot_id)
    where ($root is null or c.root = $root)
      and ($methodology is null or c.methodology_version = $methodology)
      and ($author is null or c.author = $author)
      and ($kind is null or c.kind = $kind)
      and ($since is null or c.as_of >= $since)
)

select * exclude (published) from final
order by as_of desc, root, published desc, author, methodology_version, source
limit $limit
