-- 04 Analyst calls next to the model's call of the same day, with both outcomes and scores.
--
-- Question: on the days an analyst made a call, what did the model say, what happened, and who
--   scored better? Each analyst call (latest version per root, as_of, author) is paired with the
--   model's call (author 'callbook') of the same root and as_of, of the published methodology
--   (table methodologies: the one `callbook show` prints; whichever version the last run
--   published) and on the bars the analyst call is resolved on (same source): its live call if
--   there is one, else its backfill call, latest version of that kind. Kinds are never pooled:
--   the pair is a side-by-side, not a score of a mixed group.
-- Parameters:
--   $root  RTY | ES | NQ | YM (any case), or ALL for every root
-- Returns: one row per analyst call; model_* and outcome columns are null while there is no
--   model call of the published methodology that day, or no outcome yet (the horizon has not
--   passed).
--   model_methodology                         the published methodology (v3, v2, ...)
--   source                                    the bars both calls are resolved on (demo, yahoo,
--                                             file)
--   as_of                                     CME trade date
--   close, *_line_low/high, *_bias_low/high   index points of the as-of front contract
--   *_p_bear, *_p_sideways, *_p_bull          fractions summing to 1
--   *_outcome                                 bear | sideways | bull (each call is resolved on
--                                             its own barriers, so the two can differ)
--   *_rps                                     ranked probability score, 0..1, lower is better
--   rps_difference                            analyst_rps - model_rps (< 0: the analyst scored
--                                             better)
-- Example:
--   callbook sql @warehouse/queries/04_analyst_vs_model.sql --param root=ALL

with settings as (
    select 'callbook' as model_author
),

selection as (
    select upper($root) as root_filter
),

analyst_calls as (
    select snapshots.*
    from snapshots, selection
    where snapshots.kind = 'analyst'
      and (selection.root_filter = 'ALL' or snapshots.root = selection.root_filter)
    qualify row_number() over (partition by root, as_of, author order by version desc) = 1
),

-- The methodology the last run published: the model's calls an analyst is compared with.
published as (
    select methodology_version from methodologies where published
),

-- The model's call of a day, per source, of the published methodology: live beats backfill
-- (made on the day, not later from history); within the kind, the latest version.
model_calls as (
    select snapshots.*
    from snapshots, settings
    where snapshots.author = settings.model_author
      and snapshots.kind in ('live', 'backfill')
      and snapshots.methodology_version in (select methodology_version from published)
    qualify row_number() over (
        partition by root, as_of, source order by (kind = 'live') desc, version desc
    ) = 1
),

paired as (
    select
        a.root, a.as_of, a.resolved_on_source as source, a.close, a.contract,
        a.author as analyst, a.version as analyst_version,
        m.kind as model_kind, m.version as model_version,
        m.methodology_version as model_methodology,
        a.primary_trend as analyst_trend, m.primary_trend as model_trend,
        a.line_low as analyst_line_low, a.line_high as analyst_line_high,
        m.line_low as model_line_low, m.line_high as model_line_high,
        a.bias_low as analyst_bias_low, a.bias_high as analyst_bias_high,
        m.bias_low as model_bias_low, m.bias_high as model_bias_high,
        a.p_bear as analyst_p_bear, a.p_sideways as analyst_p_sideways,
        a.p_bull as analyst_p_bull,
        m.p_bear as model_p_bear, m.p_sideways as model_p_sideways, m.p_bull as model_p_bull,
        ao.outcome as analyst_outcome, mo.outcome as model_outcome,
        ao.resolved_session as analyst_resolved_session,
        mo.resolved_session as model_resolved_session,
        ao.line_held as analyst_line_held, mo.line_held as model_line_held,
        ao.trend_correct as analyst_trend_correct, mo.trend_correct as model_trend_correct,
        ao.rps as analyst_rps, mo.rps as model_rps
    from analyst_calls as a
    left join model_calls as m
      on m.root = a.root and m.as_of = a.as_of and m.source = a.resolved_on_source
    left join outcomes as ao on ao.snapshot_id = a.snapshot_id
    left join outcomes as mo on mo.snapshot_id = m.snapshot_id
),

final as (
    select
        *,
        analyst_rps - model_rps as rps_difference
    from paired
)

select * from final
order by root, as_of, analyst
