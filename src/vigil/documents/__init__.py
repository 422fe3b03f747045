"""Analysts' local documents (.txt, .md, .html, .pdf, .docx) as text, checked metadata and
passages, for a loader to store and match to indicator rules. See :mod:`.extract`."""

from vigil.documents.extract import (
    SUPPORTED,
    DocumentError,
    DocumentMeta,
    Extracted,
    Passage,
    find_sidecar,
    read_document,
    read_manifest,
)

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
