-- A batch as received, before validation. A batch seen before (same sha256) is not recorded again.
insert into ingest_batches (
    batch_id, source, root, window_start, window_end, fetched_at, row_count, lake_path, metadata,
    run_id, recorded_at
)
values (
    $batch_id, $source, $root, $window_start, $window_end, $fetched_at, $row_count, $lake_path,
    $metadata, $run_id, $recorded_at
)
on conflict do nothing
returning *
