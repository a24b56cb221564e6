-- Snapshots of one root without an outcome whose horizon ended on or before $through and that
-- are resolved on the bars of $source (never on another source's series: an analyst call names
-- its bars in resolved_on_source; a call without one is resolved on no bars at all).
with pending as (
    select s.*
    from snapshots as s
    anti join outcomes as o using (snapshot_id)
),

final as (
    select * from pending
    where root = $root
      and horizon_end <= $through
      and resolved_on_source = $source
)

select * from final order by as_of, author, version
