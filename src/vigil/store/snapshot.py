"""A published, read-only copy of the store, for reading while a writer holds it.

DuckDB gives a file to one process: while `vigil watch` writes the store, no other process
can even open it read-only. So the writer *publishes* a snapshot after each cycle:
``vigil.duckdb`` is checkpointed and copied to ``vigil.snapshot.duckdb`` beside it, through a
temporary file in the same folder, fsynced and renamed over the old snapshot (``os.replace``
is atomic: a reader finds the old file or the new one, never half of one). A reader that
already has the old snapshot open keeps reading it (its file descriptor holds the old
inode) until it reopens. Readers that meet a busy store open the snapshot instead
(:func:`vigil.store.db.open_store`), and the dashboard follows each new one.

The snapshot's mtime is its publish time (set before the rename); a small JSON beside it
(``vigil.snapshot.json``) says the same with what was published, for people and tools.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import StoreError
from vigil.files import write_atomic

if TYPE_CHECKING:
    import duckdb

SUFFIX = ".snapshot"


def snapshot_path(db: str | Path) -> Path:
    """Where the snapshot of the store ``db`` is published: ``vigil.duckdb`` →
    ``vigil.snapshot.duckdb``, beside it."""
    p = Path(db)
    return p.with_name(f"{p.stem}{SUFFIX}{p.suffix or '.duckdb'}")


def meta_path(db: str | Path) -> Path:
    """The JSON beside the snapshot: ``vigil.snapshot.json``."""
    return snapshot_path(db).with_suffix(".json")


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot: its file and when it was published (its mtime, UTC)."""

    path: Path
    published_at: dt.datetime
    mtime_ns: int  #: the dashboard compares it to notice a newer snapshot

    def to_dict(self) -> dict:
        return {"path": str(self.path), "published_at": self.published_at.isoformat()}


def published(db: str | Path) -> Snapshot | None:
    """The snapshot published for ``db``, or None (one ``stat``: cheap enough to call often)."""
    path = snapshot_path(db)
    try:
        st = path.stat()
    except OSError:
        return None
    when = dt.datetime.fromtimestamp(st.st_mtime_ns / 1e9, dt.UTC).replace(microsecond=0)
    return Snapshot(path, when, st.st_mtime_ns)


def publish(con: duckdb.DuckDBPyConnection, db: str | Path) -> Path:
    """Publish the store ``db``, open for writing on ``con``, as its snapshot; return the
    snapshot's path. Call it between transactions (after a cycle): ``CHECKPOINT`` writes
    everything committed into the file, which is then copied whole (so the cost grows with
    the store: about a second per GB on local disk), fsynced and swapped in atomically.
    Nothing is left behind on failure."""
    db = Path(db)
    target = snapshot_path(db)
    started = time.monotonic()
    con.execute("CHECKPOINT")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=db.parent)
    os.close(fd)
    try:
        _copy_elsewhere(db, Path(tmp))
        os.chmod(tmp, db.stat().st_mode & 0o777)  # readable as the store is (not mkstemp's 0600)
        now = time.time()
        os.utime(tmp, (now, now))  # the publish time, read by :func:`published`
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(db.parent)
    meta = {
        "store": db.name,
        "snapshot": target.name,
        "published_at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
        "bytes": target.stat().st_size,
        "seconds": round(time.monotonic() - started, 3),
    }
    write_atomic(meta_path(db), json.dumps(meta, indent=2) + "\n")
    os.chmod(meta_path(db), target.stat().st_mode & 0o666)
    return target


def publish_free(db: str | Path) -> Path:
    """Publish the snapshot of a store no process holds: open it for writing just long
    enough to checkpoint (a crashed writer's WAL is folded in) and copy it. `vigil serve`
    does this when no current snapshot exists, so that it reads snapshots only and never
    holds the store a watcher starting later needs (:class:`~vigil.errors.StoreBusyError`
    when another process holds it: then that process publishes)."""
    from vigil.store.db import connect

    con = connect(db)
    try:
        return publish(con, db)
    finally:
        con.close()


def current(db: str | Path) -> Snapshot | None:
    """The published snapshot if it is at least as new as the store, else None."""
    snap = published(db)
    if snap is None:
        return None
    try:
        newer = Path(db).stat().st_mtime_ns > snap.mtime_ns
    except OSError:
        newer = False
    return None if newer else snap


# The copy runs in a child process. DuckDB locks the store with POSIX record locks, and
# POSIX drops every lock a process holds on a file when the process closes *any* descriptor
# of that file: reading the store here (open, read, close) would silently unlock it, and let
# another process open it beside the writer. A child's descriptors are its own.
_COPY = """
import os, shutil, sys
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out, 16 << 20)
    out.flush()
    os.fsync(out.fileno())
"""


def _copy_elsewhere(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` (fsynced) in a child process (see :data:`_COPY`)."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _COPY, str(src), str(dst)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no message"]
        raise StoreError(f"cannot publish a snapshot of {src}: {lines[-1]}", "check the disk")


def opened_from(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file ``con`` reads (None for an in-memory store)."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return Path(row[0]) if row and row[0] else None


def is_snapshot(con: duckdb.DuckDBPyConnection, db: str | Path) -> Snapshot | None:
    """The snapshot ``con`` was opened on, when :func:`~vigil.store.db.open_store` fell back
    to it for the store ``db``; otherwise None."""
    path = opened_from(con)
    if path is None or path.resolve() != snapshot_path(db).resolve():
        return None
    return published(db)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
