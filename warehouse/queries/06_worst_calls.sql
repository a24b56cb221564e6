-- 06 The 10 worst calls by ranked probability score in the last N sessions.
--
-- Question: among the calls made in the N most recent as-of sessions that have a resolved call
--   (calls of the last 20 sessions are not resolved yet), which 10 scored worst, and why?
--   Every root, author, kind, methodology and source is listed with its own labels; compare
--   like with like.
-- Parameters:
--   $n  how many recent as-of sessions to look at (a positive integer)
-- Returns: up to 10 rows, worst first (ties: the more recent call first).
--   as_of, resolved_session            CME trade dates
--   close, line_low, bias_high ...     index points of the as-of front contract
--   p_bear, p_sideways, p_bull         fractions summing to 1
--   rps                                ranked probability score, 0..1, lower is better
--   mae_atr, mfe_atr                   multiples of the call's ATR(14)
-- Example:
--   callbook sql @warehouse/queries/06_worst_calls.sql --param n=60

with settings as (
    select 10 as calls_shown
),

selection as (
    select $n::integer as sessions
),

scored as (
    select * from calls_vs_outcomes
),

recent_sessions as (
    select as_of, row_number() over (order by as_of desc) as sessions_back
    from (select distinct as_of from scored)
),

ranked as (
    select
        scored.*,
        row_number() over (
            order by scored.rps desc, scored.as_of desc, scored.root, scored.author, scored.kind
        ) as worst_rank
    from scored
    join recent_sessions using (as_of)
    cross join selection
    where recent_sessions.sessions_back <= selection.sessions
),

final as (
    select
        worst_rank, root, as_of, author, kind, methodology_version, source, version,
        primary_trend, perspective, close, line_low, line_high, bias_low, bias_high,
        p_bear, p_sideways, p_bull, outcome, resolved_session, rps,
        line_held, trend_correct, mae_atr, mfe_atr
    from ranked, settings
    where ranked.worst_rank <= settings.calls_shown
)

select * from final
order by worst_rank
