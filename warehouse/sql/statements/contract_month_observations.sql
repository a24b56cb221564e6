-- The contract month Yahoo's shortName named for a front-month symbol in every batch of a root.
with batches as (
    select * from ingest_batches where source = 'yahoo' and root = $root
),

final as (
    select
        window_end,
        json_extract_string(metadata, '$.symbols."' || $symbol || '".contract_month') as contract_month,
        fetched_at
    from batches
)

select window_end, contract_month from final order by fetched_at
