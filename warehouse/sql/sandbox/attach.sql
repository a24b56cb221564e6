-- The warehouse file ($path), attached read-only to the sandbox's private in-memory database
-- under the catalog name {catalog} (warehouse/sandbox.py CATALOG).
attach $path as {catalog} (read_only)
