-- Definitions the analyst views share, each written once.
--
-- shrunk_rate: an outcome's rate among counted calls shrunk toward a prior with pseudo-calls,
-- (n_k + pseudo_k) / (n + weight): the SQL form of pipeline/analysis/climatology.py shrunk (the
-- climatology: pseudo_k = weight / 3, weight = reference_parameters 'climatology_prior_weight').
create or replace macro shrunk_rate(n_k, n, pseudo_k, weight) as (n_k + pseudo_k) / (n + weight);

-- synthetic_source: the bars of this source are the demo source's generated market
-- (pipeline/sources/demo.py), not market data: a tuning period on one says nothing of the other.
create or replace macro synthetic_source(source) as source = 'demo';
