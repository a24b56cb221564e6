-- No progress bar on stderr: a DuckDB connection of a background command prints none.
set enable_progress_bar = false
