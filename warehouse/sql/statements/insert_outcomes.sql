-- Append outcomes (registered as `incoming_outcomes`); an outcome already stored is kept as is.
insert into outcomes by name
with incoming as (
    select * from incoming_outcomes
),

final as (
    select *, $series_through::date as series_through, $recorded_at as recorded_at
    from incoming
    where snapshot_id not in (select snapshot_id from outcomes)
)

select * from final
returning *
