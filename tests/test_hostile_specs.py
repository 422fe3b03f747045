"""Hostile input corpus: specs and patterns written to break the loaders and the matcher.

Part of the hostile corpus that keeps the issue-13 defects fixed: a catastrophic pattern
must not hang matching (defect 2: rule patterns run on RE2, linear in the text, and what
RE2 cannot run is refused at load), and a duplicate or misspelt YAML key must not be
silently accepted or reported as something else (defect 12). Each case is named after
what it attacks.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from vigil.analyst.notes import parse_notes, read_notes, withdraw_note
from vigil.documents.extract import read_document, read_manifest
from vigil.documents.meta import DocumentError, load_yaml_mapping, validate
from vigil.errors import InputError
from vigil.patterns import PatternError, compile_pattern, matches_empty
from vigil.scenarios.spec import load_scenarios
from vigil.text.rules import compile_rule, normalise
from vigil.theatre import TextRule, load_theatre, theatres_root
from vigil.yamlload import MAX_BYTES, read_text

INDICATOR = """\
id: hostile
name: A hostile indicator
group: tests
rationale: A rationale long enough to say why this indicator matters here.
evidence:
  text:
    all:
      - en: [{pattern}]
"""

THEATRE = """\
id: hostile
name: A hostile theatre
countries: [BLR, UKR]
"""


def _theatre(tmp_path: Path, indicator: str, theatre: str = THEATRE) -> Path:
    folder = tmp_path / "hostile"
    (folder / "indicators").mkdir(parents=True)
    (folder / "theatre.yaml").write_text(theatre, encoding="utf-8")
    (folder / "indicators" / "one.yaml").write_text(indicator, encoding="utf-8")
    return folder


def _pattern_spec(pattern: str) -> str:
    return INDICATOR.format(pattern="'" + pattern.replace("'", "''") + "'")


# ---------------------------------------------------------------- defect 2: patterns
def test_catastrophic_backtracking_pattern_matches_in_linear_time() -> None:
    """The pattern of the issue: Python's backtracking engine takes minutes on this text."""
    rule = compile_rule(TextRule(all=({"en": (r"\bbelarus(\w+\s?)+!",)},)))
    text = "belarus" + "troops massing near the border " * 2000  # no '!': every split fails
    started = time.perf_counter()
    assert not rule.match(text)
    assert rule.match(text + "!")
    assert time.perf_counter() - started < 2.0


def test_catastrophic_pattern_in_a_spec_loads_and_runs(tmp_path: Path) -> None:
    spec = load_theatre(_theatre(tmp_path, _pattern_spec(r"(a|aa)+$|(x+x+)+y")))
    rule = compile_rule(spec.indicators[0].evidence.text)
    started = time.perf_counter()
    assert not rule.match("x" * 5000)
    assert time.perf_counter() - started < 2.0


REFUSED = {
    "lookahead": (r"belarus(?= army)", "look-around"),
    "negative_lookahead": (r"troops(?! withdrawn)", "negative look-around"),
    "lookbehind": (r"(?<=re)deploy", "look-around"),
    "negative_lookbehind": (r"(?<!not )troops", "negative look-around"),
    "backreference": (r"(\w+) \1", "back-reference"),
    "named_backreference": (r"(?P<w>\w+) (?P=w)", "back-reference"),
    "conditional_group": (r"(<)?troops(?(1)>)", "conditional group"),
    "possessive_quantifier": (r"troops++", "possessive quantifier"),
    "atomic_group": (r"(?>troops|army)", "atomic group"),
    "dotall_flag": (r"(?s)troops.army", "inline flag"),
    "ascii_flag": (r"(?a)\bбел", "inline flag"),
    "huge_repeat_count": (r"a{1001}", "repeat count above 1000"),
}


@pytest.mark.parametrize(("pattern", "construct"), REFUSED.values(), ids=REFUSED.keys())
def test_pattern_beyond_re2_is_refused_at_load(tmp_path: Path, pattern, construct) -> None:
    with pytest.raises(InputError) as exc:
        load_theatre(_theatre(tmp_path, _pattern_spec(pattern)))
    message = str(exc.value)
    assert message.startswith("indicators/one.yaml:")
    assert "evidence.text.all: [0].en[0]" in message
    assert construct in message
    assert "RE2" in message and "rewrite the pattern" in message


@pytest.mark.parametrize(("pattern", "construct"), REFUSED.values(), ids=REFUSED.keys())
def test_pattern_beyond_re2_is_refused_in_a_rule(pattern, construct) -> None:
    with pytest.raises(PatternError, match=re.escape(construct)):
        compile_pattern(pattern)


