-- One unit of the lake's record (warehouse/record.py), inserted in the unit's own transaction:
-- the unit committed if and only if this row did.
insert into record_units (
    seq, kind, label, parts, row_count, manifest_sha256, prev_sha256, sealed_at
)
values (
    $seq, $kind, $label, $parts, $row_count, $manifest_sha256, $prev_sha256, $sealed_at
)
