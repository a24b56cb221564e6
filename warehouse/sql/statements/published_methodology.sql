-- The methodology the last run published (no row before any run).
select methodology_version from methodologies where published
