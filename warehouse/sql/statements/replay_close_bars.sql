-- Rebuild: close the bar versions a unit superseded (part file $path: the versions as the unit
-- left them, superseded_at set). Each matches exactly one current version.
update bars
set superseded_at = c.superseded_at
from read_parquet($path) as c
where bars.superseded_at is null
  and bars.source = c.source
  and bars.contract = c.contract
  and bars.session_date = c.session_date
  and bars.recorded_at = c.recorded_at
  and bars.batch_id = c.batch_id
