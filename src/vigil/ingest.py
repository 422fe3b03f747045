"""The one place sources meet the store: stage → validate → merge → count → commit.

Guarantees, per batch (one input file):

* **transactional** — everything happens in one DuckDB transaction; an error or an
  interrupt rolls it back and the store is exactly as before;
* **idempotent** — records are keyed on ``(source, source_id)``; a row already stored
  with the same content is a duplicate, a changed row replaces the stored one only if it
  is at least as recent (``available_at``), and a file whose checksum was already loaded
  is skipped unless ``force``;
* **no silent loss** — every input row is loaded, counted as a duplicate, or written to
  ``rejects`` with its line and reason, and ``rows_in = loaded + duplicates + rejected
  + deleted`` is checked before commit; a batch whose reject share passes the threshold
  fails whole;
* **damage is named** — a file that cannot be read (truncated or corrupt compression, a
  malformed CSV, bad text encoding) fails as an :class:`InputError` naming the file and
  the cause, never as a raw library exception (:func:`_reading`);
* **the batch describes its bytes** — the SHA-256 and size recorded are those of the bytes
  loaded: a file that changes while it is loaded fails the batch;
* **no NUL bytes** — NUL characters are stripped from every text column before the merge,
  and the batch notes how many rows had them.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import stat
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from vigil import __version__, settings
from vigil.errors import InputError, ReconciliationError, RejectThresholdError, VigilError
from vigil.sources.base import Adapter, Reject, Stage
from vigil.store.merge import merge_staged

if TYPE_CHECKING:
    from collections.abc import Sequence

STAGE = "_vigil_stage"
#: the hint of every file that cannot be read to its end
DAMAGED = "the file looks truncated or corrupt: re-download it"


@dataclass(frozen=True)
class BatchReport:
    """What one batch did; ``skipped`` when its checksum was already loaded."""

    source: str
    input: str
    kind: str
    batch_id: int | None
    rows_in: int
    loaded: int
    updated: int
    duplicates: int
    rejected: int
    deleted: int
    skipped: bool
    seconds: float
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


def sha256_file(path: Path) -> str:
    return _fingerprint(path)[0]


def _fingerprint(path: Path, *, check_gzip: bool = False) -> tuple[str, int]:
    """SHA-256 and size of the same pass over the bytes, so the two always agree.

    With ``check_gzip``, a file that starts with 1 MiB of NUL bytes fails at once, and a
    gzip file (by its magic bytes) is also inflated in the same pass
    and each member's CRC-32 and length checked: DuckDB's gzip reader checks neither, so a
    flipped bit in the deflate data would otherwise load as silently corrupted rows. A
    failed check raises ``zlib.error`` (or ``EOFError`` when the stream ends early), which
    :func:`_reading` names as damage.
    """
    digest, size = hashlib.sha256(), 0
    check: _GzipCheck | None = None
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            if check_gzip and size == 0:
                if chunk[:2] == GZIP_MAGIC:
                    check = _GzipCheck()
                elif len(chunk) == 1 << 20 and not chunk.strip(b"\0"):
                    raise InputError(  # fail fast: no data file starts with 1 MiB of NUL
                        f"{path}: the file begins with 1 MiB of NUL bytes and no text "
                        "(a zero-filled or sparse file, not a data file)",
                        DAMAGED,
                    )
            digest.update(chunk)
            size += len(chunk)
            if check is not None:
                check.feed(chunk)
    if check is not None:
        check.close()
    return digest.hexdigest(), size


GZIP_MAGIC = b"\x1f\x8b"


class _GzipCheck:
    """Inflate a gzip stream only to verify it: every member's CRC-32 and length (ISIZE),
    members one after another (concatenated gzip is valid), zero padding after the last
    member tolerated as Python's gzip does. Output is discarded in bounded pieces, so a
    highly compressed stream never needs more than a few MiB."""

    STEP = 1 << 22  # most inflated bytes held at once

    def __init__(self) -> None:
        self.inflater: zlib._Decompress | None = zlib.decompressobj(wbits=31)
        self.padding = False  # past the last member, only NUL bytes seen since

    def feed(self, data: bytes) -> None:
        while data:
            if self.inflater is None:
                rest = data.lstrip(b"\0")
                self.padding = self.padding or len(rest) < len(data)
                if not rest:
                    return
                if self.padding:
                    raise zlib.error("data after the zero padding that ends the gzip stream")
                self.inflater = zlib.decompressobj(wbits=31)
                data = rest
            self.inflater.decompress(data, self.STEP)
            while self.inflater.unconsumed_tail and not self.inflater.eof:
                self.inflater.decompress(self.inflater.unconsumed_tail, self.STEP)
            if not self.inflater.eof:
                return
            data = self.inflater.unused_data
            self.inflater = None

    def close(self) -> None:
        if self.inflater is not None:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    adapter: Adapter,
    path: Path,
    *,
    max_reject_share: float | None = None,
    force: bool = False,
    published_md5: str | None = None,
    label: str | None = None,
) -> BatchReport:
    """Load one file through ``adapter`` as one batch; see the module docstring."""
    started = time.perf_counter()
    share = settings.get_share("max_reject_share") if max_reject_share is None else max_reject_share
    path = Path(path)
    _check_readable(path)
    reader = adapter.reader_for(path)
    before = _stat(path)
    with _reading(path):
        checksum, size = _fingerprint(path, check_gzip=True)
    name = label or str(path)
    if not force:
        prior = con.execute(
            "SELECT batch_id FROM batches WHERE source = ? AND sha256 = ? LIMIT 1",
            [adapter.name, checksum],
        ).fetchone()
        if prior:
            return BatchReport(
                adapter.name,
                name,
                reader.kind,
                prior[0],
                0,
                0,
                0,
                0,
                0,
                0,
                True,
                time.perf_counter() - started,
                (f"already loaded as batch {prior[0]}",),
            )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DROP TABLE IF EXISTS {STAGE}")
        with _reading(path):
            stage = reader.stage(con, path, STAGE)
        report = _merge(
            con, adapter.name, reader, path, name, stage, share, started, (checksum, size),
            published_md5,
        )  # fmt: skip
        con.execute(f"DROP TABLE IF EXISTS {STAGE}")
        _check_unchanged(path, before, checksum)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn what reading a damaged file raises into an InputError naming file and cause.

    What counts as damage, and why (anything else is a bug and propagates as it is):

    * Python's decoders, raised only by bad bytes: ``EOFError`` (a gzip stream that ends
      early), ``zlib.error`` (a corrupt deflate stream), ``zipfile.BadZipFile``,
      ``csv.Error`` (e.g. a field over the csv module's 128 KB limit), ``UnicodeDecodeError``
      and ``json.JSONDecodeError``; ``RecursionError``, raised by the JSON decoder on
      input nested thousands deep (no real file is: it is hostile or garbage);
    * ``OSError`` — the readers touch no file but the input, so it is the input that
      cannot be read (``gzip.BadGzipFile`` is one: no gzip magic);
    * DuckDB's ``InvalidInputException`` and ``IOException`` when their text names the
      file or a reading failure (gzip, CSV, parquet, an unexpected end): DuckDB raises the
      same types for other causes (a full disk when writing), which stay store errors.
    """
    try:
        yield
    except VigilError:
        raise
    except Exception as exc:
        if not _is_damage(exc, path):
            raise
        cause = " ".join(str(exc).split()) or "no detail"
        if isinstance(exc, RecursionError):
            cause = "nested too deeply"  # e.g. JSON of 100,000 '[': no real file is
        cause = cause if len(cause) <= 300 else cause[:299] + "…"  # DuckDB's run to pages
        raise InputError(
            f"{path}: cannot be read ({type(exc).__name__}: {cause})", DAMAGED
        ) from exc


