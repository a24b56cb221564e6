insert into inbox_files (
    file_sha256, root, file_name, bytes, status, batch_id, archived_path, message, run_id, taken_at
)
values (
    $file_sha256, $root, $file_name, $bytes, $status, $batch_id, $archived_path, $message, $run_id,
    $taken_at
)
returning *
