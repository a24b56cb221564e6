-- DuckDB's parse tree of one statement ($sql) as JSON: what the sandbox checks before running it.
select json_serialize_sql($sql) as tree
