-- Bars of one source and root exactly as stored at $stored_at (timestamptz, UTC): the version
-- recorded at or before it and not yet superseded then (bars_as_of), up to session $end. Unlike
-- bars_as_known, a bar first recorded later is left out: this is what a computation made at
-- $stored_at read.
with known as (
    select * from bars_as_of($stored_at::timestamptz)
),

final as (
    select root, contract, session_date, open, high, low, close, volume, open_interest
    from known
    where source = $source
      and root = $root
      and ($end is null or session_date <= $end)
)

select * from final order by contract, session_date
