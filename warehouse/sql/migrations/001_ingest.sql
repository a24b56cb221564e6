-- 001: ingest. Every batch received, what validation said about it, the rows it rejected, and the
-- bitemporal bar table. Times are UTC (timestamptz); session_date is the CME trade date; prices
-- are index points (RTY: $50 per point); volume and open interest are contracts.

create sequence fetch_log_id;
create sequence validation_run_id;

create table ingest_batches (
    batch_id      varchar primary key,   -- sha256 of the raw batch (Arrow IPC of the table as received)
    source        varchar not null,      -- demo | yahoo | file
    root          varchar not null,      -- RTY, ES, NQ, YM
    window_start  date,                  -- first session asked for (null: everything the source has)
    window_end    date not null,         -- last session asked for
    fetched_at    timestamptz not null,  -- when the source answered (UTC)
    row_count     bigint not null,       -- rows in the raw batch
    lake_path     varchar not null,      -- write-once Parquet copy, relative to the data dir
    metadata      json,                  -- source metadata (e.g. Yahoo history_metadata, demo label)
    run_id        varchar,               -- Prefect flow run id
    recorded_at   timestamptz not null
);

-- Every fetch attempt, including failed ones and identical batches fetched again.
create table fetch_log (
    fetch_id     bigint primary key default nextval('fetch_log_id'),
    batch_id     varchar,               -- null when the fetch failed
    source       varchar not null,
    root         varchar not null,
    fetched_at   timestamptz not null,
    run_id       varchar,
    outcome      varchar not null,      -- landed | duplicate | failed
    message      varchar
);

create table validation_runs (
    validation_id    bigint primary key default nextval('validation_run_id'),
    batch_id         varchar not null,
    suite_name       varchar not null,
    suite_version    varchar not null,
    validated_at     timestamptz not null,
    status           varchar not null,  -- passed | partial | rejected
    rejection        varchar,           -- why a rejected batch was rejected
    row_count        bigint not null,
    clean_rows       bigint not null,
    quarantined_rows bigint not null,
    warning_count    bigint not null,
    deferred_rows    bigint not null,
    expectations     json,              -- one summary per rule: rule, expectation, severity, success, unexpected_count
    run_id           varchar
);

-- Rows that broke an error-severity rule: never loaded, kept with the raw row as received.
create table quarantine (
    batch_id      varchar not null,
    row_index     bigint not null,      -- position of the row in the raw batch
    rule          varchar not null,     -- e.g. ohlc.high_bound, session.trade_date
    detail        varchar not null,
    source        varchar not null,
    root          varchar not null,
    contract      varchar,
    session_date  date,
    raw_row       json not null,        -- the row exactly as received
    recorded_at   timestamptz not null,
    primary key (batch_id, row_index, rule)
);

-- Findings that do not block a row: warnings (row loaded) and deferrals (session not final when
-- fetched: neither loaded nor quarantined, fetched again later).
create table row_findings (
    batch_id      varchar not null,
    row_index     bigint not null,
    rule          varchar not null,
    severity      varchar not null,     -- warning | deferred
    detail        varchar not null,
    source        varchar not null,
    root          varchar not null,
    contract      varchar,
    session_date  date,
    raw_row       json not null,
    recorded_at   timestamptz not null,
    primary key (batch_id, row_index, rule)
);

-- Bitemporal bars: a vendor revision of (source, contract, session_date) closes the old row
-- (superseded_at) and adds the new one; no row is ever deleted. Valid time is session_date;
-- transaction time is [recorded_at, superseded_at).
create table bars (
    source         varchar not null,
    root           varchar not null,
    contract       varchar not null,    -- RTYH26, or a vendor continuous symbol such as RTY=F
    session_date   date not null,       -- CME trade date
    open           double not null,     -- index points
    high           double not null,
    low            double not null,
    close          double not null,     -- settlement
    volume         bigint,              -- contracts
    open_interest  bigint,              -- contracts
    batch_id       varchar not null,    -- the batch that delivered this version
    recorded_at    timestamptz not null,
    superseded_at  timestamptz          -- null: the current version
);
create index bars_key on bars (source, contract, session_date);
