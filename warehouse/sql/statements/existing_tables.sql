-- The tables this database file holds (an older file lacks those later migrations add).
select table_name from information_schema.tables where table_type = 'BASE TABLE'
