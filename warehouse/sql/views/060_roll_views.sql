-- rolls_current: the current version of every roll, with its sizes in % of the old contract's
-- price and whether it stays within the carry bound. Dates are CME trade dates; gaps index
-- points (pct: percent of before_close); recorded_at UTC.
create or replace view rolls_current as
with current_rolls as (
    select * from rolls where superseded_at is null
),

final as (
    select
        source, root, roll_session, old_contract, new_contract, old_expiry,
        method, estimated, clipped,
        gap, ratio, measured_gap,
        round(100 * gap / before_close, 4) as gap_pct,
        round(100 * opening_gap / before_close, 4) as opening_gap_pct,
        round(100 * carry_bound / before_close, 4) as carry_bound_pct,
        abs(gap) <= carry_bound * (1 + 1e-12) as within_carry_bound,
        before_session, before_close, before_index, basis_before,
        after_session, after_close, after_index, basis_after,
        opening_gap, carry_bound, carry_years, annual_carry, carry_rolls,
        recorded_at
    from current_rolls
)

select * from final order by source, root, roll_session
