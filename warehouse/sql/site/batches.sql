-- Data quality: every batch received with the latest validation of it (rules as JSON: rule,
-- expectation, severity, success, unexpected_count), newest first. Times UTC.
with validations as (
    select *
    from validation_runs
    qualify row_number() over (partition by batch_id order by validated_at desc, validation_id desc) = 1
),

final as (
    select
        b.batch_id, b.source, b.root, b.window_start, b.window_end, b.fetched_at, b.row_count,
        b.lake_path, v.suite_name, v.suite_version, v.validated_at, v.status, v.rejection,
        v.clean_rows, v.quarantined_rows, v.warning_count, v.deferred_rows,
        v.expectations::varchar as expectations
    from ingest_batches as b
    left join validations as v using (batch_id)
)

select * from final order by fetched_at desc, root
