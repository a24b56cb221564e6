-- Resolved calls with their scores (the scored_calls view), each filter optional ($root,
-- $author, $kind, $source, $methodologies: a list), in the order the audit groups them.
with scored as (
    select * from scored_calls
),

final as (
    select *
    from scored
    where ($root is null or root = $root)
      and ($author is null or author = $author)
      and ($kind is null or kind = $kind)
      and ($source is null or source = $source)
      and ($methodologies is null or list_contains($methodologies, methodology_version))
)

select * from final
order by root, author, kind, methodology_version, source, as_of
