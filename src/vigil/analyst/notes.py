"""Graded analyst notes: the file an analyst keeps under version control.

A note is a dated observation on one indicator: its state (or a level in the indicator's
level unit), what it rests on (a loaded document, optionally the words quoted from it; a
URL; or free text) and an Admiralty grade (:mod:`vigil.analyst.grades`). The file::

    theatre: belarus
    notes:
      - id: blr-draft-defence-law
        indicator: legal_mobilisation
        observed: 2025-08-31
        state: elevated
        grade: F3
        basis: {document: blr-defence-law-analysis, quote: "received a draft law"}
        summary: A draft law lets martial law follow an attack on the Union State.
        why: One defence-law step, not a campaign of measures; unknown outlet.
        withdrawn: {on: 2025-09-20, why: "the draft was never tabled"}   # optional

The file is the analyst's record; the store holds what was loaded from it
(:mod:`vigil.analyst.store`). :func:`append_note` and :func:`withdraw_note` edit the file
as text, so its comments and layout survive, and check by parsing it again that exactly
the intended change was made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.analyst.grades import Grade
from vigil.errors import InputError
from vigil.files import write_atomic
from vigil.yamlload import TextDatesLoader, keys_at, load_yaml, read_text, suggest

#: how long a note stands as a current reading unless it says otherwise: longer than any
#: scenario set's memory (56 days), so a note is read on the whole memory grid, and its
#: weight still fades with the set's half-life (21–28 days) from the day it observed
DEFAULT_VALID_DAYS = 90
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class Basis(BaseModel):
    """What a note rests on: exactly one of a loaded document, a URL or free text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    document: str | None = None
    url: str | None = None
    text: str | None = None
    quote: str | None = None  #: the words of the document the note rests on

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("document", "url", "text") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of document, url or text")
        if self.quote and not self.document:
            raise ValueError("quote cites a document: give document as well")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("document", "url", "text") if getattr(self, k))

    @property
    def value(self) -> str:
        return getattr(self, self.kind)


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    on: dt.date
    why: str = Field(min_length=3)


class Note(BaseModel):
    """One note as written in the file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = None
    indicator: str
    observed: dt.date
    state: Literal["normal", "elevated", "high"] | None = None
    level: float | None = None
    grade: str
    basis: Basis
    summary: str = Field(min_length=3)
    why: str | None = None
    valid_days: int = Field(default=DEFAULT_VALID_DAYS, ge=1, le=3650)
    available: dt.date | None = None  #: when it was knowable; default: ``observed``
    withdrawn: Withdrawal | None = None

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, v):
        return Grade.parse(v).code

    @field_validator("id")
    @classmethod
    def _id(cls, v):
        if v is not None and not _ID.match(v):
            raise ValueError("ids are letters, digits, '.', '_' and '-' (at most 80)")
        return v

    @model_validator(mode="after")
    def _stated(self):
        if self.state is None and self.level is None:
            raise ValueError("give the state (normal, elevated or high) or a level")
        if self.available is not None and self.available < self.observed:
            raise ValueError("available cannot precede observed")
        return self

    @property
    def note_id(self) -> str:
        """The given id, or one derived from what the note says (stable across reloads)."""
        if self.id:
            return self.id
        key = json.dumps([self.indicator, str(self.observed), self.basis.value], ensure_ascii=False)
        return f"{self.indicator}-{self.observed}-{hashlib.sha256(key.encode()).hexdigest()[:6]}"

    @property
    def available_date(self) -> dt.date:
        return self.available or self.observed

    @property
    def record_hash(self) -> str:
        body = self.model_dump(mode="json", exclude_none=True)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class NotesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    theatre: str | None = None
    notes: list[Note] = Field(default_factory=list)


def read_notes(path: Path) -> NotesFile:
    """The notes of ``path``, validated; an error names the file, the note and the key."""
    return parse_notes(path, read_text(path) if path.exists() else None)


def parse_notes(path: Path, text: str | None) -> NotesFile:
    """:func:`read_notes` of ``text`` as the content of ``path``."""
    data = _yaml(path, text)
    try:
        parsed = NotesFile.model_validate(data)
    except ValidationError as e:
        raise InputError(f"{path}: {_where(e, data)}", _HINT) from None
    seen: dict[str, int] = {}
    for i, n in enumerate(parsed.notes, start=1):
        if n.note_id in seen:
            raise InputError(
                f"{path}: notes {seen[n.note_id]} and {i} have the same id {n.note_id!r}",
                "give each note its own id",
            )
        seen[n.note_id] = i
    return parsed


class TextDates(TextDatesLoader):
    """Safe YAML with dates kept as text (and duplicate keys refused by :func:`_yaml`)."""


_HINT = "fix the file (docs/NOTES.md describes every key) and load it again"


def _yaml(path: Path, text: str | None):
    if text is None:
        raise InputError(f"{path}: no such notes file", "check the path, or `vigil note add`")
    # dates stay text, so that pydantic names a bad one (YAML would crash on 2030-02-30);
    # a key given twice is an error naming both lines
    data, _ = load_yaml(text, str(path), dates_as_text=True, hint=_HINT)
    if data is None:
        return {"notes": []}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with a 'notes' list", _HINT)
    return data


def _where(e: ValidationError, data: dict) -> str:
    errors = e.errors()
    # a misspelt key first: the key it stands for, reported missing, is the same mistake
    err = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
    loc = list(err["loc"])
    where = "the file"
    if len(loc) >= 2 and loc[0] == "notes" and isinstance(loc[1], int):
        note = (data.get("notes") or [])[loc[1]]
        ident = note.get("id") if isinstance(note, dict) else None
        where = f"note {loc[1] + 1}" + (f" ({ident})" if ident else "")
        loc = loc[2:]
    key = ".".join(str(x) for x in loc) or "the note"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        known = keys_at(NotesFile, err["loc"][:-1]) or []
        msg = f"unknown key; {suggest(str(err['loc'][-1]), known)}"
    elif err["type"] == "missing":
        msg = "required key missing"
    return f"{where}, {key}: {msg}"


# ---------------------------------------------------------------- editing the file
def append_note(path: Path, note: Note, theatre: str) -> str:
    """Append ``note`` to the file (created if absent), keeping what is there; returns the
    file's previous text ('' if new) so a caller can restore it."""
    before = read_text(path) if path.exists() else ""
    old = read_notes(path).notes if before else []
    if note.note_id in {n.note_id for n in old}:
        raise InputError(
            f"{path}: a note with id {note.note_id!r} is already there",
            "give another --id, or withdraw the old note",
        )
    item = note.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    item = {"id": note.note_id, **{k: v for k, v in item.items() if k != "id"}}
    block = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, width=90)
    if not before.strip():
        text = f"# Analyst notes (docs/NOTES.md)\ntheatre: {theatre}\nnotes:\n" + _indent(block)
    elif re.search(r"^notes:\s*\[\]\s*$", before, re.M):
        text = re.sub(r"^notes:\s*\[\]\s*$", "notes:\n" + _indent(block).rstrip("\n"), before,
                      count=1, flags=re.M)  # fmt: skip
    else:
        text = before + ("" if before.endswith("\n") else "\n") + _indent(block)
    after = _check_edit(path, text)
    if [n.note_id for n in after.notes] != [*(n.note_id for n in old), note.note_id]:
        raise InputError(
            f"{path}: the note could not be appended safely ('notes' is not the file's last key)",
            "move the notes list to the end of the file, or add the note by hand",
        )
    write_atomic(path, text)
    return before


