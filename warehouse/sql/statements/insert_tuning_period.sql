-- One root a methodology's parameters were chosen on, up to a session (market or synthetic);
-- recorded by every run (the same row again replaces itself).
insert or replace into tuning_periods by name
select
    $methodology_version as methodology_version,
    $root as root,
    $synthetic as synthetic,
    $tuned_through::date as tuned_through
returning *
