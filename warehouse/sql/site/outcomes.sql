-- The outcome rows of the snapshots named in the registered frame `wanted_ids` (snapshot_id).
with wanted as (
    select distinct snapshot_id from wanted_ids
),

final as (
    select o.*
    from outcomes as o
    semi join wanted as w using (snapshot_id)
)

select * from final
