-- Record one configured methodology (a reference row, replaced by each run's configuration).
insert or replace into methodologies by name
select
    $methodology_version as methodology_version,
    $params_hash as params_hash,
    $params::json as params,
    $published as published,
    $configured_at as configured_at,
    $tuning_declared as tuning_declared,
    $tuned_through::date as tuned_through,
    $tuned_on as tuned_on,
    $tuning_note as tuning_note
returning *
