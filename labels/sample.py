"""Draw the stratified, seeded sample of headlines that ``headlines_belarus.csv`` labels.

Run from the repository root::

    python labels/sample.py [PATH_TO_PARQUET]

It prints one line per sampled headline, ``stratum<TAB>source_id``, and nothing of the text
(the publishers' terms forbid republishing it). ``source_id`` is the store's
``documents.source_id`` for the ``rss`` source: ``md5(link || chr(31) || title)``.

Strata (disjoint, drawn in this order, each from the ids sorted so that the draw does not
depend on file order):

* ``belarus`` — 150 from headlines whose title or description mentions Belarus (EN/PL forms),
  Lukashenko or Minsk, whatever the topic;
* ``random`` — 100 from all headlines;
* ``theme:<name>`` — for each of five indicator themes (drones, migrants, Wagner, nuclear,
  exercises), 6 English and 6 Polish headlines mentioning the theme: 60 in all;
* ``belarus_early`` — 60 more Belarus headlines captured before September 2022, when the feeds
  were essentially BBC and CNN (the first three strata are dominated by the later, larger feed
  mix, which would leave the 2021 border crisis and the 2022 build-up under-represented);
* ``belarus_military`` — 40 more Belarus headlines that also use a military word, so that the
  rarer military indicators get enough positives to estimate recall at all;
* ``holdout:belarus`` and ``holdout:military`` — 60 and 40 more, drawn like ``belarus`` and
  ``belarus_military`` after the rules were final, labelled before the rules were run on
  them: the out-of-sample check of the rules (labels/README.md).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import duckdb

SEED = 20240603
PARQUET = "news_rss_headlines_2021_2023/rss_headlines_region_filtered_2021_2023.parquet"

# RE2 patterns (DuckDB regexp_matches), applied to lower(title || ' ' || description).
BELARUS = r"belarus|białoru|biełaru|bialorus|lukashenk|łukaszenk|lukaszenk|\bminsk|\bmińsk"
THEMES = {
    "drones": r"\bdrones?\b|\bdron(y|a|u|ów|em|ami|ach|ie)?\b|bezzałogow",
    "migrants": r"migrant|migranc|migration|migracj",
    "wagner": r"wagner|prigozh|prigożyn|prigożin",
    "nuclear": r"nuclear|nuklear|jądrow|atomow",
    "exercises": r"military exercise|\bdrills?\b|war games|manewr|ćwiczen|ćwicze",
}
MILITARY = (
    r"troops|soldier|army|military|missile|drone|border|wojsk|armi|żołnierz|rakiet|dron|granic"
)
EARLY_BEFORE = "2022-09-01"
PER_THEME_LANGUAGE = 6
N_BELARUS = 150
N_RANDOM = 100
N_EARLY = 60
N_MILITARY = 40
N_HOLDOUT_BELARUS = 60
N_HOLDOUT_MILITARY = 40

QUERY = """
SELECT md5(coalesce(link, '') || chr(31) || coalesce(title, '')) AS source_id,
       lower(coalesce(title, '') || ' ' || coalesce(description, '')) AS text,
       lower(substr(coalesce(language, ''), 1, 2)) AS lang,
       day
FROM read_parquet(?)
"""


def default_parquet() -> Path:
    """The snapshot under ``VIGIL_DATA`` or the sibling ``shared/data`` folder."""
    root = Path(__file__).resolve().parents[1]
    data = Path(os.environ.get("VIGIL_DATA") or root.parent / "shared" / "data")
    return data / PARQUET


def _ids(con: duckdb.DuckDBPyConnection, where: str, params: list) -> list[str]:
    sql = f"SELECT source_id FROM docs WHERE {where} ORDER BY source_id"
    return [r[0] for r in con.execute(sql, params).fetchall()]


def draw(parquet: Path, seed: int = SEED) -> list[tuple[str, str]]:
    """The sample as ``(stratum, source_id)`` pairs, in draw order."""
    con = duckdb.connect()
    con.execute(f"CREATE TEMP TABLE docs AS {QUERY}", [str(parquet)])
    rng = random.Random(seed)
    taken: set[str] = set()
    out: list[tuple[str, str]] = []

    def take(stratum: str, pool: list[str], k: int) -> None:
        pool = [i for i in pool if i not in taken]
        for source_id in rng.sample(pool, min(k, len(pool))):
            taken.add(source_id)
            out.append((stratum, source_id))

    take("belarus", _ids(con, "regexp_matches(text, ?)", [BELARUS]), N_BELARUS)
    take("random", _ids(con, "true", []), N_RANDOM)
    for name, pattern in THEMES.items():
        for lang in ("en", "pl"):
            pool = _ids(con, "regexp_matches(text, ?) AND lang = ?", [pattern, lang])
            take(f"theme:{name}", pool, PER_THEME_LANGUAGE)
    # Drawn after the first three strata, so adding them left those draws unchanged.
    early = "regexp_matches(text, ?) AND day < ?"
    take("belarus_early", _ids(con, early, [BELARUS, EARLY_BEFORE]), N_EARLY)
    military = "regexp_matches(text, ?) AND regexp_matches(text, ?)"
    take("belarus_military", _ids(con, military, [BELARUS, MILITARY]), N_MILITARY)
    take("holdout:belarus", _ids(con, "regexp_matches(text, ?)", [BELARUS]), N_HOLDOUT_BELARUS)
    take("holdout:military", _ids(con, military, [BELARUS, MILITARY]), N_HOLDOUT_MILITARY)
    return out


def main(argv: list[str]) -> int:
    parquet = Path(argv[1]) if len(argv) > 1 else default_parquet()
    for stratum, source_id in draw(parquet):
        print(f"{stratum}\t{source_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
