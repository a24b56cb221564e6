-- 004: methodologies side by side. A call is now keyed by (root, as_of, author, methodology_version,
-- source, version): the same session can hold a v1 and a v2 call of the model, and calls made on
-- bars of different sources never share a version chain. The table is rebuilt with the new key
-- (DuckDB cannot drop a unique constraint); every stored row is copied as it is: ids, versions,
-- content hashes and timestamps unchanged. New snapshot ids read
-- root/as_of/author/methodology/source/vN.

create table snapshots_004 (
    snapshot_id          varchar primary key,   -- root/as_of/author/methodology/source/vN (before 004: root/as_of/author/vN)
    root                 varchar not null,
    as_of                date not null,         -- the session the call was made after
    author               varchar not null,      -- 'callbook' (the model) or an analyst's name
    version              integer not null,      -- 1, 2, ... per (root, as_of, author, methodology_version, source)
    supersedes_version   integer,               -- the version this one replaces (null for v1)
    kind                 varchar not null,      -- live | backfill | analyst
    content_hash         varchar not null,      -- sha256 of the call's content (see pipeline/analysis/assemble.py)
    methodology_version  varchar not null,
    params_hash          varchar not null,
    input_fingerprint    varchar not null,      -- bars used (+ peers), methodology, parameters
    source               varchar not null,      -- demo (synthetic!) | yahoo | file | analyst
    flow_run_id          varchar,               -- Prefect flow run that wrote it
    code_version         varchar,               -- callbook version (+ git commit)
    created_at           timestamptz not null,
    contract             varchar,               -- front contract on as_of, e.g. RTYH26
    close                double,                -- its settlement on as_of
    roll_offset          double,                -- cumulative difference adjustment of the internal series on as_of
    roll_factor          double,                -- cumulative ratio adjustment (1 unless method ratio)
    primary_trend        varchar not null,      -- Bullish | Bearish | Neutral
    perspective          varchar,               -- closed vocabulary, e.g. 'consolidation near highs'
    orientation          varchar not null,      -- up: line in the sand is support below price; down: mirrored
    sma20 double, sma50 double, sma200 double, ema21 double,   -- moving averages, index points
    atr14                double,                -- Wilder ATR(14), index points
    rsi14                double,                -- Wilder RSI(14), 0..100
    adx14                double,                -- ADX(14), 0..100
    sma200_change        double,                -- SMA200 minus SMA200 21 sessions earlier, points
    sma50_change         double,
    dist_sma200_atr      double,
    dist_sma200_pct      double,
    dist_sma50_atr       double,
    well_above_sma200    boolean,               -- close at least 3 ATR above the SMA200
    range_atr            double,                -- 15-session high-low range in ATR
    consolidating        boolean,               -- range_atr <= 4
    high_252 double, low_252 double,            -- 252-session extremes, index points
    dist_high_252_atr double, dist_low_252_atr double,
    higher_lows_since    date,                  -- start of the run of >= 3 rising confirmed swing lows
    higher_lows_count    integer,
    lower_highs_since    date,
    lower_highs_count    integer,
    pullback_retracement double,                -- fraction of the last impulse given back
    pullback_depth       varchar,               -- shallow | moderate | deep
    pullback_speed       varchar,               -- corrective | impulsive
    line_low double, line_high double, line_score double, line_touches integer, line_sources varchar, line_projected boolean,
    bias_low double, bias_high double, bias_score double, bias_touches integer, bias_sources varchar, bias_projected boolean,
    ext_low double,  ext_high double,  ext_score double,  ext_touches integer,  ext_sources varchar,  ext_projected boolean,
    deep_low double, deep_high double, deep_score double, deep_touches integer, deep_sources varchar, deep_projected boolean,
    upper_barrier        double,                -- bull scenario: acceptance above this
    lower_barrier        double,                -- bear scenario: acceptance below this
    risk_rule            varchar,               -- accept_below_sma50 | accept_above_sma50 | accept_below_line | accept_above_line
    risk_level           double,                -- the rule's level on as_of
    p_bear double, p_sideways double, p_bull double,          -- scenario probabilities (sum 1)
    n_bear integer, n_sideways integer, n_bull integer, n_analogs integer,  -- analogs (same state) they rest on
    n_geometry           integer,               -- analogs with the same barrier geometry (the first shrinkage level)
    clim_bear double, clim_sideways double, clim_bull double, -- expanding climatology they were shrunk toward
    state_key            varchar,               -- the analog state
    horizon_sessions     integer,               -- H
    horizon_end          date,                  -- the session H sessions after as_of
    rs_es_ratio_vs_mean double, rs_es_spread_5 double, rs_es_spread_20 double, rs_es_spread_63 double, rs_es_verdict varchar,
    rs_nq_ratio_vs_mean double, rs_nq_spread_5 double, rs_nq_spread_20 double, rs_nq_spread_63 double, rs_nq_verdict varchar,
    notes                varchar,
    unique (root, as_of, author, methodology_version, source, version)
);

insert into snapshots_004 by name select * from snapshots;
drop table snapshots;
alter table snapshots_004 rename to snapshots;

-- The methodologies a data directory computes, and which one is published (shown by default).
-- Written by every flow run from the configuration (CALLBOOK_METHODOLOGIES); a reference table,
-- not part of the record: the snapshots carry their own methodology_version and params_hash.
create table methodologies (
    methodology_version  varchar primary key,
    params_hash          varchar not null,      -- sha256 of the parameters (first 16 hex digits)
    params               json not null,         -- every parameter by name, with its value
    published            boolean not null,      -- the one `callbook show` and `published_calls` use
    configured_at        timestamptz not null   -- UTC, when a run last wrote this row
);