# Python's \b, \w, \s and \d are Unicode; RE2's are ASCII. Cases where the two differ.
UNICODE = {
    "cyrillic_word_start": (r"\bбеларус", ["у беларусі", "вбеларус", "(беларусь)", "беларусь"]),
    "cyrillic_word_end": (r"минск\b", ["минск.", "минску", "в минск", "минск-мазовецк"]),
    "cyrillic_whole_word": (r"\bсуд\b", ["суд идёт", "судом", "верховный суд", "подсуд"]),
    "polish_letters_are_word": (r"\bmińsk\b", ["w mińsku", "mińsk mazowiecki", "z mińsk."]),
    "polish_word_end": (r"\bpols(ka|ki|kę|ką)\b", ["polską", "polskę i", "polskąś"]),
    "lithuanian_word_start": (r"\bvilni", ["į vilnių", "švilnius", "vilniuje"]),
    "lithuanian_end": (r"\blietuv\w*\b", ["lietuvą", "lietuvos kariuomenė"]),
    "non_boundary": (r"\Bsk\B", ["минск", "minsky", "ńska", "sk"]),
    "unicode_w_run": (r"\bбелорусск\w+\s+(\w+\s+){0,2}войск", ["белорусские и российские войска"]),
    "unicode_space": (r"troops\sarrive", ["troops\u00a0arrive", "troops\u2003arrive"]),
    "unicode_digit": (r"\d+ troops", ["٣ troops", "3 troops"]),
    "dot_then_boundary": (
        r"\blukashenk\w*.{0,80}\b(troops|войск)",
        ["lukashenko: troops", "лукашенко lukashenkoвойск", "lukashenk.войск"],
    ),
    "boundary_after_optional_group": (r"(\w+ )?\bнато\b", ["нато", "x нато", "xнато"]),
    "edge_of_text": (r"^\bбел|ус\b$", ["бел", "беларус", "беларус\n"]),
}


@pytest.mark.parametrize(("pattern", "texts"), UNICODE.values(), ids=UNICODE.keys())
def test_unicode_word_semantics_match_python(pattern, texts) -> None:
    compiled = compile_pattern(pattern)
    for text in texts:
        m = re.search(pattern, text, re.IGNORECASE)
        assert compiled.search(text) == bool(m), (pattern, text)
        assert compiled.span(text) == (m.span() if m else None), (pattern, text)


def _library_patterns() -> list[str]:
    theatre = load_theatre(theatres_root() / "belarus")
    rules = [i.evidence.text for i in theatre.indicators if i.evidence.text is not None]
    rules += [t.rule() for t in theatre.theatre.topics]
    rules += list(load_scenarios(theatre).text_rules().values())
    return sorted({p for r in rules for g in (*r.all, r.exclude) for ps in g.values() for p in ps})


def test_every_library_pattern_agrees_with_python_on_adversarial_texts() -> None:
    """Every pattern of the real library, on texts built from its own literals glued to
    letters of other scripts, digits and punctuation: the same hits and spans as Python."""
    patterns = _library_patterns()
    assert len(patterns) > 500
    words = sorted({w for p in patterns for w in re.findall(r"[^\W\d_]{3,}", p)})
    glue = ["", " ", "-", ".", "ё", "ł", "ų", "x", "1", "_", "\n", "?", "ў", "'"]
    rng = random.Random(13)
    texts = []
    for _ in range(150):
        parts = [rng.choice(glue) + rng.choice(words) + rng.choice(glue) for _ in range(6)]
        texts.append(normalise(" ".join(parts)))
    for pattern in patterns:
        compiled, python = compile_pattern(pattern), re.compile(pattern, re.IGNORECASE)
        for text in texts:
            m = python.search(text)
            assert compiled.span(text) == (m.span() if m else None), (pattern, text)


# ---------------------------------------------------------------- defect 12: YAML keys
DUPLICATES = {
    "indicator_top_level": (
        "indicators/one.yaml",
        _pattern_spec("belarus") + "rationale: A second rationale, which YAML would keep.\n",
        "rationale",
    ),
    "indicator_nested": (
        "indicators/one.yaml",
        _pattern_spec("belarus") + "    exclude: {en: [a]}\n    exclude: {en: [b]}\n",
        "evidence.text.exclude",
    ),
    "theatre": ("theatre.yaml", THEATRE + "name: Twice\n", "name"),
}


