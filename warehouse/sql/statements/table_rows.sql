-- Every row of one table or view; {table} is an identifier from an allow-list.
select * from {table}
