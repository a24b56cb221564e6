-- The current version of every call without an outcome yet (its horizon is not over, or it has
-- not been resolved since): the calls with a status so far. Null parameters select everything.
with current_versions as (
    select * from latest_snapshots
),

open_calls as (
    select c.*
    from current_versions as c
    anti join outcomes as o using (snapshot_id)
),

final as (
    select * from open_calls
    where ($root is null or root = $root)
      and ($source is null or resolved_on_source = $source)
      and ($author is null or author = $author)
      and ($kind is null or kind = $kind)
      and ($as_of is null or as_of = $as_of)
)

select * from final order by root, resolved_on_source, as_of, author, methodology_version
