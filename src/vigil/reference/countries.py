"""Country reference data: ISO 3166-1 codes, GDELT's FIPS 10-4 codes, CAMEO codes and names.

Every source names countries differently: GDELT geography uses FIPS 10-4 ("UP" is Ukraine),
GDELT actors use CAMEO codes (mostly ISO3, but "ROM" is Romania), and ACLED, UCDP and the CIR
monitor use free-text names with their own spellings and typos. All mappings live in the CSV
files under ``vigil/reference`` (see its README for sources), so that nothing is guessed at run
time: a value that is not in the tables maps to ``None``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from functools import cache
from importlib.resources import files

import duckdb

__all__ = [
    "NORM_NAME_SQL",
    "alias_table",
    "cameo_table",
    "countries",
    "fips_table",
    "iso3_from_cameo",
    "iso3_from_fips",
    "iso3_from_name",
    "normalise_name",
    "register_reference_tables",
]

# The SQL twin of normalise_name; "{s}" stands for the argument expression. Lower-casing happens
# before strip_accents so both sides see the same letters; any run of non [a-z0-9] characters
# becomes one space, as in Python.
NORM_NAME_SQL = "trim(regexp_replace(strip_accents(lower({s})), '[^a-z0-9]+', ' ', 'g'))"

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _read_csv(name: str) -> list[dict[str, str]]:
    """Read one CSV shipped in ``vigil/reference`` (package data, so it works from a wheel)."""
    text = files("vigil").joinpath("reference", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def normalise_name(s: str) -> str:
    """Casefold, strip accents and collapse punctuation/whitespace to single spaces."""
    # NFKD splits "é" into "e" + a combining accent, which the ASCII filter then drops; this is
    # what DuckDB's strip_accents does for Latin script, so Python and SQL agree.
    decomposed = unicodedata.normalize("NFKD", s.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", stripped).strip()


@cache
def countries() -> tuple[dict[str, str], ...]:
    """Rows of ``countries.csv``: iso3, iso2, fips, cameo, name (one per ISO country + Kosovo)."""
    return tuple(_read_csv("countries.csv"))


@cache
def fips_table() -> dict[str, str]:
    """FIPS 10-4 code -> ISO3; an empty ISO3 marks a known code that is not a country (e.g. OS)."""
    table = {row["fips"]: row["iso3"] for row in countries() if row["fips"]}
    # Codes without their own ISO entity (Gaza Strip, Akrotiri, US minor islands, oceans...).
    for row in _read_csv("fips_extra.csv"):
        table.setdefault(row["fips"], row["iso3"])
    return table


@cache
def cameo_table() -> dict[str, str]:
    """CAMEO actor country code -> ISO3; empty ISO3 marks a region such as EUR or AFR."""
    table = {row["cameo"]: row["iso3"] for row in countries()}
    for row in _read_csv("cameo_actor_regions.csv"):
        table.setdefault(row["code"], row["iso3"])
    return table


@cache
def alias_table() -> dict[str, str]:
    """Normalised name -> ISO3 for aliases and every country's own name (aliases win)."""
    table = {normalise_name(row["name"]): row["iso3"] for row in countries()}
    # Aliases override a country's own name so that a deliberate alias row is never shadowed.
    for row in _read_csv("country_aliases.csv"):
        table[normalise_name(row["alias"])] = row["iso3"]
    return table


def _clean_code(code: str | None) -> str:
    """Upper-case and strip a code; ``None`` becomes the empty string."""
    return (code or "").strip().upper()


@cache
def iso3_from_fips(code: str | None) -> str | None:
    """ISO3 for a FIPS 10-4 code (GDELT ``*_Geo_CountryCode``), or ``None``."""
    return fips_table().get(_clean_code(code)) or None


@cache
def iso3_from_cameo(code: str | None) -> str | None:
    """ISO3 for a CAMEO actor country code (GDELT ``Actor*CountryCode``), or ``None``."""
    return cameo_table().get(_clean_code(code)) or None


@cache
def iso3_from_name(name: str | None) -> str | None:
    """ISO3 for a country name via aliases then exact ISO names (no fuzzy matching), or ``None``."""
    return alias_table().get(normalise_name(name or "")) or None


def register_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the country TEMP tables and the ``vigil_norm_name`` macro on ``con``.

    Tables: ``ref_country(iso3, iso2, fips, cameo, name)``, ``ref_fips(fips, iso3)``,
    ``ref_cameo_country(cameo, iso3)`` and ``ref_country_alias(alias_norm, iso3)``, where
    ``alias_norm`` is normalised exactly as by :func:`normalise_name`, so
    ``JOIN ref_country_alias a ON a.alias_norm = vigil_norm_name(t.country)`` works.
    """
    # Static data: build once per connection (executemany is slow in DuckDB).
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'ref_country_alias'"
    ).fetchone()[0]:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ref_country("
        "iso3 VARCHAR PRIMARY KEY, iso2 VARCHAR, fips VARCHAR, cameo VARCHAR, name VARCHAR)"
    )
    con.executemany(
        "INSERT INTO ref_country VALUES (?, ?, ?, ?, ?)",
        [[r["iso3"], r["iso2"], r["fips"] or None, r["cameo"], r["name"]] for r in countries()],
    )
    # Empty ISO3 (known non-country codes) is stored as NULL: a join then yields NULL, as the
    # Python lookups yield None.
    for table, key, mapping in (
        ("ref_fips", "fips", fips_table()),
        ("ref_cameo_country", "cameo", cameo_table()),
        ("ref_country_alias", "alias_norm", alias_table()),
    ):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table}({key} VARCHAR PRIMARY KEY, iso3 VARCHAR)"
        )
        con.executemany(
            f"INSERT INTO {table} VALUES (?, ?)",
            [[k, v or None] for k, v in sorted(mapping.items())],
        )
    con.execute(
        "CREATE OR REPLACE TEMP MACRO vigil_norm_name(s) AS " + NORM_NAME_SQL.replace("{s}", "s")
    )
