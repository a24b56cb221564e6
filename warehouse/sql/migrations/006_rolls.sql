-- 006: rolls. Every roll of a continuous series built for the analysis: where it sits, the gap the
-- back-adjustment removes, how that gap was measured and the evidence (pipeline.market.rolls).
-- Bitemporal like bars: a roll measured differently later (a revised bar) closes the old row
-- (superseded_at) and adds the new one; nothing is deleted. Dates are CME trade dates, prices and
-- gaps index points of the contracts named, times UTC.
create table rolls (
    source          varchar not null,     -- demo | yahoo | file
    root            varchar not null,
    roll_session    date not null,        -- the first session on the new contract
    old_contract    varchar not null,     -- e.g. ESH20
    new_contract    varchar not null,     -- e.g. ESM20
    old_expiry      date not null,        -- the old contract's last trade date
    method          varchar not null,     -- observed_spread | basis | carry_bounded
    estimated       boolean not null,     -- true: not measured (carry_bounded)
    clipped         boolean,              -- the measurement exceeded the carry bound: clipped to it
    gap             double,               -- new - old: what the difference adjustment removes
    ratio           double,               -- new / old: what the ratio adjustment removes
    measured_gap    double,               -- the measurement before clipping
    before_session  date,                 -- the old contract's session the gap is measured from
    before_close    double,               -- its close there
    before_index    double,               -- the cash index close that session (basis only)
    after_session   date,                 -- the new contract's session (roll or spread session)
    after_close     double,               -- its close there
    after_index     double,               -- the cash index close that session (basis only)
    basis_before    double,               -- before_close - before_index
    basis_after     double,               -- after_close - after_index
    opening_gap     double,               -- open of the roll session - the previous row's close
    carry_bound     double,               -- largest |gap| carry allows (before_close x max carry x years)
    carry_years     double,               -- years between the two expiries (days / 365)
    annual_carry    double,               -- the gap as a carry rate: gap / before_close / carry_years
    carry_rolls     bigint,               -- carry_bounded: rolls whose carry was averaged; else null
    recorded_at     timestamptz not null,
    superseded_at   timestamptz           -- null: the current version
);
create index rolls_key on rolls (source, root, roll_session);
