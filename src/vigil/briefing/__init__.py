"""Briefings: the assessment as a document (Markdown, self-contained HTML, PDF)."""
