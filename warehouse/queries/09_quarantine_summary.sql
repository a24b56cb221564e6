-- 09 Quarantine summary: which rules rows broke, per source and root, with recent examples.
--
-- Question: per source, root and rule, how many rows were quarantined (error: never loaded) or
--   flagged (warning: loaded; deferred: session not final when fetched, fetched again later),
--   over which sessions, when last, and what the most recent offending rows looked like.
-- Parameters:
--   $root  RTY | ES | NQ | YM (any case), or ALL for every root
-- Returns: one row per (source, root, severity, rule), errors first, then most findings.
--   severity                          error (quarantine table) | warning | deferred (row_findings)
--   findings                          rows that broke the rule (one per batch row)
--   batches                           distinct batches they came in
--   first_session, last_session       CME trade dates of the rows (null if unparsable)
--   last_recorded_at                  UTC timestamp of the latest finding
--   recent_examples                   up to 3 'contract session: detail', newest first, ' | '-separated
--   latest_raw_row                    the most recent offending row exactly as received (JSON)
-- Example:
--   callbook sql @warehouse/queries/09_quarantine_summary.sql --param root=ALL

with settings as (
    select 3 as examples_shown
),

selection as (
    select upper($root) as root_filter
),

findings as (
    select
        source, root, 'error' as severity, rule, detail, contract, session_date,
        raw_row::varchar as raw_row, batch_id, row_index, recorded_at
    from quarantine
    union all
    select
        source, root, severity, rule, detail, contract, session_date,
        raw_row::varchar, batch_id, row_index, recorded_at
    from row_findings
),

selected as (
    select findings.*
    from findings, selection
    where selection.root_filter = 'ALL' or findings.root = selection.root_filter
),

summary as (
    select
        source, root, severity, rule,
        count(*) as findings,
        count(distinct batch_id) as batches,
        min(session_date) as first_session,
        max(session_date) as last_session,
        max(recorded_at) as last_recorded_at,
        list(
            coalesce(contract, '?') || ' ' || coalesce(session_date::varchar, '?') || ': '
                || detail
            order by recorded_at desc, session_date desc nulls last, batch_id, row_index
        ) as examples,
        (list(
            raw_row
            order by recorded_at desc, session_date desc nulls last, batch_id, row_index
        ))[1] as latest_raw_row
    from selected
    group by source, root, severity, rule
),

final as (
    select
        source, root, severity, rule, findings, batches, first_session, last_session,
        last_recorded_at,
        array_to_string(list_slice(examples, 1, settings.examples_shown), ' | ') as recent_examples,
        latest_raw_row
    from summary, settings
)

select * from final
order by
    source, root,
    case severity when 'error' then 0 when 'warning' then 1 else 2 end,
    findings desc, rule
