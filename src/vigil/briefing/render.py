"""Serialise a briefing document (a list of blocks) to Markdown, self-contained HTML and PDF.

Blocks are plain tuples so the document builder stays pure and testable:
``("h", level, text)``, ``("p", text)``, ``("ul", [text, ...])``,
``("table", header, rows)``, ``("img", path, alt)``, ``("refs", [(id, text, url), ...])``.

All text may come from sources (headlines, series names) and is untrusted: the HTML escapes
every string and only ``http(s)`` links become anchors; Markdown escapes the characters that
would break a table or start markup; control and bidirectional characters are shown as
escapes (a right-to-left override would reorder what the reader sees). Images are embedded
as base64 ``data:`` URIs so the HTML works offline, and the PDF is printed from that HTML
by headless Chromium.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from pathlib import Path

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


def to_markdown(blocks: list[tuple]) -> str:
    out: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            out.append(f"{'#' * block[1]} {block[2]}\n")
        elif kind == "p":
            out.append(f"{block[1]}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]) + "\n")
        elif kind == "table":
            header, rows = block[1], block[2]
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines) + "\n")
        elif kind == "img":
            out.append(f"![{block[2]}]({Path(block[1]).name})\n")
        elif kind == "refs":
            out.append(
                "\n".join(
                    f"- [{rid}] {text}" + (f" <{url}>" if safe_url(url) else "")
                    for rid, text, url in block[1]
                )
                + "\n"
            )
    # Strings the builder did not escape (labels, numbers) get the same guard.
    return neutralise("\n".join(out))


def to_html(blocks: list[tuple], title: str) -> str:
    """Self-contained HTML (styles inline, images embedded); every string escaped."""
    e = html.escape
    body: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            body.append(f"<h{block[1]}>{e(_plain(block[2]))}</h{block[1]}>")
        elif kind == "p":
            body.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(h)}</th>" for h in block[1])
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>"
                for row in block[2]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
            body.append(f'<img alt="{e(block[2])}" src="data:image/png;base64,{data}">')
        elif kind == "refs":
            items = []
            for rid, text, url in block[1]:
                link = safe_url(url)
                anchor = (
                    f' <a href="{e(link)}" rel="noopener noreferrer">{e(link)}</a>' if link else ""
                )
                items.append(f'<li id="{e(rid)}">[{e(rid)}] {e(_plain(text))}{anchor}</li>')
            body.append(f'<ol class="refs">{"".join(items)}</ol>')
    return neutralise(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"img-src data:; style-src 'unsafe-inline'\"><title>{e(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def _plain(text: str) -> str:
    """Markdown-escaped text back to plain text (escaping undone; HTML escapes it)."""
    return re.sub(r"\\(.)", r"\1", text)


_BOLD = re.compile(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _inline(text: str) -> str:
    """Markdown-escaped text to HTML: escaped, with the document's own **bold** (unescaped
    asterisks only) and [E12]-style citations as links."""
    text = _CONTROL.sub(" ", text)
    marked = _BOLD.sub(lambda m: f"\x01{m.group(1)}\x02", text)
    out = html.escape(_plain(marked)).replace("\x01", "<strong>").replace("\x02", "</strong>")
    return re.sub(r"\[(E\d+)\]", r'<a href="#\1">[\1]</a>', out)


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
