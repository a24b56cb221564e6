-- bar_revisions: every vendor revision, old and new values side by side (UTC times).
create or replace view bar_revisions as
with versions as (
    select * from bars
),

superseded as (
    select * from versions where superseded_at is not null
),

final as (
    select
        old.source, old.root, old.contract, old.session_date,
        old.close as old_close, new.close as new_close,
        old.high as old_high, new.high as new_high,
        old.low as old_low, new.low as new_low,
        old.volume as old_volume, new.volume as new_volume,
        old.batch_id as old_batch_id, new.batch_id as new_batch_id,
        old.superseded_at as revised_at
    from superseded as old
    join versions as new
      on new.source = old.source
     and new.contract = old.contract
     and new.session_date = old.session_date
     and new.recorded_at = old.superseded_at
)

select * from final
