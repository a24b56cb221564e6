-- calls_vs_outcomes: every scored call next to what happened. For each (root, as_of, author,
-- kind, methodology_version, source) only the latest version counts, so revisions never
-- double-count.
create or replace view calls_vs_outcomes as
with versions as (
    select *
    from snapshots
    qualify row_number() over (
        partition by root, as_of, author, kind, methodology_version, source order by version desc
    ) = 1
),

final as (
    select
        s.snapshot_id, s.root, s.as_of, s.author, s.kind, s.methodology_version, s.version,
        s.source, s.primary_trend, s.perspective, s.orientation, s.close, s.atr14,
        s.line_low, s.line_high, s.bias_low, s.bias_high, s.upper_barrier, s.lower_barrier,
        s.risk_rule, s.risk_level, s.p_bear, s.p_sideways, s.p_bull, s.n_analogs, s.horizon_sessions,
        o.resolved_session, o.horizon_end, o.outcome, o.outcome_ordinal, o.steps,
        o.close_at_horizon, o.mfe_atr, o.mae_atr, o.line_held, o.line_break_step,
        o.bias_accepted, o.risk_triggered, o.risk_trigger_step, o.trend_correct, o.rps, o.brier, o.log_score
    from versions as s
    join outcomes as o using (snapshot_id)
)

select * from final;

-- scored_calls: calls_vs_outcomes plus the reference forecast: the expanding-window climatology
-- of the same group (root, author, kind, methodology, source) from the outcomes whose horizon had ended
-- by the call's as-of day (never the full sample), with 1 pseudo-count per scenario.
create or replace view scored_calls as
with calls as (
    select * from calls_vs_outcomes
),

known_by_horizon_end as (
    select
        root, author, kind, methodology_version, source, horizon_end,
        sum(count(*) filter (where outcome = 'bear')) over w as n_bear,
        sum(count(*) filter (where outcome = 'sideways')) over w as n_sideways,
        sum(count(*) filter (where outcome = 'bull')) over w as n_bull
    from calls
    group by root, author, kind, methodology_version, source, horizon_end
    window w as (
        partition by root, author, kind, methodology_version, source order by horizon_end
        rows between unbounded preceding and current row
    )
),

with_counts as (
    select
        c.*,
        coalesce(k.n_bear, 0) as clim_n_bear,
        coalesce(k.n_sideways, 0) as clim_n_sideways,
        coalesce(k.n_bull, 0) as clim_n_bull
    from calls as c
    asof left join known_by_horizon_end as k
      on c.root = k.root and c.author = k.author and c.kind = k.kind
     and c.methodology_version = k.methodology_version and c.source = k.source
     and c.as_of >= k.horizon_end
),

with_climatology as (
    select
        *,
        (clim_n_bear + 1.0) / (clim_n_bear + clim_n_sideways + clim_n_bull + 3.0) as ref_bear,
        (clim_n_sideways + 1.0) / (clim_n_bear + clim_n_sideways + clim_n_bull + 3.0) as ref_sideways,
        (clim_n_bull + 1.0) / (clim_n_bear + clim_n_sideways + clim_n_bull + 3.0) as ref_bull
    from with_counts
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

-- scoreboard: mean scores and skill against the expanding climatology per group (point
-- estimates; `callbook audit` adds block-bootstrap intervals). Overlapping horizons: the
-- effective sample is about n / horizon.
create or replace view scoreboard as
with scored as (
    select * from scored_calls
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

-- calibration: reliability per scenario and probability bucket (tenths) per group.
create or replace view calibration as
with scored as (
    select * from calls_vs_outcomes
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

select * from final order by root, author, kind, methodology_version, source, scenario, bucket_low
