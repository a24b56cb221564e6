insert into validation_runs (
    batch_id, suite_name, suite_version, validated_at, status, rejection, row_count, clean_rows,
    quarantined_rows, warning_count, deferred_rows, expectations, run_id
)
values (
    $batch_id, $suite_name, $suite_version, $validated_at, $status, $rejection, $row_count,
    $clean_rows, $quarantined_rows, $warning_count, $deferred_rows, $expectations, $run_id
)
returning *
