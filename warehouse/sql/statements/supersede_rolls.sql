-- Close the current version of every revised roll (transaction time ends now).
update rolls
set superseded_at = $recorded_at
from roll_changes as c
where c.change = 'revised'
  and rolls.superseded_at is null
  and rolls.source = c.source
  and rolls.root = c.root
  and rolls.roll_session = c.roll_session
returning *
