"""The lake's record of every unit of work (warehouse/record.py): written with the unit, settled
after a crash at any step so the lake and the warehouse agree, chained, and replayable."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from warehouse import record, store
from warehouse.store import MethodologyEntry, Warehouse, WarehouseDamagedError

AT = datetime(2026, 11, 21, 12, tzinfo=UTC)


def add_methodology(wh: Warehouse, version: str) -> None:
    wh.record_methodologies([MethodologyEntry(version, "hash", {}, published=False)], at=AT)


def methodologies(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("select methodology_version from methodologies").fetchall()
    return sorted(r[0] for r in rows)


def recorded(path: Path) -> list[tuple[int, str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select seq, label, manifest_sha256 from record_units order by seq"
        ).fetchall()


def lake_units(data_dir: Path) -> list[tuple[int, str, str]]:
    return [(u.seq, u.manifest.label, u.sha256) for u in record.scan(lake(data_dir)).units]


def lake(data_dir: Path) -> Path:
    return record.record_dir(data_dir / "warehouse.duckdb")


def test_every_unit_is_in_the_lake_with_the_rows_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
        wh.record_fetch_failure("RTY", "demo", AT, "run-1", "HTTP 503")
    units = record.scan(lake(tmp_path)).units
    assert [(u.manifest.kind, u.manifest.label) for u in units] == [
        ("base", "base"),
        ("work", "record_methodologies"),
        ("work", "record_fetch_failure RTY"),
    ]
    assert lake_units(tmp_path) == recorded(path)  # the warehouse knows the same units
    fetch = units[2]
    (part,) = fetch.manifest.parts
    assert (part.table, part.op, part.rows) == ("fetch_log", "append", 1)
    rows = pq.read_table(fetch.part_path(part)).to_pylist()
    assert rows == [
        {
            "fetch_id": 1,
            "batch_id": None,
            "source": "demo",
            "root": "RTY",
            "fetched_at": AT,
            "run_id": "run-1",
            "outcome": "failed",
            "message": "HTTP 503",
        }
    ]
    # Chained: each manifest names the sha256 of the one before.
    assert [u.manifest.prev_sha256 for u in units] == [None, units[0].sha256, units[1].sha256]
    assert not (lake(tmp_path) / record.PENDING_DIR).exists() or not any(
        (lake(tmp_path) / record.PENDING_DIR).iterdir()
    )


def test_a_unit_that_writes_nothing_is_no_unit(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        assert (
            wh.append_progress(wh.table_rows("call_progress"), source="demo", recorded_at=AT) == 0
        )
    assert [u.manifest.kind for u in record.scan(lake(tmp_path)).units] == ["base"]


def test_a_failed_lake_write_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills while the unit's Parquet file is written: the transaction rolls back, the
    pending unit goes, the error is the writer's own."""
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
        before = wh.table_rows("record_units")["seq"].to_list()
        written = record.PendingUnit.add

        def full(self: record.PendingUnit, table: str, op: str, rows: object) -> object:
            written(self, table, op, rows)  # type: ignore[arg-type]
            raise OSError(errno.EFBIG, "File too large")

        monkeypatch.setattr(record.PendingUnit, "add", full)
        with pytest.raises(store.WarehouseWriteError) as raised:
            add_methodology(wh, "b")
        assert str(raised.value) == (
            "record_methodologies: writing its record to the lake failed ([Errno 27] File too "
            "large); nothing of it was written"
        )
        monkeypatch.undo()
        assert not any((lake(tmp_path) / record.PENDING_DIR).iterdir())
        assert wh.table_rows("methodologies")["methodology_version"].to_list() == ["a"]
        add_methodology(wh, "c")  # the writer goes on: the next unit takes the next seq
    assert methodologies(path) == ["a", "c"]
    assert lake_units(tmp_path) == recorded(path)
    assert [seq for seq, *_ in recorded(path)] == [1, 2, 3]
    assert before == [1, 2]


#: A writer in another process, stopped at a step of one unit until killed: ``sealed`` (its
#: files and manifest are written and its record_units row inserted, not committed) or
#: ``committed`` (committed, not yet moved from pending/ into units/).
WRITER = """
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from warehouse import record, store
    from warehouse.store import MethodologyEntry, Warehouse

    path, step = Path(sys.argv[1]), sys.argv[2]

    def stop(*args, **kwargs):
        print(step, flush=True)
        time.sleep(600)

    wh = Warehouse.open(path)
    if step == "sealed":
        seal = Warehouse._seal_unit

        def sealed(self, *args):
            out = seal(self, *args)
            stop()
            return out

        Warehouse._seal_unit = sealed
    else:
        record.finalize = stop
    at = datetime(2026, 11, 21, tzinfo=UTC)
    wh.record_methodologies([MethodologyEntry("new", "h", {}, published=False)], at=at)
    """


