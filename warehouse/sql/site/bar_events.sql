-- Every moment the stored bars of a source and root changed (a version recorded or superseded,
-- UTC): the bars as known at any time T equal those as known at the last such moment <= T, so
-- calls made between two moments share one chart series.
with moments as (
    select source, root, recorded_at as changed_at from bars
    union
    select source, root, superseded_at from bars where superseded_at is not null
),

final as (
    select distinct source, root, changed_at from moments
)

select * from final order by source, root, changed_at
