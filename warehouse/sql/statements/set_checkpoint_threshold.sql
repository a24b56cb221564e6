-- The WAL size at which DuckDB checkpoints on its own ($threshold, e.g. '256MB'; see
-- CHECKPOINT_THRESHOLD in warehouse/store.py for why it is raised).
set checkpoint_threshold = $threshold
