"""What an analyst adds: `vigil ingest documents|notes`, `vigil note add|withdraw`,
`vigil notes` and `vigil documents`."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil.analyst.grades import Grade
from vigil.analyst.notes import Note, append_note, withdraw_note
from vigil.analyst.store import load_notes, notes_frame
from vigil.cli.common import (
    DEFAULT_DB,
    DbOption,
    FormatOption,
    app,
    check_format,
    err,
    handle_errors,
    open_store,
    out,
    safe,
)
from vigil.dates import parse_date
from vigil.documents.load import DocumentLoad, load_documents
from vigil.errors import UsageError, VigilError
from vigil.files import write_atomic
from vigil.text.match import match_documents
from vigil.theatre import load_theatre

note_app = typer.Typer(help="Add or withdraw a graded analyst note (docs/NOTES.md).")
app.add_typer(note_app, name="note")
TheatreOption = Annotated[
    str, typer.Option("--theatre", help="Theatre id (a folder under theatres/) or a path.")
]


# ------------------------------------------------------------------ ingest documents|notes
def ingest_documents(
    paths: list[Path], manifest: Path | None, theatre: str, db: Path, fmt: str,
    folder: Path | None = None,
):  # fmt: skip
    """Load documents (one transaction each), match their passages to the theatre's
    indicators, print what each did; exit 1 if any failed."""
    if not paths and manifest is None:
        raise UsageError("no documents given", "vigil ingest documents PATH... [--manifest FILE]")
    spec = load_theatre(theatre)
    con = open_store(db, write=True, create=True)
    try:
        loads = load_documents(con, paths, manifest=manifest, folder=folder)
        matched = _matches(con, spec, [d for d in loads if d.action in ("new", "updated")])
    finally:
        con.close()
    if fmt == "json":
        out.print_json(json.dumps({"documents": [
            {**{k: v for k, v in asdict(d).items() if k != "meta"},
             "matched": matched.get(d.doc_id, {})} for d in loads]}, default=str))  # fmt: skip
    else:
        _print_documents(loads, matched)
    failed = [d for d in loads if d.action == "failed"]
    if failed:
        raise typer.Exit(1)


def _matches(con, spec, loads: list[DocumentLoad]) -> dict[str, dict[str, dict[str, int]]]:
    """Per new or updated document, per indicator: passages matched as occurrence/claim."""
    if not loads:
        return {}
    match_documents(con, spec, source="analyst")
    rows = con.execute(
        """SELECT split_part(source_id, '#', 1) AS doc, indicator, kind, count(*)
           FROM text_matches WHERE theatre = ? AND source = 'analyst'
             AND list_contains(?, split_part(source_id, '#', 1)) GROUP BY ALL""",
        [spec.theatre.id, [d.doc_id for d in loads]],
    ).fetchall()
    out_: dict[str, dict[str, dict[str, int]]] = {}
    for doc, ind, kind, n in rows:
        out_.setdefault(doc, {}).setdefault(ind, {})[kind] = n
    return out_


def _print_documents(loads: list[DocumentLoad], matched: dict) -> None:
    table = Table("document", "id", "published", "lang", "passages", "action", title="documents")
    for d in loads:
        style = "red" if d.action == "failed" else "dim" if d.action == "unchanged" else None
        action = d.action + (f" (of {d.duplicate_of})" if d.duplicate_of else "")
        table.add_row(escape(safe(Path(d.path).name)), escape(d.doc_id or "—"),
                      str(d.published or "—"), d.language or "—", str(d.passages or "—"),
                      action, style=style)  # fmt: skip
    out.print(table)
    for d in loads:
        if d.action == "failed":
            err.print(f"error: {safe(d.error)}", highlight=False, markup=False)
        for ind, kinds in sorted(matched.get(d.doc_id, {}).items()):
            parts = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in sorted(kinds.items()))
            out.print(f"  {d.doc_id}: {ind} ({parts})", highlight=False, markup=False)
    counts = {a: sum(d.action == a for d in loads) for a in ("new", "updated", "failed")}
    out.print(
        f"{len(loads)} document(s): {counts['new']} new, {counts['updated']} updated, "
        f"{counts['failed']} failed (nothing of a failed file was written). Passages matched "
        "above are cited as evidence; to weigh one, write a graded note (vigil note add).",
        highlight=False,
    )


def ingest_notes(paths: list[Path], theatre: str, db: Path, fmt: str) -> None:
    """Load notes files (each in one transaction); exit 1 if any failed."""
    if not paths:
        raise UsageError("no notes file given", "vigil ingest notes FILE...")
    spec = load_theatre(theatre)
    con = open_store(db, write=True, create=True)
    reports, failures = [], []
    for p in paths:
        try:
            reports.append(load_notes(con, spec, p))
        except VigilError as e:
            failures.append({"input": str(p), "error": e.message, "hint": e.hint})
    con.close()
    if fmt == "json":
        out.print_json(json.dumps({"notes": [asdict(r) for r in reports], "failed": failures}))
    else:
        for r in reports:
            out.print(_notes_line(r), highlight=False, markup=False)
        for f in failures:
            err.print(f"error: {safe(f['error'])}", highlight=False, markup=False)
            if f["hint"]:
                err.print(f"  hint: {safe(f['hint'])}", highlight=False, markup=False)
    if failures:
        raise typer.Exit(1)


def _notes_line(r) -> str:
    text = (
        f"{r.file}: {r.notes} note(s): {r.new} new, {r.updated} updated, {r.unchanged} "
        f"unchanged, {r.removed} removed; {r.withdrawn} withdrawn"
    )
    if r.stale_assessments:
        text += (
            f"; {r.stale_assessments} stored assessment(s) from the notes' dates on were "
            "made without them and are dropped (the next assess or brief remakes them)"
        )
    return text


# ----------------------------------------------------------------------- note add|withdraw
NotesFileOption = Annotated[
    Path, typer.Option("--file", help="The notes file (YAML, kept under version control).")
]


@note_app.command("add")
@handle_errors
def note_add(
    indicator: Annotated[str, typer.Argument(help="The indicator the note reads.")],
    file: NotesFileOption,
    grade: Annotated[str, typer.Option("--grade", help="Admiralty grade, e.g. B2.")],
    summary: Annotated[str, typer.Option("--summary", help="What was observed, one line.")],
    state: Annotated[str | None, typer.Option("--state", help="normal, elevated or high.")] = None,
    level: Annotated[
        float | None, typer.Option("--level", help="A level in the indicator's level unit.")
    ] = None,
    observed: Annotated[
        str | None, typer.Option("--observed", help="YYYY-MM-DD (default: today).")
    ] = None,
    document: Annotated[
        str | None, typer.Option("--document", help="A loaded document's id it rests on.")
    ] = None,
    quote: Annotated[
        str | None, typer.Option("--quote", help="The document's words it rests on.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="A URL it rests on.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="What it rests on, in words.")] = None,
    why: Annotated[str | None, typer.Option("--why", help="Why this state and grade.")] = None,
    note_id: Annotated[str | None, typer.Option("--id", help="The note's id.")] = None,
    valid_days: Annotated[
        int | None, typer.Option("--valid-days", help="Days it stands (default 90).")
    ] = None,
    theatre: TheatreOption = "belarus",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Append a graded note to FILE and load FILE (the file is left as it was if the load
    fails)."""
    observed = parse_date(observed, "--observed").isoformat() if observed else None
    try:
        note = Note.model_validate({k: v for k, v in {
            "id": note_id, "indicator": indicator,
            "observed": observed or dt.date.today().isoformat(), "state": state,
            "level": level, "grade": grade, "summary": summary, "why": why,
            "valid_days": valid_days,
            "basis": {k: v for k, v in {"document": document, "quote": quote, "url": url,
                                        "text": text}.items() if v is not None},
        }.items() if v is not None})  # fmt: skip
    except ValueError as e:
        raise UsageError(f"the note is not valid: {_first_error(e)}", "see --help") from None
    spec = load_theatre(theatre)
    before = append_note(file, note, spec.theatre.id)
    _load_or_restore(file, before, spec, db)
    out.print(f"added note {note.note_id} ({Grade.parse(note.grade).describe()}) to {file}",
              highlight=False, markup=False)  # fmt: skip


