-- The first time a file with this content was taken (not counting duplicates of it).
with taken as (
    select file_name, status, taken_at
    from inbox_files
    where file_sha256 = $file_sha256 and status <> 'duplicate'
),

final as (
    select * from taken order by taken_at limit 1
)

select * from final
