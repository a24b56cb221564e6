-- Every call (root, author, methodology_version, source) with a stored snapshot.
with calls as (
    select distinct root, author, methodology_version, source from snapshots
),

final as (
    select * from calls
)

select * from final
