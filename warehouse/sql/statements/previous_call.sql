-- The current version of the same call ($root, $author, $methodology, $source) that a note's
-- "what changed" compares against: for the model, its call of the previous session, i.e. the
-- last call before $as_of when no stored bar session of the root lies between the two (a call
-- stored days or years earlier is no day-over-day comparison: no row then); for an analyst,
-- their last call before $as_of, however long ago.
with earlier as (
    select *
    from latest_snapshots
    where root = $root
      and author = $author
      and methodology_version = $methodology
      and source = $source
      and as_of < $as_of
),

last_call as (
    select * from earlier order by as_of desc limit 1
),

sessions_between as (
    select count(distinct b.session_date) as sessions
    from bars_current as b, last_call as c
    where b.root = $root
      and b.source = c.source
      and b.session_date > c.as_of
      and b.session_date < $as_of
),

final as (
    select last_call.*
    from last_call, sessions_between
    where $author <> $model_author or sessions_between.sessions = 0
)

select * from final
