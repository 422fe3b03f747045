"""An analyst's documents in the store: idempotent by content, updates replace, a bad file
fails alone; passages matched like headlines, cited, and never counted as news; and the
August 2025 case end to end on the real seed files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vigil.analyst import ANALYST_SOURCE
from vigil.analyst.store import load_notes
from vigil.briefing.document import Inputs, build
from vigil.documents.load import load_documents
from vigil.indicators.evidence import evidence_for
from vigil.indicators.readings import BLIND, read_indicators
from vigil.scenarios.spec import load_scenarios
from vigil.service.assess import assess, assessment_json
from vigil.text.match import match_documents
from vigil.theatre import load_theatre

THEATRE = load_theatre("belarus")
ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "belarus-2025-08"

REPORT = """\
---
published: 2030-03-02
title: Notes on the southern border
outlet: Example Review
---
The region has been quiet for months and trade across the border continues.

Belarus has mobilised reservists for a snap check of its southern units.
"""


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_loading_is_idempotent_by_content_and_a_changed_file_is_an_update(con, tmp_path):
    path = tmp_path / "report.md"
    path.write_text(REPORT, encoding="utf-8")
    [first] = load_documents(con, [path])
    assert (first.action, first.doc_id, first.published) == ("new", "report", dt.date(2030, 3, 2))
    stored = _count(con, f"SELECT count(*) FROM documents WHERE source = '{ANALYST_SOURCE}'")
    assert stored == first.passages >= 1
    [again] = load_documents(con, [path])
    assert again.action == "unchanged"
    twin = tmp_path / "copy.md"
    twin.write_bytes(path.read_bytes())
    [dup] = load_documents(con, [twin])
    assert (dup.action, dup.duplicate_of) == ("duplicate", "report")
    match_documents(con, THEATRE, source=ANALYST_SOURCE)
    assert _count(con, "SELECT count(*) FROM text_matches WHERE indicator = 'legal_mobilisation'")
    path.write_text(REPORT.replace("mobilised reservists for", "held"), encoding="utf-8")
    [update] = load_documents(con, [path])
    assert update.action == "updated"
    # the old version's passages and matches are gone; one batch per version
    assert _count(con, "SELECT count(*) FROM analyst_documents") == 1
    assert _count(con, "SELECT count(*) FROM text_matches") == 0
    assert _count(con, "SELECT count(*) FROM batches WHERE kind = 'documents'") == 2
    texts = [r[0] for r in con.execute("SELECT body FROM documents").fetchall()]
    assert not any("reservists" in t for t in texts)


def test_a_bad_file_fails_alone_and_leaves_nothing(con, tmp_path):
    (tmp_path / "undated.txt").write_text("Belarus mobilises.\n", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (tmp_path / "good.md").write_text(REPORT, encoding="utf-8")
    loads = {Path(d.path).name: d for d in load_documents(con, [tmp_path])}
    assert loads["good.md"].action == "new"
    assert loads["undated.txt"].action == "failed" and "published:" in loads["undated.txt"].error
    assert loads["image.txt"].action == "failed" and "binary" in loads["image.txt"].error
    assert "undated.txt" in loads["undated.txt"].error
    assert _count(con, "SELECT count(*) FROM analyst_documents") == 1
    assert _count(con, "SELECT count(DISTINCT batch_id) FROM documents") == 1


def test_passages_are_matched_like_headlines_cited_and_never_counted_as_news(con, tmp_path):
    (tmp_path / "report.md").write_text(REPORT, encoding="utf-8")
    load_documents(con, [tmp_path / "report.md"])
    report = match_documents(con, THEATRE, source=ANALYST_SOURCE)
    hits = con.execute(
        "SELECT indicator, kind, source_id FROM text_matches ORDER BY indicator"
    ).fetchall()
    assert ("legal_mobilisation", "occurrence") in {(i, k) for i, k, _ in hits}
    # topics and outcome resolvers count the feeds only
    assert not [i for i, _, _ in hits if ":" in i]
    assert all(m.indicator for m in report.indicators)
    [item] = evidence_for(con, THEATRE, "legal_mobilisation", dt.date(2030, 3, 4))
    assert item.title.startswith("Notes on the southern border (passage")
    assert "mobilised reservists" in item.title and item.outlet == "Example Review"
    # the passage is evidence, not a sample of the news: no text rate, the indicator blind
    r = read_indicators(con, THEATRE, [dt.date(2030, 3, 10)], ["legal_mobilisation"])
    assert r["legal_mobilisation"][0].state == BLIND


# ------------------------------------------------------------- the August 2025 case
@pytest.fixture(scope="module")
def seeds() -> Path:
    folder = ROOT.parent / "shared" / "seeds"
    if not folder.is_dir():
        pytest.skip(f"the seed analyses are not at {folder} (../shared/seeds)")
    return folder


def test_the_august_2025_case_end_to_end_on_the_seed_files(con, seeds):
    loads = load_documents(con, manifest=CASE / "documents.yaml", folder=seeds)
    assert [d.action for d in loads] == ["new", "new"]
    assert {d.published for d in loads} == {dt.date(2025, 8, 31)}  # "August 2025": month end
    match_documents(con, THEATRE, source=ANALYST_SOURCE)
    report = load_notes(con, THEATRE, CASE / "notes.yaml")
    assert report.new == report.notes >= 4
    con.execute("CREATE TEMP TABLE event_border_km "
                "(source VARCHAR, source_id VARCHAR, border VARCHAR, km DOUBLE)")  # fmt: skip
    library = load_scenarios(THEATRE)
    result = assessment_json(assess(con, THEATRE, library, dt.date(2025, 9, 1), 90))
    base = result["coverage"]
    assert base["indicators"]["from_notes"]  # the notes are the only evidence read
    assert set(base["indicators"]["from_notes"]) == set(base["indicators"]["observed"])
    assert "analyst notes" in base["meaning"]
    noted = [
        c
        for s in result["scenario_sets"]
        for sc in s["scenarios"]
        for c in sc["contributions"]
        if c["note"]
    ]
    assert noted and all(c["note"]["basis"]["kind"] == "document" for c in noted)
    assert all(c["note"]["basis"]["passage"] for c in noted)  # every quote was found
    blocks = build(Inputs("belarus", "Belarus", "2025-09-01", result, []))
    first = " ".join(str(b[-1]) for b in blocks[:3])
    assert "from analyst notes" in first and "indicators observed" in first


def test_a_folder_with_no_documents_fails_instead_of_loading_nothing(con, tmp_path):
    """Hostile: `vigil ingest documents x.md`, x.md a folder, reported "0 document(s)".
    Folders are loaded by design (every document below them); one holding none fails,
    saying so, and the other paths still load."""
    (tmp_path / "x.md").mkdir()
    (tmp_path / "report.md").write_text(REPORT, encoding="utf-8")
    empty, loaded = load_documents(con, [tmp_path / "x.md", tmp_path / "report.md"])
    assert (empty.action, loaded.action) == ("failed", "new")
    assert "x.md: a folder with no documents below it (none of .txt, .md" in empty.error
