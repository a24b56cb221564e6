-- calls_vs_outcomes: every scored call next to what happened. For each (root, as_of, author,
-- kind, methodology_version, source) only the latest version counts, so revisions never
-- double-count. recorded_late: an analyst call stored after the next session opened;
-- in_tuning_period: made on data its methodology's parameters were chosen on: its root, up to the
-- tuning period's last session, whatever source delivered the bars (null: the methodology does
-- not declare its tuning period; false for analyst calls, which have none).
create or replace view calls_vs_outcomes as
with later_versions as (
    select root, as_of, author, methodology_version, source, kind, version
    from snapshots
    where supersedes_version is not null
),

-- A version is outdated when a later version of the same call has the same kind. Later versions
-- are few (revisions), so this joins every snapshot against a small table instead of ranking all
-- of them (1.2 million calls: bench/RESULTS.md, "Scale").
outdated as (
    select s.snapshot_id
    from snapshots as s
    semi join later_versions as l
      on l.root = s.root and l.as_of = s.as_of and l.author = s.author
     and l.methodology_version = s.methodology_version and l.source = s.source
     and l.kind = s.kind and l.version > s.version
),

versions as (
    select *
    from snapshots
    anti join outdated using (snapshot_id)
),

tuning as (
    select methodology_version, tuning_declared from methodologies
),

tuned as (
    select methodology_version, root, synthetic, tuned_through from tuning_periods
),

final as (
    select
        s.snapshot_id, s.root, s.as_of, s.author, s.kind, s.methodology_version, s.version,
        s.source, s.resolved_on_source, s.created_at, s.recorded_late, s.bars_mode,
        s.bars_known_at,
        case
            when s.methodology_version = 'analyst' then false
            when t.tuning_declared is not true then null
            else coalesce(s.as_of <= p.tuned_through, false)
        end as in_tuning_period,
        s.primary_trend, s.perspective, s.orientation, s.close, s.atr14,
        s.line_low, s.line_high, s.bias_low, s.bias_high, s.upper_barrier, s.lower_barrier,
        s.risk_rule, s.risk_level, s.p_bear, s.p_sideways, s.p_bull, s.n_analogs, s.horizon_sessions,
        s.clim_bear, s.clim_sideways, s.clim_bull,
        o.resolved_session, o.horizon_end, o.outcome, o.outcome_ordinal, o.steps,
        o.close_at_horizon, o.mfe_atr, o.mae_atr, o.line_held, o.line_break_step,
        o.bias_accepted, o.risk_triggered, o.risk_trigger_step, o.trend_correct, o.rps, o.brier, o.log_score
    from versions as s
    join outcomes as o using (snapshot_id)
    left join tuning as t on t.methodology_version = s.methodology_version
    left join tuned as p
      on p.methodology_version = s.methodology_version and p.root = s.root
     and p.synthetic = synthetic_source(s.source)
)

select * from final;

