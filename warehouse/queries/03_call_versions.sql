-- 03 How the call for one day changed across versions.
--
-- Question: for one root and as-of session, every stored version of every author's call: how
--   and when it was made (kind, methodology, parameters, input fingerprint, run, code) and what
--   differs from the version it supersedes (trend, perspective, levels, probabilities, inputs).
--   Versions count per author, methodology and source: version 2 of the v2 call supersedes
--   version 1 of the v2 call, never the v1 call of the same day.
-- Parameters:
--   $root   RTY | ES | NQ | YM (any case)
--   $as_of  the call's as-of session, YYYY-MM-DD (a CME trade date)
-- Returns: one row per (author, methodology_version, source, version).
--   created_at                           UTC timestamp when the version was written
--   line_*, bias_*, ext_*, deep_*        zone bounds, index points of the as-of front contract
--   p_bear, p_sideways, p_bull           scenario probabilities, fractions summing to 1
--   changes                              '; '-separated list of what differs from the superseded
--                                        version ('first version' for version 1); probabilities
--                                        in percent
-- Example:
--   callbook sql @warehouse/queries/03_call_versions.sql --param root=RTY --param as_of=2026-02-04

with selection as (
    select upper($root) as root, $as_of::date as as_of
),

versions as (
    select snapshots.*
    from snapshots, selection
    where snapshots.root = selection.root and snapshots.as_of = selection.as_of
),

-- The snapshot_versions view has neither the extension and deeper levels nor the comparison
-- with the superseded version: both are built here from the snapshots table.
compared as (
    select
        v.*,
        p.version as previous_version,
        concat_ws('; ',
            case when v.kind is distinct from p.kind
                then 'kind ' || p.kind || ' → ' || v.kind end,
            case when v.params_hash is distinct from p.params_hash then 'parameters' end,
            case when v.input_fingerprint is distinct from p.input_fingerprint
                then 'input fingerprint' end,
            case when v.primary_trend is distinct from p.primary_trend
                then 'trend ' || p.primary_trend || ' → ' || v.primary_trend end,
            case when v.perspective is distinct from p.perspective
                then 'perspective ' || coalesce(p.perspective, '–') || ' → '
                    || coalesce(v.perspective, '–') end,
            case when (v.line_low, v.line_high) is distinct from (p.line_low, p.line_high)
                then 'line in the sand ' || p.line_low || '–' || p.line_high || ' → '
                    || v.line_low || '–' || v.line_high end,
            case when (v.bias_low, v.bias_high) is distinct from (p.bias_low, p.bias_high)
                then 'bias-defining ' || p.bias_low || '–' || p.bias_high || ' → '
                    || v.bias_low || '–' || v.bias_high end,
            case when (v.ext_low, v.ext_high) is distinct from (p.ext_low, p.ext_high)
                then 'extension ' || p.ext_low || '–' || p.ext_high || ' → '
                    || v.ext_low || '–' || v.ext_high end,
            case when (v.deep_low, v.deep_high) is distinct from (p.deep_low, p.deep_high)
                then 'deeper support ' || p.deep_low || '–' || p.deep_high || ' → '
                    || v.deep_low || '–' || v.deep_high end,
            case when (v.p_bear, v.p_sideways, v.p_bull)
                    is distinct from (p.p_bear, p.p_sideways, p.p_bull)
                then printf('probabilities bear/sideways/bull %.1f/%.1f/%.1f%% → %.1f/%.1f/%.1f%%',
                    100 * p.p_bear, 100 * p.p_sideways, 100 * p.p_bull,
                    100 * v.p_bear, 100 * v.p_sideways, 100 * v.p_bull) end
        ) as differences
    from versions as v
    left join snapshots as p
      on p.root = v.root and p.as_of = v.as_of and p.author = v.author
     and p.methodology_version = v.methodology_version and p.source = v.source
     and p.version = v.supersedes_version
),

final as (
    select
        root, as_of, author, version, supersedes_version, kind, created_at,
        case
            when previous_version is null then 'first version'
            when differences = '' then 'other content (see content_hash)'
            else differences
        end as changes,
        primary_trend, perspective,
        line_low, line_high, bias_low, bias_high, ext_low, ext_high, deep_low, deep_high,
        p_bear, p_sideways, p_bull,
        methodology_version, params_hash, input_fingerprint, content_hash,
        flow_run_id, code_version, source, contract, close
    from compared
)

select * from final
order by author, methodology_version, source, version
