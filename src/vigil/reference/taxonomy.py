"""Event-category taxonomy: the 16 PLOVER types plus extensions for NATO's eastern flank.

Each source's event codes (CAMEO, ACLED event/sub-event types, UCDP type of violence, CIR
monitor event groups) are mapped to one category in ``reference/category_map.csv``. Extensions
carry a ``plover_parent`` so that PLOVER/POLECAT interchange consumers can read them as a
standard type. Sources and deviations from PLOVER's own CAMEO mapping are documented in the
reference README and the ``note`` column of the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import duckdb

__all__ = [
    "CATEGORIES",
    "CIR_GROUP_KEY_SQL",
    "QUADS",
    "Category",
    "Mapping",
    "cameo_join_sql",
    "category_for",
    "cir_group_key",
    "lookup",
    "register_reference_tables",
]

QUADS = ("verbal cooperation", "material cooperation", "verbal conflict", "material conflict")


@dataclass(frozen=True)
class Category:
    """One event category: id, quad class, the PLOVER type to read it as, and a description."""

    id: str
    quad: str
    plover_parent: str
    description: str


@dataclass(frozen=True)
class Mapping:
    """Where one source code lands: category id and an optional PLOVER-style mode."""

    category: str
    mode: str


def _cat(id_: str, quad: int, description: str, parent: str | None = None) -> Category:
    """Build a Category; a PLOVER type is its own parent."""
    return Category(id_, QUADS[quad - 1], parent or id_, description)


# Quads of the 16 types follow the POLECAT list. The extensions are all material conflict except
# NUCLEAR: exercises, deployments, airspace and border incidents, sabotage and legal measures are
# physical acts or binding decisions (PLOVER reads single-country exercises as MOBILIZE), whereas
# nuclear posture is overwhelmingly signalling (statements, doctrine), hence verbal conflict.
CATEGORIES: dict[str, Category] = {
    c.id: c
    for c in (
        _cat("AGREE", 1, "Agree to, or express intent to, cooperate, meet, mediate or settle."),
        _cat("CONSULT", 1, "Meetings, visits, calls, negotiation and mediation."),
        _cat("SUPPORT", 1, "Verbal support, praise, recognition, apologies, signing agreements."),
        _cat("CONCEDE", 1, "Yield or accede to demands, ease restrictions (verbal or legal)."),
        _cat("COOPERATE", 2, "Material cooperation: economic, military, judicial, intelligence."),
        _cat("AID", 2, "Provide economic, military or humanitarian aid, protection, asylum."),
        _cat("RETREAT", 2, "Release, return, ceasefire, withdrawal, disarm, allow access."),
        _cat("REQUEST", 3, "Appeals and demands (PLOVER's former DEMAND)."),
        _cat("ACCUSE", 3, "Criticise, accuse, sue or investigate."),
        _cat("REJECT", 3, "Reject, refuse, veto or defy."),
        _cat("THREATEN", 3, "Threats, ultimatums, coercive warnings."),
        _cat("PROTEST", 4, "Demonstrations, strikes, boycotts, obstruction, riots."),
        _cat("SANCTION", 4, "Reduce relations, cut aid, expel, impose sanctions or embargoes."),
        _cat("MOBILIZE", 4, "Military or police moves and alerts short of the use of force."),
        _cat("COERCE", 4, "Arrests, restrictions, confiscation, blockade, occupation."),
        _cat("ASSAULT", 4, "Use of force or violence against people or property."),
        _cat("EXERCISE", 4, "Military exercise.", "MOBILIZE"),
        _cat("DEPLOY", 4, "Force deployment or build-up; bases established.", "MOBILIZE"),
        _cat("AIRSPACE", 4, "Airspace violation or drone/balloon incident.", "COERCE"),
        _cat(
            "SABOTAGE",
            4,
            "Sabotage, diversion, arson or covert attack on infrastructure.",
            "ASSAULT",
        ),
        _cat("BORDER", 4, "Border or migration incident.", "COERCE"),
        _cat(
            "LEGAL", 4, "Mobilisation, martial law, defence-law or other legal measure.", "MOBILIZE"
        ),
        _cat("NUCLEAR", 3, "Nuclear posture or rhetoric.", "THREATEN"),
    )
}

# CIR event groups embed months and years ("Civilian Infrastructure Damage March 2022",
# "Bombing or Explosion Feb - June"); the key drops them so one mapping row covers all months.
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec|now"
)
_CIR_DROP = re.compile(rf"\b({_MONTHS}|\d{{4}})\b")
_CIR_DASH = re.compile(r"\s-(\s|$)")
_SPACES = re.compile(r"\s+")

# SQL twin of cir_group_key, "{s}" standing for the argument (DuckDB's RE2 supports \b); the
# steps run in the same order as in Python.
CIR_GROUP_KEY_SQL = (
    "trim(regexp_replace(regexp_replace(regexp_replace(lower({s}), "
    rf"'\b({_MONTHS}|\d{{4}})\b', ' ', 'g'), '\s-(\s|$)', ' ', 'g'), '\s+', ' ', 'g'))"
)


def cir_group_key(event_group: str) -> str:
    """Lower-case a CIR event_group and remove month names, years, "now" and range dashes."""
    key = _CIR_DROP.sub(" ", event_group.lower())
    key = _CIR_DASH.sub(" ", key)
    return _SPACES.sub(" ", key).strip()


@cache
def _mappings() -> dict[tuple[str, str], Mapping]:
    """(scheme, code) -> Mapping, read once from the packaged ``category_map.csv``."""
    text = files("vigil").joinpath("reference", "category_map.csv").read_text(encoding="utf-8")
    return {
        (row["scheme"], row["code"]): Mapping(row["category"], row["mode"])
        for row in csv.DictReader(io.StringIO(text))
    }


@cache
def lookup(scheme: str, code: str | None) -> Mapping | None:
    """Return the mapping for a source code, or ``None`` if the scheme does not know it.

    CAMEO codes fall back from the exact code to its 3-char base and 2-char root, because GDELT
    emits 4-digit codes that the mapping lists only at base level. CIR codes may be given as the
    raw event_group; they are keyed with :func:`cir_group_key`. ACLED codes are
    ``"event_type|sub_event_type"``.
    """
    scheme = scheme.strip().lower()
    code = (code or "").strip()
    if scheme == "cameo":
        candidates = [code, code[:3], code[:2]] if len(code) >= 2 else []
    elif scheme == "cir":
        candidates = [cir_group_key(code)]
    elif scheme == "acled":
        candidates = ["|".join(part.strip() for part in code.split("|"))]
    else:
        candidates = [code]
    table = _mappings()
    for candidate in candidates:
        if (scheme, candidate) in table:
            return table[(scheme, candidate)]
    return None


def category_for(scheme: str, code: str | None) -> str | None:
    """Category id for a source code (see :func:`lookup`), or ``None``."""
    found = lookup(scheme, code)
    return found.category if found else None


def cameo_join_sql(code_expr: str) -> str:
    """Return SQL giving the category of the CAMEO code in ``code_expr`` (exact/base/root).

    Needs :func:`register_reference_tables` on the connection. Use it in a SELECT list, e.g.
    ``SELECT EventCode, {cameo_join_sql('EventCode')} AS category FROM events``; DuckDB
    decorrelates the three scalar subqueries into joins. ``code_expr`` is SQL, not a value:
    never pass user input.
    """

    def sub(key: str) -> str:
        return (
            "(SELECT m.category FROM ref_category_map AS m "
            f"WHERE m.scheme = 'cameo' AND m.code = {key})"
        )

    exact = f"CAST({code_expr} AS VARCHAR)"
    return f"coalesce({sub(exact)}, {sub(f'left({exact}, 3)')}, {sub(f'left({exact}, 2)')})"


def register_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create TEMP tables ref_category_map, ref_category and macro vigil_cir_group_key."""
    # Static data: build once per connection (executemany is slow in DuckDB).
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'ref_category'"
    ).fetchone()[0]:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ref_category_map("
        "scheme VARCHAR, code VARCHAR, category VARCHAR, mode VARCHAR, "
        "PRIMARY KEY (scheme, code))"
    )
    con.executemany(
        "INSERT INTO ref_category_map VALUES (?, ?, ?, ?)",
        [[s, c, m.category, m.mode or None] for (s, c), m in sorted(_mappings().items())],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ref_category("
        "id VARCHAR PRIMARY KEY, quad VARCHAR, plover_parent VARCHAR, description VARCHAR)"
    )
    con.executemany(
        "INSERT INTO ref_category VALUES (?, ?, ?, ?)",
        [[c.id, c.quad, c.plover_parent, c.description] for c in CATEGORIES.values()],
    )
    con.execute(
        "CREATE OR REPLACE TEMP MACRO vigil_cir_group_key(s) AS "
        + CIR_GROUP_KEY_SQL.replace("{s}", "s")
    )