@note_app.command("withdraw")
@handle_errors
def note_withdraw(
    note_id: Annotated[str, typer.Argument(help="The note's id.")],
    file: NotesFileOption,
    why: Annotated[str, typer.Option("--why", help="Why it is withdrawn.")],
    on: Annotated[str | None, typer.Option("--on", help="YYYY-MM-DD (default: today).")] = None,
    theatre: TheatreOption = "belarus",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Mark a note withdrawn in FILE and load FILE: it counts until that date (as it did at
    the time), never after; delete it from the file instead if it should never have counted."""
    day = parse_date(on, "--on") if on else dt.date.today()
    spec = load_theatre(theatre)
    before = withdraw_note(file, note_id, day, why)
    _load_or_restore(file, before, spec, db)
    out.print(f"withdrew note {note_id} from {day} in {file}", highlight=False, markup=False)


def _load_or_restore(file: Path, before: str, spec, db: Path) -> None:
    con = open_store(db, write=True, create=True)
    try:
        report = load_notes(con, spec, file)
    except BaseException:
        if before:
            write_atomic(file, before)
        else:
            file.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    out.print(_notes_line(report), highlight=False, markup=False)


def _first_error(e: ValueError) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        return f"{loc}: {first['msg'].removeprefix('Value error, ')}"
    return str(e)


# ----------------------------------------------------------------------------- listings
@app.command("notes")
@handle_errors
def notes_cmd(
    theatre: TheatreOption = "belarus",
    indicator: Annotated[str | None, typer.Option("--indicator", help="Only this one.")] = None,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """The graded analyst notes in the store, with their grade, weight and basis."""
    check_format(fmt)
    spec = load_theatre(theatre)
    con = open_store(db)
    frame = notes_frame(con, spec.theatre.id)
    con.close()
    if indicator:
        frame = frame[frame["indicator"] == indicator]
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    if fmt == "json":
        out.print_json(json.dumps({"theatre": spec.theatre.id, "notes": rows}))
        return
    table = Table("id", "indicator", "observed", "state", "grade", "weight", "rests on",
                  "withdrawn", title=f"analyst notes — {spec.theatre.id}")  # fmt: skip
    for r in rows:
        basis = r["basis"] + (f" ¶{r['passage']}" if r["passage"] else "")
        table.add_row(escape(r["note_id"]), r["indicator"], r["observed_on"][:10], r["state"],
                      f"{r['reliability']}{r['credibility']}",
                      f"{r['weight']:.2g}" + ("" if r["weight"] else " (not weighed)"),
                      escape(safe(basis)), (r["withdrawn_on"] or "")[:10] or "—")  # fmt: skip
    out.print(table)


@app.command("documents")
@handle_errors
def documents_cmd(db: DbOption = DEFAULT_DB, fmt: FormatOption = "text") -> None:
    """The analyst documents in the store: title, date, outlet, grade, passages."""
    check_format(fmt)
    frame = (
        open_store(db)
        .execute(
            "SELECT doc_id, title, published, date_precision, outlet, language, reliability, "
            "credibility, passages, path FROM analyst_documents ORDER BY published, doc_id"
        )
        .df()
    )
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    if fmt == "json":
        out.print_json(json.dumps({"documents": rows}))
        return
    table = Table("id", "title", "published", "outlet", "lang", "grade", "passages")
    for r in rows:
        grade = f"{r['reliability'] or ''}{r['credibility'] or ''}" or "—"
        table.add_row(escape(r["doc_id"]), escape(safe(r["title"]))[:60],
                      f"{r['published'][:10]} ({r['date_precision']})",
                      escape(r["outlet"] or "unknown"), r["language"], grade,
                      str(r["passages"]))  # fmt: skip
    out.print(table)
