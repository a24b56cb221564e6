-- Every stored snapshot's id and content hash (bench/bench_runners.py: the runners' digests).
with final as (
    select snapshot_id, content_hash from snapshots
)
select * from final order by snapshot_id
