"""Country reference data: real-data coverage, spot checks and Python/SQL agreement."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import duckdb
import pycountry
import pytest

from vigil.reference import countries as vc

DATA = Path(os.environ.get("VIGIL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

# Zero-based column numbers in a GDELT 2.0 export (61 columns, see design/SOURCES.md §1.1).
ACTOR_COUNTRY_COLS = (7, 17)  # Actor1CountryCode, Actor2CountryCode (1-based 8, 18)
GEO_COUNTRY_COLS = (37, 45, 53)  # Actor1Geo_, Actor2Geo_, ActionGeo_CountryCode


def _data(relative: str) -> Path:
    """Path under the real data folder, skipping the test when it is absent."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


def _gdelt_rows():
    """Yield the rows of the real GDELT 2.0 exports (tab-separated, no header, no quoting)."""
    paths = sorted(_data("gdelt_raw_samples").glob("*.export.CSV.gz"))
    if not paths:
        pytest.skip("no GDELT export samples")
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                assert len(row) == 61
                yield row


def _column_values(path: Path, column: str, opener=open) -> set[str]:
    """Distinct values of one CSV column (csv module: the ACLED month file has quoted commas)."""
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
        return {row[column] for row in csv.DictReader(fh)}


def _real_country_names() -> set[str]:
    """Every distinct country name in the ACLED, CIR and UCDP files named in the brief."""
    names: set[str] = set()
    for path in sorted(_data("acled_aggregates").glob("*.csv")):
        names |= _column_values(path, "Country" if path.name.startswith("acledr_") else "COUNTRY")
    names |= _column_values(
        _data("cir_russia_ukraine_monitor_2022/events.csv.gz"), "country", gzip.open
    )
    names |= _column_values(
        _data("ucdp_ged_ukraine_2014_2022q1/UCDP-Ukraine.csv.gz"), "country", gzip.open
    )
    for path in sorted(_data("ucdp_ged_ukraine_candidate_2022_2023").glob("*.csv.gz")):
        names |= _column_values(path, "country", gzip.open)
    return {n for n in names if n.strip()}  # blank = missing value, not a name


def test_countries_csv_covers_iso_and_kosovo():
    """Countries csv covers iso and kosovo."""
    rows = vc.countries()
    iso3 = {r["iso3"] for r in rows}
    assert iso3 == {c.alpha_3 for c in pycountry.countries} | {"XKX", "XAD"}
    assert len(iso3) == len(rows)
    fips = [r["fips"] for r in rows if r["fips"]]
    assert len(fips) == len(set(fips))
    assert len({r["cameo"] for r in rows}) == len(rows)


@pytest.mark.parametrize(
    ("fips", "iso3"),
    [
        ("UP", "UKR"),
        ("BO", "BLR"),
        ("LH", "LTU"),
        ("LG", "LVA"),
        ("RS", "RUS"),
        ("PL", "POL"),
        ("EN", "EST"),
        ("GM", "DEU"),
        ("UK", "GBR"),
        ("KV", "XKX"),
        ("GZ", "PSE"),
        ("up", "UKR"),
    ],
)
def test_fips_spot_checks(fips, iso3):
    """Fips spot checks."""
    assert vc.iso3_from_fips(fips) == iso3


def test_unknown_input_is_none():
    """Unknown input is none."""
    assert vc.iso3_from_fips("ZZ") is None
    assert vc.iso3_from_fips("OS") is None  # oceans: known, but not a country
    assert vc.iso3_from_fips(None) is None
    assert vc.iso3_from_cameo("EUR") is None
    assert vc.iso3_from_cameo("XYZ") is None
    assert vc.iso3_from_name("Atlantis") is None
    assert vc.iso3_from_name("") is None


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("Belaurs", "BLR"),
        ("Russia", "RUS"),
        ("Democratic Republic of Congo", "COD"),
        ("Kosovo", "XKX"),
        ("ukrain", "UKR"),
        ("Russia (Soviet Union)", "RUS"),
        ("Côte d'Ivoire", "CIV"),
        ("  UKRAINE ", "UKR"),
        ("Moldova, Republic of", "MDA"),
        ("Türkiye", "TUR"),
        ("Crimea", "UKR"),
    ],
)
def test_name_spot_checks(name, iso3):
    """Name spot checks."""
    assert vc.iso3_from_name(name) == iso3


