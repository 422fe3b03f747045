"""The lake: a Parquet mirror of the store that follows it batch by batch (no Spark needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from vigil.errors import StoreError
from vigil.query.lake import Lake, store_identity
from vigil.store import connect
from vigil.store.snapshot import snapshot_path


def add(con, sid: str, batch: int, summary: str = "s") -> None:
    con.execute(
        """INSERT INTO events (source, source_id, occurred_on, occurred_until, category,
               summary, available_at, available_basis, raw, record_hash, batch_id)
           VALUES ('test', ?, DATE '2022-02-01', DATE '2022-02-01', 'DEPLOY', ?,
                   TIMESTAMP '2022-02-02', 'test', '{}', ?, ?)""",
        [sid, summary, f"h{batch}", batch],
    )
    batch_row(con, batch)


def batch_row(con, batch: int) -> None:
    """The manifest row a load writes with its records."""
    con.execute(
        """INSERT INTO batches (batch_id, source, kind, input, sha256, bytes, rows_in, loaded,
               updated, duplicates, rejected, loader_version, started_at, finished_at)
           VALUES (?, 'test', 'events', 'f', 'x', 1, 1, 1, 0, 0, 0, 'test',
                   now()::TIMESTAMP, now()::TIMESTAMP) ON CONFLICT DO NOTHING""",
        [batch],
    )


def mirrored(lake: Lake) -> list[tuple]:
    folder = lake.folder("events")
    return duckdb.sql(
        f"SELECT source_id, summary, batch_id FROM read_parquet('{folder}/*.parquet') ORDER BY 1"
    ).fetchall()


def test_the_lake_follows_new_revised_and_withdrawn_records(tmp_path: Path) -> None:
    con = connect(tmp_path / "v.duckdb")
    lake = Lake(tmp_path / "lake")
    add(con, "a", 1)
    add(con, "b", 1)
    assert lake.sync(con).written["events"] == 1
    assert mirrored(lake) == [("a", "s", 1), ("b", "s", 1)]
    # nothing loaded since: nothing written (only the manifest is read)
    synced = lake.sync(con)
    assert not synced.written["events"] and not synced.changed
    # batch 2 revises b and adds c: batch 1's file shrinks, batch 2's appears
    con.execute("DELETE FROM events WHERE source_id = 'b'")
    add(con, "b", 2, "revised")
    add(con, "c", 2)
    assert lake.sync(con).written["events"] == 2
    assert mirrored(lake) == [("a", "s", 1), ("b", "revised", 2), ("c", "s", 2)]
    # batch 3 withdraws a: batch 1 has no row left, so its file goes
    con.execute("DELETE FROM events WHERE source_id = 'a'")
    con.execute("INSERT INTO tombstones VALUES ('test', 'events', 'a', now()::TIMESTAMP, 3)")
    batch_row(con, 3)
    assert lake.sync(con).removed["events"] == 1
    assert mirrored(lake) == [("b", "revised", 2), ("c", "s", 2)]
    assert not (lake.folder("events") / "batch-1.parquet").exists()
    # never the raw line
    cols = duckdb.sql(f"DESCRIBE SELECT * FROM '{lake.folder('events')}/*.parquet'").fetchall()
    assert "raw" not in {c[0] for c in cols}
    con.close()


def test_an_empty_table_still_has_its_columns(tmp_path: Path) -> None:
    con = connect(tmp_path / "v.duckdb")
    lake = Lake(tmp_path / "lake")
    lake.sync(con)
    assert (lake.folder("documents") / "batch-empty.parquet").exists()
    add(con, "a", 1)
    lake.sync(con)
    assert not (lake.folder("events") / "batch-empty.parquet").exists()
    con.close()


def test_a_lake_belongs_to_one_store_and_its_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    con = connect(db)
    add(con, "a", 1)
    lake = Lake(tmp_path / "lake")
    lake.sync(con)
    con.execute("CHECKPOINT")
    con.close()
    shutil.copyfile(db, snapshot_path(db))
    snap = duckdb.connect(str(snapshot_path(db)), read_only=True)
    assert store_identity(snap) == str(db.resolve())
    lake.sync(snap)  # the published snapshot is the same store, a little older
    snap.close()
    other = connect(tmp_path / "other.duckdb")
    with pytest.raises(StoreError, match="its own --lake"):
        lake.sync(other)
    other.close()


def test_a_deleted_or_truncated_file_or_a_broken_state_is_repaired(tmp_path: Path) -> None:
    con = connect(tmp_path / "v.duckdb")
    lake = Lake(tmp_path / "lake")
    add(con, "a", 1)
    add(con, "b", 2)
    lake.sync(con)
    want = mirrored(lake)
    (lake.folder("events") / "batch-1.parquet").unlink()
    assert lake.sync(con).written["events"] == 1
    assert mirrored(lake) == want
    file = lake.folder("events") / "batch-2.parquet"
    file.write_bytes(file.read_bytes()[:100])
    assert lake.sync(con).written["events"] == 1
    assert mirrored(lake) == want
    for broken in ("{not json", "[]", '{"format": 99}'):
        (lake.path / "lake.json").write_text(broken)
        assert lake.sync(con).written["events"] == 2  # started afresh: every file again
        assert mirrored(lake) == want
    con.close()


def test_a_lake_that_cannot_be_a_folder_is_a_store_error(tmp_path: Path) -> None:
    con = connect(tmp_path / "v.duckdb")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="afile"):
        Lake(tmp_path / "afile").sync(con)
    con.close()
