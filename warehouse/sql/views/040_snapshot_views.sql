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

-- call_changes: day-over-day, what changed in the call and why (one row per change), for every
-- current call: rows the writer computes with the snapshots it writes
-- (statements/insert_call_changes.sql). Not sorted: `order by as_of` where the order matters.
create or replace view call_changes as
with changes as (
    select * from call_change_rows
),

final as (
    select root, author, methodology_version, source, as_of, prev_as_of, what, before, after, why
    from changes
)

select * from final;

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
