-- The configured methodologies for the site's pages, the published one first.
select methodology_version, published, params_hash, configured_at
from methodologies
order by published desc, methodology_version
