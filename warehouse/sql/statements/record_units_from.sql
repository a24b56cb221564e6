-- The units recorded from seq $first on: what a writer settles pending units against.
select seq, manifest_sha256 from record_units where seq >= $first
