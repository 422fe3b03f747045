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

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from vigil.errors import StoreError
from vigil.files import write_atomic
from vigil.query.tables import TABLES
from vigil.store import has_table
from vigil.store.snapshot import SUFFIX as SNAPSHOT

STATE = "lake.json"
LOCK = ".lock"
#: the state file's format: another (older, newer, unreadable) is started afresh
FORMAT = 2
#: record tables mirrored per batch, and the one table mirrored whole
BATCHED = ("events", "observations", "documents", "event_border_km")
RECORDS = ("events", "observations", "documents")
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
    """The store the connection reads (its real path). A published snapshot
    (``vigil.snapshot.duckdb``, read while another process writes the store) is the same
    store, a little older: it shares the store's lake."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                       "current_database()").fetchone()[0]  # fmt: skip
    if not path:
        return ":memory:"
    real = Path(os.path.realpath(path))
    if real.stem.endswith(SNAPSHOT):
        real = real.with_name(real.stem.removesuffix(SNAPSHOT) + real.suffix)
    return str(real)


class Lake:
    """A folder of Parquet files mirroring one store."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def folder(self, table: str) -> Path:
        return self.path / table

    def _state(self, store: str) -> dict:
        """What the files hold. A state file that cannot be read, or of another format, is
        started afresh: the lake is a copy, and a full sync rewrites every file."""
        fresh = {"format": FORMAT, "store": store, "tables": {}}
        file = self.path / STATE
        if not file.exists():
            return fresh
        try:
            state = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return fresh
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            return fresh
        if not isinstance(state.get("tables"), dict):
            return fresh
        if state.get("store") != store:
            raise StoreError(
                f"lake {self.path} mirrors store {state.get('store')}, not {store}",
                "give each store its own --lake folder (or delete this one to rebuild it)",
            )
        return state

    def sync(self, con: duckdb.DuckDBPyConnection, tables=None) -> Synced:
        """Bring the mirror in step with the store (see the module docstring); ``tables``:
        only these (default all). One sync at a time per lake (a lock file: two
        processes may share it)."""
        store = store_identity(con)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = (self.path / LOCK).open("a")
        except OSError as exc:
            raise StoreError(
                f"lake {self.path}: {exc.strerror or exc}",
                "give --lake (VIGIL_LAKE) a folder this process can create and write",
            ) from exc
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._state(store)
            written: dict[str, int] = {}
            removed: dict[str, int] = {}
            known_tables = state["tables"]
            newest = _newest_batch(con)
            for table in BATCHED:
                if tables is not None and table not in tables:
                    continue
                if not has_table(con, table, where="stored"):
                    continue
                known = known_tables.get(table)
                known = known if isinstance(known, dict) else {}
                if (
                    table in RECORDS
                    and known.get("_newest") == newest
                    and self._intact(table, known)
                ):
                    # every change to a record table comes with a new batch (a revision
                    # or a withdrawal is one): none since the last sync, nothing to do
                    written[table] = removed[table] = 0
                    continue
                known, written[table], removed[table] = self._sync_batched(con, table, known)
                known_tables[table] = {**known, "_newest": newest} if table in RECORDS else known
            for table in WHOLE:
                if tables is not None and table not in tables:
                    continue
                known_tables[table], written[table] = self._sync_whole(
                    con, table, known_tables.get(table)
                )
                removed[table] = 0
            write_atomic(self.path / STATE, json.dumps(state, indent=1, sort_keys=True))
        return Synced(written, removed)

    def _intact(self, table: str, known: dict) -> bool:
        """Whether every file the state names is there at the size it was written (a
        deleted or truncated file is written again)."""
        folder = self.folder(table)
        for batch, entry in known.items():
            if batch.startswith("_"):
                continue
            file = folder / f"batch-{batch}.parquet"
            if not isinstance(entry, list) or not file.exists():
                return False
            if file.stat().st_size != entry[1]:
                return False
        return True

    def _sync_batched(self, con, table: str, known: dict) -> tuple[dict, int, int]:
        fingerprint = _generation(con, table)
        if known.get("_generation") != fingerprint:
            known = {}  # rebuilt (border geometry changed): every file again
        counts = {str(b): n for b, n in con.execute(
            f"SELECT batch_id, count(*) FROM {table} GROUP BY batch_id").fetchall()}  # fmt: skip
        folder = self.folder(table)
        folder.mkdir(parents=True, exist_ok=True)
        written = removed = 0
        entries: dict = {}
        for batch, n in counts.items():
            file = folder / f"batch-{batch}.parquet"
            entry = known.get(batch)
            fine = (
                isinstance(entry, list) and entry[0] == n and file.exists()
                and file.stat().st_size == entry[1]
            )  # fmt: skip
            if not fine:
                self._write(con, table, file, "batch_id = ?", [int(batch)])
                written += 1
            entries[batch] = [n, file.stat().st_size]
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
        return {**entries, "_generation": fingerprint}, written, removed

    def _sync_whole(self, con, table: str, known) -> tuple[list, int]:
        file = self.folder(table) / "all.parquet"
        mark = [str(v) for v in con.execute(
            f"SELECT count(*), max(matched_at) FROM {table}").fetchone()]  # fmt: skip
        same = isinstance(known, list) and len(known) == 3 and known[:2] == mark
        if same and file.exists() and file.stat().st_size == known[2]:
            return known, 0
        file.parent.mkdir(parents=True, exist_ok=True)
        self._write(con, table, file, "TRUE", [])
        return [*mark, file.stat().st_size], 1

    def _write(self, con, table: str, file: Path, where: str, params: list) -> None:
        cols = ", ".join(f'CAST("{n}" AS {t}) AS "{n}"' for n, t in columns(table))
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        con.execute(
            f"COPY (SELECT {cols} FROM {table} WHERE {where}) TO '{_quote(tmp)}' "
            "(FORMAT parquet, COMPRESSION zstd)",
            params,
        ).fetchall()  # consumed: an open result would block the connection's next call
        os.replace(tmp, file)


def _newest_batch(con) -> str:
    """What changes whenever the records do: the manifest's newest batch, its size and its
    last finish (one small table, not the records; a store restored from a backup at the
    same path differs in them too)."""
    row = con.execute(
        "SELECT coalesce(max(batch_id), 0), count(*), max(finished_at) FROM batches"
    ).fetchone()
    return "|".join(map(str, row))


def _generation(con, table: str) -> str:
    """What invalidates every file of a table at once: the border geometry, for the
    border distances (:mod:`vigil.geo.events`); nothing for the record tables."""
    if table != "event_border_km" or not has_table(con, "border_km_state", where="stored"):
        return ""
    rows = con.execute(
        "SELECT border, fingerprint, max_km FROM border_km_state ORDER BY border"
    ).fetchall()
    return json.dumps([list(map(str, r)) for r in rows])


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
