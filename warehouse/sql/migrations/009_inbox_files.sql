-- 009: the drop folder (`nightly --source file`). One row per vendor file taken from
-- <inbox>/<ROOT>/, keyed by the sha256 of its bytes: a file whose content was taken before is
-- never loaded again (it is archived as a duplicate). Times are UTC.

create table inbox_files (
    file_sha256    varchar not null,      -- sha256 of the file's bytes as dropped
    root           varchar not null,
    file_name      varchar not null,      -- its name in the drop folder
    bytes          bigint not null,
    status         varchar not null,      -- loaded | rejected | failed | duplicate
    batch_id       varchar,               -- the ingest batch it became (ingest_batches); null if none
    archived_path  varchar not null,      -- where the file was moved, relative to the inbox
    message        varchar,               -- why it was rejected or failed, or what it duplicates
    run_id         varchar,               -- Prefect flow run id
    taken_at       timestamptz not null
);
