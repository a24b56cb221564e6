-- Rows of one table or view; {table} is an identifier from an allow-list (warehouse/store.py).
select count(*) as n from {table}
