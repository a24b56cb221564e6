-- The migration versions applied to this file.
select version from schema_migrations
