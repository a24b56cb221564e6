-- Record one configured methodology (a reference row, replaced by each run's configuration).
insert or replace into methodologies
select
    $methodology_version as methodology_version,
    $params_hash as params_hash,
    $params::json as params,
    $published as published,
    $configured_at as configured_at
