-- Rebuild: rows came back with their recorded ids; move the id sequences past the largest, so
-- the next row gets a new id (nextval once per id taken).
with fetch_ids as (
    select count(nextval('fetch_log_id')) as n
    from range((select coalesce(max(fetch_id), 0) from fetch_log))
),

validation_ids as (
    select count(nextval('validation_run_id')) as n
    from range((select coalesce(max(validation_id), 0) from validation_runs))
),

final as (
    select f.n as fetch_ids, v.n as validation_ids
    from fetch_ids as f cross join validation_ids as v
)

select * from final