@pytest.mark.parametrize(("file", "text", "key"), DUPLICATES.values(), ids=DUPLICATES.keys())
def test_duplicate_key_is_refused_with_both_lines(tmp_path: Path, file, text, key) -> None:
    indicator, theatre = (
        (text, THEATRE) if file.startswith("indicators") else (_pattern_spec("x"), text)
    )
    with pytest.raises(InputError) as exc:
        load_theatre(_theatre(tmp_path, indicator, theatre))
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().startswith(
        key.split(".")[-1] + ":")]  # fmt: skip
    message = str(exc.value)
    assert f"key {key!r} is given twice" in message
    assert f"{file}:{lines[-1]}" in message and f"{file}:{lines[0]}" in message


def test_duplicate_key_in_a_scenario_set_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "belarus"
    shutil.copytree(theatres_root() / "belarus", folder)
    path = folder / "scenarios" / "martial_law.yaml"
    text = path.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if re.match(r"^id:", line))
    path.write_text(text + first + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"scenarios/martial_law\.yaml:\d+: key .* is given twice"):
        load_scenarios(load_theatre(folder))


def test_duplicate_key_in_notes_is_refused(tmp_path: Path) -> None:
    text = "theatre: belarus\nnotes: []\nnotes: []\n"
    with pytest.raises(InputError, match=r"notes\.yaml:3: key 'notes' is given twice .*:2\)"):
        parse_notes(tmp_path / "notes.yaml", text)


@pytest.mark.parametrize(
    "text",
    ["published: 2025-08-01\npublished: 2025-08-02\n", "title: a\nurl: x\ntitle: b\n"],
    ids=["sidecar_published_twice", "front_matter_title_twice"],
)
def test_duplicate_key_in_document_metadata_is_refused(text) -> None:
    with pytest.raises(DocumentError, match=r"doc\.yaml:\d+: key '\w+' is given twice"):
        load_yaml_mapping(text, "doc.yaml")


MISSPELT = {
    "rationale": ("rationale:", "rationalle:", "rationalle", "'rationale'"),
    "nested_exclude": (
        "    all:",
        "    exclued: {en: [x]}\n    all:",
        "evidence.text.exclued",
        "'exclude'",
    ),
    "evidence": ("evidence:", "evidense:", "evidense", "'evidence'"),
}


@pytest.mark.parametrize(("old", "new", "path", "hint"), MISSPELT.values(), ids=MISSPELT.keys())
def test_misspelt_key_is_named_with_a_suggestion(tmp_path: Path, old, new, path, hint) -> None:
    spec = _pattern_spec("belarus").replace(old, new, 1)
    with pytest.raises(InputError) as exc:
        load_theatre(_theatre(tmp_path, spec))
    message = str(exc.value)
    line = next(i + 1 for i, s in enumerate(spec.splitlines()) if path.split(".")[-1] in s)
    assert message.startswith(f"indicators/one.yaml:{line}: {path}: unknown key; did you mean")
    assert hint in message
    assert "Field required" not in message


def test_misspelt_key_in_a_note_is_named_with_a_suggestion(tmp_path: Path) -> None:
    text = (
        "theatre: belarus\nnotes:\n  - id: n1\n    indicator: russian_buildup\n"
        "    observed: 2025-08-01\n    sumary: Columns of trucks seen near Brest\n"
    )
    with pytest.raises(InputError, match=r"sumary: unknown key; did you mean 'summary'\?"):
        parse_notes(tmp_path / "notes.yaml", text)


def test_misspelt_key_in_document_metadata_is_named_with_a_suggestion() -> None:
    with pytest.raises(DocumentError, match=r"'publshed'; did you mean 'published'\?"):
        validate({"publshed": "2025-08-01"}, "doc.yaml")


# ---------------------------------------------------------------- F: not a regular file
def test_a_spec_linked_to_a_device_is_refused(tmp_path: Path) -> None:
    """``ln -sf /dev/zero indicators/zz.yaml`` exhausted memory. /dev/null is the same kind
    of file (a character device) and harmless to read should the check ever go."""
    folder = _theatre(tmp_path, _pattern_spec("belarus"))
    (folder / "indicators" / "zz.yaml").symlink_to("/dev/null")
    with pytest.raises(InputError, match=r"indicators/zz\.yaml: not a regular file \(a char"):
        load_theatre(folder)


def test_a_spec_larger_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    folder = _theatre(tmp_path, _pattern_spec("belarus"))
    huge = folder / "indicators" / "zz.yaml"
    huge.touch()
    os.truncate(huge, MAX_BYTES + 1)  # sparse: no disk used
    with pytest.raises(InputError, match=r"indicators/zz\.yaml: larger than 8 MiB"):
        load_theatre(folder)


