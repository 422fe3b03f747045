"""Text from sources made safe to show: control and bidirectional characters made visible.

Stored evidence keeps what the source published (NUL aside, which ingest strips). Every
rendering (terminal, dashboard, briefing) passes source text through :func:`neutralise`,
because a right-to-left override in a headline reorders what a reader sees ("gpj.exe"
reads as "exe.jpg") and a terminal escape can rewrite the screen. The characters are
shown as ``\\u202e``-style escapes rather than dropped, so the reader sees that the source
contained them.
"""

from __future__ import annotations

import re

#: C0/C1 controls except tab and newline; bidi embeddings, overrides, isolates and marks;
#: zero-width joiners and the BOM, which hide text or break copy-paste comparisons
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def neutralise(text: object) -> str:
    """``text`` as a string with every control or bidi character shown as an escape."""
    return _UNSAFE.sub(_escape, str(text))


def has_unsafe(text: str) -> bool:
    """Whether :func:`neutralise` would change ``text``."""
    return _UNSAFE.search(text) is not None


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
