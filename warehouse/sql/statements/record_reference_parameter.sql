-- Record one number the analyst views read, from its Python definition (replaced on every
-- write open).
insert or replace into reference_parameters by name
select $name as name, $value::double as value
