-- The sandbox's settings, run one statement at a time once the warehouse is attached: after the
-- last one no statement can change any of them.
use {catalog};
set TimeZone = 'UTC';
-- A table name never reads a Python variable of the calling frame.
set python_enable_replacements = false;
-- No secret is stored or read; the setting would show the home directory.
set secret_directory = '';
set enable_external_access = false;
-- DuckDB keeps an attached file's own paths (the file, its .wal ...) in allowed_paths even with
-- external access off: a COPY onto the .wal, or DETACH + ATTACH read-write, would reach them.
-- With the local file system disabled nothing new is opened at all; the attached file is read
-- through the handle it already has.
set disabled_filesystems = 'LocalFileSystem';
set lock_configuration = true
