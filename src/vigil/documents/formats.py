"""File formats to text with paragraph breaks, plus what each file says about itself.

Text is normalised to one form for every format, because passages are cut at paragraph
breaks and claims are tagged within sentences: paragraphs are separated by one blank line,
runs of spaces (tabs, no-break spaces) become one space, lines are stripped. A single line
break is kept inside a paragraph (lists, hard-wrapped lines) unless the text has no blank
lines at all, or its block has a line longer than :data:`LONG_LINE` characters: such a file
writes one paragraph per line (as scraped articles do), and a line that long is no wrap.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import charset_normalizer
import docx
from docx.table import Table
from pypdf import PasswordType, PdfReader
from selectolax.lexbor import LexborHTMLParser

from vigil.documents.meta import DocumentError, load_yaml_mapping, parse_published

SUPPORTED = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
OCR_HINT = "run OCR (e.g. ocrmypdf) and load the result, or load a text version"
LONG_LINE = 200

_SPACE = re.compile(r"[^\S\n]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u200b\ufeff]")
_CONTROL_BYTES = bytes([*range(9), *range(14, 32), 127])
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_ENCODING = re.compile(r"^encoding:[ \t]*[\"']?([\w.:-]+)", re.M)
_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
_BREAK, _LINE = "\ue000", "\ue001"  # private-use marks: a parser keeps them as text
_HTML_NOISE = ["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]
_HTML_BLOCKS = (
    "p, div, section, article, main, h1, h2, h3, h4, h5, h6, li, ul, ol, dl, dt, dd, "
    "blockquote, pre, table, tr, figure, figcaption, hr, address, details, summary, caption"
)
_HTML_DATES = (  # tried in order; <time> inside the article before any other <time>
    ('meta[property="article:published_time"]', "content"),
    ('meta[name="date"]', "content"),
    ("article time[datetime]", "datetime"),
    ("main time[datetime]", "datetime"),
    ("time[datetime]", "datetime"),
)
_MARKDOWN = [  # (pattern, replacement), in order: bullets before emphasis
    (re.compile(r"^ {0,3}(?:```|~~~).*$", re.M), ""),  # code fences
    (re.compile(r"^ {0,3}(?:(?:[-*_][ \t]*){3,}|=+[ \t]*)$", re.M), ""),  # rules, underlines
    (re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]+\S.*$", re.M), ""),  # link reference definitions
    (re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M), r"\1"),  # headings
    (re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M), ""),  # block quotes
    (re.compile(r"^[ \t]*[-*+][ \t]+", re.M), ""),  # list bullets
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images: their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"(?<![\w*])(\*{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),  # emphasis
    (re.compile(r"(?<![\w_])(_{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w_])"), r"\2"),
    (re.compile(r"`([^`\n]*)`"), r"\1"),  # inline code
]


@dataclass(frozen=True)
class Raw:
    """One file's text and what it says about itself, before the metadata layers."""

    text: str
    meta: dict[str, object] = field(default_factory=dict)  # title, author, published
    front: dict[str, object] = field(default_factory=dict)  # front matter of .txt/.md
    pages: int | None = None


