-- The staging table of one roll write, dropped inside its transaction.
drop table roll_changes
