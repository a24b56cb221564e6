-- The sources of a root's stored bars ($root), every version, in name order.
select distinct source from bars where root = $root order by source