def extract(path: Path, data: bytes, declared: str | None, sidecar: Path | None) -> Raw:
    """``data`` (the bytes of ``path``) as text; ``declared`` is the encoding the sidecar or
    overrides name, ``sidecar`` the file an encoding hint should point to."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf(path, data)
    if suffix == ".docx":
        return _docx(path, data)
    if suffix in (".html", ".htm"):
        return _html(path, data, declared, sidecar)
    return _plain(path, data, declared, sidecar, markdown=suffix == ".md")


def normalise_text(raw: str) -> str:
    """``raw`` in the one text form of the module docstring."""
    for old, new in (("\r\n", "\n"), ("\r", "\n"), ("\f", "\n\n"), ("\u2029", "\n\n")):
        raw = raw.replace(old, new)
    raw = _CONTROL_CHARS.sub("", raw.replace("\u2028", "\n"))
    blocks: list[list[str]] = [[]]
    for line in raw.split("\n"):
        line = _SPACE.sub(" ", line).strip()
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    blocks = [b for b in blocks if b]
    paragraphs: list[str] = []
    for block in blocks:
        if len(blocks) == 1 or any(len(line) > LONG_LINE for line in block):
            paragraphs.extend(block)
        else:
            paragraphs.append("\n".join(block))
    return "\n\n".join(paragraphs)


def decode(data: bytes, path: Path, declared: str | None, sidecar: Path | None) -> str:
    """UTF-8 (a BOM is fine), else the declared encoding; never a silent guess, because a
    wrong guess turns Cyrillic into plausible-looking Latin garbage that matches nothing."""
    wide = declared is not None and _codec(declared, path).startswith(("utf-16", "utf-32"))
    if wide:  # NUL bytes are expected there
        return _decode_declared(data, path, declared)
    _reject_binary(data, path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start
    if declared:
        return _decode_declared(data, path, declared)
    best = charset_normalizer.from_bytes(data).best()
    side = sidecar.name if sidecar else f"{path.name}.yaml"
    guess = f"it looks like {best.encoding}: " if best else ""
    name = best.encoding if best else "<name>"
    raise DocumentError(
        f"{path}: not valid UTF-8 (first bad byte at offset {offset}) and no encoding is declared",
        f"{guess}add `encoding: {name}` to its sidecar {side}, or convert it to UTF-8",
    )


def _codec(name: str, path: Path) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise DocumentError(
            f"{path}: declared encoding {name!r} is not one Python knows",
            "fix `encoding:` in its metadata (e.g. cp1251, koi8-r, iso-8859-2)",
        ) from None


def _decode_declared(data: bytes, path: Path, declared: str) -> str:
    _codec(declared, path)
    try:
        return data.decode(declared).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{path}: does not decode as its declared encoding {declared} "
            f"({exc.reason} at byte offset {exc.start})",
            "fix `encoding:` in its metadata, or convert the file to UTF-8",
        ) from None


def _reject_binary(data: bytes, path: Path) -> None:
    head = data[:65536]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if b"\x00" in data or controls > 0.02 * len(head):
        raise DocumentError(
            f"{path}: binary data, not text (NUL bytes or {controls} control characters)",
            "check it is the document you meant (an image or archive renamed?) and give it "
            "its real extension",
        )


def _plain(
    path: Path, data: bytes, declared: str | None, sidecar: Path | None, markdown: bool
) -> Raw:
    if declared is None:  # front matter is ASCII: its `encoding:` is readable before decoding
        head = _FRONT.match(data[:65536].removeprefix(codecs.BOM_UTF8).decode("latin-1"))
        found = _FRONT_ENCODING.search(head.group(1) or "") if head else None
        declared = found.group(1) if found else None
    text = decode(data, path, declared, sidecar)
    front: dict[str, object] = {}
    if m := _FRONT.match(text):
        front = load_yaml_mapping(m.group(1) or "", f"{path} (front matter)")
        text = text[m.end() :]
    if markdown:
        for pattern, replacement in _MARKDOWN:
            text = pattern.sub(replacement, text)
    return Raw(normalise_text(text), front=front)


def _html(path: Path, data: bytes, declared: str | None, sidecar: Path | None) -> Raw:
    if declared is None and (m := _CHARSET.search(data[:8192])):
        declared = m.group(1).decode("ascii")
    tree = LexborHTMLParser(decode(data, path, declared, sidecar))
    meta = _html_meta(tree)
    tree.strip_tags(_HTML_NOISE)
    root = tree.css_first("article") or tree.css_first("main") or tree.body
    if root is None:
        return Raw("", meta)
    for node in root.css(_HTML_BLOCKS):
        node.insert_before(_BREAK)
        node.insert_after(_BREAK)
    for node in root.css("br"):
        node.insert_before(_LINE)
    for node in root.css("td, th"):
        node.insert_after(" ")
    text = re.sub(r"\s+", " ", root.text(separator="")).replace(_LINE, "\n")
    return Raw(normalise_text(text.replace(_BREAK, "\n\n")), meta)


def _html_meta(tree: LexborHTMLParser) -> dict[str, object]:
    meta: dict[str, object] = {}
    og = tree.css_first('meta[property="og:title"]')
    titles = [og.attributes.get("content") if og else None]
    titles += [n.text() if (n := tree.css_first(tag)) else None for tag in ("title", "h1")]
    author = tree.css_first('meta[name="author"]')
    meta["title"] = next((t.strip() for t in titles if t and t.strip()), None)
    meta["author"] = (author.attributes.get("content") or "").strip() if author else None
    for selector, attr in _HTML_DATES:
        node = tree.css_first(selector)
        value = (node.attributes.get(attr) or "").strip() if node else ""
        if m := _ISO_DATE.match(value):
            try:
                parse_published(m.group())
            except ValueError:
                continue
            meta["published"] = m.group()
            meta["date_basis"] = f"the page's {selector} {value}"
            break
    return {k: v for k, v in meta.items() if v}


def _pdf(path: Path, data: bytes) -> Raw:
    try:
        reader = PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and not _decrypt_blank(reader)
        if not locked:
            pages = [page.extract_text() or "" for page in reader.pages]
            title = reader.metadata.title if reader.metadata else None
    except Exception as exc:  # pypdf raises many types on a damaged file
        raise DocumentError(
            f"{path}: not a readable PDF ({type(exc).__name__}: {exc})",
            "re-save or re-download it, or load a text version",
        ) from None
    if locked:
        raise DocumentError(
            f"{path}: the PDF is encrypted", "save an unencrypted copy, or load a text version"
        )
    meta = {"title": title.strip()} if isinstance(title, str) and title.strip() else {}
    return Raw(normalise_text("\n\n".join(pages)), meta, pages=len(pages))


def _decrypt_blank(reader: PdfReader) -> bool:
    """Many PDFs are encrypted with an empty password only to restrict printing."""
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # e.g. AES without the optional cryptography package
        return False


def _docx(path: Path, data: bytes) -> Raw:
    try:
        doc = docx.Document(io.BytesIO(data))
        parts: list[str] = []
        for item in doc.iter_inner_content():
            if isinstance(item, Table):
                for row in item.rows:
                    cells = [c.text.strip() for c in row.cells]
                    cells = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                    parts.append(" | ".join(cells))  # merged cells repeat: kept once
            else:
                parts.append(item.text)
        props = doc.core_properties
        meta = {"title": (props.title or "").strip(), "author": (props.author or "").strip()}
    except Exception as exc:  # python-docx raises zip, XML and key errors on damaged files
        raise DocumentError(
            f"{path}: not a readable Word .docx ({type(exc).__name__}: {exc})",
            "re-save it from Word as .docx, or load a text version",
        ) from None
    return Raw(normalise_text("\n\n".join(parts)), {k: v for k, v in meta.items() if v})