def withdraw_note(path: Path, note_id: str, on: dt.date, why: str) -> str:
    """Mark note ``note_id`` withdrawn in the file; returns the previous text."""
    before = read_text(path)
    old = {n.note_id: n for n in read_notes(path).notes}
    if note_id not in old:
        raise InputError(f"{path}: no note with id {note_id!r}", "`vigil notes` lists them")
    if old[note_id].withdrawn is not None:
        raise InputError(f"{path}: note {note_id!r} is already withdrawn", "nothing to do")
    lines = before.splitlines(keepends=True)
    at = next((i for i, s in enumerate(lines)
               if re.match(rf"^(\s*-\s+|\s+)id:\s*['\"]?{re.escape(note_id)}['\"]?\s*$", s)),
              None)  # fmt: skip
    if at is None:
        raise InputError(
            f"{path}: note {note_id!r} has no id line to edit (its id is derived)",
            f"add `id: {note_id}` to the note, then withdraw it again",
        )
    key_col = len(lines[at]) - len(lines[at].lstrip(" -"))
    end = at + 1
    while end < len(lines) and (not lines[end].strip() or _indent_of(lines[end]) >= key_col):
        end += 1
    while end > at + 1 and not lines[end - 1].strip():
        end -= 1
    entry = json.dumps({"on": on.isoformat(), "why": why}, ensure_ascii=False)
    lines.insert(end, " " * key_col + f"withdrawn: {entry}\n")
    text = "".join(lines)
    after = {n.note_id: n for n in _check_edit(path, text).notes}
    changed = [i for i in old if old[i] != after.get(i)]
    if changed != [note_id] or after[note_id].withdrawn is None:
        raise InputError(f"{path}: the withdrawal could not be written safely",
                         f"add `withdrawn: {entry}` to note {note_id} by hand")  # fmt: skip
    write_atomic(path, text)
    return before


def _indent(block: str) -> str:
    return "".join("  " + line if line.strip() else line for line in block.splitlines(True))


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _check_edit(path: Path, text: str) -> NotesFile:
    return parse_notes(path, text)
