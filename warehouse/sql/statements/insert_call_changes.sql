-- Insert into call_change_rows the day-over-day changes of the calls registered as `changed_calls`
-- (root, author, methodology_version, source), each recomputed over its whole history of current
-- versions (the call_changes view reads them). One row per change: what changed and why.
insert into call_change_rows by name
with calls as (
    select distinct root, author, methodology_version, source from changed_calls
),

history as (
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
    semi join calls using (root, author, methodology_version, source)
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

select * from final
