-- Cap this connection's DuckDB buffers ($memory_limit, e.g. '1024MiB'); above it DuckDB evicts
-- clean pages and spills to a temporary file.
set memory_limit = $memory_limit
