-- Whether the migrations table exists yet (a new file has none).
select count(*) as n from information_schema.tables where table_name = 'schema_migrations'
