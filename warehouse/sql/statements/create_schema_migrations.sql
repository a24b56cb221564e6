-- The record of applied migrations (sql/migrations/NNN_name.sql), created before the first one.
create table if not exists schema_migrations (
    version integer primary key,
    name varchar not null,
    applied_at timestamptz not null
)
