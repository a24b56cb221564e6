-- The analysts' scoreboard view, as the site's scores page shows it.
select * from scoreboard
