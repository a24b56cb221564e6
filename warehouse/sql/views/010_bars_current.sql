-- bars_current: the latest known version of every bar (one row per source, contract, session).
-- Prices in index points, session_date is the CME trade date, recorded_at is UTC.
create or replace view bars_current as
with versions as (
    select * from bars
),

final as (
    select
        source, root, contract, session_date,
        open, high, low, close, volume, open_interest,
        batch_id, recorded_at
    from versions
    where superseded_at is null
)

select * from final
