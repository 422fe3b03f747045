"""Open the DuckDB evidence store and bring its schema up to date."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from vigil import settings
from vigil.errors import StoreBusyError, StoreError, StoreOutdatedError
from vigil.store.migrations import MIGRATIONS


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store at ``path`` (created if missing) with every migration applied.

    ``:memory:`` gives a throw-away store (tests). A read-only open of a store that
    lacks migrations fails rather than silently reading an old schema.
    """
    target = str(path)
    if target != ":memory:":
        p = Path(target)
        if p.is_dir():
            raise StoreError(
                f"store {target} is a directory: pass a .duckdb file", "--db PATH or VIGIL_DB"
            )
        _check_kind(p)
        if read_only and not p.exists():
            raise StoreError(
                f"store {target} does not exist",
                "run `vigil ingest --data DIR` (or `vigil demo`) first, or pass --db PATH",
            )
        if not read_only:
            p.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        raise _open_error(target, exc) from exc
    con.execute(f"SET memory_limit = '{_memory_limit()}'")
    pending = pending_migrations(con)
    if pending and read_only:
        con.close()
        raise StoreOutdatedError(
            f"store {target} needs migrations {', '.join(pending)} (it was made by an older "
            "vigil) and was opened read-only",
            "run `vigil status --db PATH` once while no other vigil process (such as "
            "`vigil serve`) holds the store: it migrates it",
        )
    for name in pending:
        _apply(con, name)
    return con


#: DuckDB's file header: its magic sits at bytes 8–11
_DUCKDB_MAGIC = (8, b"DUCK")


def _check_kind(p: Path) -> None:
    """Refuse a file that is not a DuckDB store before DuckDB opens it: given a SQLite
    file, DuckDB would try to download its SQLite extension rather than say so."""
    if p.exists() and not p.is_file():
        # a FIFO or a device: DuckDB would block on it for ever, waiting for a writer
        raise StoreError(
            f"{p} is not a regular file", "check --db (or VIGIL_DB): pass a .duckdb file"
        )
    if not p.is_file() or p.stat().st_size == 0:
        return  # missing (created if allowed) or empty: DuckDB's own error names it
    if _open_here(p):
        # DuckDB has it open in this process, so it is a store; and reading it here would
        # drop DuckDB's lock (POSIX drops a process's record locks on a file when the
        # process closes any descriptor of it), letting another process in beside us
        return
    with p.open("rb") as fh:
        head = fh.read(16)
    at, magic = _DUCKDB_MAGIC
    if head[at : at + len(magic)] == magic:
        return
    kind = (
        "a SQLite database" if head.startswith(b"SQLite format 3\x00") else "a file of another kind"
    )
    raise StoreError(
        f"{p} is not a DuckDB store ({kind})",
        "check --db (or VIGIL_DB): it names a file that is not a Vigil store",
    )


def _open_here(p: Path) -> bool:
    """Whether this process already has ``p`` open (Linux: its descriptors in /proc)."""
    fds = Path("/proc/self/fd")
    try:
        target = p.resolve()
        return any(Path(os.readlink(fd)) == target for fd in fds.iterdir())
    except OSError:
        return False  # no /proc (or a descriptor closed meanwhile): check the header


def _open_error(target: str, exc: duckdb.IOException) -> StoreError:
    """What DuckDB's IOException on open means, told apart by its text (DuckDB has one
    exception type for all of them): a lock held by another process, a file of another
    kind, a permission, or anything else (said as it is, with no guessed cause)."""
    first = str(exc).splitlines()[0]
    text = first.lower()
    if "lock" in text:
        return StoreBusyError(
            f"cannot open store {target}: {first}",
            "another vigil process may hold it; wait for it to finish or use --db PATH",
        )
    if "not a valid duckdb database file" in text or "invalid magic" in text:
        return StoreError(
            f"{target} is not a DuckDB store: {first}",
            "check --db (or VIGIL_DB): it names a file of another kind",
        )
    if "is a directory" in text:
        return StoreError(f"store {target} is a directory: pass a .duckdb file", "--db PATH")
    if "permission denied" in text:
        return StoreError(
            f"cannot open store {target}: permission denied",
            "check the permissions of the file and its folder, or use --db PATH",
        )
    return StoreError(f"cannot open store {target}: {first}", "check --db PATH")


