-- One applied migration ($version, $name), in the migration's own transaction.
insert into schema_migrations values ($version, $name, now())
returning *
