"""An analyst's local document file as text, checked metadata and passages.

Pure functions, no database: a loader stores what :func:`read_document` returns and matches
its passages to indicator rules. Formats and text normalisation are in
:mod:`vigil.documents.formats`; the metadata layers and their checks in
:mod:`vigil.documents.meta`.

Language: ``language:`` in the metadata wins; else it is detected with
:func:`vigil.text.claims.guess_language`, which tells only the theatre's claim-tagging
languages (en, pl, ru, uk, be) apart by their letters. Each paragraph votes with its number
of letters, so an English report quoting a Russian phrase stays English;
``language_detected`` records that it was a guess.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vigil.documents.formats import OCR_HINT, SUPPORTED, extract
from vigil.documents.meta import (
    PUBLISHED_LINE,
    DocumentError,
    DocumentMeta,
    check_keys,
    find_sidecar,
    load_yaml_mapping,
    merge,
    read_sidecar,
    validate,
)
from vigil.text.claims import guess_language
from vigil.text.rules import normalise
from vigil.yamlload import read_text

__all__ = [
    "SUPPORTED",
    "DocumentError",
    "DocumentMeta",
    "Extracted",
    "Passage",
    "find_sidecar",
    "read_document",
    "read_manifest",
]

TITLE_MAX = 200
# a sentence ends after . ! ? (and closing quotes or brackets) before a space; or at a line
_SENTENCE_END = re.compile(r"[.!?][\"'”’»)\]]*(?=\s)|(?=\n)")


@dataclass(frozen=True)
class Passage:
    """A piece of a document small enough to match and show as evidence on its own."""

    n: int  # 1-based order in the document
    text: str
    start: int  # character offsets in Extracted.text: text == Extracted.text[start:end]
    end: int


@dataclass(frozen=True)
class Extracted:
    """One document: its normalised text, checked metadata and the hash of its bytes (so a
    loader can tell a changed file from the one it stored)."""

    path: Path
    format: str  # txt, md, html, pdf, docx
    sha256: str  # of the file's bytes
    text: str  # paragraphs separated by one blank line, whitespace normalised
    meta: DocumentMeta
    pages: int | None  # PDF pages

    def passages(self, max_chars: int = 1200) -> list[Passage]:
        """Paragraphs, consecutive short ones merged and long ones cut at sentence ends, so
        that no passage exceeds ``max_chars``: a sentence longer than that is cut too, at
        punctuation or a space where it has one, else at ``max_chars`` (a text with no
        spaces). Together they cover the text in order (only whitespace between them)."""
        if max_chars < 1:
            raise ValueError("max_chars must be positive")
        units: list[tuple[int, int]] = []
        for m in re.finditer(r"[^\n]+(?:\n[^\n]+)*", self.text):
            if m.end() - m.start() <= max_chars:
                units.append(m.span())
            else:
                for lo, hi in _sentences(self.text, m.start(), m.end()):
                    units.extend(_hard_split(self.text, lo, hi, max_chars))
        spans: list[tuple[int, int]] = []
        for start, end in units:
            if spans and end - spans[-1][0] <= max_chars:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return [Passage(n, self.text[s:e], s, e) for n, (s, e) in enumerate(spans, 1)]


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
    out = []
    for lo, hi in zip([start, *cuts], [*cuts, end], strict=True):
        while lo < hi and text[lo].isspace():
            lo += 1
        while hi > lo and text[hi - 1].isspace():
            hi -= 1
        if hi > lo:
            out.append((lo, hi))
    return out


_PUNCT_BREAK = re.compile(r"[,;:.!?)\]}\u2026\u2014]+\s*")
_SPACE_BREAK = re.compile(r"\s+")


def _hard_split(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """``text[start:end]`` cut into pieces of at most ``max_chars``: after the last
    punctuation, else at the last space, in the second half of each piece, else at
    ``max_chars`` itself."""
    out = []
    while end - start > max_chars:
        stop = start + max_chars
        cut = None
        for rx in (_PUNCT_BREAK, _SPACE_BREAK):
            ends = [
                m.end() if rx is _PUNCT_BREAK else m.start()
                for m in rx.finditer(text, start + max_chars // 2, stop)
            ]
            # a punctuation break's trailing whitespace may run past stop: trimmed below
            ends = [e for e in ends if start < e]
            if ends:
                cut = ends[-1]
                break
        cut = stop if cut is None else min(cut, stop)
        hi = cut
        while hi > start and text[hi - 1].isspace():
            hi -= 1
        out.append((start, hi))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        out.append((start, end))
    return out


def detect_language(text: str) -> str:
    """The claim-tagging language most of the letters of ``text`` are in."""
    votes: Counter[str] = Counter()
    for paragraph in text.split("\n\n"):
        letters = sum(c.isalpha() for c in paragraph)
        if letters:
            votes[guess_language(normalise(paragraph))] += letters
    return votes.most_common(1)[0][0] if votes else guess_language("")


def read_document(path: Path, overrides: Mapping[str, object] | None = None) -> Extracted:
    """``path`` as text and metadata; ``overrides`` (e.g. a manifest entry) win over the
    sidecar, which wins over front matter, which wins over what the file says itself."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(
            f"{path}: unsupported file type {suffix or '(no extension)'!r}",
            f"convert it to one of {', '.join(SUPPORTED)}",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read it ({exc.strerror})", "check the path") from None
    sidecar = find_sidecar(path)
    layers = []
    if sidecar is not None:
        layers.append((str(sidecar), read_sidecar(sidecar)))
    if overrides:
        layers.append((f"overrides for {path}", dict(overrides)))
    declared = None
    for where, layer in layers:  # checked before decoding: `encoding:` may be needed there
        declared = validate(layer, where).encoding or declared
    raw = extract(path, data, declared, sidecar)
    if not raw.text:
        raise DocumentError(f"{path}: no extractable text", OCR_HINT)
    layers[:0] = [(str(path), raw.meta), (f"{path} (front matter)", raw.front)]
    model = merge(layers)
    if model.published is None:
        where = "its front matter (a --- block at the top) or " if suffix in (".txt", ".md") else ""
        raise DocumentError(
            f"{path}: no publication date",
            f"add the line `{PUBLISHED_LINE}` (or YYYY-MM if only the month is known) to "
            f"{where}a sidecar file {path.name}.yaml next to it",
        )
    digest = hashlib.sha256(data).hexdigest()
    if model.sha256 and model.sha256.lower() != digest:
        raise DocumentError(
            f"{path}: the file changed since its metadata was written (sha256 {digest}, "
            f"metadata pins {model.sha256})",
            "check the change, then update `sha256:` in its metadata",
        )
    published, precision = model.published
    first_line = raw.text.split("\n", 1)[0]
    title = model.title or (first_line if len(first_line) < TITLE_MAX else path.stem)
    meta = DocumentMeta(
        title=title,
        published=published,
        date_precision=precision,
        date_basis=model.date_basis,
        outlet=model.outlet,
        url=model.url,
        language=model.language or detect_language(raw.text),
        language_detected=model.language is None,
        author=model.author,
        reliability=model.reliability,
        credibility=model.credibility,
        doc_type=model.doc_type,
        id=model.id,
        notes=model.notes,
    )
    fmt = "html" if suffix == ".htm" else suffix[1:]
    return Extracted(path, fmt, digest, raw.text, meta, raw.pages)