-- scored_calls: calls_vs_outcomes plus the reference forecast, point in time. A call that stores
-- the climatology it was made with (the model's clim_*: outcome frequencies of every earlier
-- session of the series, resolved by its as-of day) is scored against it (pit_clim_source
-- 'stored'); an analyst call against the model's stored climatology for the same root, as-of
-- day, bars and horizon (the published methodology's first: 'model'); any other call against
-- the expanding climatology of its own group (root, author, kind, methodology, source) from the
-- outcomes whose horizon had ended by its as-of day (never the full sample), with 1 pseudo-count
-- per scenario (ref_basis 'expanding').
create or replace view scored_calls as
-- `not materialized`: each use of calls and with_stored is inlined, so the 1.2 million model calls
-- stream through once while the analyst branches read only their few rows (materialising them
-- cost 1.3 s against 0.8 s at 1.2 million calls; bench/RESULTS.md, "Scale").
with calls as not materialized (
    select * from calls_vs_outcomes
),

model_climatology as (
    select
        s.root, s.as_of, s.source, s.horizon_sessions, s.methodology_version,
        coalesce(m.published, false) as published,
        s.clim_bear, s.clim_sideways, s.clim_bull
    from latest_snapshots as s
    left join methodologies as m using (methodology_version)
    where s.author = 'callbook' and s.clim_bear is not null
),

-- Only calls that store no climatology (analyst calls) borrow the model's: the model's own 1.2
-- million calls never enter that join.
borrowed_climatology as (
    select c.snapshot_id, mc.clim_bear, mc.clim_sideways, mc.clim_bull
    from calls as c
    join model_climatology as mc
      on mc.root = c.root and mc.as_of = c.as_of and mc.source = c.resolved_on_source
     and mc.horizon_sessions = c.horizon_sessions
    where c.clim_bear is null
    qualify row_number() over (
        partition by c.snapshot_id order by mc.published desc, mc.methodology_version
    ) = 1
),

with_stored as not materialized (
    select
        c.*,
        c.clim_bear as pit_clim_bear,
        c.clim_sideways as pit_clim_sideways,
        c.clim_bull as pit_clim_bull,
        'stored' as pit_clim_source
    from calls as c
    where c.clim_bear is not null

    union all by name

    select
        c.*,
        b.clim_bear as pit_clim_bear,
        b.clim_sideways as pit_clim_sideways,
        b.clim_bull as pit_clim_bull,
        case when b.snapshot_id is not null then 'model' end as pit_clim_source
    from calls as c
    left join borrowed_climatology as b using (snapshot_id)
    where c.clim_bear is null
),

-- A call scored against the expanding climatology of its own group is one whose snapshot stores no
-- point-in-time climatology and has no model call of the same session to borrow it from (an
-- analyst's call on a day the model did not call): only those calls, and only their groups, need
-- the running counts; the others keep clim_n_* null. At 1.2 million model calls this leaves the
-- window and the as-of join almost nothing to do (bench/RESULTS.md, "Scale").
needs_expanding as (
    select * from with_stored where pit_clim_source is null
),

expanding_groups as (
    select distinct root, author, kind, methodology_version, source from needs_expanding
),

-- The running counts of bear, sideways and bull outcomes known by each horizon end.
known_by_horizon_end as (
    select
        root, author, kind, methodology_version, source, horizon_end,
        sum(count(*) filter (where outcome = 'bear')) over w as n_bear,
        sum(count(*) filter (where outcome = 'sideways')) over w as n_sideways,
        sum(count(*) filter (where outcome = 'bull')) over w as n_bull
    from calls
    semi join expanding_groups using (root, author, kind, methodology_version, source)
    group by root, author, kind, methodology_version, source, horizon_end
    window w as (
        partition by root, author, kind, methodology_version, source order by horizon_end
        rows between unbounded preceding and current row
    )
),

with_counts as (
    select
        c.*,
        null::bigint as clim_n_bear,
        null::bigint as clim_n_sideways,
        null::bigint as clim_n_bull
    from with_stored as c
    where c.pit_clim_source is not null

    union all by name

    select
        c.*,
        coalesce(k.n_bear, 0) as clim_n_bear,
        coalesce(k.n_sideways, 0) as clim_n_sideways,
        coalesce(k.n_bull, 0) as clim_n_bull
    from needs_expanding as c
    asof left join known_by_horizon_end as k
      on c.root = k.root and c.author = k.author and c.kind = k.kind
     and c.methodology_version = k.methodology_version and c.source = k.source
     and c.as_of >= k.horizon_end
),

-- The expanding climatology's prior weight, as recorded from its Python definition.
prior as (
    select value as weight from reference_parameters where name = 'climatology_prior_weight'
),

with_climatology as (
    select
        c.*,
        coalesce(c.pit_clim_source, 'expanding') as ref_basis,
        -- stored rounded to 4 decimals: renormalised so the three sum to 1
        coalesce(
            c.pit_clim_bear / (c.pit_clim_bear + c.pit_clim_sideways + c.pit_clim_bull),
            shrunk_rate(c.clim_n_bear, n.counted, p.weight / 3, p.weight)
        ) as ref_bear,
        coalesce(
            c.pit_clim_sideways / (c.pit_clim_bear + c.pit_clim_sideways + c.pit_clim_bull),
            shrunk_rate(c.clim_n_sideways, n.counted, p.weight / 3, p.weight)
        ) as ref_sideways,
        coalesce(
            c.pit_clim_bull / (c.pit_clim_bear + c.pit_clim_sideways + c.pit_clim_bull),
            shrunk_rate(c.clim_n_bull, n.counted, p.weight / 3, p.weight)
        ) as ref_bull
    from with_counts as c
    cross join lateral (
        select c.clim_n_bear + c.clim_n_sideways + c.clim_n_bull as counted
    ) as n
    left join prior as p on true
),

final as (
    select
        *,
        (power(ref_bear - (outcome_ordinal = 0)::int, 2)
            + power(ref_bear + ref_sideways - (outcome_ordinal <= 1)::int, 2)) / 2 as ref_rps,
        power(ref_bear - (outcome_ordinal = 0)::int, 2)
            + power(ref_sideways - (outcome_ordinal = 1)::int, 2)
            + power(ref_bull - (outcome_ordinal = 2)::int, 2) as ref_brier,
        -ln(greatest(
            case outcome_ordinal when 0 then ref_bear when 1 then ref_sideways else ref_bull end,
            0.01
        )) as ref_log_score
    from with_climatology
)

select * from final;

-- scoreboard: mean scores and skill against the point-in-time climatology per group (point
-- estimates; `callbook audit` adds block-bootstrap intervals). Overlapping horizons: the
-- effective sample is about n / horizon. Honest by default: calls recorded late and calls made
-- in their methodology's tuning period are left out (scored_calls keeps them, flagged).
create or replace view scoreboard as
with scored as (
    select * from scored_calls
    where recorded_late is not true and in_tuning_period is not true
),

final as (
    select
        root, author, kind, methodology_version, source,
        count(*) as calls,
        min(as_of) as first_as_of,
        max(as_of) as last_as_of,
        avg(rps) as mean_rps,
        avg(ref_rps) as mean_ref_rps,
        1 - avg(rps) / avg(ref_rps) as skill_rps,
        avg(brier) as mean_brier,
        1 - avg(brier) / avg(ref_brier) as skill_brier,
        avg(log_score) as mean_log_score,
        1 - avg(log_score) / avg(ref_log_score) as skill_log,
        avg(line_held::int) as line_held_rate,
        avg(trend_correct::int) as trend_correct_rate,
        avg(mfe_atr) as mean_mfe_atr,
        avg(mae_atr) as mean_mae_atr
    from scored
    group by root, author, kind, methodology_version, source
)

select * from final order by root, author, kind, methodology_version, source;

-- calibration: reliability per scenario and probability bucket (tenths) per group, without
-- late or in-sample calls (as the scoreboard). Intervals: `callbook audit` (they account for the
-- overlap of the calls' horizons).
create or replace view calibration as
with scored as (
    select * from calls_vs_outcomes
    where recorded_late is not true and in_tuning_period is not true
),

long as (
    select root, author, kind, methodology_version, source, 'bear' as scenario, p_bear as forecast,
        (outcome = 'bear')::int as hit
    from scored
    union all
    select root, author, kind, methodology_version, source, 'sideways', p_sideways, (outcome = 'sideways')::int
    from scored
    union all
    select root, author, kind, methodology_version, source, 'bull', p_bull, (outcome = 'bull')::int
    from scored
),

final as (
    select
        root, author, kind, methodology_version, source, scenario,
        least(floor(forecast * 10), 9) / 10 as bucket_low,
        count(*) as calls,
        avg(forecast) as mean_forecast,
        avg(hit) as observed_frequency
    from long
    group by all
)

select * from final order by root, author, kind, methodology_version, source, scenario, bucket_low;

-- open_calls: every current call without an outcome yet and its status so far, read at the last
-- resolution run (table call_progress: sessions elapsed of the horizon, barriers touched or
-- accepted, MFE/MAE so far). Never a score: an open call has no RPS.
create or replace view open_calls as
with current_versions as (
    select * from latest_snapshots
),

open_versions as (
    select c.*
    from current_versions as c
    anti join outcomes as o using (snapshot_id)
),

latest_progress as (
    select *
    from call_progress
    qualify row_number() over (
        partition by snapshot_id order by through_session desc, recorded_at desc
    ) = 1
),

final as (
    select
        c.root, c.author, c.kind, c.methodology_version, c.source, c.as_of, c.version,
        c.snapshot_id, c.recorded_late, c.resolved_on_source, c.horizon_end,
        c.p_bear, c.p_sideways, c.p_bull,
        p.through_session, p.sessions_elapsed, p.horizon_sessions, p.status, p.settled_session,
        p.upper_touch_step, p.lower_touch_step, p.upper_accept_step, p.lower_accept_step,
        p.line_break_step, p.risk_trigger_step, p.close_so_far, p.mfe_atr, p.mae_atr,
        coalesce(p.summary, 'no status yet: run `callbook resolve`') as status_so_far
    from open_versions as c
    left join latest_progress as p using (snapshot_id)
)

select * from final order by root, author, methodology_version, source, as_of