def killed_writer(path: Path, step: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(path), step],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == step
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("step", ["sealed", "committed"])
def test_a_writer_killed_between_the_lake_and_the_commit_leaves_them_agreeing(
    tmp_path: Path, step: str
) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "old")
    killed_writer(path, step)
    assert record.pending_seqs(lake(tmp_path)) == [3]  # the unit is written, not in place
    committed = step == "committed"
    with Warehouse.open(path) as wh:  # the next writer settles it before anything else
        assert record.pending_seqs(lake(tmp_path)) == []
        add_methodology(wh, "next")
    expected = ["new", "next", "old"] if committed else ["next", "old"]
    assert methodologies(path) == expected
    assert lake_units(tmp_path) == recorded(path)
    labels = [label for _, label, _ in recorded(path)]
    assert labels == ["base", "record_methodologies", "record_methodologies"] + (
        ["record_methodologies"] if committed else []
    )


def test_the_lake_alone_decides_which_pending_units_committed(tmp_path: Path) -> None:
    """Without the warehouse: a pending unit a later unit chains to committed; the last one, if
    pending, cannot be confirmed."""
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        for name in ("a", "b", "c"):
            add_methodology(wh, name)
    units = lake(tmp_path) / record.UNITS_DIR
    pending = lake(tmp_path) / record.PENDING_DIR
    pending.mkdir(exist_ok=True)
    for seq in (2, 4):  # as if the moves into place had not happened
        os.rename(units / record.unit_name(seq), pending / record.unit_name(seq))
    found = record.scan(lake(tmp_path))
    assert [u.seq for u in found.units] == [1, 2, 3]
    assert [u.seq for u in found.unconfirmed] == [4]
    assert [u.pending for u in found.units] == [False, True, False]


def test_a_replaced_unit_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        for name in ("a", "b"):
            add_methodology(wh, name)
    manifest = lake(tmp_path) / record.UNITS_DIR / record.unit_name(2) / record.MANIFEST
    data = json.loads(manifest.read_bytes())
    data["label"] = "something else"
    manifest.write_text(json.dumps(data))
    with pytest.raises(record.RecordError, match=r"unit 3 .* does not follow unit 2"):
        record.scan(lake(tmp_path))


def test_a_manifest_from_a_newer_callbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path):
        pass
    manifest = lake(tmp_path) / record.UNITS_DIR / record.unit_name(1) / record.MANIFEST
    data = json.loads(manifest.read_bytes())
    data["format"] = record.FORMAT + 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(record.RecordError, match="newer than this callbook reads"):
        record.scan(lake(tmp_path))


def test_a_warehouse_made_before_the_record_starts_it_with_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "warehouse.duckdb"
    before_record = [m for m in store.migrations() if m[0] < store.RECORD_MIGRATION]
    monkeypatch.setattr(store, "migrations", lambda: before_record)
    with Warehouse.open(path) as wh:
        add_methodology(wh, "made before")
        assert wh._record_dir is None  # no record table yet: nothing recorded
    assert record.unit_dirs(lake(tmp_path)) == []
    monkeypatch.undo()
    with Warehouse.open(path) as wh:  # migration 012, then the base unit
        add_methodology(wh, "after")
    (base, work) = record.scan(lake(tmp_path)).units
    assert base.manifest.kind == "base"
    tables = {p.table: p.rows for p in base.manifest.parts}
    assert tables["methodologies"] == 1 and tables["schema_migrations"] == len(store.migrations())
    assert store.RECORD_MIGRATION in base.manifest.migrations
    assert work.manifest.label == "record_methodologies"


def test_a_new_warehouse_never_starts_over_a_lake_that_holds_a_record(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    path.unlink()
    store.replica_path(path).unlink()
    with pytest.raises(WarehouseDamagedError, match=r"the lake .* holds its record.*rebuild"):
        Warehouse.open(path)
    assert not path.exists()
    # Another warehouse put in its place (its own record), or an older copy of this one:
    # writing would fork the chain.
    (tmp_path / "other").mkdir()
    other = tmp_path / "other" / "warehouse.duckdb"
    with Warehouse.open(other):
        pass
    os.replace(other, path)
    with pytest.raises(WarehouseDamagedError, match="the lake's unit 1 is not the one"):
        Warehouse.open(path)
    con = duckdb.connect(str(tmp_path / "other" / "empty.duckdb"))
    con.close()
    os.replace(tmp_path / "other" / "empty.duckdb", path)  # an empty file: no record at all
    with pytest.raises(WarehouseDamagedError, match="not the warehouse the lake recorded"):
        Warehouse.open(path)
    assert [u.manifest.label for u in record.scan(lake(tmp_path)).units] == [
        "base",
        "record_methodologies",
    ]


def test_an_older_copy_of_the_warehouse_never_forks_the_record(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        add_methodology(wh, "a")
    old = path.read_bytes()
    with Warehouse.open(path) as wh:
        add_methodology(wh, "b")
    path.write_bytes(old)  # restored from a backup: the lake is ahead
    with pytest.raises(WarehouseDamagedError, match=r"units after the warehouse's last one \(2\)"):
        Warehouse.open(path)
