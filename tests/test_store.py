"""The store: migrations, read-only opening, schema evolution through the merge."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import vigil.store.db as db_module
from gdelt_rows import rows, write
from vigil.errors import StoreBusyError, StoreError, StoreOutdatedError
from vigil.ingest import ingest_file
from vigil.sources import acled, gdelt
from vigil.store import connect, pending_migrations
from vigil.store.migrations import MIGRATIONS

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_fresh_store_records_every_migration(con) -> None:
    names = [r[0] for r in con.execute("SELECT name FROM schema_migrations ORDER BY 1").fetchall()]
    assert names == [name for name, _ in MIGRATIONS]
    assert pending_migrations(con) == []


def test_old_store_is_migrated_on_open_and_keeps_its_rows(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:1])
    old = connect(path)
    old.execute(
        "INSERT INTO events (source, source_id, occurred_on, occurred_until, category, "
        "available_at, available_basis, raw, record_hash, batch_id) "
        "SELECT 'gdelt', i::VARCHAR, DATE '2022-02-20', DATE '2022-02-20', 'CONSULT', "
        "TIMESTAMP '2022-02-20 10:15:00', 'DATEADDED', 'x', md5('x'), 1 FROM range(3) t(i)"
    )
    old.close()
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    with pytest.raises(
        StoreError, match="needs migrations 0002_event_actor_types, 0003_tombstones"
    ):
        connect(path, read_only=True)
    new = connect(path)
    assert pending_migrations(new) == []
    got = new.execute("SELECT count(*), count(actor1_type) FROM events").fetchone()
    assert got == (3, 0)  # rows kept; the new column is empty for rows loaded before it


def test_read_only_open_of_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        connect(tmp_path / "none.duckdb", read_only=True)


def test_bad_memory_limit(monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_MEMORY_LIMIT", "lots")
    with pytest.raises(StoreError, match="VIGIL_MEMORY_LIMIT='lots' is not a size"):
        connect(":memory:")


def test_actor_types_reach_the_store(con, tmp_path: Path) -> None:
    ingest_file(con, acled.ADAPTER, FIXTURES / "acled" / "acled_export_synthetic.csv")
    types = {r[0] for r in con.execute("SELECT DISTINCT actor1_type FROM events").fetchall()}
    assert "State forces" in types
    ingest_file(con, gdelt.ADAPTER, write(tmp_path / "20220220101500.export.CSV", rows(2)))
    got = con.execute("SELECT DISTINCT actor1_type FROM events WHERE source = 'gdelt'").fetchall()
    assert got == [("MIL",)]


def test_tombstone_before_the_record_keeps_it_withdrawn(con, tmp_path: Path) -> None:
    """A deletion loaded before or after the event: either order ends with no event."""
    events = FIXTURES / "acled" / "acled_export_synthetic.csv"
    ingest_file(con, acled.ADAPTER, events)
    ids = {r[0] for r in con.execute("SELECT source_id FROM events").fetchall()}
    withdrawn = sorted(ids)[0]
    deletions = tmp_path / "acled_deleted_test.csv"
    deletions.write_text(f"event_id_cnty,deleted_timestamp\n{withdrawn},4102444800\n")

    first = connect(":memory:")  # deletion first, then the events
    assert ingest_file(first, acled.ADAPTER, deletions).deleted == 1
    late = ingest_file(first, acled.ADAPTER, events)
    assert (late.deleted, late.loaded) == (1, len(ids) - 1)
    kept = {r[0] for r in first.execute("SELECT source_id FROM events").fetchall()}
    assert kept == ids - {withdrawn}

    after = ingest_file(con, acled.ADAPTER, deletions)  # events first, then the deletion
    assert after.deleted == 1
    assert {r[0] for r in con.execute("SELECT source_id FROM events").fetchall()} == kept
    manifest = con.execute(
        "SELECT rows_in, loaded, duplicates, rejected, deleted FROM batches WHERE batch_id = ?",
        [after.batch_id],
    ).fetchone()
    assert manifest == (1, 0, 0, 0, 1)


# ------------------------------------------------------- opening errors (issue 13, defect 8)
def test_open_error_hints_tell_the_causes_apart(tmp_path: Path, monkeypatch) -> None:
    """DuckDB raises one IOException for a lock, a foreign file and a permission: each gets
    its own hint, and only a lock is blamed on another process."""
    causes = {
        'Could not set lock on file "x": Conflicting lock is held': "another vigil process",
        'The file "x" exists, but it is not a valid DuckDB database file!': "not a DuckDB store",
        'Cannot open file "x": Permission denied': "permission denied",
    }
    for text, said in causes.items():

        def refuse(*a, text=text, **k):
            raise duckdb.IOException(f"IO Error: {text}")

        monkeypatch.setattr(db_module.duckdb, "connect", refuse)
        with pytest.raises(StoreError) as exc:
            connect(tmp_path / "v.duckdb")
        assert said in str(exc.value)
        assert ("another vigil process" in str(exc.value)) == (said == "another vigil process")
        assert isinstance(exc.value, StoreBusyError) == (said == "another vigil process")


def test_directory_is_not_a_store(tmp_path: Path) -> None:
    for read_only in (False, True):
        with pytest.raises(StoreError, match=r"is a directory: pass a \.duckdb file"):
            connect(tmp_path, read_only=read_only)


def _old_store(path: Path, monkeypatch) -> None:
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:1])
    connect(path).close()
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)


def test_reader_migrates_an_old_store_then_reads_it_read_only(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from vigil.cli import app

    path = tmp_path / "old.duckdb"
    _old_store(path, monkeypatch)
    with pytest.raises(StoreOutdatedError, match="vigil status --db PATH"):
        connect(path, read_only=True)
    result = CliRunner().invoke(app, ["status", "--db", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert pending_migrations(connect(path, read_only=True)) == []


def test_a_second_open_in_the_writing_process_keeps_the_writers_lock(tmp_path) -> None:
    """Checking a store's header means opening and closing its file; in the process that
    already writes it, that would drop DuckDB's POSIX lock and let another process in."""
    import subprocess
    import sys

    db = tmp_path / "v.duckdb"
    writer = connect(db)
    try:
        with pytest.raises(duckdb.ConnectionException):
            connect(db, read_only=True)  # refused by DuckDB, after the header check
        code = "import duckdb, sys; duckdb.connect(sys.argv[1]); print('opened')"
        other = subprocess.run([sys.executable, "-c", code, str(db)],
                               capture_output=True, text=True, check=False)  # fmt: skip
        assert other.returncode != 0 and "lock" in other.stderr.lower()
    finally:
        writer.close()
