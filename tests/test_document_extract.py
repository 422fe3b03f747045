"""Analysts' documents to text + metadata: every format, the metadata layers, the errors an
analyst can act on, and passages (all files made here, except the read-only seeds)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from vigil.documents import SUPPORTED, DocumentError, find_sidecar, read_document, read_manifest
from vigil.errors import InputError

SEEDS = Path("/work/shared/seeds")
RU = (
    "Министерство обороны Республики Беларусь сообщило о начале внезапной проверки "
    "боеготовности. Войска выдвигаются в районы сосредоточения у границы."
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _pdf(words: str, title: str = "Pdf Metadata Title") -> bytes:
    """A one-page PDF with a Helvetica text layer, xref offsets counted by hand."""
    content = f"BT /F1 12 Tf 72 720 Td ({words}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Title (%s) /CreationDate (D:20200101120000Z) >>" % title.encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _error(path: Path, overrides: dict | None = None) -> str:
    with pytest.raises(DocumentError) as info:
        read_document(path, overrides)
    assert isinstance(info.value, InputError)
    return str(info.value)


# --- formats -------------------------------------------------------------------------------


def test_txt_front_matter_is_metadata_and_not_text(tmp_path):
    path = _write(
        tmp_path / "report.txt",
        "---\ntitle: Troops at the border\npublished: 2025-08-14\nsource: Example Monitor\n"
        "reliability: B\ncredibility: 2\n---\nFirst\x07 paragraph.\n\nSecond   paragraph\twith "
        "tabs.\n",
    )
    doc = read_document(path)
    assert doc.text == "First paragraph.\n\nSecond paragraph with tabs."
    assert doc.format == "txt"
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.pages is None
    meta = doc.meta
    assert (meta.title, meta.published, meta.date_precision) == (
        "Troops at the border",
        dt.date(2025, 8, 14),
        "day",
    )
    assert (meta.outlet, meta.reliability, meta.credibility, meta.doc_type) == (
        "Example Monitor",
        "B",
        2,
        "analysis",
    )
    assert meta.to_dict()["published"] == "2025-08-14"


def test_markdown_markup_is_stripped_and_paragraphs_kept(tmp_path):
    path = _write(
        tmp_path / "note.md",
        "---\npublished: 2025-08-01\n---\n# Exercise *Zapad* ahead\n\n"
        "Units **moved** to _Grodno_ per [the ministry](https://example.org/a).\n\n"
        "- first bullet\n* second bullet\n\n> quoted line\n\n---\n\nsnake_case stays.\n",
    )
    doc = read_document(path)
    assert doc.text == (
        "Exercise Zapad ahead\n\nUnits moved to Grodno per the ministry.\n\n"
        "first bullet\nsecond bullet\n\nquoted line\n\nsnake_case stays."
    )
    assert doc.meta.title == "Exercise Zapad ahead"  # the first line, marks removed
    assert doc.format == "md"


HTML = """<!doctype html><html><head><meta charset="utf-8">
<title>Site | Troops return</title>
<meta property="og:title" content="Troops return to barracks">
<meta property="article:published_time" content="2025-07-30T09:15:00+03:00">
<style>p { color: red }</style><script>var tracking = "SCRIPTNOISE";</script></head>
<body><header>HEADERNOISE</header><nav><a href="/">NAVNOISE home</a></nav>
<article><h2>Troops return</h2><p>The brigade went back
   to its base.</p><div>Second <b>block</b> here.<br>After a break.</div>
