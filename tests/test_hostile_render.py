"""Hostile corpus: source text that tries to spoof or rewrite what a reader sees.

Part of the corpus that keeps issue 13's defects fixed. A right-to-left override in a
headline makes "gpj.exe" read as "exe.jpg"; a terminal escape rewrites the screen; NUL and
zero-width characters hide text. Every rendering (terminal, briefing Markdown and HTML)
shows them as visible escapes instead.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from vigil.briefing.render import md_escape, to_html, to_markdown
from vigil.cli.common import safe
from vigil.display import has_unsafe, neutralise

HOSTILE = {
    "rtl_override": ("invoice\u202egpj.exe", "\\u202e"),
    "rtl_isolate": ("a\u2067b\u2069c", "\\u2067"),
    "arabic_letter_mark": ("x\u061cy", "\\u061c"),
    "nul": ("head\x00line", "\\x00"),
    "terminal_escape": ("\x1b[2J\x1b[31mred", "\\x1b"),
    "c1_csi": ("a\x9bb", "\\x9b"),
    "zero_width_space": ("bela\u200brus", "\\u200b"),
    "bom": ("\ufeffBelarus", "\\ufeff"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_neutralise_shows_every_hidden_character(name: str) -> None:
    text, shown = HOSTILE[name]
    out = neutralise(text)
    assert shown in out
    assert not has_unsafe(out)
    assert neutralise(out) == out  # idempotent: rendering twice changes nothing


def test_neutralise_keeps_ordinary_text() -> None:
    text = "Мінск, Łódź — «Zapad-2025»\tquoted\nnext line; العربية"
    assert neutralise(text) == text


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_terminal_output_shows_escapes(name: str) -> None:
    text, shown = HOSTILE[name]
    console = Console(record=True, width=200)
    console.print(safe(text), markup=False, highlight=False)
    printed = console.export_text()
    assert shown in printed and not has_unsafe(printed.replace("\n", ""))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_briefing_markdown_and_html_show_escapes(name: str) -> None:
    text, shown = HOSTILE[name]
    blocks = [
        ("h", 1, "Briefing"),
        ("p", f"headline: {md_escape(text)}"),
        ("table", ["a"], [[md_escape(text)]]),
        ("refs", [("E1", md_escape(text), None)]),
        ("p", f"unescaped label {text}"),  # a string the builder forgot to escape
    ]
    md = to_markdown(blocks)
    page = to_html(blocks, text)
    for rendered in (md, page):
        assert not has_unsafe(rendered.replace("\n", ""))
    assert shown in page  # the reader sees that the source contained it
