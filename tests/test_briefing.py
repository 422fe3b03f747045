"""Briefings: the PHIA yardstick, untrusted text escaped everywhere, and `vigil brief`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from vigil.briefing.render import md_escape, to_html, to_markdown
from vigil.briefing.yardstick import term
from vigil.cli import app

EVIL = "<script>alert(1)</script> **bold** | [x](javascript:alert(2)) `code`"


def test_yardstick_terms_and_gaps() -> None:
    cases = {
        0.0: "remote chance",
        0.05: "remote chance",
        0.08: "highly unlikely",
        0.2: "highly unlikely",
        0.3: "unlikely",
        0.45: "realistic possibility",
        0.6: "likely",
        0.85: "highly likely",
        0.95: "almost certain",
        1.0: "almost certain",
    }
    assert {p: term(p) for p in cases} == cases
    assert term(0.074) == "remote chance" and term(0.076) == "highly unlikely"  # gap midpoint
    with pytest.raises(ValueError):
        term(1.2)


def test_untrusted_text_is_inert_in_markdown_and_html(tmp_path: Path) -> None:
    blocks = [
        ("h", 1, "Briefing"),
        ("p", f"**ours** and theirs: {md_escape(EVIL)} [E1]"),
        ("table", ["a", "b"], [[md_escape(EVIL), "x"]]),
        (
            "refs",
            [
                ("E1", md_escape(EVIL), "javascript:alert(3)"),
                ("E2", "fine", "https://example.org/a?b=1&c=2"),
            ],
        ),
    ]
    md = to_markdown(blocks)
    assert "<script>" not in md and "\\<script\\>" in md and "\\| \\[x\\]" in md
    assert "javascript:" not in md.split("[E1]", 2)[-1].split("\n")[0] or "<javascript" not in md
    page = to_html(blocks, EVIL)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert 'href="javascript' not in page and "alert(3)" not in page.split("E1]")[-1][:60]
    assert "<strong>ours</strong>" in page and "<strong>bold</strong>" not in page
    assert 'href="https://example.org/a?b=1&amp;c=2"' in page
    assert '<a href="#E1">[E1]</a>' in page and "Content-Security-Policy" in page


@pytest.mark.slow
def test_brief_writes_markdown_html_and_pdf(real_store, shared_data, tmp_path) -> None:
    db = tmp_path / "v.duckdb"
    shutil.copyfile(real_store, db)
    with duckdb.connect(str(db)) as con:  # other tests store assessments in the shared store
        con.execute("DELETE FROM assessment_contributions")
        con.execute("DELETE FROM assessments")
    args = [
        "brief",
        "--as-of",
        "2022-02-20",
        "--out",
        str(tmp_path / "b"),
        "--db",
        str(db),
        "--data",
        str(shared_data),
    ]
    if shutil.which("chromium") is None:
        args.append("--no-pdf")
    env = {"VIGIL_CACHE": str(tmp_path / "cache")}
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "b" / "belarus_2022-02-20"
    md = (folder / "briefing.md").read_text()
    for section in (
        "Bottom line up front",
        "What changed and why",
        "Scenarios",
        "Indicators",
        "Posture and capability",
        "Escalation chains",
        "Consequences for Europe",
        "Watch-list",
        "Recommendations",
        "Methods, sources and data gaps",
        "Evidence cited",
    ):
        assert f"## {section}" in md, section
    cited = set(re.findall(r"\[(E\d+)\]", md.split("## Evidence cited")[0]))
    listed = set(re.findall(r"^- \[(E\d+)\]", md.split("## Evidence cited")[1], re.M))
    assert cited and cited == listed  # every citation resolves to a listed item
    page = (folder / "briefing.html").read_text()
    assert "data:image/png;base64," in page and "http://" not in page.split("<body>")[0]
    if shutil.which("chromium"):
        assert (folder / "briefing.pdf").read_bytes()[:5] == b"%PDF-"
    # a second briefing says what changed since the first one (stored)
    again = CliRunner().invoke(app, [*args[:2], "2022-03-06", *args[3:]], env=env)
    assert again.exit_code == 0, again.output
    md2 = (tmp_path / "b" / "belarus_2022-03-06" / "briefing.md").read_text()
    assert "Since the assessment of 2022-02-20" in md2


def test_recommendations_come_from_the_spec_with_their_triggers() -> None:
    from vigil.briefing.document import _recommendations

    assessment = {
        "scenario_sets": [],
        "outcomes": [
            {"id": "a", "probability": 0.12}, {"id": "b", "probability": 0.2},
            {"id": "c", "probability": 0.05},
        ],
    }  # fmt: skip
    recs = [
        {"outcome": "a", "at_probability": 0.1, "text": "Watch the   border <now>."},
        {"outcome": "b", "at_probability": 0.1, "text": "Watch the border <now>."},
        {"outcome": "c", "at_probability": 0.1, "text": "Never printed: below its trigger."},
    ]
    section = to_markdown(_recommendations(assessment, [], recs))
    assert "Watch the border \\<now\\>. (because a 12.0 % ≥ 10.0 %; b 20.0 % ≥ 10.0 %)" in section
    assert section.count("Watch the border") == 1 and "Never printed" not in section


def test_evidence_seen_says_what_was_seen_and_explains_only_what_applies() -> None:
    from vigil.briefing.document import _seen

    def assessment(earlier: list, blind: list) -> dict:
        cov = {"summary": "x of y", "observed": ["a"], "earlier": earlier, "blind": blind}
        return {"scenario_sets": [{"name": "Role <b>", "coverage": cov}]}

    ((kind, text),) = _seen(assessment([], []))
    assert kind == "p" and text.startswith("**Evidence seen.** Role \\<b\\>: x of y.")
    assert "Blind" not in text and "only earlier" not in text
    ((_, text),) = _seen(assessment([{"indicator": "b", "data_date": "2021-12-16"}], []))
    assert "only earlier count for less" in text and "Blind" not in text
    ((_, text),) = _seen(assessment([], [{"indicator": "c", "reasons": ["no data"]}]))
    assert "Blind indicators" in text and "only earlier" not in text
    assert _seen({"scenario_sets": [{"name": "old model, no coverage"}]}) == []
