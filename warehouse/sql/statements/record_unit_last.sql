-- The newest unit of the lake's record: the next unit follows it (seq + 1, chained to its sha256).
select seq, manifest_sha256 from record_units order by seq desc limit 1