_PYTHON_DAMAGE = (EOFError, zlib.error, zipfile.BadZipFile, csv.Error, UnicodeDecodeError,
                  json.JSONDecodeError, OSError, RecursionError)  # fmt: skip
_DUCKDB_DAMAGE = ("gzip", "truncated", "csv", "unexpected end", "end of file", "parquet",
                  "magic bytes", "unicode", "utf-8", "sniff")  # fmt: skip


def _is_damage(exc: Exception, path: Path) -> bool:
    if isinstance(exc, _PYTHON_DAMAGE):
        return True
    if isinstance(exc, (duckdb.InvalidInputException, duckdb.IOException)):
        text = str(exc).lower()
        return str(path).lower() in text or any(w in text for w in _DUCKDB_DAMAGE)
    return False


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _check_unchanged(path: Path, before: tuple[int, int], checksum: str) -> None:
    """Fail (before COMMIT) if the file changed since it was hashed: the batch would
    record a checksum and size of bytes other than those loaded. A file only touched
    (same bytes, new mtime) passes: it is hashed again to tell."""
    try:
        same = _stat(path) == before or _fingerprint(path)[0] == checksum
    except OSError:
        same = False  # deleted or unreadable now: not the bytes hashed, as far as we know
    if not same:
        raise InputError(
            f"{path}: the file changed while it was being loaded (nothing was written)",
            "load it again once it is complete",
        )


