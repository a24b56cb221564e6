-- 01 Bullish calls whose line in the sand broke within 10 sessions, and how they ended.
--
-- Question: which Bullish calls saw their line in the sand broken (acceptance below it: two
--   settlements below its low by more than 0.1 ATR) within 10 sessions of the call, when did it
--   break, and which scenario played out over the horizon?
-- Parameters:
--   $root  RTY | ES | NQ | YM (any case), or ALL for every root
-- Returns: one row per resolved call, latest version per (root, as_of, author, kind,
--   methodology_version) as in the calls_vs_outcomes view; every author and kind, never mixed.
--   as_of, line_break_session, resolved_session  CME trade dates
--   close, line_low, line_high, close_at_horizon  index points of the as-of front contract
--                                                 (`contract`); close is its settlement on as_of
--   atr14                                         index points (ATR(14) on as_of)
--   line_break_step, steps                        sessions after as_of (CME trade dates)
--   mae_atr, mfe_atr                              multiples of atr14
--   outcome                                       bear | sideways | bull
--   rps                                           ranked probability score, 0..1, lower is better
--   source                                        who made the call's bars (demo, yahoo, file;
--                                                 an analyst call: `analyst`)
--   line_break_session counts line_break_step sessions on the trade dates the warehouse holds
--   bars for from the source the call is resolved on; it is null if those bars are missing.
-- Example:
--   callbook sql @warehouse/queries/01_bullish_line_breaks.sql --param root=RTY

with settings as (
    select 10 as max_break_step  -- "within 10 sessions"
),

selection as (
    select upper($root) as root_filter
),

scored as (
    select * from calls_vs_outcomes
),

bullish_breaks as (
    select scored.*
    from scored, settings, selection
    where scored.primary_trend = 'Bullish'
      and scored.line_break_step <= settings.max_break_step
      and (selection.root_filter = 'ALL' or scored.root = selection.root_filter)
),

-- calls_vs_outcomes has no contract column: take it from the snapshot itself.
with_contract as (
    select b.*, s.contract
    from bullish_breaks as b
    join snapshots as s using (snapshot_id)
),

sessions as (
    select
        source, root, session_date,
        row_number() over (partition by source, root order by session_date) as session_number
    from (select distinct source, root, session_date from bars_current)
),

with_break_session as (
    select c.*, broke.session_date as line_break_session
    from with_contract as c
    left join sessions as called
      on called.source = c.resolved_on_source and called.root = c.root
     and called.session_date = c.as_of
    left join sessions as broke
      on broke.source = called.source and broke.root = c.root
     and broke.session_number = called.session_number + c.line_break_step
),

final as (
    select
        root, as_of, author, kind, methodology_version, source, version, primary_trend,
        contract, close, line_low, line_high, atr14,
        line_break_step, line_break_session,
        outcome, resolved_session, steps, close_at_horizon, mae_atr, mfe_atr,
        risk_triggered, trend_correct, p_bear, p_sideways, p_bull, rps
    from with_break_session
)

select * from final
order by root, as_of, author, kind, methodology_version, source