def read_manifest(path: Path, folder: Path | None = None) -> list[tuple[Path, dict]]:
    """``(document path, metadata overrides)`` for each entry of a manifest
    ``{folder: ..., documents: [{path: ..., <metadata keys>}, ...]}``; a relative ``path`` is
    relative to ``folder`` (the argument, else the manifest's ``folder:`` key, relative to
    the manifest, else the manifest's own folder), so documents kept elsewhere — read in
    place, never copied — and their metadata stay apart."""
    path = Path(path)
    text = read_text(path, error=DocumentError, encoding="utf-8-sig")
    data = load_yaml_mapping(text, str(path))
    entries = data.get("documents")
    if not set(data) <= {"documents", "folder"} or not isinstance(entries, list) or not entries:
        raise DocumentError(
            f"{path}: a manifest is `documents:`, holding a non-empty list, and optionally "
            "`folder:`",
            "write `documents:` then one `- path: <file>` entry per document",
        )
    if folder is None:
        folder = path.parent / str(data.get("folder") or ".")
    out: list[tuple[Path, dict]] = []
    seen: dict[Path, int] = {}
    for i, entry in enumerate(entries):
        where = f"{path}: documents[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise DocumentError(f"{where}: no `path:`", "give each entry `path: <file>`")
        overrides = {str(k): v for k, v in entry.items() if k != "path"}
        validate(overrides, where)
        doc = (Path(folder) / entry["path"]).resolve()
        if not doc.is_file():
            raise DocumentError(f"{where}: {doc} does not exist", "fix the path or add the file")
        if doc in seen:
            raise DocumentError(
                f"{where}: {doc} is already entry {seen[doc]}", "list each document once"
            )
        seen[doc] = i
        out.append((doc, check_keys(overrides, where)))
    return out
