-- Current bars of one source and root in a session window (bounds inclusive; null = open).
with current_bars as (
    select * from bars_current
),

final as (
    select root, contract, session_date, open, high, low, close, volume, open_interest
    from current_bars
    where source = $source
      and root = $root
      and ($start is null or session_date >= $start)
      and ($end is null or session_date <= $end)
)

select * from final order by contract, session_date
