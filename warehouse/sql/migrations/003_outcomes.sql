-- 003: outcomes. One row per snapshot once its horizon has passed; appended, never edited.
-- Dates are CME trade dates, prices index points of the call's as-of front contract, excursions
-- in multiples of the call's ATR(14). Scores: lower is better.
create table outcomes (
    snapshot_id       varchar primary key,   -- snapshots.snapshot_id
    resolved_session  date not null,         -- the session the outcome was settled on
    horizon_end       date not null,         -- the last session of the horizon
    outcome           varchar not null,      -- bear | sideways | bull
    outcome_ordinal   tinyint not null,      -- 0 | 1 | 2
    steps             integer not null,      -- sessions after as_of until it was settled
    close_at_horizon  double,
    mfe_atr           double,                -- maximum favourable excursion (the call's direction)
    mae_atr           double,                -- maximum adverse excursion
    line_held         boolean,               -- no acceptance beyond the line in the sand
    line_break_step   integer,               -- sessions after as_of when it broke (null: held)
    bias_accepted     boolean,               -- acceptance beyond the bias-defining level
    risk_triggered    boolean,               -- the risk-to-the-thesis rule fired
    risk_trigger_step integer,               -- sessions after as_of when it fired (null: never)
    trend_correct     boolean,               -- Bullish: higher at horizon end; Bearish: lower; Neutral: within 1 ATR
    rps               double,                -- ranked probability score, 0..1
    brier             double,                -- multi-category Brier score, 0..2
    log_score         double,                -- -ln(max(p_outcome, 0.01))
    series_through    date not null,         -- last session of the series it was resolved on
    recorded_at       timestamptz not null
);
