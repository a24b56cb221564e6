-- 08 Bars as callbook knew them at a past moment, against the bars it holds now.
--
-- Question: for one root and a range of sessions, which bars differ between what the warehouse
--   knew at time T (the bars_as_of macro) and what it holds now (bars_current): vendor revisions,
--   with old and new values side by side, and bars that arrived after T.
-- Parameters:
--   $root      RTY | ES | NQ | YM (any case)
--   $known_at  the moment T, a UTC timestamp (2026-07-02T00:00:00Z; a bare date means 00:00 UTC)
--   $start     first session, YYYY-MM-DD (CME trade date)
--   $end       last session, YYYY-MM-DD
-- Returns: one row per (source, contract, session_date) whose current bar differs from the bar
--   known at T; bars never disappear (a revision supersedes, nothing is deleted), so every bar
--   known then has a current version.
--   change                          revised | added (not known at T)
--   changed_fields                  comma-separated: open, high, low, close, volume, open_interest
--   *_then, *_now                   prices in index points of that contract, volume and open
--                                   interest in contracts (then: null for added bars)
--   close_change                    close_now - close_then, index points
--   recorded_then, recorded_now     UTC timestamps when each version was recorded
--   batch_then, batch_now           sha256 of the batch that delivered each version
-- Example:
--   callbook sql @warehouse/queries/08_bars_then_vs_now.sql --param root=RTY --param known_at=2026-07-02T00:00:00Z --param start=2026-02-01 --param end=2026-02-27

with selection as (
    select
        upper($root) as root,
        $start::date as first_session,
        $end::date as last_session
),

known_then as (
    select then_bars.*
    from bars_as_of($known_at::timestamptz) as then_bars, selection
    where then_bars.root = selection.root
      and then_bars.session_date between selection.first_session and selection.last_session
),

known_now as (
    select bars_current.*
    from bars_current, selection
    where bars_current.root = selection.root
      and bars_current.session_date between selection.first_session and selection.last_session
),

compared as (
    select
        n.source, n.root, n.contract, n.session_date,
        t.contract is null as added,
        concat_ws(', ',
            case when t.open is distinct from n.open then 'open' end,
            case when t.high is distinct from n.high then 'high' end,
            case when t.low is distinct from n.low then 'low' end,
            case when t.close is distinct from n.close then 'close' end,
            case when t.volume is distinct from n.volume then 'volume' end,
            case when t.open_interest is distinct from n.open_interest then 'open_interest' end
        ) as changed_fields,
        t.open as open_then, n.open as open_now,
        t.high as high_then, n.high as high_now,
        t.low as low_then, n.low as low_now,
        t.close as close_then, n.close as close_now,
        t.volume as volume_then, n.volume as volume_now,
        t.open_interest as open_interest_then, n.open_interest as open_interest_now,
        t.recorded_at as recorded_then, n.recorded_at as recorded_now,
        t.batch_id as batch_then, n.batch_id as batch_now
    from known_now as n
    left join known_then as t
      on t.source = n.source and t.contract = n.contract and t.session_date = n.session_date
),

final as (
    select
        source, root, contract, session_date,
        case when added then 'added' else 'revised' end as change,
        changed_fields,
        open_then, open_now, high_then, high_now, low_then, low_now,
        close_then, close_now, close_now - close_then as close_change,
        volume_then, volume_now, open_interest_then, open_interest_now,
        recorded_then, recorded_now, batch_then, batch_now
    from compared
    where added or changed_fields <> ''
)

select * from final
order by source, session_date, contract
