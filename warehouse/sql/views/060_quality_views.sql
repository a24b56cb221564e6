-- level_checks: every current model call with the level properties an analyst's call must have
-- (pipeline/audit/quality.py defines them; `callbook audit --quality` adds persistence, false
-- statements, crash labels and scores). Widths and distances are in ATR(14) of the as-of day;
-- prices are the as-of front contract's points.
create or replace view level_checks as
with calls as (
    select
        root, author, methodology_version, source, as_of, orientation, perspective, close, atr14,
        line_low, line_high, bias_low, bias_high, ext_low, ext_high, deep_low, deep_high
    from latest_snapshots
    where author = 'callbook' and atr14 > 0
),

checked as (
    select
        *,
        (line_high - line_low) / atr14 as line_width_atr,
        (bias_high - bias_low) / atr14 as bias_width_atr,
        (ext_high - ext_low) / atr14 as ext_width_atr,
        (deep_high - deep_low) / atr14 as deep_width_atr,
        close between line_low and line_high as close_in_line,
        close between bias_low and bias_high as close_in_bias,
        case orientation
            when 'up' then line_high >= close or bias_low <= close
            else line_low <= close or bias_high >= close
        end as wrong_side,
        case orientation
            when 'up' then (close - line_high) / atr14 else (line_low - close) / atr14
        end as line_distance_atr,
        case orientation
            when 'up' then (bias_low - close) / atr14 else (close - bias_high) / atr14
        end as bias_distance_atr,
        case orientation
            when 'up' then deep_high < line_low and line_high < close and close < bias_low
                and bias_high < ext_low
            else ext_high < bias_low and bias_high < close and close < line_low
                and line_high < deep_low
        end as order_ok,
        (line_low <= bias_high and bias_low <= line_high)
            or (line_low <= ext_high and ext_low <= line_high)
            or (line_low <= deep_high and deep_low <= line_high)
            or (bias_low <= ext_high and ext_low <= bias_high)
            or (bias_low <= deep_high and deep_low <= bias_high)
            or (ext_low <= deep_high and deep_low <= ext_high) as overlap
    from calls
),

final as (
    select * from checked
)

select * from final;

-- level_quality: level_checks summed per root, methodology and source (thresholds of issue 8:
-- zones at most 1.25 ATR wide, line and bias 0.25-4 ATR from the close).
create or replace view level_quality as
with checked as (
    select * from level_checks
),

widths as (
    select root, methodology_version, source, line_width_atr as width_atr from checked
    union all
    select root, methodology_version, source, bias_width_atr from checked
    union all
    select root, methodology_version, source, ext_width_atr from checked
    union all
    select root, methodology_version, source, deep_width_atr from checked
),

width_figures as (
    select
        root, methodology_version, source,
        max(width_atr) as max_width_atr,
        median(width_atr) as median_width_atr,
        count(*) filter (where width_atr > 1.25) as zones_wider_than_1_25_atr
    from widths
    group by root, methodology_version, source
),

call_figures as (
    select
        root, methodology_version, source,
        count(*) as calls,
        min(as_of) as first_as_of,
        max(as_of) as last_as_of,
        count(*) filter (where close_in_line) as closes_in_line,
        count(*) filter (where close_in_bias) as closes_in_bias,
        count(*) filter (where wrong_side) as wrong_side,
        avg((line_distance_atr between 0.25 and 4)::int) as line_within_0_25_4_atr,
        avg((bias_distance_atr between 0.25 and 4)::int) as bias_within_0_25_4_atr,
        count(*) filter (where overlap) as overlaps,
        count(*) filter (where not order_ok) as order_violations
    from checked
    group by root, methodology_version, source
),

final as (
    select c.*, w.max_width_atr, w.median_width_atr, w.zones_wider_than_1_25_atr
    from call_figures as c
    join width_figures as w using (root, methodology_version, source)
)

select * from final order by root, methodology_version, source;
