-- Drop the stored changes of the calls registered as `changed_calls` (root, author,
-- methodology_version, source): insert_call_changes.sql recomputes them whole.
delete from call_change_rows as c
using (select distinct root, author, methodology_version, source from changed_calls) as k
where c.root = k.root and c.author = k.author
  and c.methodology_version = k.methodology_version and c.source = k.source
