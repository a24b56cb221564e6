-- How many staged rolls are new, revised or unchanged (stage_roll_changes.sql made the table).
select change, count(*) as n from roll_changes group by change
