-- New rolls and the new versions of revised ones.
insert into rolls by name
with changed as (
    select * from roll_changes where change in ('new', 'revised')
),

final as (
    select
        * exclude (change),
        $recorded_at as recorded_at,
        null::timestamptz as superseded_at
    from changed
)

select * from final
returning *
