-- Whether a raw batch ($batch_id, its sha256) was recorded before.
select count(*) as n from ingest_batches where batch_id = $batch_id
