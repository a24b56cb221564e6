-- The configured methodologies, the published one first.
select * from methodologies order by published desc, methodology_version
