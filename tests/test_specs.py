"""Theatre and indicator specs: validation errors name the file and key path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vigil.errors import InputError
from vigil.theatre import load_theatre, theatres_root

INDICATOR = """\
id: test_indicator
name: A test indicator
group: tests
rationale: A rationale long enough to say why this indicator matters here.
evidence:
  events:
    - categories: [DEPLOY]
      countries: [BLR]
"""

THEATRE = """\
id: elsewhere
name: Another theatre
countries: [MDA, ROU, UKR]
borders:
  - {id: MDA-UKR}
"""


def _theatre(tmp_path: Path, indicator: str = INDICATOR, theatre: str = THEATRE) -> Path:
    folder = tmp_path / "elsewhere"
    (folder / "indicators").mkdir(parents=True)
    (folder / "theatre.yaml").write_text(theatre)
    (folder / "indicators" / "one.yaml").write_text(indicator)
    return folder


def test_belarus_theatre_loads() -> None:
    spec = load_theatre("belarus")
    assert spec.theatre.countries == ("BLR", "UKR", "RUS", "POL", "LTU", "LVA")
    assert {b.id for b in spec.theatre.borders} == {"BLR-UKR", "BLR-POL", "BLR-LTU", "BLR-LVA"}
    assert spec.indicator("russian_buildup").group == "military_posture"


def test_second_theatre_needs_no_code(tmp_path: Path) -> None:
    spec = load_theatre(_theatre(tmp_path))
    assert spec.theatre.id == "elsewhere"
    assert [i.id for i in spec.indicators] == ["test_indicator"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("DEPLOY", "FOO"),
            "indicators/one.yaml:7: evidence.events[0].categories: [0] 'FOO' is not a category",
        ),
        (
            ("group: tests", "group: tests\ncolour: red"),
            "indicators/one.yaml:4: colour: unknown key; the keys here are: id, name, group,",
        ),
        (
            ("countries: [BLR]", "countries: [Belarus]"),
            "indicators/one.yaml:8: "
            "evidence.events[0].countries[0]: String should match pattern '^[A-Z]{3}$'",
        ),
        (
            (
                "rationale: A rationale long enough to say why this indicator matters here.",
                "rationale: short",
            ),
            "indicators/one.yaml:4: rationale: String should have at least 20 characters",
        ),
    ],
)
def test_errors_name_file_and_key_path(tmp_path: Path, change, message) -> None:
    folder = _theatre(tmp_path, INDICATOR.replace(*change))
    with pytest.raises(InputError) as exc:
        load_theatre(folder)
    assert str(exc.value).startswith(message)


def test_bad_pattern_is_named(tmp_path: Path) -> None:
    text = INDICATOR + "  text:\n    all:\n      - en: ['(unclosed']\n"
    with pytest.raises(InputError, match=r"evidence\.text\.all: \[0\]\.en\[0\]: bad pattern"):
        load_theatre(_theatre(tmp_path, text))


def test_unknown_border_and_threshold_order(tmp_path: Path) -> None:
    near = INDICATOR.replace("countries: [BLR]", "countries: [BLR]\n      near_borders: [BLR-POL]")
    with pytest.raises(InputError, match=r"near_borders: \['BLR-POL'\] not in theatre borders"):
        load_theatre(_theatre(tmp_path, near))
    order = INDICATOR + "thresholds: {elevated: 3, high: 2}\n"
    with pytest.raises(InputError, match=r"thresholds\.high must exceed thresholds\.elevated"):
        load_theatre(_theatre(tmp_path / "b", order))


def test_yaml_syntax_and_missing_theatre(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"indicators/one.yaml: not valid YAML"):
        load_theatre(_theatre(tmp_path, "id: [unclosed\n"))
    with pytest.raises(InputError, match="no theatre at"):
        load_theatre("atlantis")


def test_duplicate_indicator_ids(tmp_path: Path) -> None:
    folder = _theatre(tmp_path)
    shutil.copy(folder / "indicators" / "one.yaml", folder / "indicators" / "two.yaml")
    with pytest.raises(InputError, match="indicator id 'test_indicator' is used twice"):
        load_theatre(folder)


def test_misspelt_key_is_named_not_the_key_it_left_missing(tmp_path: Path) -> None:
    """A typo used to read "rationale: Field required (and 1 more)" (issue 13, defect 12)."""
    folder = _theatre(tmp_path, INDICATOR.replace("rationale:", "rationalle:"))
    with pytest.raises(InputError) as exc:
        load_theatre(folder)
    assert str(exc.value).startswith(
        "indicators/one.yaml:4: rationalle: unknown key; did you mean 'rationale'?"
    )


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    folder = _theatre(tmp_path, INDICATOR + "group: other\n")
    with pytest.raises(InputError, match=r"one\.yaml:9: key 'group' is given twice "
                       r"\(first at indicators/one\.yaml:3\)"):  # fmt: skip
        load_theatre(folder)


def test_theatres_root_is_the_repo_folder() -> None:
    assert (theatres_root() / "belarus" / "theatre.yaml").is_file()


def test_a_theatre_loaded_again_reuses_its_compiled_patterns() -> None:
    """Translating and compiling ~1,200 patterns costs over a second; a process that loads
    the theatre again (the dashboard, the test suite, `vigil demo`) must not pay it twice."""
    from vigil.patterns import compile_pattern

    load_theatre("belarus")
    before = compile_pattern.cache_info()
    load_theatre("belarus")
    after = compile_pattern.cache_info()
    assert after.misses == before.misses and after.hits > before.hits
