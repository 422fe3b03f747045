"""Open the DuckDB evidence store and bring its schema up to date."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from vigil import settings
from vigil.errors import StoreError
from vigil.store.migrations import MIGRATIONS


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store at ``path`` (created if missing) with every migration applied.

    ``:memory:`` gives a throw-away store (tests). A read-only open of a store that
    lacks migrations fails rather than silently reading an old schema.
    """
    target = str(path)
    if target != ":memory:":
        p = Path(target)
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
        raise StoreError(
            f"cannot open store {target}: {str(exc).splitlines()[0]}",
            "another vigil process may hold it; wait for it to finish or use --db PATH",
        ) from exc
    con.execute(f"SET memory_limit = '{_memory_limit()}'")
    pending = pending_migrations(con)
    if pending and read_only:
        raise StoreError(
            f"store {target} needs migrations {', '.join(pending)}",
            "open it once without read-only (e.g. `vigil status`) to migrate",
        )
    for name in pending:
        _apply(con, name)
    return con


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
