-- The status so far (open_calls: the last reading of call_progress, never a score) of the calls
-- named in the registered frame `wanted_ids` (snapshot_id).
with wanted as (
    select distinct snapshot_id from wanted_ids
),

final as (
    select p.*
    from open_calls as p
    semi join wanted as w using (snapshot_id)
)

select * from final
