-- Whether the record's table exists yet (migration 011) and how many units it holds.
select count(*) as n from information_schema.tables where table_name = 'record_units'
