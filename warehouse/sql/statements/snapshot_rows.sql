-- Stored wide snapshot rows, newest as_of first; {table} is latest_snapshots (the current
-- versions) or snapshots (every version). Each filter is optional ($root, $author, $as_of,
-- $version, $methodology, $source).
with chosen as (
    select *
    from {table}
    where ($root is null or root = $root)
      and ($author is null or author = $author)
      and ($as_of is null or as_of = $as_of)
      and ($version is null or version = $version)
      and ($methodology is null or methodology_version = $methodology)
      and ($source is null or source = $source)
),

final as (
    select * from chosen
)

select * from final
order by as_of desc, root, author, methodology_version, source
