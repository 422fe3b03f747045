"""Serialise a briefing document (a list of blocks) to Markdown, self-contained HTML and PDF.

Blocks are plain tuples so the document builder stays pure and testable:
``("h", level, text)``, ``("p", text)``, ``("ul", [text, ...])``,
``("table", header, rows)``, ``("img", path, alt)``, ``("refs", [(id, text, url), ...])``.

Both renderings are Jinja2 templates (``templates/briefing.md.j2``, ``briefing.html.j2``),
like the dashboard's. All text may come from sources (headlines, series names) and is
untrusted. The builder Markdown-escapes it (:func:`md_escape`) into the block text, which is
marked as such here; in the Markdown template every other value goes through a ``finalize``
that applies :func:`md_escape`, so nothing from the data can start markup or break a table.
The HTML template is autoescaped with a ``finalize`` that shows control and bidirectional
characters as escapes (a right-to-left override would reorder what the reader sees), and
only ``http(s)`` links become anchors. Images are embedded as base64 ``data:`` URIs so the
HTML works offline, and the PDF is printed from that HTML by headless Chromium.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from vigil.display import neutralise
from vigil.errors import InputError

CSS = """
body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;
line-height:1.45}h1,h2,h3{font-family:Helvetica,Arial,sans-serif}h1{font-size:1.6rem}
h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}td,th{border:1px solid #ccc;
padding:.25rem .5rem;vertical-align:top}th{background:#f3f3f3;text-align:left}
img{max-width:100%}.refs{font-size:.85rem}code{font-size:.85rem}
"""
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(text: object) -> str:
    """Text from sources made inert in Markdown (no markup, no table breaks, one line, no
    control or bidi characters)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(neutralise(text).split()))


def safe_url(url: str | None) -> str | None:
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url) else None


class Md(str):
    """Markdown the document builder wrote: its data already went through
    :func:`md_escape`, so the Markdown template prints it as it is."""

    __slots__ = ()


def _md_finalize(value: object) -> str:
    """Every value the Markdown template prints: the builder's Markdown as it is, anything
    else made inert."""
    return value if isinstance(value, Md) else md_escape(value)


def _html_finalize(value: object) -> object:
    """Every value the HTML template prints, before autoescaping: text with its control and
    bidi characters made visible; Markup (the filters' output, escaped there) as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return neutralise(value)
    return value


@cache
def _environments() -> tuple[Environment, Environment]:
    loader = PackageLoader("vigil.briefing", "templates")
    md = Environment(
        loader=loader,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_md_finalize,
    )
    page = Environment(
        loader=loader, autoescape=select_autoescape(["html", "html.j2"]), finalize=_html_finalize
    )
    page.filters["inline"] = _inline
    page.filters["plain"] = lambda text: _plain(str(text))
    return md, page


def _view(blocks: list[tuple], *, embed: bool) -> list[dict]:
    """The blocks as the templates read them: the builder's text marked :class:`Md`,
    links only where :func:`safe_url` allows them, images read when ``embed``."""
    out: list[dict] = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            out.append({"kind": kind, "level": int(block[1]), "hashes": Md("#" * int(block[1])),
                        "text": Md(block[2])})  # fmt: skip
        elif kind == "p":
            out.append({"kind": kind, "text": Md(block[1])})
        elif kind == "ul":
            out.append({"kind": kind, "items": [Md(i) for i in block[1]]})
        elif kind == "table":
            out.append(
                {
                    "kind": kind,
                    "header": [Md(h) for h in block[1]],
                    "rows": [[Md(str(c)) for c in row] for row in block[2]],
                }
            )
        elif kind == "img":
            path = Path(block[1])
            data = base64.b64encode(path.read_bytes()).decode("ascii") if embed else ""
            out.append({"kind": kind, "file": path.name, "alt": block[2], "data": data})
        elif kind == "refs":
            out.append(
                {
                    "kind": kind,
                    "items": [
                        {"id": rid, "text": Md(text), "url": _link(url)}
                        for rid, text, url in block[1]
                    ],
                }
            )
    return out


def _link(url: str | None) -> Md | None:
    """A link the reader may follow (``http(s)``, no spaces, quotes or angle brackets)."""
    link = safe_url(url)
    return Md(link) if link else None


def to_markdown(blocks: list[tuple]) -> str:
    md, _ = _environments()
    text = md.get_template("briefing.md.j2").render(blocks=_view(blocks, embed=False))
    # Strings the builder did not escape (labels, numbers) get the same guard.
    return neutralise(text)


def to_html(blocks: list[tuple], title: str) -> str:
    """Self-contained HTML (styles inline, images embedded); every string escaped."""
    _, page = _environments()
    text = page.get_template("briefing.html.j2").render(
        blocks=_view(blocks, embed=True), title=title, css=Markup(CSS)
    )
    return neutralise(text)


def _plain(text: str) -> str:
    """Markdown-escaped text back to plain text (escaping undone; HTML escapes it)."""
    return re.sub(r"\\(.)", r"\1", text)


_BOLD = re.compile(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _inline(text: str) -> Markup:
    """Markdown-escaped text to HTML: escaped, with the document's own **bold** (unescaped
    asterisks only) and [E12]-style citations as links."""
    text = _CONTROL.sub(" ", text)
    marked = _BOLD.sub(lambda m: f"\x01{m.group(1)}\x02", text)
    out = html.escape(_plain(marked)).replace("\x01", "<strong>").replace("\x02", "</strong>")
    return Markup(re.sub(r"\[(E\d+)\]", r'<a href="#\1">[\1]</a>', out))


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def to_pdf(html_path: Path, pdf_path: Path, timeout_s: int = 120) -> Path:
    """Print the HTML to PDF with headless Chromium (Debian's ``chromium``)."""
    exe = chromium()
    if exe is None:
        raise InputError(
            "no Chromium found to print the PDF",
            "install it: make install-browser (Debian's chromium)",
        )
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf_path}",
        html_path.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    if done.returncode != 0 or not pdf_path.is_file():
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise InputError(f"Chromium could not print {pdf_path.name}: {tail[0]}", "run with --debug")
    return pdf_path
