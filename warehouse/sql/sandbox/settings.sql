-- Every setting and its value (those holding a file path are hidden from the user's queries).
select lower(name) as name, value from duckdb_settings()
