-- The staging table of one load, dropped inside its transaction.
drop table bar_changes
