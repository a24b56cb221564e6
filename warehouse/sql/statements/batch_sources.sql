-- The sources any batch came from ("demo" marks a warehouse of synthetic prices).
select distinct source from ingest_batches
