-- bars_as_of(T): the bars exactly as callbook knew them at time T (timestamptz, UTC), i.e. the
-- version recorded at or before T and not yet superseded at T.
--   select * from bars_as_of(timestamptz '2026-02-05 00:00:00+00') where root = 'RTY';
create or replace macro bars_as_of(as_known_at) as table
with versions as (
    select * from bars
),

final as (
    select
        source, root, contract, session_date,
        open, high, low, close, volume, open_interest,
        batch_id, recorded_at, superseded_at
    from versions
    where recorded_at <= as_known_at
      and (superseded_at is null or superseded_at > as_known_at)
)

select * from final
