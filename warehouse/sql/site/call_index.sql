-- The static site's index of calls: the current version of every call (one row per root, as_of,
-- author, methodology and source) with what its page shows in lists, its outcome once resolved or
-- its status so far while open (open_calls: the last resolution run's reading, never a score),
-- and `page_inputs`: an md5 over every stored fact its page is drawn from (each version's id and
-- content hash, the outcome, the climatology reference it is scored against and whether it was
-- made in its methodology's tuning period, the status so far).
-- Prices are index points of the call's as-of front contract; times are UTC. `bars_known_at`:
-- the moment whose bars the call was computed from (its chart is drawn from them);
-- `resolved_on_source`: whose bars it is resolved on (an analyst's call: the data's source).
with versions as (
    select
        root, as_of, author, methodology_version, source,
        count(*) as versions,
        string_agg(snapshot_id || '=' || content_hash, ';' order by version) as version_ids
    from snapshots
    group by root, as_of, author, methodology_version, source
),

current_calls as (
    select * from latest_snapshots
),

reference_scores as (
    select snapshot_id, ref_rps, in_tuning_period from scored_calls
),

progress as (
    select snapshot_id, through_session, status, status_so_far from open_calls
),

final as (
    select
        c.snapshot_id, c.root, c.as_of, c.author, c.methodology_version, c.source, c.version,
        c.kind, c.created_at, coalesce(c.bars_known_at, c.created_at) as bars_known_at,
        coalesce(c.resolved_on_source, c.source) as resolved_on_source, c.recorded_late,
        c.contract, c.close, c.primary_trend, c.perspective, c.orientation,
        c.line_low, c.line_high, c.bias_low, c.bias_high, c.upper_barrier, c.lower_barrier,
        c.atr14, c.roll_offset, c.roll_factor,
        c.p_bear, c.p_sideways, c.p_bull, c.horizon_sessions, c.horizon_end,
        v.versions,
        o.outcome, o.resolved_session, o.steps, o.rps, o.brier, o.log_score,
        o.recorded_at as outcome_recorded_at, r.ref_rps, r.in_tuning_period,
        p.through_session as progress_through, p.status as progress_status, p.status_so_far,
        md5(
            v.version_ids || '|' || coalesce(o.snapshot_id || '@' || o.recorded_at::varchar, '')
            || '|' || coalesce(r.ref_rps::varchar, '') || coalesce(r.in_tuning_period::varchar, '')
            || '|' || coalesce(p.through_session::varchar || p.status_so_far, '')
        ) as page_inputs
    from current_calls as c
    join versions as v using (root, as_of, author, methodology_version, source)
    left join outcomes as o on o.snapshot_id = c.snapshot_id
    left join reference_scores as r on r.snapshot_id = c.snapshot_id
    left join progress as p on p.snapshot_id = c.snapshot_id
)

select * from final
order by root, methodology_version, author, source, as_of
