"""Event-category taxonomy: coverage of every source code, spot checks, Python/SQL agreement."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from pathlib import Path

import duckdb
import pytest

from vigil.reference import taxonomy as tx

DATA = Path(os.environ.get("VIGIL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
DESIGN = DATA.parent / "design" / "SOURCES.md"
PLOVER_16 = {
    "AGREE",
    "CONSULT",
    "SUPPORT",
    "CONCEDE",
    "COOPERATE",
    "AID",
    "RETREAT",
    "REQUEST",
    "ACCUSE",
    "REJECT",
    "THREATEN",
    "PROTEST",
    "SANCTION",
    "MOBILIZE",
    "COERCE",
    "ASSAULT",
}


def _data(relative: str) -> Path:
    """Path under the real data folder, skipping the test when it is absent."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


def _json_cameo_codes() -> list[str]:
    """Every CAMEO event code in gdeltPyR's cameoCodes.json."""
    path = _data("gdelt_raw_samples/gdeltpyr_schemas_and_samples/cameoCodes.json")
    return sorted(json.loads(path.read_text(encoding="utf-8"))["cameoCode"].values())


def _cir_groups() -> set[str]:
    """Distinct event_group values of the CIR monitor."""
    path = _data("cir_russia_ukraine_monitor_2022/events.csv.gz")
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return {row["event_group"] for row in csv.DictReader(fh)}


def _rows() -> list[dict[str, str]]:
    """Rows of the packaged category_map.csv."""
    return [
        {"scheme": scheme, "code": code, "category": m.category}
        for (scheme, code), m in tx._mappings().items()
    ]


def test_categories_shape():
    """Categories shape."""
    assert set(tx.CATEGORIES) >= PLOVER_16
    assert len(tx.CATEGORIES) == 23
    for cat in tx.CATEGORIES.values():
        assert cat.quad in tx.QUADS
        assert cat.plover_parent in PLOVER_16
        assert (cat.plover_parent == cat.id) == (cat.id in PLOVER_16)
        assert cat.description


def test_every_mapped_category_exists():
    """Every mapped category exists."""
    rows = _rows()
    assert {r["scheme"] for r in rows} == {"cameo", "acled", "ucdp", "cir"}
    assert {r["category"] for r in rows} <= set(tx.CATEGORIES)


def test_every_cameo_code_in_json_maps():
    """Every cameo code in json maps."""
    codes = _json_cameo_codes()
    assert len(codes) == 280
    exact = {c for (s, c) in tx._mappings() if s == "cameo"}
    missing = [c for c in codes if c not in exact]
    assert not missing, missing


def test_every_real_gdelt_event_code_maps():
    """Every real gdelt event code maps."""
    paths = sorted(_data("gdelt_raw_samples").glob("*.export.CSV.gz"))
    codes = set()
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            codes |= {row[26] for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}
    assert codes and all(tx.category_for("cameo", c) for c in codes)


def test_every_acled_pair_from_sources_md_maps():
    """Every acled pair from sources md maps."""
    if not DESIGN.exists():
        pytest.skip("design/SOURCES.md not available")
    text = DESIGN.read_text(encoding="utf-8")
    pairs = []
    for event_type, subs in re.findall(r"^\| ([A-Z][^|]+?) \| ([^|]+;[^|]+) \|$", text, re.M):
        pairs += [f"{event_type}|{sub.strip()}" for sub in subs.split(";")]
    assert len(pairs) == 25
    assert {c for (s, c) in tx._mappings() if s == "acled"} == set(pairs)
    assert all(tx.category_for("acled", p) for p in pairs)


