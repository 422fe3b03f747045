"""Graded notes in the store: load a notes file idempotently, and read the notes back.

Loading a file makes the store's notes from that file equal to the file's: a new note is
added, a changed one replaced, one no longer in the file removed, an unchanged one left
alone (so loading twice changes nothing). A withdrawn note stays in the store, with its
reason, for the audit trail, and is never read again. Everything happens in one
transaction, with a ``batches`` row saying what the load did. Stored assessments from the
earliest changed note's date on were made without the change, so they are dropped (the
next ``vigil assess`` or ``brief`` makes them again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vigil import __version__
from vigil.analyst.grades import Grade
from vigil.analyst.notes import Note, read_notes
from vigil.errors import InputError
from vigil.store import ANALYST_SOURCE, transaction
from vigil.theatre import TheatreSpec

NOTES_SOURCE = "notes"


@dataclass(frozen=True)
class NotesReport:
    file: str
    notes: int
    new: int
    updated: int
    unchanged: int
    removed: int
    withdrawn: int  #: notes of the file marked withdrawn
    stale_assessments: int  #: stored assessments dropped because a note changed under them
    seconds: float
    batch_id: int | None = None


def load_notes(con, theatre: TheatreSpec, path: Path) -> NotesReport:
    """Load ``path`` for ``theatre`` (see the module docstring)."""
    started = time.perf_counter()
    path = Path(path)
    parsed = read_notes(path)
    tid = theatre.theatre.id
    if parsed.theatre not in (None, tid):
        raise InputError(
            f"{path}: its notes are for theatre {parsed.theatre!r}, not {tid!r}",
            f"load it with --theatre {parsed.theatre}",
        )
    rows = [_row(con, theatre, path, i, n) for i, n in enumerate(parsed.notes, start=1)]
    key = str(path.resolve())
    stored = dict(con.execute(
        "SELECT note_id, record_hash FROM notes WHERE theatre = ? AND file = ?", [tid, key]
    ).fetchall())  # fmt: skip
    others = dict(con.execute(
        "SELECT note_id, file FROM notes WHERE theatre = ? AND file <> ?", [tid, key]
    ).fetchall())  # fmt: skip
    for r in rows:
        if r["note_id"] in others:
            raise InputError(
                f"{path}: note id {r['note_id']!r} is already used by {others[r['note_id']]}",
                "note ids are unique in a theatre: rename one",
            )
    new = [r for r in rows if r["note_id"] not in stored]
    changed = [
        r for r in rows if r["note_id"] in stored and stored[r["note_id"]] != r["record_hash"]
    ]
    gone = sorted(set(stored) - {r["note_id"] for r in rows})
    withdrawn = sum(1 for r in rows if r["withdrawn_on"] is not None)
    if not (new or changed or gone):
        return NotesReport(str(path), len(rows), 0, 0, len(rows), 0, withdrawn, 0,
                           time.perf_counter() - started)  # fmt: skip
    with transaction(con):
        earliest = _earliest(con, tid, key, [*changed, *new], gone)
        ids = [r["note_id"] for r in changed] + gone
        if ids:
            con.execute(
                "DELETE FROM notes WHERE theatre = ? AND file = ? AND list_contains(?, note_id)",
                [tid, key, ids],
            )
        batch = con.execute("SELECT nextval('batch_id_seq')").fetchone()[0]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for r in [*new, *changed]:
            cols = list(r)
            con.execute(
                f"INSERT INTO notes ({', '.join(cols)}, batch_id, loaded_at) "
                f"VALUES ({', '.join('?' * len(cols))}, ?, ?)",
                [*r.values(), batch, now],
            )
        stale = _drop_stale(con, tid, earliest)
        _record_batch(con, batch, path, len(rows), len(new), len(changed), len(gone), started)
    return NotesReport(str(path), len(rows), len(new), len(changed),
                       len(rows) - len(new) - len(changed), len(gone), withdrawn, stale,
                       time.perf_counter() - started, batch)  # fmt: skip


def _row(con, theatre: TheatreSpec, path: Path, i: int, n: Note) -> dict:
    where = f"{path}: note {i} ({n.note_id})"
    try:
        ind = theatre.indicator(n.indicator)
    except InputError as e:
        raise InputError(f"{where}: {e.message}", e.hint) from None
    state = n.state or _state_of_level(where, ind, n.level)
    grade = Grade.parse(n.grade)
    passage, quote = _basis(con, where, n)
    available = n.available_date
    return {
        "theatre": theatre.theatre.id, "note_id": n.note_id, "indicator": n.indicator,
        "observed_on": n.observed, "available_at": dt.datetime.combine(available, dt.time()),
        "valid_days": n.valid_days, "state": state, "level": n.level,
        "reliability": grade.reliability, "credibility": grade.credibility,
        "weight": grade.weight, "basis_kind": n.basis.kind, "basis": n.basis.value,
        "passage": passage, "quote": quote, "summary": n.summary, "why": n.why,
        "withdrawn_on": n.withdrawn.on if n.withdrawn else None,
        "withdrawn_why": n.withdrawn.why if n.withdrawn else None,
        "file": str(path.resolve()), "record_hash": n.record_hash,
    }  # fmt: skip


def _state_of_level(where: str, ind, level: float | None) -> str:
    if len(ind.level) != 1:
        raise InputError(
            f"{where}: {ind.id} has {len(ind.level)} level readings, so a level alone is ambiguous",
            "state the state (normal, elevated or high) instead",
        )
    lv = ind.level[0]
    return "high" if level >= lv.high else "elevated" if level >= lv.elevated else "normal"


def _basis(con, where: str, n: Note) -> tuple[int | None, str | None]:
    """The cited passage of a document basis (the one holding the quote, else None)."""
    if n.basis.kind != "document":
        return None, None
    doc = n.basis.document
    found = con.execute(
        "SELECT published FROM analyst_documents WHERE doc_id = ?", [doc]
    ).fetchone()
    if found is None:
        raise InputError(f"{where}: it rests on document {doc!r}, which is not loaded",
                         "load it first: vigil ingest documents PATH")  # fmt: skip
    if found[0] > n.available_date:
        raise InputError(
            f"{where}: it is available on {n.available_date} but rests on document {doc!r}, "
            f"published {found[0]}",
            "a note cannot be known before what it rests on: fix observed/available",
        )
    if not n.basis.quote:
        return None, None
    want = " ".join(n.basis.quote.split()).casefold()
    for sid, body in con.execute(
        "SELECT source_id, body FROM documents WHERE source = ? AND starts_with(source_id, ?) "
        "ORDER BY source_id",
        [ANALYST_SOURCE, f"{doc}#"],
    ).fetchall():
        if want in " ".join((body or "").split()).casefold():
            return int(sid.rsplit("#", 1)[1]), n.basis.quote
    raise InputError(
        f"{where}: its quote is not in document {doc!r}",
        "quote the document's words exactly (spacing and case may differ)",
    )


def _earliest(con, tid: str, key: str, rows: list[dict], gone: list[str]) -> dt.date | None:
    days = [r["observed_on"] for r in rows]
    if gone:
        days += [d for (d,) in con.execute(
            "SELECT observed_on FROM notes WHERE theatre = ? AND file = ? "
            "AND list_contains(?, note_id)", [tid, key, gone]).fetchall()]  # fmt: skip
    return min(days) if days else None


def _drop_stale(con, tid: str, since: dt.date | None) -> int:
    if since is None:
        return 0
    ids = [r[0] for r in con.execute(
        "SELECT assessment_id FROM assessments WHERE theatre = ? AND as_of >= ?", [tid, since]
    ).fetchall()]  # fmt: skip
    if ids:
        for table in ("assessment_contributions", "assessments"):
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, assessment_id)", [ids])
    return len(ids)


def _record_batch(con, batch, path: Path, n, new, updated, removed, started) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    con.execute(
        """INSERT INTO batches (batch_id, source, kind, input, sha256, published_md5, bytes,
               rows_in, loaded, updated, duplicates, rejected, notes, loader_version,
               started_at, finished_at, deleted)
           VALUES (?, ?, 'notes', ?, ?, NULL, ?, ?, ?, ?, ?, 0, ?, ?,
               now()::TIMESTAMP - to_microseconds(?::BIGINT), now()::TIMESTAMP, ?)""",
        [batch, NOTES_SOURCE, str(path), digest, path.stat().st_size, n + removed,
         new + updated, updated, n - new - updated, f"{removed} removed from the file",
         __version__, int((time.perf_counter() - started) * 1e6), removed],
    )  # fmt: skip


# ---------------------------------------------------------------- reading them back
NOTE_COLUMNS = (
    "note_id", "indicator", "observed_on", "available_at", "valid_days", "state", "level",
    "reliability", "credibility", "weight", "basis_kind", "basis", "passage", "quote",
    "summary", "why", "withdrawn_on", "withdrawn_why",
)  # fmt: skip


def notes_frame(con, theatre_id: str, last: dt.date | None = None) -> pd.DataFrame:
    """The theatre's notes (withdrawn ones included: callers decide), available by ``last``."""
    cut = "" if last is None else "AND available_at < ?::DATE + 1"
    params = [theatre_id] + ([] if last is None else [last])
    return con.execute(
        f"SELECT {', '.join(NOTE_COLUMNS)} FROM notes WHERE theatre = ? {cut} "
        "ORDER BY indicator, observed_on, available_at, note_id",
        params,
    ).df()