def pending_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of migrations not yet recorded in ``schema_migrations``."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()[0]
    done: set[str] = set()
    if exists:
        done = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
    return [name for name, _ in MIGRATIONS if name not in done]


def _apply(con: duckdb.DuckDBPyConnection, name: str) -> None:
    sql = dict(MIGRATIONS)[name]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)", [name])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _memory_limit() -> str:
    value = settings.get("memory_limit").strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)?", value, re.IGNORECASE):
        raise StoreError(f"VIGIL_MEMORY_LIMIT={value!r} is not a size", "use e.g. 1GB or 512MB")
    return value


def has_table(con, name: str, *, where: str = "any") -> bool:
    """Whether ``con`` sees table ``name``: ``"stored"`` in the store itself (not an
    attached database's, not a TEMP one), ``"temp"`` as a TEMP table, ``"any"`` either
    (what an unqualified name resolves to)."""
    scope = {
        "stored": "NOT temporary AND database_name = current_database()",
        "temp": "temporary",
        "any": "(temporary OR database_name = current_database())",
    }[where]
    sql = f"SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND {scope}"
    return bool(con.execute(sql, [name]).fetchone()[0])


@contextmanager
def transaction(con) -> Iterator[None]:
    """One transaction, rolled back on any error; DuckDB's progress bar off meanwhile."""
    bar = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0]
    con.execute("SET enable_progress_bar = false")  # a library must not draw on stderr
    try:
        con.execute("BEGIN TRANSACTION")  # fails inside a caller's transaction: not ours
        try:
            yield
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute(f"SET enable_progress_bar = {'true' if bar else 'false'}")


def open_store(db: Path, *, write: bool = False, create: bool = False, migrate: bool = True):
    """The store at ``db``, opened for writing or read-only.

    Only a command that loads data may ``create`` it: to any other, a missing file is a
    mistyped --db, and creating an empty store there would hide the mistake. A read-only
    open of a store made by an older Vigil migrates it first, unless not ``migrate``.
    """
    if not create and str(db) != ":memory:" and not Path(db).exists():
        raise StoreError(
            f"no store at {db}",
            "check --db (or VIGIL_DB); `vigil ingest --data DIR` or `vigil demo` builds one",
        )
    if write:
        try:
            return connect(db)
        except duckdb.ConnectionException as exc:
            if "different configuration" not in str(exc):
                raise
            # this process already holds the store read-only (one way per process)
            raise StoreError(
                f"store {db} is already open read-only in this process",
                "close that workspace (ws.close()) before opening the store for writing",
            ) from None
    return _open_reader(db, migrate)


def _open_reader(db: Path, migrate: bool):
    """:func:`open_store` read-only."""
    try:
        return connect(db, read_only=True)
    except StoreBusyError as exc:
        # Another process writes the store (`vigil watch`): read the snapshot it publishes
        # after each cycle, if any (``vigil.store.snapshot.is_snapshot`` tells the caller).
        return _snapshot_or(db, exc)
    except duckdb.ConnectionException as exc:
        # This process already has the store open for writing (a command run inside
        # another, as `vigil demo` runs its steps), and DuckDB opens a file one way per
        # process: share that way. No other process can hold it meanwhile anyway.
        if "different configuration" not in str(exc):
            raise
        return connect(db)
    except StoreOutdatedError as exc:
        if not migrate:
            raise
        # A store from an older vigil: migrating is no change to its data, so a reader
        # does it, as every command did before readers opened read-only; unless another
        # process holds the store, when the error says what to do.
        try:
            connect(db).close()
        except StoreBusyError:
            raise exc from None
    return connect(db, read_only=True)


def _snapshot_or(db: Path, busy: StoreBusyError):
    """The published snapshot of ``db``, read-only, or ``busy`` raised when there is none."""
    from vigil.store.snapshot import snapshot_path

    snap = snapshot_path(db)
    if not snap.is_file():
        raise busy
    try:
        return connect(snap, read_only=True)
    except StoreError:
        raise busy from None
