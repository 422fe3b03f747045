"""Load an analyst's documents into the store, one transaction per file.

A document is stored twice over: its metadata as one ``analyst_documents`` row, and its
text as passages, rows of ``documents`` with source :data:`~vigil.analyst.ANALYST_SOURCE`
(``source_id`` ``<doc_id>#<n>``, ``doc_type`` ``passage``), which the text matcher reads
with the same rules and claim tagging as headlines, each passage on its own words, so
the evidence cites the passage.

Idempotent by content: a file whose bytes and metadata are already stored is
*unchanged*; the same content under another id is a *duplicate* and is not stored again;
a changed file (or changed metadata) under a stored id is an *update*, whose old passages
and their matches go. A file that cannot be read (no date, no text, binary, a broken
encoding…) fails alone, with its reason, and leaves nothing behind; the others load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vigil import __version__
from vigil.documents.extract import SUPPORTED, Extracted, read_document, read_manifest
from vigil.errors import InputError
from vigil.store import ANALYST_SOURCE, transaction


@dataclass(frozen=True)
class DocumentLoad:
    """What loading one file did. ``action``: new, updated, unchanged, duplicate or failed."""

    path: str
    action: str
    doc_id: str | None = None
    title: str | None = None
    published: dt.date | None = None
    language: str | None = None
    passages: int = 0
    batch_id: int | None = None
    error: str | None = None  #: why it failed, and what to do
    duplicate_of: str | None = None
    seconds: float = 0.0
    meta: dict = field(default_factory=dict, repr=False)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files, and the supported files below folders (not their metadata sidecars)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and _is_document(f))
        else:
            out.append(p)
    return out


def _is_document(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED and not path.name.startswith(".")


def load_documents(
    con, paths: Iterable[Path] = (), *, manifest: Path | None = None, folder: Path | None = None
) -> list[DocumentLoad]:
    """Load every file of ``paths`` (folders included) and of ``manifest`` (its files under
    ``folder`` when given: :func:`~vigil.documents.extract.read_manifest`)."""
    work: list[tuple[Path, dict | None] | DocumentLoad] = []
    for p in map(Path, paths):
        found = expand([p])
        if not found:  # a folder with no documents below it: say so, never "0 documents"
            work.append(DocumentLoad(str(p), "failed", error=_empty_folder(p)))
        work += [(f, None) for f in found]
    if manifest is not None:
        work += read_manifest(Path(manifest), folder)
    return [w if isinstance(w, DocumentLoad) else load_one(con, *w) for w in work]


def _empty_folder(path: Path) -> str:
    kinds = ", ".join(SUPPORTED)
    return (
        f"{path}: a folder with no documents below it (none of {kinds}); "
        "give document files, or a folder holding some"
    )


def load_one(con, path: Path, overrides: dict | None = None) -> DocumentLoad:
    started = time.perf_counter()
    try:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file", "check the path")
        doc = read_document(Path(path), overrides)
        doc_id = doc.meta.id or slug(Path(path).stem)
        with transaction(con):
            result = _store(con, doc, doc_id)
    except InputError as e:
        return DocumentLoad(str(path), "failed", error=str(e),
                            seconds=time.perf_counter() - started)  # fmt: skip
    return DocumentLoad(**{**result, "seconds": time.perf_counter() - started})


def slug(text: str) -> str:
    """A document id from a file name: lower case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


