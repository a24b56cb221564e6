-- latest_snapshots: the current version of every call (one row per root, as_of, author,
-- methodology_version and source): the versions no later version supersedes. Versions form one
-- chain per call (version n+1 supersedes n), so this equals the highest version per call; the
-- anti join against the few superseded versions costs a scan, where ranking every version sorted
-- all of them (600,000 calls: 0.07 s against 0.25 s of CPU for latest_calls, bench/RESULTS.md).
create or replace view latest_snapshots as
with superseded as (
    select root, as_of, author, methodology_version, source, supersedes_version as version
    from snapshots
    where supersedes_version is not null
),

final as (
    select s.*
    from snapshots as s
    anti join superseded using (root, as_of, author, methodology_version, source, version)
)

select * from final;

-- latest_calls: the most recent call per root, author, methodology and source; `published` marks
-- the methodology `callbook show` prints by default (table methodologies); `recorded_late` an
-- analyst call stored after the next session had opened (kept out of scoreboards).
create or replace view latest_calls as
with current_versions as (
    select * from latest_snapshots
),

methodologies as (
    select methodology_version, published from methodologies
),

final as (
    select
        c.root, c.author, c.methodology_version, coalesce(m.published, false) as published,
        c.as_of, c.version, c.kind, c.source, c.contract, c.close, c.primary_trend, c.perspective,
        c.line_low, c.line_high, c.bias_low, c.bias_high, c.ext_low, c.ext_high, c.deep_low,
        c.deep_high, c.risk_rule, c.risk_level, c.p_bear, c.p_sideways, c.p_bull, c.n_analogs,
        c.horizon_end, c.content_hash, c.created_at, c.recorded_late, c.resolved_on_source
    from current_versions as c
    left join methodologies as m using (methodology_version)
    qualify row_number() over (
        partition by c.root, c.author, c.methodology_version, c.source order by c.as_of desc
    ) = 1
)

select * from final;

-- published_calls: the latest call per root of the published methodology, and of every analyst.
create or replace view published_calls as
with latest as (
    select * from latest_calls
),

final as (
    select * from latest
    where published or methodology_version = 'analyst'
)

select * from final;

-- call_history: every current call in date order, with the previous session's call beside it.
create or replace view call_history as
with current_versions as (
    select * from latest_snapshots
),

final as (
    select
        root, author, methodology_version, source, as_of, version, kind, close, primary_trend,
        perspective, line_low, line_high, bias_low, bias_high, p_bear, p_sideways, p_bull, n_analogs,
        recorded_late, created_at,
        lag(as_of) over w as previous_as_of,
        lag(primary_trend) over w as previous_trend,
        lag(perspective) over w as previous_perspective
    from current_versions
    window w as (partition by root, author, methodology_version, source order by as_of)
)

select * from final;

-- call_changes: day-over-day, what changed in the call and why (one row per change).
create or replace view call_changes as
with history as (
    select
        root, author, methodology_version, source, as_of, primary_trend, perspective, orientation,
        close, atr14, sma50, sma200,
        sma200_change, dist_high_252_atr, range_atr, line_low, line_high, bias_low, bias_high,
        p_bear, p_sideways, p_bull, contract, roll_offset,
        line_change, line_reason, bias_change, bias_reason,
        lag(as_of) over w as prev_as_of,
        lag(roll_offset) over w as prev_roll_offset,
        lag(primary_trend) over w as prev_trend,
        lag(perspective) over w as prev_perspective,
        lag(line_low) over w as prev_line_low,
        lag(line_high) over w as prev_line_high,
        lag(bias_low) over w as prev_bias_low,
        lag(bias_high) over w as prev_bias_high,
        lag(p_bull) over w as prev_p_bull,
        lag(p_bear) over w as prev_p_bear
    from latest_snapshots
    window w as (partition by root, author, methodology_version, source order by as_of)
),

