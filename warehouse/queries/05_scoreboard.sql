-- 05 Scoreboard: how good the calls were, per root and kind.
--
-- Question: per root, kind (live | backfill | analyst), author, methodology version and source
--   (demo bars are never pooled with market bars), how many calls were resolved and how they
--   scored, against the climatology known when each call was made (stored with it, else the
--   expanding one of its group: never the full sample). Kinds are never pooled. Analyst calls recorded late and calls in their methodology's tuning
--   period are left out (scored_calls keeps them, flagged: recorded_late, in_tuning_period).
-- Parameters: none.
-- Returns: one row per group (from the scoreboard view).
--   first_as_of, last_as_of          CME trade dates
--   mean_rps, mean_ref_rps           ranked probability score, 0..1, lower is better (ref: the
--                                    climatology forecast)
--   skill_rps, skill_brier,          1 - score / reference score: > 0 beats climatology; point
--   skill_log                        estimates (`callbook audit` adds bootstrap intervals)
--   mean_brier                       multi-category Brier score, 0..2
--   mean_log_score                   -ln(max(p_outcome, 0.01)), nats
--   line_held_rate,                  fractions 0..1
--   trend_correct_rate
--   mean_mfe_atr, mean_mae_atr       multiples of the call's ATR(14)
--   Overlapping 20-session horizons: the effective sample is about calls / 20.
-- Example:
--   callbook sql @warehouse/queries/05_scoreboard.sql

with board as (
    select * from scoreboard
),

final as (
    select
        root, kind, author, methodology_version, source,
        calls, first_as_of, last_as_of,
        mean_rps, mean_ref_rps, skill_rps,
        mean_brier, skill_brier, mean_log_score, skill_log,
        line_held_rate, trend_correct_rate, mean_mfe_atr, mean_mae_atr
    from board
)

select * from final
order by root, kind, author, methodology_version, source
