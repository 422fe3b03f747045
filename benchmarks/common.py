"""Helpers shared by the benchmark scripts (imported from the scripts' own folder)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent


def pin_two_cores() -> str:
    """Restrict this process to two CPUs where the OS allows it (the goals are for 2 cores)."""
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, cpus)
        return f"cpus {cpus}"
    return "affinity not supported: all cores"


def timed(fn, *args, **kwargs):
    """``fn``'s result and its wall-clock seconds."""
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def store_arguments(doc: str, dates: tuple[str, ...], argv: list[str] | None = None):
    """The options of the benchmarks that run on a copy of a full store: ``--db``,
    ``--data``, ``--theatre``, ``--dates``, ``--repeat``; None (after saying why) when the
    store is missing."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("vigil.duckdb"), help="full store to copy")
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--theatre", default="belarus")
    ap.add_argument("--dates", nargs="*", default=list(dates))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.db.is_file():
        print(f"no store at {args.db}: build one with `vigil ingest --data DIR`", file=sys.stderr)
        return None
    return args


@contextmanager
def store_copy(db: Path) -> Iterator[tuple[object, Path]]:
    """A connection to a temporary copy of ``db`` (the runs write matches and TEMP tables)
    limited to two DuckDB threads, and the temporary folder (for caches)."""
    from vigil.store import connect

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store.duckdb"
        shutil.copy(db, copy)
        con = connect(copy)
        con.execute("SET threads TO 2")
        try:
            yield con, Path(tmp)
        finally:
            con.close()