def _check_readable(path: Path) -> None:
    odd = irregular(path)
    if odd == "no such file":
        raise InputError(f"{path}: no such file", "check the path")
    if odd is not None:
        raise InputError(f"{path}: {odd}", "give a file, or a data folder with --data")
    if path.stat().st_size == 0:
        raise InputError(
            f"{path}: the file is empty (0 bytes)",
            "re-download it: an empty file is usually an interrupted download",
        )


def irregular(path: Path) -> str | None:
    """Why ``path`` is not a regular file that can be read, or None if it is one.

    Only ``stat`` is used: a FIFO is never opened (opening it would block).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return (
            "a broken symlink (its target does not exist)"
            if path.is_symlink()
            else ("no such file")
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        return f"cannot be examined ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "not a file (a directory)"
    kinds = {stat.S_ISFIFO: "FIFO", stat.S_ISSOCK: "socket", stat.S_ISCHR: "character device",
             stat.S_ISBLK: "block device"}  # fmt: skip
    kind = next((name for test, name in kinds.items() if test(mode)), "special file")
    return f"not a regular file ({kind})"


def _merge(con, source, reader, path, name, stage: Stage, share, started, fingerprint, md5):
    table = reader.kind
    checksum, size = fingerprint
    with _reading(path):
        invalid = _validation_rejects(con, reader, path)
    # Readers' joins may reorder rows, so order by line for a stable "first" reject.
    rejects = sorted([*stage.rejects, *invalid], key=lambda r: (r.line is None, r.line or 0))
    rejects, nul_rejects = _rejects_without_nul(rejects)
    notes = (*stage.notes, *_strip_nul(con, STAGE, nul_rejects))
    rows_in = stage.rows_in
    if rows_in == 0:
        raise InputError(
            f"{path}: no rows to load (the file has no data rows)",
            "re-download it: an empty export usually means an interrupted download",
        )
    _check_share(path, stage, rejects, share)
    batch_id = con.execute("SELECT nextval('batch_id_seq')").fetchone()[0]
    keep_raw = settings.get_flag("keep_raw")  # record_hash was taken from raw at staging
    counts = merge_staged(con, STAGE, table, source, batch_id, keep_raw=keep_raw)
    loaded, updated = counts.loaded, counts.updated
    duplicates, deleted = counts.duplicates, counts.deleted
    total = loaded + duplicates + len(rejects) + deleted
    if total != rows_in:
        raise ReconciliationError(
            f"{path}: counts do not reconcile: {rows_in} rows in, {loaded} loaded + "
            f"{duplicates} duplicates + {len(rejects)} rejected + {deleted} deleted = {total}",
            "this is a bug in the adapter; nothing was written — please report it with the file",
        )
    _write_rejects(con, batch_id, source, name, rejects)
    seconds = time.perf_counter() - started
    con.execute(
        """INSERT INTO batches (batch_id, source, kind, input, sha256, published_md5, bytes,
               rows_in, loaded, updated, duplicates, rejected, notes, loader_version,
               started_at, finished_at, deleted)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
               now()::TIMESTAMP - to_microseconds(?::BIGINT), now()::TIMESTAMP, ?)""",
        [
            batch_id,
            source,
            table,
            name,
            checksum,
            md5,
            size,
            rows_in,
            loaded,
            updated,
            duplicates,
            len(rejects),
            "; ".join(notes) or None,
            __version__,
            int(seconds * 1e6),
            deleted,
        ],
    )
    return BatchReport(
        source,
        name,
        table,
        batch_id,
        rows_in,
        loaded,
        updated,
        duplicates,
        len(rejects),
        deleted,
        False,
        seconds,
        notes,
    )


def _validation_rejects(con, reader, path: Path) -> list[Reject]:
    """Rows that parsed but failed the reader's SQL validation, with their lines found."""
    rows = con.execute(f"SELECT _reject, raw FROM {STAGE} WHERE _reject IS NOT NULL").fetchall()
    if not rows:
        return []
    lines = reader.locate(path, [raw for _, raw in rows])
    con.execute(f"DELETE FROM {STAGE} WHERE _reject IS NOT NULL")
    return [Reject(lines.get(raw), "invalid", reason, raw) for reason, raw in rows]


def _rejects_without_nul(rejects: list[Reject]) -> tuple[list[Reject], int]:
    """Rejects with NUL removed from their text (they are stored too), and how many had it."""
    clean = [
        replace(r, reason=r.reason.replace("\0", ""), raw=r.raw and r.raw.replace("\0", ""))
        for r in rejects
    ]
    return clean, sum(a != b for a, b in zip(rejects, clean, strict=True))