def test_reading_stops_at_the_cap(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "notes.yaml"
    path.write_text("theatre: belarus\nnotes: []\n" + "#" * 100 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="larger than 64 bytes"):
        read_text(path, limit=64)
    assert read_text(path, limit=200).startswith("theatre: belarus")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "notes.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            read_notes(fifo)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)  # a hang must not hang pytest
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "opening a FIFO waited for a writer"
    [exc] = outcome
    assert isinstance(exc, InputError) and "not a regular file (a FIFO" in str(exc)


# ---------------------------------------------------------------- G: not UTF-8
BAD_UTF8 = b"id: hostile\nname: A hostile\xff indicator\n"  # line 2, offset 27


def _not_utf8(message: str, file: str) -> None:
    assert f"{file}:2: not UTF-8 (byte 0xff at offset 27)" in message
    assert "save it as UTF-8" in message


@pytest.mark.parametrize("file", ["indicators/one.yaml", "theatre.yaml"])
def test_a_spec_that_is_not_utf8_is_named_with_line_and_offset(tmp_path: Path, file) -> None:
    folder = _theatre(tmp_path, _pattern_spec("belarus"))
    (folder / file).write_bytes(BAD_UTF8)
    with pytest.raises(InputError) as exc:
        load_theatre(folder)
    _not_utf8(str(exc.value), file)


def test_a_scenario_set_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "belarus"
    shutil.copytree(theatres_root() / "belarus", folder)
    (folder / "scenarios" / "martial_law.yaml").write_bytes(BAD_UTF8)
    with pytest.raises(InputError) as exc:
        load_scenarios(load_theatre(folder))
    _not_utf8(str(exc.value), "scenarios/martial_law.yaml")


def test_notes_that_are_not_utf8_are_named_and_never_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "notes.yaml"
    path.write_bytes(BAD_UTF8)
    for attempt in (
        lambda: read_notes(path),
        lambda: withdraw_note(path, "hostile", dt.date(2030, 1, 1), "why"),
    ):
        with pytest.raises(InputError) as exc:
            attempt()
        _not_utf8(str(exc.value), str(path))
    assert path.read_bytes() == BAD_UTF8


def test_document_metadata_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("Text.\n", encoding="utf-8")
    (tmp_path / "a.txt.yaml").write_bytes(b"published: 2025-08-01\ntitle: x\xff\n")
    with pytest.raises(DocumentError, match=r"a\.txt\.yaml:2: not UTF-8 \(byte 0xff at offset"):
        read_document(doc)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_bytes(b"documents:\n  - path: a.txt\xff\n")
    with pytest.raises(DocumentError, match=r"manifest\.yaml:2: not UTF-8 \(byte 0xff at"):
        read_manifest(manifest)


# ---------------------------------------------------------------- H: a folder, not a file
def test_a_notes_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "notes.yaml"
    folder.mkdir()
    with pytest.raises(InputError, match=r"notes\.yaml: is a folder, not a file"):
        read_notes(folder)


def test_a_spec_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    folder = _theatre(tmp_path, _pattern_spec("belarus"))
    (folder / "indicators" / "zz.yaml").mkdir()
    with pytest.raises(InputError, match=r"indicators/zz\.yaml: is a folder, not a file"):
        load_theatre(folder)


# ---------------------------------------------------------------- L1: empty matches
EMPTY = {"empty": "", "star": "a*", "optional_group": "(x)?", "boundary": r"\b", "alt": "x|"}


@pytest.mark.parametrize("pattern", EMPTY.values(), ids=EMPTY.keys())
def test_a_pattern_matching_the_empty_string_is_refused(tmp_path: Path, pattern) -> None:
    """An empty pattern matched every document and changed an indicator's level. The error
    names the pattern's own line, not the `all:` line above it."""
    spec = INDICATOR.replace("[{pattern}]", "\n          - belarus\n          - {pattern}")
    spec = spec.format(pattern="'" + pattern + "'")
    with pytest.raises(InputError) as exc:
        load_theatre(_theatre(tmp_path, spec))
    line = spec.splitlines().index(f"          - '{pattern}'") + 1
    message = str(exc.value)
    assert message.startswith(f"indicators/one.yaml:{line}: evidence.text.all: [0].en[1]: ")
    assert f"pattern {pattern!r} matches the empty string, so every text" in message


def test_no_library_pattern_matches_the_empty_string() -> None:
    assert not [p for p in _library_patterns() if matches_empty(p)]


def test_a_refused_pattern_names_its_own_line(tmp_path: Path) -> None:
    spec = INDICATOR.replace("[{pattern}]", "\n          - belarus\n          - 'a(?=b)'")
    with pytest.raises(InputError, match=r"^indicators/one\.yaml:10: .*\[0\]\.en\[1\]"):
        load_theatre(_theatre(tmp_path, spec))
