-- Every unit the warehouse says committed, in order (callbook verify: against the lake).
select seq, kind, label, parts, row_count, manifest_sha256, prev_sha256 from record_units order by seq
