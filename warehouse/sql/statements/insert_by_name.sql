-- Append the registered frame incoming_rows to one table by column name; {table} is an
-- identifier from an allow-list.
insert into {table} by name select * from incoming_rows
returning *
