-- Snapshots of one root without an outcome whose horizon ended on or before $through.
with pending as (
    select s.*
    from snapshots as s
    anti join outcomes as o using (snapshot_id)
),

final as (
    select * from pending
    where root = $root and horizon_end <= $through
)

select * from final order by as_of, author, version
