-- md5 over every row of one table in a canonical order (idempotency checks); {table} is an
-- identifier from an allow-list.
with rows_as_text as (
    select t::varchar as line from {table} as t
),

final as (
    select md5(coalesce(string_agg(line, chr(10) order by line), '')) as content_hash
    from rows_as_text
)

select * from final