def _store(con, doc: Extracted, doc_id: str) -> dict:
    meta = doc.meta.to_dict()
    record = hashlib.sha256(
        json.dumps([doc.sha256, meta], sort_keys=True, default=str).encode()
    ).hexdigest()
    base = {
        "path": str(doc.path), "doc_id": doc_id, "title": doc.meta.title,
        "published": doc.meta.published, "language": doc.meta.language, "meta": meta,
    }  # fmt: skip
    stored = con.execute(
        "SELECT record_hash, passages, batch_id FROM analyst_documents WHERE doc_id = ?",
        [doc_id],
    ).fetchone()
    if stored is not None and stored[0] == record:
        return base | {"action": "unchanged", "passages": stored[1], "batch_id": stored[2]}
    twin = con.execute(
        "SELECT doc_id FROM analyst_documents WHERE sha256 = ? AND doc_id <> ?",
        [doc.sha256, doc_id],
    ).fetchone()
    if twin is not None:
        return base | {"action": "duplicate", "duplicate_of": twin[0]}
    passages = doc.passages()
    if not passages:
        raise InputError(f"{doc.path}: no text to load", "check the file has text")
    removed = _remove(con, doc_id) if stored is not None else 0
    batch = con.execute("SELECT nextval('batch_id_seq')").fetchone()[0]
    _insert_passages(con, doc, doc_id, passages, batch)
    _insert_document(con, doc, doc_id, record, len(passages), batch)
    _record_batch(con, doc, batch, len(passages), stored is not None, removed)
    return base | {
        "action": "updated" if stored is not None else "new",
        "passages": len(passages),
        "batch_id": batch,
    }


def _remove(con, doc_id: str) -> int:
    """Drop a stored version: its passages, their matches and its metadata row."""
    like = f"{doc_id}#"
    n = con.execute(
        "SELECT count(*) FROM documents WHERE source = ? AND starts_with(source_id, ?)",
        [ANALYST_SOURCE, like],
    ).fetchone()[0]
    for table in ("text_matches", "documents"):
        con.execute(
            f"DELETE FROM {table} WHERE source = ? AND starts_with(source_id, ?)",
            [ANALYST_SOURCE, like],
        )
    con.execute("DELETE FROM analyst_documents WHERE doc_id = ?", [doc_id])
    return n


def _insert_passages(con, doc: Extracted, doc_id: str, passages, batch: int) -> None:
    m = doc.meta
    published = dt.datetime.combine(m.published, dt.time())
    basis = f"publication date from the analyst's metadata ({m.date_precision})"
    url = m.url or doc.path.resolve().as_uri()
    con.executemany(
        """INSERT INTO documents (source, source_id, published_at, doc_type, title, body,
               language, outlet, available_at, available_basis, url, raw, record_hash,
               batch_id)
           VALUES (?, ?, ?, 'passage', ?, ?, ?, ?, ?, ?, ?, ?, md5(?), ?)""",
        [
            [ANALYST_SOURCE, f"{doc_id}#{p.n}", published, f"{m.title} (passage {p.n})",
             p.text, m.language, m.outlet, published, basis, url, p.text, p.text, batch]
            for p in passages
        ],
    )  # fmt: skip


def _insert_document(con, doc: Extracted, doc_id, record, n_passages, batch) -> None:
    m = doc.meta
    con.execute(
        """INSERT INTO analyst_documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
               ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?)""",
        [doc_id, m.title, m.published, m.date_precision, m.date_basis, m.outlet, m.url,
         m.language, m.language_detected, m.author, m.reliability, m.credibility, m.doc_type,
         doc.format, str(doc.path.resolve()), doc.sha256, n_passages, len(doc.text), doc.pages,
         m.notes, batch, record],
    )  # fmt: skip


def _record_batch(con, doc: Extracted, batch: int, n: int, update: bool, removed: int) -> None:
    con.execute(
        """INSERT INTO batches (batch_id, source, kind, input, sha256, published_md5, bytes,
               rows_in, loaded, updated, duplicates, rejected, notes, loader_version,
               started_at, finished_at, deleted)
           VALUES (?, ?, 'documents', ?, ?, NULL, ?, ?, ?, ?, 0, 0, ?, ?,
               now()::TIMESTAMP, now()::TIMESTAMP, ?)""",
        [batch, ANALYST_SOURCE, str(doc.path), doc.sha256, doc.path.stat().st_size, n, n,
         n if update else 0, f"{n} passages" + (f", replacing {removed}" if update else ""),
         __version__, removed],
    )  # fmt: skip
