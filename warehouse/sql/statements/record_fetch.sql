insert into fetch_log (batch_id, source, root, fetched_at, run_id, outcome, message)
values ($batch_id, $source, $root, $fetched_at, $run_id, $outcome, $message)
returning *
