-- Classify computed rolls (registered as `incoming_rolls`) against the current ones: new (no
-- current version of the roll session), unchanged (every value equal, nulls equal), revised.
create or replace temp table roll_changes as
with incoming as (
    select $source as source, * from incoming_rolls
),

current_versions as (
    select * from rolls where superseded_at is null
),

compared as (
    select
        i.*,
        c.roll_session is not null as known,
        i.old_contract is not distinct from c.old_contract
            and i.new_contract is not distinct from c.new_contract
            and i.old_expiry is not distinct from c.old_expiry
            and i.method is not distinct from c.method
            and i.estimated is not distinct from c.estimated
            and i.clipped is not distinct from c.clipped
            and i.gap is not distinct from c.gap
            and i.ratio is not distinct from c.ratio
            and i.measured_gap is not distinct from c.measured_gap
            and i.before_session is not distinct from c.before_session
            and i.before_close is not distinct from c.before_close
            and i.before_index is not distinct from c.before_index
            and i.after_session is not distinct from c.after_session
            and i.after_close is not distinct from c.after_close
            and i.after_index is not distinct from c.after_index
            and i.basis_before is not distinct from c.basis_before
            and i.basis_after is not distinct from c.basis_after
            and i.opening_gap is not distinct from c.opening_gap
            and i.carry_bound is not distinct from c.carry_bound
            and i.carry_years is not distinct from c.carry_years
            and i.annual_carry is not distinct from c.annual_carry
            and i.carry_rolls is not distinct from c.carry_rolls as same_values
    from incoming as i
    left join current_versions as c
      on c.source = i.source
     and c.root = i.root
     and c.roll_session = i.roll_session
),

final as (
    select
        * exclude (known, same_values),
        case when not known then 'new' when same_values then 'unchanged' else 'revised' end as change
    from compared
)

select * from final
