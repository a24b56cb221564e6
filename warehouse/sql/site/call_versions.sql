-- Every stored version (wide rows) of the calls named in the registered frame `wanted_calls`
-- (root, as_of, author, methodology_version, source), oldest version first.
with wanted as (
    select distinct root, as_of, author, methodology_version, source from wanted_calls
),

final as (
    select s.*
    from snapshots as s
    semi join wanted as w
      on s.root = w.root and s.as_of = w.as_of and s.author = w.author
     and s.methodology_version = w.methodology_version and s.source = w.source
)

select * from final
order by root, methodology_version, author, source, as_of, version
