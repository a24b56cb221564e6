-- The current version of the same call ($root, $author, $methodology, $source) on the last
-- session before $as_of that has one: what a note's day-over-day changes compare against.
with earlier as (
    select *
    from latest_snapshots
    where root = $root
      and author = $author
      and methodology_version = $methodology
      and source = $source
      and as_of < $as_of
),

final as (
    select * from earlier order by as_of desc limit 1
)

select * from final
