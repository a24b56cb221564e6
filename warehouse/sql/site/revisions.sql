-- Every vendor revision of a stored bar, newest first (the data-quality page).
select * from bar_revisions order by revised_at desc, root, session_date desc