def test_cameo_spot_checks():
    """Cameo spot checks."""
    assert vc.iso3_from_cameo("UKR") == "UKR"
    assert vc.iso3_from_cameo("ROM") == "ROU"  # CAMEO differs from ISO3 here
    assert vc.iso3_from_cameo("WSB") == "PSE"
    assert vc.iso3_from_cameo("blr") == "BLR"


def test_normalise_name():
    """Normalise name."""
    assert vc.normalise_name("  Côte  d\u2019Ivoire ") == "cote d ivoire"
    assert vc.normalise_name("Saint-Barthélemy") == "saint barthelemy"
    assert vc.normalise_name("Bosnia & Herzegovina") == "bosnia herzegovina"


def test_every_gdelt_geo_fips_code_maps():
    """Every gdelt geo fips code maps."""
    codes = {row[i] for row in _gdelt_rows() for i in GEO_COUNTRY_COLS} - {""}
    assert {"UP", "BO", "RS", "PL", "LH"} <= codes
    unknown = sorted(c for c in codes if c not in vc.fips_table())
    assert not unknown, unknown
    non_country = {c for c in codes if vc.iso3_from_fips(c) is None}
    assert non_country <= {"OS"}, non_country  # only GDELT's "Oceans" has no country


def test_every_gdelt_actor_country_code_maps():
    """Every gdelt actor country code maps."""
    codes = {row[i] for row in _gdelt_rows() for i in ACTOR_COUNTRY_COLS} - {""}
    assert {"UKR", "RUS", "BLR", "POL", "LTU"} <= codes
    unknown = sorted(c for c in codes if c not in vc.cameo_table())
    assert not unknown, unknown
    regions = {c for c in codes if vc.iso3_from_cameo(c) is None}
    region_codes = {r["code"] for r in vc._read_csv("cameo_actor_regions.csv")}
    assert regions <= region_codes


def test_every_real_country_name_maps():
    """Every real country name maps."""
    names = _real_country_names()
    assert len(names) > 200
    table = vc.alias_table()
    unmapped = sorted(n for n in names if vc.normalise_name(n) not in table)
    assert not unmapped, unmapped
    # The only names that are listed but are not countries:
    assert {n for n in names if vc.iso3_from_name(n) is None} == {"Other (type name in cell)"}


def test_alias_targets_exist():
    """Alias targets exist."""
    iso3 = {r["iso3"] for r in vc.countries()}
    targets = set(vc.alias_table().values()) | set(vc.fips_table().values())
    targets |= set(vc.cameo_table().values())
    assert targets - {""} <= iso3


def test_sql_tables_and_macro_agree_with_python():
    """Sql tables and macro agree with python."""
    con = duckdb.connect()
    vc.register_reference_tables(con)
    raw = [r["alias"] for r in vc._read_csv("country_aliases.csv")]
    raw += [r["name"] for r in vc.countries()]
    con.execute("CREATE TEMP TABLE names(raw VARCHAR)")
    con.executemany("INSERT INTO names VALUES (?)", [[n] for n in raw])
    got = dict(con.execute("SELECT raw, vigil_norm_name(raw) FROM names").fetchall())
    mismatches = {n: (vc.normalise_name(n), got[n]) for n in raw if vc.normalise_name(n) != got[n]}
    assert not mismatches, mismatches
    joined = con.execute(
        "SELECT n.raw, a.iso3 FROM names n "
        "LEFT JOIN ref_country_alias a ON a.alias_norm = vigil_norm_name(n.raw)"
    ).fetchall()
    assert all((iso3 or None) == vc.iso3_from_name(raw_) for raw_, iso3 in joined)
    assert con.execute("SELECT iso3 FROM ref_fips WHERE fips = 'UP'").fetchone() == ("UKR",)
    assert con.execute("SELECT iso3 FROM ref_cameo_country WHERE cameo = 'EUR'").fetchone() == (
        None,
    )
    assert con.execute("SELECT count(*) FROM ref_country").fetchone() == (len(vc.countries()),)
    vc.register_reference_tables(con)  # idempotent: CREATE OR REPLACE
