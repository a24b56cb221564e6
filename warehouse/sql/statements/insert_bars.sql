-- New bars and the new versions of revised bars.
insert into bars
with changed as (
    select * from bar_changes where change in ('new', 'revised')
),

final as (
    select
        source, root, contract, session_date, open, high, low, close, volume, open_interest,
        $batch_id as batch_id, $recorded_at as recorded_at, null::timestamptz as superseded_at
    from changed
)

select * from final
returning *
