-- The stored outcome of one snapshot ($snapshot_id); no row while it is open.
select * from outcomes where snapshot_id = $snapshot_id
