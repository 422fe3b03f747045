"""The store: migrations, read-only opening, schema evolution through the merge."""

from __future__ import annotations

from pathlib import Path

import pytest

import vigil.store.db as db_module
from gdelt_rows import rows, write
from vigil.errors import StoreError
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
    ingest_file(old, gdelt.ADAPTER, write(tmp_path / "20220220101500.export.CSV", rows(3)))
    old.close()
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    with pytest.raises(StoreError, match="needs migrations 0002_event_actor_types"):
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
