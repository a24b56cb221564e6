-- Every moment the bars of one source and root changed (a version recorded or superseded), UTC,
-- in order: between two of them, bars_as_of answers the same.
with versions as (
    select recorded_at, superseded_at from bars where source = $source and root = $root
),

changes as (
    select recorded_at as changed_at from versions
    union
    select superseded_at from versions where superseded_at is not null
),

final as (
    select changed_at from changes
)

select * from final order by changed_at