changes as (
    select root, author, methodology_version, source, as_of, prev_as_of, 'primary_trend' as what,
        prev_trend as before, primary_trend as after,
        case primary_trend
            when 'Bullish' then 'close above a rising SMA200 with SMA50 above SMA200'
            when 'Bearish' then 'close below a falling SMA200 with SMA50 below SMA200'
            else 'trend conditions no longer all hold (close ' || round(close, 2)
                || ', SMA50 ' || round(sma50, 2) || ', SMA200 ' || round(sma200, 2)
                || ', SMA200 change ' || round(sma200_change, 2) || ')'
        end as why
    from history where prev_trend is distinct from primary_trend and prev_as_of is not null
    union all
    select
        root, author, methodology_version, source, as_of, prev_as_of, 'perspective',
        prev_perspective, perspective,
        '15-session range ' || round(range_atr, 1) || ' ATR, ' || round(dist_high_252_atr, 1)
            || ' ATR below the 252-session high, trend ' || primary_trend
    from history where prev_perspective is distinct from perspective and prev_as_of is not null
    union all
    -- A methodology that keeps its levels (v2) stores why each one changed (line_change, see
    -- pipeline/analysis/v2/levels.py CHANGE_REASONS); a kept level whose printed prices moved
    -- only because the front contract rolled says so. v1 re-clusters every session.
    select root, author, methodology_version, source, as_of, prev_as_of, 'line_in_the_sand',
        prev_line_low || '–' || prev_line_high, line_low || '–' || line_high,
        case
            when line_change is not null then line_change || ': ' || coalesce(line_reason, '')
            when line_reason is not null then 'kept; its prices moved with the roll to '
                || contract || ' (offset ' || round(prev_roll_offset, 2) || ' -> '
                || round(roll_offset, 2) || ')'
            else 'zones re-clustered around SMA50 ' || round(sma50, 2) || ' with ATR '
                || round(atr14, 2)
        end
    from history
    where (
        prev_line_low is distinct from line_low or prev_line_high is distinct from line_high
        or line_change is not null
    ) and prev_as_of is not null
    union all
    select root, author, methodology_version, source, as_of, prev_as_of, 'bias_defining',
        prev_bias_low || '–' || prev_bias_high, bias_low || '–' || bias_high,
        case
            when bias_change is not null then bias_change || ': ' || coalesce(bias_reason, '')
            when bias_reason is not null then 'kept; its prices moved with the roll to '
                || contract || ' (offset ' || round(prev_roll_offset, 2) || ' -> '
                || round(roll_offset, 2) || ')'
            else 'the recent high or its zone moved'
        end
    from history
    where (
        prev_bias_low is distinct from bias_low or prev_bias_high is distinct from bias_high
        or bias_change is not null
    ) and prev_as_of is not null
    union all
    select root, author, methodology_version, source, as_of, prev_as_of, 'probabilities',
        'bull ' || round(prev_p_bull * 100) || '% / bear ' || round(prev_p_bear * 100) || '%',
        'bull ' || round(p_bull * 100) || '% / bear ' || round(p_bear * 100) || '%',
        'the analog state or its base rates changed'
    from history
    where abs(p_bull - prev_p_bull) >= 0.05 or abs(p_bear - prev_p_bear) >= 0.05
),

final as (
    select * from changes
)

select * from final order by root, author, methodology_version, source, as_of, what;

-- snapshot_versions: how the call for one day changed across versions (revisions, methodology).
create or replace view snapshot_versions as
with versions as (
    select * from snapshots
),

final as (
    select
        root, as_of, author, methodology_version, source, version, supersedes_version, kind,
        params_hash, input_fingerprint, content_hash, created_at, flow_run_id, code_version,
        recorded_late, bars_mode, bars_known_at, resolved_on_source,
        primary_trend, perspective, line_low, line_high, bias_low, bias_high,
        p_bear, p_sideways, p_bull
    from versions
)

select * from final order by root, as_of, author, methodology_version, source, version
;

-- snapshot_status: per root, author and kind, how many calls are stored and how recent they are.
create or replace view snapshot_status as
with versions as (
    select * from snapshots
),

final as (
    select
        root, author, methodology_version, source, kind,
        count(*) as snapshots,
        count(distinct as_of) as sessions,
        min(as_of) as first_as_of,
        max(as_of) as last_as_of,
        max(version) as max_version,
        max(created_at) as last_written_at
    from versions
    group by root, author, methodology_version, source, kind
)

select * from final order by root, author, methodology_version, source, kind
