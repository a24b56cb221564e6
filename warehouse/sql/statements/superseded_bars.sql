-- Every superseded bar version of one source and root: the session it is for and when a vendor
-- revision replaced it (UTC). A call for session D computed from bars as known when D was the
-- last session differs from one computed from current bars exactly when such a version exists
-- with session_date <= D and superseded_at after that moment.
with versions as (
    select * from bars
),

final as (
    select session_date, superseded_at
    from versions
    where source = $source and root = $root and superseded_at is not null
)

select * from final order by session_date, superseded_at
