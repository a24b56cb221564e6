-- Append the status so far of open calls (registered as `incoming_progress`); a status already
-- stored for the same call and session is kept as it is.
insert into call_progress by name
with incoming as (
    select * from incoming_progress
),

final as (
    select i.*, $resolved_on_source as resolved_on_source, $recorded_at as recorded_at
    from incoming as i
    anti join call_progress as p using (snapshot_id, through_session)
)

select * from final
returning *
