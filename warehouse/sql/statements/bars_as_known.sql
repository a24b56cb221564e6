-- Bars of one source and root up to $end as known at $known_at (timestamptz, UTC): per contract
-- and session the version current at that moment (the bars_as_of macro); a bar first recorded
-- after it (history loaded later) in its first recorded version. Vendor revisions recorded after
-- $known_at are never used.
with known as (
    select * from bars_as_of($known_at)
    where source = $source and root = $root and session_date <= $end
),

first_versions as (
    select *
    from bars
    where source = $source and root = $root and session_date <= $end
    qualify row_number() over (partition by contract, session_date order by recorded_at) = 1
),

recorded_later as (
    select f.*
    from first_versions as f
    anti join known as k using (contract, session_date)
),

final as (
    select root, contract, session_date, open, high, low, close, volume, open_interest
    from known
    union all
    select root, contract, session_date, open, high, low, close, volume, open_interest
    from recorded_later
)

select * from final order by contract, session_date
