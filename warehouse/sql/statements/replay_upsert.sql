-- Rebuild: the rows a unit wrote over the row with the same primary key ({table}: methodologies).
insert or replace into {table} by name select * from read_parquet($path)