def _strip_nul(con, table: str, rejects: int = 0) -> list[str]:
    """Remove NUL characters from every text column of the staged rows: no consumer of the
    store expects them, and they cut text short in C-string tools. Returns the batch note.

    The readers' ``record_hash`` was taken before, over the text as read: a later file
    with the same rows without the NUL bytes is an update, which is what it is."""
    columns: Sequence[str] = [
        r[0]
        for r in con.execute(f"DESCRIBE {table}").fetchall()
        if r[1] == "VARCHAR" and r[0] != "_reject"
    ]
    note = f"; {rejects} rejected rows" if rejects else ""
    if not columns:
        return [f"stripped NUL bytes from{note[1:]}"] if rejects else []
    quoted = [f'"{c}"' for c in columns]
    counts = con.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE contains({q}, chr(0)))" for q in quoted)
        + f", count(*) FILTER (WHERE {' OR '.join(f'contains({q}, chr(0))' for q in quoted)})"
        f" FROM {table}"
    ).fetchone()
    hit = [c for c, n in zip(columns, counts[:-1], strict=True) if n]
    if not hit:
        return [f"stripped NUL bytes from{note[1:]}"] if rejects else []
    sets = ", ".join(f'"{c}" = replace("{c}", chr(0), \'\')' for c in hit)
    where = " OR ".join(f'contains("{c}", chr(0))' for c in hit)
    con.execute(f"UPDATE {table} SET {sets} WHERE {where}")
    return [f"stripped NUL bytes from {counts[-1]} rows ({', '.join(hit)}){note}"]


def _check_share(path: Path, stage: Stage, rejects: list[Reject], share: float) -> None:
    if not rejects:
        return
    if stage.lines_in:
        bad, total, unit = len({r.line for r in rejects}), stage.lines_in, "input lines"
        what = f"rejects on {bad} of {total} {unit}"
    else:
        bad, total = len(rejects), stage.rows_in
        what = f"{bad} of {total} rows rejected"
    if bad / total <= share:
        return
    first = rejects[0]
    where = f"line {first.line}" if first.line else "a row"
    raise RejectThresholdError(
        f"{path}: {what} ({bad / total:.1%} > {share:.1%} allowed); first, {where}: {first.reason}",
        "nothing was loaded; fix or re-download the file, check it was given to the right "
        "SOURCE, or raise the limit with --max-reject-share",
    )


def _write_rejects(con, batch_id: int, source: str, name: str, rejects: list[Reject]) -> None:
    if not rejects:
        return
    con.executemany(
        "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [batch_id, source, name, r.line, r.column, r.error_type, r.reason, r.raw]
            for r in rejects
        ],
    )


@dataclass(frozen=True)
class NotLoaded:
    """A file or folder of a data directory that no adapter reads, and why."""

    path: str
    reason: str


def plan_folder(
    data_dir: Path, adapters: list[Adapter]
) -> tuple[list[tuple[Adapter, Path]], list[NotLoaded]]:
    """Which adapter loads which file of a folder laid out like ``../shared/data``.

    Nothing is passed over silently: every file that no reader takes (other than
    READMEs and licences) comes back in the second list with the reason.
    """
    if not data_dir.is_dir():
        raise InputError(
            f"{data_dir}: no such data folder",
            "pass --data DIR (a folder laid out like ../shared/data)",
        )
    by_folder = {f: a for a in adapters for f in a.folders}
    work: list[tuple[Adapter, Path]] = []
    skipped: list[NotLoaded] = []
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        adapter = by_folder.get(folder.name)
        if adapter is None:
            skipped.append(
                NotLoaded(
                    str(folder),
                    "no adapter recognises this folder; read "
                    "its README and add one (docs/ADAPTERS.md)",
                )
            )
            continue
        taken = adapter.files_in(folder)
        work += [(adapter, p) for p in taken]
        for path in sorted(folder.rglob("*")):
            if path in taken:
                continue
            odd = _odd_entry(path, adapter)
            if odd is not None:
                skipped.append(NotLoaded(str(path), odd))
            elif path.is_file() and not _is_documentation(path):
                skipped.append(
                    NotLoaded(
                        str(path),
                        f"not a format the {adapter.name} adapter loads (reference or schema file)",
                    )
                )
    return work, skipped


def _odd_entry(path: Path, adapter: Adapter) -> str | None:
    """Why an entry of a data folder that is not a regular file is listed as not loaded;
    None for a regular file and for a plain subdirectory (its files are listed)."""
    named_like_data = any(r.matches(path) for r in adapter.readers)
    if path.is_dir():
        if named_like_data:
            return "a directory named like a data file"
        if path.is_symlink():
            return "a symlink to a directory (not followed: link the files themselves)"
        return None
    odd = irregular(path)
    return None if odd is None else odd.replace("no such file", "vanished while listed")


def _is_documentation(path: Path) -> bool:
    return path.name.upper().startswith(("README", "LICENCE", "LICENSE"))
