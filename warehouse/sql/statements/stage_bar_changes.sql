-- Classify the clean rows of a batch (registered as `incoming_bars`) against the current bars:
-- new (no current version), unchanged (every value equal, nulls equal), revised (anything differs).
create or replace temp table bar_changes as
with incoming as (
    select $source as source, * from incoming_bars
),

current_versions as (
    select * from bars where superseded_at is null
),

compared as (
    select
        i.*,
        c.contract is not null as known,
        i.open is not distinct from c.open
            and i.high is not distinct from c.high
            and i.low is not distinct from c.low
            and i.close is not distinct from c.close
            and i.volume is not distinct from c.volume
            and i.open_interest is not distinct from c.open_interest as same_values
    from incoming as i
    left join current_versions as c
      on c.source = i.source
     and c.contract = i.contract
     and c.session_date = i.session_date
),

final as (
    select
        source, root, contract, session_date, open, high, low, close, volume, open_interest,
        case when not known then 'new' when same_values then 'unchanged' else 'revised' end as change
    from compared
)

select * from final
