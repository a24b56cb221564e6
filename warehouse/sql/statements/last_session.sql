-- The last session of a root's current bars from one source ($root, $source); null: none.
select max(session_date) as last_session
from bars_current
where source = $source and root = $root
