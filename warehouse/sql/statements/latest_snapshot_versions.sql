-- The latest stored version and its content hash for every (root, as_of, author,
-- methodology_version, source) of the incoming snapshot rows (registered as `incoming_keys`).
with incoming as (
    select distinct root, as_of, author, methodology_version, source from incoming_keys
),

versions as (
    select s.root, s.as_of, s.author, s.methodology_version, s.source, s.version, s.content_hash
    from snapshots as s
    join incoming as i using (root, as_of, author, methodology_version, source)
),

final as (
    select
        root, as_of, author, methodology_version, source,
        version as latest_version, content_hash as latest_hash
    from versions
    qualify row_number() over (
        partition by root, as_of, author, methodology_version, source order by version desc
    ) = 1
)

select * from final
