-- 011: how each snapshot's content hash was taken, the tuning period of each methodology per
-- instrument and dates (whatever the source of the bars), and the parameters the analyst views'
-- reference forecasts read. No stored value or hash changes.

-- The hash scheme of a snapshot (pipeline/analysis/canonical.py HASH_SCHEMES): 'row-v1' for every
-- snapshot written before (v1, v2, analyst calls: the canonical JSON of their content columns);
-- 'decision-v1' for methodologies that hash codes, dates and numbers only (v3 on). Provenance,
-- not content: `callbook verify` checks each snapshot under its own scheme.
alter table snapshots add column hash_scheme varchar default 'row-v1';
update snapshots set hash_scheme = 'row-v1' where hash_scheme is null;

-- The roots a methodology's parameters were chosen on, and up to which session (written by every
-- run from pipeline/analysis/methodology.py Tuning, the root registry expanding an underlying
-- cash index such as ^RUT to the roots on it). A model call on such a root made on or before
-- tuned_through is in sample, whatever source delivered its bars; synthetic: the demo source's
-- generated market (tuning on it says nothing of real prices, and the reverse).
create table tuning_periods (
    methodology_version  varchar not null,
    root                 varchar not null,
    synthetic            boolean not null,
    tuned_through        date not null,     -- CME trade date
    primary key (methodology_version, root, synthetic)
);

-- The tuning periods in words (the audit's header); tuned_sources is replaced by them.
alter table methodologies add column tuned_on varchar;
alter table methodologies drop column tuned_sources;

-- Numbers the analyst views use (name -> value), recorded with bound values from the Python
-- definitions they name each time the warehouse is opened for writing (warehouse/store.py;
-- pipeline/analysis/climatology.py REFERENCE_PARAMETERS): climatology_prior_weight, the
-- pseudo-calls (split evenly) of the expanding climatology.
create table reference_parameters (
    name                 varchar primary key,
    value                double not null
);
