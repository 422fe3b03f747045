"""The lake: a Parquet mirror of the store's evidence tables, for engines other than
DuckDB (Spark reads it; a cluster reads it from a path every node can see).

The store stays the system of record: every load, merge and match happens there, and the
lake follows. What a query reads is mirrored (the columns of
:data:`vigil.query.tables.TABLES`, never ``raw``), one Parquet file per table and batch
(``events/batch-42.parquet``), so keeping the mirror in step costs what changed, not what
is stored:

* a batch not yet mirrored is written;
* a mirrored batch whose row count changed is rewritten. A batch's rows never change in
  place: a revision deletes the stored row and writes the new one under the newer batch,
  and a withdrawal deletes it, so a changed batch always has *fewer* rows, and the count
  is an exact test;
* a batch that no longer has rows loses its file;
* tables without batches (``text_matches``) are rewritten whole when their count or
  latest ``matched_at`` moved; the border distances follow their events' batches, and
  are rewritten whole when their geometry changed.

Each file is written beside its place and renamed over it, and the state
(``lake.json``, what each file holds) last: a crash leaves a lake that the next sync
repairs, never one that a reader sees half-written. The lake names its store and refuses
another one, so two stores never mix their batches in one folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from vigil.errors import StoreError
from vigil.files import write_atomic
from vigil.query.tables import TABLES

STATE = "lake.json"
#: record tables mirrored per batch, and the one table mirrored whole
BATCHED = ("events", "observations", "documents", "event_border_km")
WHOLE = ("text_matches",)
_TYPES = {"string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP", "float64": "DOUBLE",
          "int64": "BIGINT"}  # fmt: skip


@dataclass(frozen=True)
class Synced:
    """What one sync wrote (files) and removed, per table."""

    written: dict[str, int]
    removed: dict[str, int]

    @property
    def changed(self) -> bool:
        return any(self.written.values()) or any(self.removed.values())


def columns(table: str) -> list[tuple[str, str]]:
    """The mirrored columns of ``table`` and their DuckDB types."""
    schema = TABLES[table].schema()
    cols = [(n, _TYPES[str(t).rstrip("!")]) for n, t in schema.items()]
    if table in BATCHED and "batch_id" not in schema:
        cols.append(("batch_id", "BIGINT"))
    return cols


def store_identity(con: duckdb.DuckDBPyConnection) -> str:
    """The store file the connection writes (its real path)."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                       "current_database()").fetchone()[0]  # fmt: skip
    return os.path.realpath(path) if path else ":memory:"


class Lake:
    """A folder of Parquet files mirroring one store."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def folder(self, table: str) -> Path:
        return self.path / table

    def _state(self, store: str) -> dict:
        file = self.path / STATE
        if not file.exists():
            return {"store": store, "tables": {}}
        state = json.loads(file.read_text(encoding="utf-8"))
        if state.get("store") != store:
            raise StoreError(
                f"lake {self.path} mirrors store {state.get('store')}, not {store}",
                "give each store its own --lake folder (or delete this one to rebuild it)",
            )
        return state

    def sync(self, con: duckdb.DuckDBPyConnection) -> Synced:
        """Bring the mirror in step with the store (see the module docstring)."""
        store = store_identity(con)
        state = self._state(store)
        written: dict[str, int] = {}
        removed: dict[str, int] = {}
        tables = state["tables"]
        for table in BATCHED:
            if not _exists(con, table):
                continue
            tables[table], written[table], removed[table] = self._sync_batched(
                con, table, tables.get(table, {})
            )
        for table in WHOLE:
            tables[table], written[table] = self._sync_whole(con, table, tables.get(table))
            removed[table] = 0
        write_atomic(self.path / STATE, json.dumps(state, indent=1, sort_keys=True))
        return Synced(written, removed)

    def _sync_batched(self, con, table: str, known: dict) -> tuple[dict, int, int]:
        fingerprint = _generation(con, table)
        if known.get("_generation") != fingerprint:
            known = {}  # rebuilt (border geometry changed): every file again
        counts = {str(b): n for b, n in con.execute(
            f"SELECT batch_id, count(*) FROM {table} GROUP BY batch_id").fetchall()}  # fmt: skip
        folder = self.folder(table)
        folder.mkdir(parents=True, exist_ok=True)
        written = removed = 0
        for batch, n in counts.items():
            if known.get(batch) != n or not (folder / f"batch-{batch}.parquet").exists():
                self._write(con, table, folder / f"batch-{batch}.parquet", "batch_id = ?",
                            [int(batch)])  # fmt: skip
                written += 1
        for file in folder.glob("batch-*.parquet"):
            batch = file.stem.removeprefix("batch-")
            if batch not in counts and batch != "empty":
                file.unlink()
                removed += 1
        empty = folder / "batch-empty.parquet"  # so an engine knows the columns of no rows
        if not counts and not empty.exists():
            self._write(con, table, empty, "FALSE", [])
        elif counts and empty.exists():
            empty.unlink()
        return {**counts, "_generation": fingerprint}, written, removed

    def _sync_whole(self, con, table: str, known) -> tuple[list, int]:
        mark = [str(v) for v in con.execute(
            f"SELECT count(*), max(matched_at) FROM {table}").fetchone()]  # fmt: skip
        file = self.folder(table) / "all.parquet"
        if known == mark and file.exists():
            return mark, 0
        file.parent.mkdir(parents=True, exist_ok=True)
        self._write(con, table, file, "TRUE", [])
        return mark, 1

    def _write(self, con, table: str, file: Path, where: str, params: list) -> None:
        cols = ", ".join(f'CAST("{n}" AS {t}) AS "{n}"' for n, t in columns(table))
        tmp = file.with_name(f".{file.name}.tmp")
        con.execute(
            f"COPY (SELECT {cols} FROM {table} WHERE {where}) TO '{_quote(tmp)}' "
            "(FORMAT parquet, COMPRESSION zstd)",
            params,
        )
        os.replace(tmp, file)


def _exists(con, table: str) -> bool:
    sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary"
    return bool(con.execute(sql, [table]).fetchone()[0])


def _generation(con, table: str) -> str:
    """What invalidates every file of a table at once: the border geometry, for the
    border distances (:mod:`vigil.geo.events`); nothing for the record tables."""
    if table != "event_border_km" or not _exists(con, "border_km_state"):
        return ""
    rows = con.execute(
        "SELECT border, fingerprint, max_km FROM border_km_state ORDER BY border"
    ).fetchall()
    return json.dumps([list(map(str, r)) for r in rows])


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
