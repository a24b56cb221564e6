-- 008: how each call was made and what it is resolved on, the tuning period of each methodology,
-- and the status so far of open calls. The new snapshot columns are provenance: not part of the
-- content hash (pipeline/analysis/assemble.py CONTENT_COLUMNS), so no stored hash changes.
-- Times are UTC (timestamptz); dates are CME trade dates.

-- An analyst call stored after the next CME session had opened (18:00 ET on the eve of the
-- trade date after as_of: pipeline/market/calendar.py next_session_open), when prices after its
-- as-of settlement existed. Kept out of scoreboards by default. False for the model's calls:
-- live calls are made from the bars of their as-of day, backfills are point in time by
-- construction (they never see a bar after as_of).
alter table snapshots add column recorded_late boolean;
-- current: computed from the bars as stored when the call was computed (a backfill then uses
-- vendor revisions made after as_of); as_known: from the bars as known at bars_known_at
-- (revisions recorded later are not used; bars first recorded later count in their first
-- version). Live and analyst calls are 'current' (that is, as known on the day).
alter table snapshots add column bars_mode varchar;
-- current: when the bars were read; as_known: the end of the session after as_of (17:00 ET),
-- i.e. while as_of was still the last completed session.
alter table snapshots add column bars_known_at timestamptz;
-- The source of the bars the call is resolved on: the call's own source for the model; for an
-- analyst call (source 'analyst') the source given to `callbook calls add`.
alter table snapshots add column resolved_on_source varchar;

-- Calls stored before 008. The model's: on time, from the bars current when they were written,
-- resolved on their own source.
update snapshots
set recorded_late = false,
    bars_mode = 'current',
    bars_known_at = created_at,
    resolved_on_source = source
where kind <> 'analyst';

-- Analyst calls: late when stored after 18:00 ET on the calendar day before the next weekday
-- (a holiday is not skipped here, which only makes the deadline earlier); resolved on the only
-- source whose bars hold the call's contract and settlement on its as-of day (none or several:
-- null, and the call is not resolved again rather than resolved on bars it was not made from).
update snapshots as s
set recorded_late = s.created_at >= timezone(
        'America/New_York',
        (s.as_of + to_days(case isodow(s.as_of) when 5 then 2 when 6 then 1 else 0 end))::timestamp
            + interval 18 hour
    ),
    bars_mode = 'current',
    bars_known_at = s.created_at,
    resolved_on_source = (
        select min(b.source)
        from bars as b
        where b.superseded_at is null and b.root = s.root and b.session_date = s.as_of
          and b.contract = s.contract and b.close = s.close
        having count(distinct b.source) = 1
    )
where s.kind = 'analyst';

-- The period each methodology's data-tuned parameters were chosen on (written by every run from
-- pipeline/analysis/methodology.py): calls of those sources on or before tuned_through are in
-- sample. tuning_declared false: the methodology says nothing (its calls are flagged).
alter table methodologies add column tuning_declared boolean;
alter table methodologies add column tuned_through date;    -- null: no parameter chosen on data
alter table methodologies add column tuned_sources varchar; -- comma-separated bar sources
alter table methodologies add column tuning_note varchar;   -- which parameters, on what

-- The status so far of calls whose horizon is not over (pipeline/audit/outcomes.py
-- call_progress), read on the series through `through_session`; one row per call and session,
-- appended by every resolution run, never a score. Steps count sessions after as_of; excursions
-- are in ATR(14) of as_of; prices in index points of the as-of front contract.
create table call_progress (
    snapshot_id        varchar not null,
    through_session    date not null,      -- the last session of the series it was read on
    sessions_elapsed   integer not null,   -- of horizon_sessions
    horizon_sessions   integer not null,
    status             varchar not null,   -- bull | bear (settled, scored at the horizon's end) | open
    settled_session    date,               -- the session the settled scenario's acceptance completed
    upper_touch_step   integer,            -- first session whose high reached the upper barrier
    lower_touch_step   integer,            -- first session whose low reached the lower barrier
    upper_accept_step  integer,            -- acceptance above the upper barrier completed
    lower_accept_step  integer,            -- acceptance below the lower barrier completed
    line_break_step    integer,            -- acceptance beyond the line in the sand
    risk_trigger_step  integer,            -- the risk rule fired
    close_so_far       double,             -- settlement of through_session
    mfe_atr            double,             -- maximum favourable excursion so far
    mae_atr            double,             -- maximum adverse excursion so far
    summary            varchar not null,   -- the status in one line ("sideways so far, 13 of 20 sessions ...")
    resolved_on_source varchar not null,   -- the bars it was read on
    recorded_at        timestamptz not null,
    primary key (snapshot_id, through_session)
);
