-- How many staged bars are new, revised or unchanged (stage_bar_changes.sql made the table).
select change, count(*) as n from bar_changes group by change
