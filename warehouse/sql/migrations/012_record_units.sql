-- 012: the lake's record of every unit of work (warehouse/record.py). Each committed transaction
-- that changed a table is also written, write-once, as Parquet under
-- lake/record/units/<seq>/ with a manifest.json; this table says which units committed, so a
-- writer that finds a unit a crashed run left pending knows whether to keep it or delete it, and
-- `callbook rebuild` recreates every table from the lake alone. Times are UTC.

create table record_units (
    seq              bigint primary key,     -- 1, 2, ... in commit order
    kind             varchar not null,       -- base (every table as it was) | migration | work
    label            varchar not null,       -- what the unit did, e.g. 'load_batch RTY 3f2a...'
    parts            integer not null,       -- Parquet files in the unit
    row_count        bigint not null,        -- rows in them
    manifest_sha256  varchar not null,       -- sha256 of the unit's manifest.json bytes
    prev_sha256      varchar,                -- the previous unit's manifest sha256 (null: the first)
    sealed_at        timestamptz not null    -- when its files were written, just before the commit
);