def notes_by_id(con, theatre_id: str, ids) -> dict[str, dict]:
    """The notes ``ids`` as the audit trail shows them: grade (and what it means), what they
    rest on (the document's title, outlet and date, the cited passage) and why."""
    rows = con.execute(
        f"""SELECT {", ".join("n." + c for c in NOTE_COLUMNS)}, d.title, d.outlet, d.url,
                   d.published
            FROM notes n LEFT JOIN analyst_documents d
              ON n.basis_kind = 'document' AND d.doc_id = n.basis
            WHERE n.theatre = ? AND list_contains(?, n.note_id)""",
        [theatre_id, sorted(ids)],
    ).fetchall()
    out = {}
    for r in rows:
        n = dict(zip([*NOTE_COLUMNS, "title", "outlet", "url", "published"], r, strict=True))
        grade = Grade(n["reliability"], n["credibility"])
        basis = {"kind": n["basis_kind"], "value": n["basis"]}
        if n["basis_kind"] == "document":
            basis |= {"title": n["title"], "outlet": n["outlet"] or "unknown outlet",
                      "url": n["url"], "published": _iso(n["published"]),
                      "passage": n["passage"], "quote": n["quote"]}  # fmt: skip
        out[n["note_id"]] = {
            "id": n["note_id"], "indicator": n["indicator"],
            "observed": _iso(n["observed_on"]), "state": n["state"], "level": n["level"],
            "grade": grade.code, "grade_meaning": grade.describe(), "weight": grade.weight,
            "basis": basis, "summary": n["summary"], "why": n["why"],
            "withdrawn": n["withdrawn_on"] and {"on": _iso(n["withdrawn_on"]),
                                                "why": n["withdrawn_why"]},
        }  # fmt: skip
    return out


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()[:10]


def notes_in_force(con, theatre_id: str, indicator: str, as_of: dt.date) -> list[dict]:
    """The notes on ``indicator`` that stand on ``as_of`` (known by then, observed within
    their ``valid_days``, not withdrawn by then), latest first, as :func:`notes_by_id` shows
    them; those graded too low to weigh are included, with weight 0."""
    ids = [r[0] for r in con.execute(
        """SELECT note_id FROM notes WHERE theatre = ? AND indicator = ?
             AND available_at < ?::DATE + 1 AND observed_on <= ?
             AND ?::DATE < observed_on + valid_days
             AND (withdrawn_on IS NULL OR withdrawn_on > ?)""",
        [theatre_id, indicator, as_of, as_of, as_of, as_of]).fetchall()]  # fmt: skip
    found = notes_by_id(con, theatre_id, ids)
    return sorted(found.values(), key=lambda n: (n["observed"], n["id"]), reverse=True)