def test_every_cir_event_group_maps_and_sql_key_agrees():
    """Every cir event group maps and sql key agrees."""
    groups = sorted(_cir_groups())
    assert len(groups) > 20
    assert all(tx.category_for("cir", g) for g in groups), groups
    con = duckdb.connect()
    tx.register_reference_tables(con)
    con.execute("CREATE TEMP TABLE g(eg VARCHAR)")
    con.executemany("INSERT INTO g VALUES (?)", [[g] for g in groups])
    got = dict(con.execute("SELECT eg, vigil_cir_group_key(eg) FROM g").fetchall())
    assert {g: tx.cir_group_key(g) for g in groups} == got
    unmapped = con.execute(
        "SELECT eg FROM g LEFT JOIN ref_category_map m "
        "ON m.scheme = 'cir' AND m.code = vigil_cir_group_key(eg) WHERE m.category IS NULL"
    ).fetchall()
    assert not unmapped


def test_cir_group_key():
    """Cir group key."""
    assert tx.cir_group_key("Russian Military Presence January 2022") == "russian military presence"
    assert tx.cir_group_key("Bombing or Explosion Feb - June") == "bombing or explosion"
    assert tx.cir_group_key("Russian Military Losses July - Now") == "russian military losses"
    assert tx.cir_group_key("Russian Allies Presence/Losses") == "russian allies presence/losses"


def test_sql_and_python_cameo_lookups_agree():
    """Sql and python cameo lookups agree."""
    mapped = {code for (scheme, code) in tx._mappings() if scheme == "cameo"}
    codes = sorted(mapped | set(_json_cameo_codes()))
    codes += ["0253", "1014", "129", "0999", "99", "x"]  # extended/unknown codes fall back
    con = duckdb.connect()
    tx.register_reference_tables(con)
    con.execute("CREATE TEMP TABLE ev(EventCode VARCHAR)")
    con.executemany("INSERT INTO ev VALUES (?)", [[c] for c in codes])
    got = dict(
        con.execute(f"SELECT EventCode, {tx.cameo_join_sql('EventCode')} FROM ev").fetchall()
    )
    assert got == {c: tx.category_for("cameo", c) for c in codes}
    assert got["0999"] == "ACCUSE" and got["99"] is None and got["x"] is None


@pytest.mark.parametrize(
    ("scheme", "code", "category"),
    [
        ("cameo", "190", "ASSAULT"),
        ("cameo", "0211", "REQUEST"),
        ("cameo", "154", "MOBILIZE"),
        ("cameo", "1724", "LEGAL"),
        ("cameo", "0871", "RETREAT"),
        ("cameo", "163", "SANCTION"),
        ("cameo", "1712", "ASSAULT"),
        ("cameo", "192", "COERCE"),
        ("cameo", "1385", "THREATEN"),
        ("cameo", "204", "ASSAULT"),
        ("cameo", "1954", "ASSAULT"),
        ("acled", "Strategic developments|Headquarters or base established", "DEPLOY"),
        ("acled", "Explosions/Remote violence|Air/drone strike", "ASSAULT"),
        ("acled", "Protests|Peaceful protest", "PROTEST"),
        ("acled", "Strategic developments|Arrests", "COERCE"),
        ("acled", "Strategic developments | Agreement", "AGREE"),
        ("ucdp", "1", "ASSAULT"),
        ("ucdp", "3", "ASSAULT"),
        ("cir", "Russian Military Presence January 2022", "DEPLOY"),
        ("cir", "Civilian Infrastructure Damage March 2022", "ASSAULT"),
        ("cir", "Ground Battle", "ASSAULT"),
    ],
)
def test_spot_checks(scheme, code, category):
    """Spot checks."""
    assert tx.category_for(scheme, code) == category


def test_modes_and_unknowns():
    """Modes and unknowns."""
    assert tx.lookup("cameo", "204").mode == "WMD"
    assert tx.lookup("cameo", "1831").mode == "suicide-attack"
    assert tx.lookup("ucdp", "2").mode == "non-state"
    assert (
        tx.lookup("cir", "Civilian Infrastructure Damage May 2022").mode == "infrastructure damage"
    )
    assert tx.lookup("acled", "Strategic developments|Disrupted weapons use").mode == "intercepted"
    assert tx.category_for("cameo", "") is None
    assert tx.category_for("ucdp", "9") is None
    assert tx.category_for("nope", "190") is None
