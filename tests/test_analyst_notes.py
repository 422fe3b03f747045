"""Graded analyst notes: the file, the grades, idempotent loads, withdrawal, and a note that
reads an indicator no feed covers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.analyst.grades import Grade
from vigil.analyst.notes import read_notes, withdraw_note
from vigil.analyst.store import load_notes, notes_in_force
from vigil.cli import app
from vigil.documents.load import load_documents
from vigil.errors import InputError
from vigil.indicators.readings import BLIND, NOTE, read_indicators
from vigil.scenarios.spec import load_scenarios
from vigil.service.assess import assess, assessment_json
from vigil.store import connect
from vigil.theatre import load_theatre

THEATRE = load_theatre("belarus")
DAY = dt.date(2030, 6, 1)  # an empty store: no feed covers any indicator on any date

NOTES = """\
# kept under version control: this comment must survive edits
theatre: belarus
notes:
  - id: draft-law
    indicator: legal_mobilisation
    observed: 2030-05-20
    state: elevated
    grade: B2
    basis: {text: "the ministry's own statement"}
    summary: A draft law on martial law is before parliament.
    why: One legal step, not a campaign.
"""


def _write(path: Path, text: str = NOTES) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _reading(con, day: dt.date, indicator: str = "legal_mobilisation"):
    return read_indicators(con, THEATRE, [day], [indicator])[indicator][0]


# ------------------------------------------------------------------------------ grades
def test_grades_follow_the_documented_mapping():
    assert Grade.parse("b2") == Grade("B", 2)
    assert Grade.parse("F-3").code == "F3"
    assert Grade.parse("A1").weight == 1.0
    assert Grade.parse("B2").weight == pytest.approx(0.64)
    assert Grade.parse("F3").weight == pytest.approx(0.3)
    assert Grade.parse("E1").weight == 0.0 and Grade.parse("A5").weight == 0.0
    assert "usually reliable" in Grade.parse("B2").describe()
    with pytest.raises(ValueError, match="A–F"):
        Grade.parse("G7")


# ------------------------------------------------------------------------------- file
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("grade: B2", "grade: Z9"), r"note 1 \(draft-law\), grade: .*Admiralty"),
        (("state: elevated", "state: raging"), r"note 1 \(draft-law\), state"),
        (("    why:", "    colour: red\n    why:"), r"note 1 \(draft-law\), colour: unknown key"),
        (("    state: elevated\n", ""), r"give the state"),
        (("observed: 2030-05-20", "observed: 2030-02-30"), r"observed"),
    ],
)
def test_a_bad_note_is_named_with_its_file_and_key(tmp_path, change, message):
    path = _write(tmp_path / "notes.yaml", NOTES.replace(*change))
    with pytest.raises(InputError, match=message) as e:
        read_notes(path)
    assert str(path) in str(e.value)


def test_two_notes_with_one_id_are_refused(tmp_path):
    body = NOTES.split("notes:\n", 1)[1]
    path = _write(tmp_path / "notes.yaml", NOTES + body)
    with pytest.raises(InputError, match="notes 1 and 2 have the same id"):
        read_notes(path)


# ------------------------------------------------------------------------------- load
def test_loading_is_idempotent_and_follows_the_file(con, tmp_path):
    path = _write(tmp_path / "notes.yaml")
    first = load_notes(con, THEATRE, path)
    assert (first.new, first.updated, first.unchanged) == (1, 0, 0)
    again = load_notes(con, THEATRE, path)
    assert (again.new, again.updated, again.unchanged, again.batch_id) == (0, 0, 1, None)
    assert con.execute("SELECT count(*) FROM notes").fetchone()[0] == 1
    _write(path, NOTES.replace("grade: B2", "grade: C3"))
    changed = load_notes(con, THEATRE, path)
    assert (changed.new, changed.updated) == (0, 1)
    assert con.execute("SELECT weight FROM notes").fetchone()[0] == pytest.approx(0.36)
    _write(path, "theatre: belarus\nnotes: []\n")
    gone = load_notes(con, THEATRE, path)
    assert gone.removed == 1
    assert con.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    batches = con.execute("SELECT count(*) FROM batches WHERE source = 'notes'").fetchone()[0]
    assert batches == 3  # new, updated, removed; the unchanged load wrote nothing


def test_a_note_on_an_unknown_indicator_or_document_loads_nothing(con, tmp_path):
    path = _write(tmp_path / "notes.yaml", NOTES.replace("legal_mobilisation", "weather"))
    with pytest.raises(InputError, match=r"note 1 \(draft-law\): no indicator 'weather'"):
        load_notes(con, THEATRE, path)
    doc = NOTES.replace('{text: "the ministry\'s own statement"}', "{document: nowhere}")
    with pytest.raises(InputError, match="not loaded"):
        load_notes(con, THEATRE, _write(path, doc))
    assert con.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


def test_a_note_resting_on_a_document_cites_the_passage_holding_its_quote(con, tmp_path):
    text = (
        "---\npublished: 2030-05-19\ntitle: Defence law draft\n---\n"
        + "Background paragraph about the region and its history. " * 30
        + "\n\nThe lower house received a draft law from the Ministry of Defence.\n"
    )
    (tmp_path / "report.md").write_text(text, encoding="utf-8")
    [loaded] = load_documents(con, [tmp_path / "report.md"])
    assert loaded.action == "new" and loaded.passages >= 2
    quoted = NOTES.replace(
        '{text: "the ministry\'s own statement"}',
        '{document: report, quote: "received a  draft law from the ministry"}',
    )
    load_notes(con, THEATRE, _write(tmp_path / "notes.yaml", quoted))
    passage, quote = con.execute("SELECT passage, quote FROM notes").fetchone()
    assert passage == loaded.passages and "draft law" in quote
    [note] = notes_in_force(con, "belarus", "legal_mobilisation", DAY)
    assert note["basis"]["title"] == "Defence law draft"
    assert note["basis"]["outlet"] == "unknown outlet" and note["grade"] == "B2"
    wrong = quoted.replace("received a  draft law", "signed a decree")
    with pytest.raises(InputError, match="quote is not in document 'report'"):
        load_notes(con, THEATRE, _write(tmp_path / "notes.yaml", wrong))


# ---------------------------------------------------------------------------- reading
def test_a_note_reads_an_indicator_no_feed_covers(con, tmp_path):
    assert _reading(con, DAY).state == BLIND  # nothing in the store
    load_notes(con, THEATRE, _write(tmp_path / "notes.yaml"))
    r = _reading(con, DAY)
    assert r.state == "elevated"
    assert r.driver.kind == NOTE and r.driver.note == "draft-law"
    assert r.strength == pytest.approx(0.64)  # B2
    assert r.observed == dt.date(2030, 5, 20)
    # not before it was observed, and not after it lapses (90 days by default)
    assert _reading(con, dt.date(2030, 5, 19)).state == BLIND
    assert _reading(con, dt.date(2030, 5, 20) + dt.timedelta(days=90)).state == BLIND


def test_a_note_graded_improbable_is_kept_but_never_weighed(con, tmp_path):
    load_notes(con, THEATRE, _write(tmp_path / "notes.yaml", NOTES.replace("B2", "B5")))
    assert _reading(con, DAY).state == BLIND
    [note] = notes_in_force(con, "belarus", "legal_mobilisation", DAY)
    assert note["weight"] == 0.0


def test_a_withdrawn_note_counts_until_its_withdrawal_only(con, tmp_path):
    path = _write(tmp_path / "notes.yaml")
    load_notes(con, THEATRE, path)
    withdraw_note(path, "draft-law", dt.date(2030, 5, 25), "the draft was never tabled")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# kept under version control")  # the analyst's file survives
    assert read_notes(path).notes[0].withdrawn.why == "the draft was never tabled"
    report = load_notes(con, THEATRE, path)
    assert (report.updated, report.withdrawn) == (1, 1)
    assert _reading(con, dt.date(2030, 5, 24)).state == "elevated"  # as it was known then
    assert _reading(con, dt.date(2030, 5, 25)).state == BLIND
    assert con.execute("SELECT withdrawn_why FROM notes").fetchone()[0].startswith("the draft")


def test_the_assessment_weighs_the_note_and_says_so(con, tmp_path):
    library = load_scenarios(THEATRE)
    # no events, so no border distances: the table the event rules read is empty
    con.execute("CREATE TEMP TABLE event_border_km "
                "(source VARCHAR, source_id VARCHAR, border VARCHAR, km DOUBLE)")  # fmt: skip
    before = assessment_json(assess(con, THEATRE, library, DAY, 90))
    load_notes(con, THEATRE, _write(tmp_path / "notes.yaml"))
    after = assessment_json(assess(con, THEATRE, library, DAY, 90))
    ml = next(s for s in after["scenario_sets"] if s["id"] == "martial_law")
    declared = next(sc for sc in ml["scenarios"] if sc["id"] == "declared")
    [c] = [c for c in declared["contributions"] if c["indicator"] == "legal_mobilisation"]
    assert c["note"]["id"] == "draft-law" and c["note"]["grade"] == "B2"
    assert c["evidence"][0]["kind"] == "note" and "the ministry" in c["evidence"][0]["title"]
    assert c["llr"] > 0  # an elevated legal indicator raises the declared rung
    p = {o["id"]: o["probability"] for o in after["outcomes"]}
    p0 = {o["id"]: o["probability"] for o in before["outcomes"]}
    assert p["belarus_martial_law"] > p0["belarus_martial_law"]
    assert after["coverage"]["indicators"]["from_notes"] == ["legal_mobilisation"]
    assert "1 reading(s) come only from analyst notes" in after["coverage"]["meaning"]
    assert before["coverage"]["indicators"]["observed"] == []
    assert "Most indicators are blind" in before["coverage"]["meaning"]


# -------------------------------------------------------------------------------- CLI
def test_note_add_appends_loads_and_restores_the_file_when_the_load_fails(tmp_path):
    db, path = tmp_path / "v.duckdb", _write(tmp_path / "notes.yaml")
    runner = CliRunner()
    common = ["--file", str(path), "--db", str(db)]
    ok = runner.invoke(app, ["note", "add", "belarus_southern_posture", *common,
                             "--grade", "C3", "--state", "elevated", "--observed", "2030-05-21",
                             "--text", "a unit seen moving south", "--summary", "A unit moved",
                             "--id", "unit-south"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "added note unit-south" in ok.output
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# kept under version control")
    assert [n.note_id for n in read_notes(path).notes] == ["draft-law", "unit-south"]
    bad = runner.invoke(app, ["note", "add", "legal_mobilisation", *common, "--grade", "B2",
                              "--state", "high", "--document", "not-loaded",
                              "--summary", "rests on nothing loaded"])  # fmt: skip
    assert bad.exit_code == 1 and "not loaded" in bad.output
    assert path.read_text(encoding="utf-8") == text  # restored
    listing = runner.invoke(app, ["notes", "--db", str(db), "--format", "json"])
    assert {n["note_id"] for n in json.loads(listing.output)["notes"]} == {
        "draft-law",
        "unit-south",
    }
    gone = runner.invoke(app, ["note", "withdraw", "unit-south", *common, "--why", "misread",
                               "--on", "2030-05-22"])  # fmt: skip
    assert gone.exit_code == 0, gone.output
    con = connect(db)
    assert con.execute("SELECT withdrawn_on FROM notes WHERE note_id = 'unit-south'").fetchone()[
        0
    ] == dt.date(2030, 5, 22)
