-- The status so far of one open call ($snapshot_id) as the last resolution run recorded it
-- (open_calls), once a session after the call is over; no row when it is resolved, superseded
-- or no session has passed yet.
select status_so_far
from open_calls
where snapshot_id = $snapshot_id and sessions_elapsed > 0
