-- Rebuild: close the roll versions a unit superseded (part file $path, superseded_at set).
update rolls
set superseded_at = c.superseded_at
from read_parquet($path) as c
where rolls.superseded_at is null
  and rolls.source = c.source
  and rolls.root = c.root
  and rolls.roll_session = c.roll_session
  and rolls.recorded_at = c.recorded_at
