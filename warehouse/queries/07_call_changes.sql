-- 07 Day-over-day changes of the calls of one root over its latest N sessions.
--
-- Question: over the last N sessions with a call for a root, what changed in the call from one
--   session to the next (trend, perspective, line in the sand, bias-defining level, a move of 5
--   percentage points or more in the bull or bear probability), and why? Latest version of each
--   day's call, per author, methodology and source: each call is compared with the previous one
--   of the same methodology, never with another methodology's.
-- Parameters:
--   $root  RTY | ES | NQ | YM (any case)
--   $n     how many recent sessions with a call to look at (a positive integer)
-- Returns: one row per change (from the call_changes view), newest first.
--   as_of, prev_as_of  CME trade dates (the call and the one it is compared with)
--   what               primary_trend | perspective | line_in_the_sand | bias_defining |
--                      probabilities
--   before, after      text; levels as low–high in index points of each day's front contract
--                      (a roll in between moves every level by the roll spread), probabilities
--                      in percent
--   why                text: the facts behind the change
-- Example:
--   callbook sql @warehouse/queries/07_call_changes.sql --param root=RTY --param n=10

with selection as (
    select upper($root) as root, $n::integer as sessions
),

recent_sessions as (
    select as_of, row_number() over (order by as_of desc) as sessions_back
    from (
        select distinct latest_snapshots.as_of
        from latest_snapshots, selection
        where latest_snapshots.root = selection.root
    )
),

changes as (
    select * from call_changes
),

final as (
    select
        changes.root, changes.as_of, changes.prev_as_of, changes.author,
        changes.methodology_version, changes.source,
        changes.what, changes.before, changes.after, changes.why
    from changes
    join recent_sessions using (as_of)
    cross join selection
    where changes.root = selection.root
      and recent_sessions.sessions_back <= selection.sessions
)

select * from final
order by as_of desc, author, methodology_version, source, what
