-- The table macros the warehouse defines ($catalog): a user's query may call them.
select distinct lower(function_name) as name
from duckdb_functions()
where database_name = $catalog and function_type = 'table_macro'
