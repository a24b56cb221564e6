-- Rebuild: the rows a unit appended to {table} (an identifier from an allow-list), read from its
-- part file $path, appended again by column name.
insert into {table} by name select * from read_parquet($path)