<aside>ASIDENOISE related</aside><form>FORMNOISE</form><script>SCRIPTNOISE()</script>
<nav>NAVNOISE next</nav><noscript>NOSCRIPTNOISE</noscript></article>
<footer>FOOTERNOISE</footer></body></html>"""


def test_html_noise_is_dropped_and_the_page_date_used(tmp_path):
    doc = read_document(_write(tmp_path / "page.html", HTML))
    assert doc.text == (
        "Troops return\n\nThe brigade went back to its base.\n\nSecond block here.\nAfter a break."
    )
    assert "NOISE" not in doc.text
    assert doc.meta.title == "Troops return to barracks"  # og:title first
    assert (doc.meta.published, doc.meta.date_precision) == (dt.date(2025, 7, 30), "day")
    assert "article:published_time" in doc.meta.date_basis


def test_html_without_article_takes_the_body(tmp_path):
    page = (
        "<html><head><title>Page title</title><style>b {}</style></head><body>"
        "<nav>NAVNOISE</nav><script>SCRIPTNOISE</script><h1>Heading</h1><p>Body text.</p>"
        "<ul><li>one</li><li>two</li></ul><footer>FOOTERNOISE</footer>"
        '<time datetime="2025-06-02">2 June</time></body></html>'
    )
    doc = read_document(_write(tmp_path / "page.html", page))
    assert doc.text == "Heading\n\nBody text.\n\none\n\ntwo\n\n2 June"
    assert (doc.meta.title, doc.meta.published) == ("Page title", dt.date(2025, 6, 2))


def test_html_page_date_loses_to_a_sidecar_date(tmp_path):
    path = _write(tmp_path / "page.htm", HTML)
    _write(tmp_path / "page.htm.yaml", "published: 2025-08\n")
    doc = read_document(path)
    assert (doc.meta.published, doc.meta.date_precision) == (dt.date(2025, 8, 31), "month")
    assert doc.meta.date_basis is None  # the page's reason was for the page's date
    assert doc.format == "html"


def test_html_meta_charset_decodes_a_cp1251_page(tmp_path):
    page = f'<html><head><meta charset="windows-1251"></head><body><p>{RU}</p></body></html>'
    path = tmp_path / "ru.html"
    path.write_bytes(page.encode("cp1251"))
    doc = read_document(path, {"published": "2025-08-02"})
    assert doc.text == RU
    assert (doc.meta.language, doc.meta.language_detected) == ("ru", True)


def test_pdf_text_layer_and_metadata_title_fallback(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(_pdf("Belarus moves troops to the border."))
    doc = read_document(path, {"published": "2025-08-03"})
    assert doc.text == "Belarus moves troops to the border."
    assert (doc.format, doc.pages) == ("pdf", 1)
    assert doc.meta.title == "Pdf Metadata Title"
    _write(tmp_path / "report.pdf.yaml", "title: Given title\npublished: 2025-08-03\n")
    assert read_document(path).meta.title == "Given title"


def test_pdf_creation_date_is_not_a_publication_date(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(_pdf("Words."))
    message = _error(path)
    assert "no publication date" in message
    assert "report.pdf.yaml" in message


def test_pdf_without_a_text_layer_asks_for_ocr(tmp_path):
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "scan.pdf"
    path.write_bytes(buffer.getvalue())
    message = _error(path, {"published": "2025"})
    assert "scan.pdf: no extractable text" in message
    assert "ocrmypdf" in message


def test_pdf_encrypted_and_corrupt(tmp_path):
    writer = PdfWriter(clone_from=io.BytesIO(_pdf("Secret words.")))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "locked.pdf").write_bytes(buffer.getvalue())
    assert "encrypted" in _error(tmp_path / "locked.pdf", {"published": "2025"})
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    assert "broken.pdf: not a readable PDF" in _error(tmp_path / "broken.pdf")


def test_docx_paragraphs_and_core_properties(tmp_path):
    document = docx.Document()
    document.core_properties.title = "Word title"
    document.core_properties.author = "A. Analyst"
    document.add_paragraph("First paragraph about drills.")
    document.add_paragraph("Second paragraph.")
    document.save(tmp_path / "brief.docx")
    assert "no publication date" in _error(tmp_path / "brief.docx")  # `created` is not one
    doc = read_document(tmp_path / "brief.docx", {"published": "2025-08-05"})
    assert doc.text == "First paragraph about drills.\n\nSecond paragraph."
    assert (doc.meta.title, doc.meta.author, doc.format) == ("Word title", "A. Analyst", "docx")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    assert "not a readable Word .docx" in _error(tmp_path / "broken.docx")


def test_unsupported_extension_lists_the_supported(tmp_path):
    message = _error(_write(tmp_path / "table.csv", "a,b\n"))
    assert "'.csv'" in message
    assert all(ext in message for ext in SUPPORTED)


# --- errors ----------------------------------------------------------------------------------


def test_no_date_names_the_file_and_the_line_to_add(tmp_path):
    message = _error(_write(tmp_path / "undated.txt", "Some text.\n"))
    assert "undated.txt: no publication date" in message
    assert "`published: YYYY-MM-DD`" in message
    assert "front matter" in message
    assert "undated.txt.yaml" in message


def test_binary_file_renamed_txt(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert "photo.txt: binary data, not text" in _error(path, {"published": "2025"})
    path.write_bytes(b"Mostly text. " * 200 + b"One NUL\x00 byte.")
    assert "binary data" in _error(path, {"published": "2025"})


def test_undeclared_cp1251_is_an_error_and_a_declared_one_loads(tmp_path):
    path = tmp_path / "ru.txt"
    path.write_bytes(("2025: " + RU + "\n\n" + RU).encode("cp1251"))
    message = _error(path, {"published": "2025-08-01"})
    assert "not valid UTF-8 (first bad byte at offset 6)" in message
    assert "it looks like cp1251: add `encoding: cp1251` to its sidecar ru.txt.yaml" in message
    _write(tmp_path / "ru.txt.yaml", "published: 2025-08-01\nencoding: cp1251\n")
    doc = read_document(path)
    assert doc.text == "2025: " + RU + "\n\n" + RU
    assert (doc.meta.language, doc.meta.language_detected) == ("ru", True)


def test_encoding_in_front_matter_of_a_cp1251_file(tmp_path):
    path = tmp_path / "ru.md"
    path.write_bytes(f"---\nencoding: cp1251\npublished: 2025\n---\n# {RU}\n".encode("cp1251"))
    doc = read_document(path)
    assert doc.text == RU
    assert (doc.meta.published, doc.meta.date_precision) == (dt.date(2025, 12, 31), "year")


def test_a_declared_encoding_that_fails_is_named(tmp_path):
    path = tmp_path / "ru.txt"
    path.write_bytes(RU.encode("cp1251"))
    message = _error(path, {"published": "2025", "encoding": "ascii"})
    assert "declared encoding ascii" in message
    assert "byte offset 0" in message


def test_invalid_values_name_the_key_and_the_file(tmp_path):
    path = _write(tmp_path / "a.txt", "Text.\n")
    _write(tmp_path / "a.txt.yaml", "published: 2025-02-30\n")
    message = _error(path)
    assert "a.txt.yaml: published: '2025-02-30' is not a date" in message
    _write(tmp_path / "a.txt.yaml", "published: 2025-02-01\nreliability: G\n")
    assert "a.txt.yaml: reliability:" in _error(path)
    _write(tmp_path / "a.txt.yaml", "published: 2025-02-01\ncredibility: 7\n")
    message = _error(path)
    assert "a.txt.yaml: credibility:" in message
    assert "Admiralty" in message


def test_sidecar_not_yaml_or_not_a_mapping(tmp_path):
    path = _write(tmp_path / "a.txt", "Text.\n")
    _write(tmp_path / "a.meta.yaml", "published: [2025\n")
    assert find_sidecar(path) == tmp_path / "a.meta.yaml"
    assert "a.meta.yaml: not valid YAML" in _error(path)
    _write(tmp_path / "a.meta.yaml", "- published: 2025\n")
    assert "a.meta.yaml: expected a mapping" in _error(path)


def test_unknown_key_is_named_with_the_file_and_allowed_keys(tmp_path):
    path = _write(tmp_path / "a.txt", "---\npublished: 2025-08-01\npublshed: 2025\n---\nText.\n")
    message = _error(path)
    assert "a.txt (front matter): unknown metadata key 'publshed'" in message
    assert "published, date_basis" in message
    path = _write(tmp_path / "b.txt", "Text.\n")
    message = _error(path, {"published": "2025", "colour": "red"})
    assert "overrides for" in message
    assert "'colour'" in message


def test_sha256_pin(tmp_path):
    path = _write(tmp_path / "a.txt", "Text.\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_document(path, {"published": "2025", "sha256": digest}).sha256 == digest
    message = _error(path, {"published": "2025", "sha256": "0" * 64})
    assert "the file changed since its metadata was written" in message


# --- metadata layers -----------------------------------------------------------------------


def test_month_and_year_dates_are_the_last_day(tmp_path):
    path = _write(tmp_path / "a.txt", "Text.\n")
    cases = {"2024-02": (dt.date(2024, 2, 29), "month"), 2023: (dt.date(2023, 12, 31), "year")}
    for given, expected in cases.items():
        meta = read_document(path, {"published": given}).meta
        assert (meta.published, meta.date_precision) == expected
    assert "is not a date" in _error(path, {"published": "2025-13"})


def test_sidecar_over_front_matter_and_overrides_over_sidecar(tmp_path):
    path = _write(
        tmp_path / "a.txt",
        "---\ntitle: Front\npublished: 2025-01-01\ndate_basis: byline\nauthor: F\n---\nText.\n",
    )
    _write(tmp_path / "a.txt.yaml", "title: Side\nurl: https://example.org/x\n")
    meta = read_document(path).meta
    assert (meta.title, meta.url, meta.author, meta.date_basis) == (
        "Side",
        "https://example.org/x",
        "F",
        "byline",
    )
    meta = read_document(path, {"title": "Manifest", "published": "2025-03", "outlet": None}).meta
    assert (meta.title, meta.url, meta.published) == (
        "Manifest",
        "https://example.org/x",
        dt.date(2025, 3, 31),
    )
    assert meta.date_basis is None  # "byline" was the reason for the other date
    assert meta.outlet is None


def test_title_falls_back_to_the_file_stem_after_a_long_first_line(tmp_path):
    path = _write(tmp_path / "long-one.txt", "word " * 60 + "\n")
    assert read_document(path, {"published": "2025"}).meta.title == "long-one"


def test_language_detected_or_kept(tmp_path):
    quoting = f"Troops moved to the border today.\n\nQuote: «{RU[:12]}»"
    english = _write(tmp_path / "en.txt", quoting)
    meta = read_document(english, {"published": "2025"}).meta
    assert (meta.language, meta.language_detected) == ("en", True)
    russian = _write(tmp_path / "ru.txt", RU)
    meta = read_document(russian, {"published": "2025"}).meta
    assert (meta.language, meta.language_detected) == ("ru", True)
    meta = read_document(russian, {"published": "2025", "language": "be"}).meta
    assert (meta.language, meta.language_detected) == ("be", False)


# --- passages --------------------------------------------------------------------------------


def _check_cover(doc, passages):
    assert [p.n for p in passages] == list(range(1, len(passages) + 1))
    position = 0
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert doc.text[position : p.start].strip() == ""  # only whitespace between
        assert p.text == p.text.strip()
        position = p.end
    assert doc.text[position:].strip() == ""


def test_passages_cover_the_text_and_respect_max_chars(tmp_path):
    sentences = " ".join(f"Sentence number {i} says something about drills." for i in range(30))
    text = "Short one.\n\nShort two.\n\n" + sentences + "\n\nTail paragraph here."
    doc = read_document(_write(tmp_path / "a.txt", text), {"published": "2025"})
    passages = doc.passages(max_chars=200)
    _check_cover(doc, passages)
    assert all(len(p.text) <= 200 for p in passages)
    assert passages[0].text.startswith("Short one.\n\nShort two.")  # short ones merged
    assert all(re.search(r"[.!?]$", p.text) for p in passages)  # cut at sentence ends
    assert len(passages) > len(text) // 200
    assert [p.text for p in doc.passages(max_chars=10_000)] == [doc.text]


def test_a_sentence_longer_than_max_chars_is_cut_at_spaces(tmp_path):
    long = "word " * 80 + "end."
    path = _write(tmp_path / "a.txt", f"Intro.\n\n{long}")
    doc = read_document(path, {"published": 2025})
    passages = doc.passages(max_chars=100)
    _check_cover(doc, passages)
    assert passages[0].text == "Intro."
    assert all(len(p.text) <= 100 for p in passages)
    assert all(re.fullmatch(r"(word ?)+|(word )*end\.", p.text) for p in passages[1:])


def test_a_text_with_no_spaces_is_hard_split_at_max_chars(tmp_path):
    """Hostile: a 10 MB document with no spaces was one passage, though passages are at
    most 1,200 characters (docs/NOTES.md)."""
    doc = read_document(_write(tmp_path / "a.txt", "x" * 5000), {"published": 2025})
    passages = doc.passages()
    _check_cover(doc, passages)
    assert [len(p.text) for p in passages] == [1200, 1200, 1200, 1200, 200]


def test_a_hard_split_prefers_punctuation(tmp_path):
    text = "abcdefghi," * 50  # 500 characters, no spaces: cut after a comma
    doc = read_document(_write(tmp_path / "a.txt", text), {"published": 2025})
    passages = doc.passages(max_chars=95)
    _check_cover(doc, passages)
    assert all(len(p.text) <= 95 and p.text.endswith(",") for p in passages)


def test_one_line_per_paragraph_files(tmp_path):
    doc = read_document(_write(tmp_path / "a.txt", "Line one.\nLine two.\n"), {"published": 2025})
    assert doc.text == "Line one.\n\nLine two."
    wrapped = "A wrapped\nparagraph.\n\nAnother\none."
    doc = read_document(_write(tmp_path / "b.txt", wrapped), {"published": 2025})
    assert doc.text == wrapped  # short lines between blank lines are wraps or lists


# --- manifest --------------------------------------------------------------------------------


def test_manifest_resolves_paths_and_validates_entries(tmp_path):
    (tmp_path / "docs").mkdir()
    _write(tmp_path / "docs" / "a.txt", "Text.\n")
    manifest = _write(
        tmp_path / "docs" / "manifest.yaml",
        "documents:\n  - path: a.txt\n    published: 2025-08\n    source: Outlet\n",
    )
    [(path, overrides)] = read_manifest(manifest)
    assert path == (tmp_path / "docs" / "a.txt").resolve()
    assert overrides == {"published": "2025-08", "outlet": "Outlet"}
    assert read_document(path, overrides).meta.outlet == "Outlet"
    _write(manifest, "documents:\n  - path: a.txt\n  - path: gone.txt\n")
    with pytest.raises(DocumentError, match=r"manifest.yaml: documents\[1\]: .*gone.txt"):
        read_manifest(manifest)
    _write(manifest, "documents:\n  - path: a.txt\n    credibility: 9\n")
    with pytest.raises(DocumentError, match=r"documents\[0\]: credibility"):
        read_manifest(manifest)
    _write(manifest, "documents:\n  - path: a.txt\n    tags: [x]\n")
    with pytest.raises(DocumentError, match=r"documents\[0\]: unknown metadata key 'tags'"):
        read_manifest(manifest)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents /work/shared/seeds are absent")
def test_seed_files_through_a_manifest(tmp_path):
    seeds = sorted(SEEDS.glob("*.txt"))
    assert len(seeds) >= 2
    entries = "".join(f"  - path: {p}\n    published: 2025-08\n" for p in seeds)
    manifest = _write(tmp_path / "manifest.yaml", f"documents:\n{entries}")
    for path, overrides in read_manifest(manifest):
        doc = read_document(path, overrides)
        assert (doc.meta.published, doc.meta.date_precision) == (dt.date(2025, 8, 31), "month")
        assert (doc.meta.language, doc.meta.language_detected) == ("en", True)
        assert "Belarus" in doc.text
        passages = doc.passages()
        assert len(passages) >= 5
        assert all(len(p.text) <= 1200 for p in passages)
        _check_cover(doc, passages)
