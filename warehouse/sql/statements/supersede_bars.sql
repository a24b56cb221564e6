-- Close the current version of every revised bar (transaction time ends now).
update bars
set superseded_at = $recorded_at
from bar_changes as c
where c.change = 'revised'
  and bars.superseded_at is null
  and bars.source = c.source
  and bars.contract = c.contract
  and bars.session_date = c.session_date
returning *
