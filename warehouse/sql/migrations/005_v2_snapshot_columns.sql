-- 005: methodology v2's own snapshot columns (all nullable: v1 and analyst rows leave them null).
-- v2 keeps every v1 column that means the same thing; these are what it adds. Prices are index points
-- of the as-of front contract, '_pct' and '_recovered' fractions (0.2 = 20 %), dates CME trade dates.
-- Level reasons and change reasons are also in snapshot_levels (one row per named level), so the
-- call_changes view can say why a level moved.

alter table snapshots add column trend_rule varchar;  -- which trend rule fired: sma_stack | breakdown | recovery (null: Neutral)
alter table snapshots add column trend_structure varchar;  -- the swing structure a breakdown / recovery read: lower_highs | below_swing_low | higher_lows | above_swing_high
alter table snapshots add column perspective_rule integer;  -- number of the perspective rule that fired (pipeline/analysis/v2/regime.py)
alter table snapshots add column line_reason varchar;  -- why the zone is there, in words
alter table snapshots add column line_members varchar;  -- what is in it: kind:pivot-date[:flipped] | sma50 | sma200
alter table snapshots add column line_change varchar;  -- why it changed this session (null: kept as it was)
alter table snapshots add column line_since date;  -- the session it was picked on
alter table snapshots add column bias_reason varchar;  -- why the zone is there, in words
alter table snapshots add column bias_members varchar;  -- what is in it: kind:pivot-date[:flipped] | sma50 | sma200
alter table snapshots add column bias_change varchar;  -- why it changed this session (null: kept as it was)
alter table snapshots add column bias_since date;  -- the session it was picked on
alter table snapshots add column ext_reason varchar;  -- why the zone is there, in words
alter table snapshots add column ext_members varchar;  -- what is in it: kind:pivot-date[:flipped] | sma50 | sma200
alter table snapshots add column ext_change varchar;  -- why it changed this session (null: kept as it was)
alter table snapshots add column ext_since date;  -- the session it was picked on
alter table snapshots add column deep_reason varchar;  -- why the zone is there, in words
alter table snapshots add column deep_members varchar;  -- what is in it: kind:pivot-date[:flipped] | sma50 | sma200
alter table snapshots add column deep_change varchar;  -- why it changed this session (null: kept as it was)
alter table snapshots add column deep_since date;  -- the session it was picked on
alter table snapshots add column above_sma50_since date;  -- every settlement since this session above its SMA50 (>= 10 sessions)
alter table snapshots add column below_sma50_since date;  -- ... below it
alter table snapshots add column pullback_start_date date;  -- start of the last impulse
alter table snapshots add column pullback_extreme_date date;  -- its end (the recent high for an up call)
alter table snapshots add column pullback_low_date date;  -- the pullback's furthest point since
alter table snapshots add column impulse_erased boolean;  -- price gave back more than the whole impulse: not a pullback
alter table snapshots add column fall_pct double;  -- close below the highest high of the last 30 sessions, fraction of it
alter table snapshots add column fall_depth_pct double;  -- the lowest low since that high below it, fraction
alter table snapshots add column fall_recovered double;  -- share of that fall the close has won back, 0..1
alter table snapshots add column fall_high_date date;
alter table snapshots add column fall_low_date date;
alter table snapshots add column selloff_pct double;  -- the 63-session low below the 30-session high before it, fraction
alter table snapshots add column selloff_recovered double;  -- share of that selloff won back
alter table snapshots add column selloff_high_date date;
alter table snapshots add column selloff_low_date date;
alter table snapshots add column breakout_date date;  -- a current breakout to new highs: the session
alter table snapshots add column breakout_level double;  -- ... and the old high it cleared, index points
alter table snapshots add column breakdown_date date;
alter table snapshots add column breakdown_level double;
alter table snapshots add column geo_bear double;  -- barrier-geometry base rates the probabilities were shrunk through
alter table snapshots add column geo_sideways double;
alter table snapshots add column geo_bull double;
alter table snapshots add column rs_es_no_longer_lagging boolean;  -- leading or mixed against ES after lagging within 63 sessions
alter table snapshots add column rs_nq_no_longer_lagging boolean;

alter table snapshot_levels add column reason varchar;         -- why the zone is there, in words
alter table snapshot_levels add column members varchar;        -- kind:pivot-date[:flipped] | sma50 | sma200
alter table snapshot_levels add column change_reason varchar;  -- new | orientation | accepted_through | trimmed | price_inside | out_of_range | new_structure | reordered | narrowed (null: kept)
alter table snapshot_levels add column since date;             -- the session the level was picked on
