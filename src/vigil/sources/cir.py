"""CIR / Bellingcat "Russia-Ukraine Monitor Map" events, as mirrored in ``events.csv``.

One geolocated OSINT incident per row (entry, date, event_group, title, brief
description, lat, lon, country, province, district, town/city, arms/munition, violence
level, link, geolocation). ``event_group`` names embed months ("Civilian Infrastructure
Damage March 2022"), so the category is looked up by :func:`taxonomy.cir_group_key`.
Country names are free text with typos ("Belaurs"), resolved through the alias table.

``available_at`` is ``date`` plus :data:`PUBLICATION_LAG_DAYS`: the map has no per-row
publication time; CIR verifies and geolocates a social-media post and maps it within days.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from vigil.reference import countries, taxonomy
from vigil.sources.base import Adapter, Reader, Stage
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.tabular import (
    Range,
    check_required,
    header_names,
    in_file_order,
    latest_date,
    locate_csv_records,
    range_checks,
    read_csv_sql,
    reject_beyond_body,
    restore_file_order,
    settle_keys,
    stage_select,
)

REQUIRED = (
    "entry",
    "date",
    "event_group",
    "title",
    "brief description",
    "lat",
    "lon",
    "country",
    "province",
    "town/city",
    "link",
)

# CIR's workflow (collect a post, verify, geolocate, publish on the map) takes days, not
# weeks; 2 days is a conservative constant for most rows (the mirror does not keep the
# map's per-row edit times, so the real delay cannot be measured here).
PUBLICATION_LAG_DAYS = 2
BASIS = f"date+{PUBLICATION_LAG_DAYS}d (CIR verifies and maps OSINT posts within days)"

MIRROR = "https://raw.githubusercontent.com/mauforonda/ukraine/master/events.csv"

_DATE = (
    "CASE WHEN regexp_full_match(src.date, '\\d{4}-\\d{2}-\\d{2}') "
    "THEN TRY_CAST(src.date AS DATE) END"
)

# CIR titles start with the incident's day, day first: "24/02/2022 Russian helicopters…"
# (every row of the 2022 file, a few as "20/3/2022 …" or "28/02.2022 …"). When the title
# (or the description) starts with a date that disagrees with the date column, one of the
# two is mistyped and the row cannot be placed in time: it is quarantined. Only a LEADING
# date is the record's own stamp: a date inside the text mentions another day ("Missile
# impact from 27/04/2022" in a row of 28/04) and is not compared.
# Tolerance: of the 6,646 rows of the 2022 file with a valid date, 6,643 agree with their
# title to the day; the other three are 22, 28 and 61 days off (month slips). A few days
# let an overnight incident, or a post dated a day or two from the event, pass, while a
# mistyped month or year (and most mistyped day digits) is caught.
TEXT_DATE_TOLERANCE_DAYS = 3


def _leading(column: str) -> tuple[str, str]:
    """SQL for the date ``column`` starts with (dd/mm/yyyy, d.m.yyyy, yyyy-mm-dd; NULL when
    none or not a real day) and for that date's text as written."""
    dmy = f"regexp_extract({column}, '^\\s*(\\d{{1,2}}[./]\\d{{1,2}}[./]\\d{{4}})(\\D|$)', 1)"
    iso = f"regexp_extract({column}, '^\\s*(\\d{{4}}-\\d{{2}}-\\d{{2}})(\\D|$)', 1)"
    day = (
        f"coalesce(try_strptime(regexp_replace({dmy}, '[.]', '/', 'g'), '%d/%m/%Y')::DATE, "
        f"TRY_CAST({iso} AS DATE))"
    )
    return day, f"coalesce(nullif({dmy}, ''), {iso})"


def _contradicts(column: str, what: str) -> str:
    """A CASE branch rejecting a row whose ``column`` starts with a date far from ``date``."""
    day, text = _leading(column)
    gap = f"abs({day} - {_DATE})"
    return f"""WHEN {gap} > {TEXT_DATE_TOLERANCE_DAYS}
        THEN 'date ' || src.date || ' contradicts the date its own {what} starts with ('
             || {text} || ' = ' || strftime({day}, '%Y-%m-%d') || ', ' || {gap}
             || ' days apart; at most {TEXT_DATE_TOLERANCE_DAYS} allowed): one of them is '
             || 'mistyped; correct the date or the {what} in the file and ingest again'"""


# The map records Russia's build-up around Ukraine, which began in spring 2021: no
# incident it maps predates 2021 (the 2022 file starts on 2022-01-01).
EARLIEST = date(2021, 1, 1)


def ranges() -> list[Range]:
    """Plausible ranges of a row (the run date bounds it: the file carries no date)."""
    # an incident the map recorded: from the build-up to the run date
    return [Range("date", _DATE, EARLIEST, latest_date(), text="src.date")]


_LAT = "TRY_CAST(src.lat AS DOUBLE)"
_LON = "TRY_CAST(src.lon AS DOUBLE)"

_REJECT = f"""CASE
    WHEN src.entry IS NULL THEN 'entry is empty (the row has no CIR id)'
    WHEN src.date IS NULL THEN 'date is empty'
    WHEN {_DATE} IS NULL THEN 'date ''' || src.date || ''' is not a YYYY-MM-DD date'
    {_contradicts("src.title", "title")}
    {_contradicts('src."brief description"', "description")}
    WHEN cat.category IS NULL
        THEN 'event_group ' || coalesce('''' || src.event_group || '''', 'empty')
             || ' is not a known CIR event group'
    WHEN src.lat IS NOT NULL AND {_LAT} IS NULL THEN 'lat ''' || src.lat || ''' is not a number'
    WHEN src.lon IS NOT NULL AND {_LON} IS NULL THEN 'lon ''' || src.lon || ''' is not a number'
    WHEN abs({_LAT}) > 90 OR abs({_LON}) > 180
        THEN 'lat/lon ' || src.lat || ',' || src.lon || ' is outside the globe'
    /*ranges*/
END"""

# A few entry ids were reused for different incidents (two convoys filed under one id on
# different days or at different places). An incident is (date, title, lat, lon): rows that
# agree on it are copies of one incident, even with another source link, and keep one id so
# the ingest keeps one. When an entry id names more than one incident in the file, EVERY
# incident of that entry gets "<entry>#<first 8 hex of md5(date|title|lat|lon)>": derived
# from the incident itself, so the id does not change when another incident is added
# under the same entry in a later download (a rank "#2" would shift and merge incidents).
# Entries used once keep the plain id. Done after staging, so that the staged rows keep
# file order (rejects are reported in order).
_INCIDENT_KEY = (
    "md5(concat_ws('|', coalesce(raw->>'date', ''), coalesce(raw->>'title', ''), "
    "coalesce(raw->>'lat', ''), coalesce(raw->>'lon', '')))"
)
_REUSED = f"""SELECT t.rowid AS rid, t.source_id, left({_INCIDENT_KEY}, 8) AS suffix
           FROM {{table}} t JOIN (
               SELECT source_id FROM {{table}} WHERE _reject IS NULL
               GROUP BY 1 HAVING count(DISTINCT {_INCIDENT_KEY}) > 1) r USING (source_id)
           WHERE t._reject IS NULL"""

COPIES_RULE = "copies of one incident (same date, title, lat, lon): the first in the file kept"

SELECT = f"""
    src.entry AS source_id,
    {_DATE} AS occurred_on,
    {_DATE} AS occurred_until,
    cat.category AS category,
    cat.mode AS mode,
    src.event_group AS source_code,
    NULL::VARCHAR AS actor1,
    NULL::VARCHAR AS actor1_country,
    NULL::VARCHAR AS actor2,
    NULL::VARCHAR AS actor2_country,
    geo.iso3 AS country,
    src.province AS admin1,
    src."town/city" AS location,
    {_LAT} AS latitude,
    {_LON} AS longitude,
    CASE WHEN {_LAT} IS NOT NULL AND {_LON} IS NOT NULL THEN 'point' END AS geo_precision,
    NULL::INTEGER AS fatalities,
    NULL::INTEGER AS mentions,
    NULL::DOUBLE AS goldstein,
    NULL::DOUBLE AS tone,
    nullif(concat_ws(' — ', src.title, src."brief description"), '') AS summary,
    ({_DATE} + INTERVAL {PUBLICATION_LAG_DAYS} DAY)::TIMESTAMP AS available_at,
    '{BASIS}' AS available_basis,
    src.link AS url,
    CASE WHEN geo.alias_norm IS NULL THEN src.country END AS _unmapped,
    src._pos AS _pos,
    {_REJECT} AS _reject"""

JOINS = """
    LEFT JOIN ref_country_alias geo ON geo.alias_norm = vigil_norm_name(src.country)
    LEFT JOIN ref_category_map cat
        ON cat.scheme = 'cir' AND cat.code = vigil_cir_group_key(src.event_group)"""


class MonitorReader(Reader):
    """The Russia-Ukraine Monitor ``events.csv`` (plain or gzipped)."""

    kind = "events"
    label = (
        "CIR Russia-Ukraine Monitor events.csv (entry, date, event_group, title, "
        "brief description, lat, lon, country, …)"
    )

    def matches(self, path: Path) -> bool:
        name = path.name.lower()
        return name in ("events.csv", "events.csv.gz") or (
            "cir" in name and name.endswith((".csv", ".csv.gz"))
        )

    def stage(self, con, path: Path, table: str) -> Stage:
        countries.register_reference_tables(con)
        taxonomy.register_reference_tables(con)
        names = header_names(path, ",")
        check_required(path, names, REQUIRED, self.label)
        source, raw = in_file_order(
            read_csv_sql(
                path, dict.fromkeys(names, "VARCHAR"), delim=",", header=True, quote='"', escape='"'
            ),
            names,
        )
        select = SELECT.replace("/*ranges*/", range_checks(ranges()))
        stage = stage_select(con, path, table, select, source, raw_sql=raw, joins=JOINS)
        restore_file_order(con, table)
        notes = list(stage.notes)
        beyond = reject_beyond_body(con, table)
        if beyond:
            notes.append(f"{beyond} rows dated far beyond the rest of the file quarantined")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _vigil_cir_rank AS {_REUSED.format(table=table)}"
        )
        reused = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT source_id FROM _vigil_cir_rank ORDER BY 1"
            ).fetchall()
        ]
        if reused:
            con.execute(f"""UPDATE {table} SET source_id = k.source_id || '#' || k.suffix
                            FROM _vigil_cir_rank k WHERE {table}.rowid = k.rid""")
            notes.append(
                f"{len(reused)} entry ids reused for different incidents, each incident kept "
                f"as <entry>#<md5(date|title|lat|lon)[:8]>: {', '.join(reused[:10])}"
            )
        con.execute("DROP TABLE _vigil_cir_rank")
        unmapped = con.execute(
            f"SELECT _unmapped, count(*) FROM {table} WHERE _unmapped IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        if unmapped:
            listed = ", ".join(f"{name!r} ×{n}" for name, n in unmapped[:10])
            notes.append(f"country names with no ISO3 (country left empty): {listed}")
        con.execute(f"ALTER TABLE {table} DROP COLUMN _unmapped")
        stage = Stage(stage.rows_in, stage.rejects, tuple(notes))
        # Rows left under one id now agree on the incident (date, title, place) and differ in
        # a link or a detail: copies of one incident, of which the first in the file is kept.
        return settle_keys(
            con, table, stage, self, path, key="entry", resolve=("rowid", COPIES_RULE)
        )

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        return locate_csv_records(path, raws)


class CirAdapter(Adapter):
    """CIR with the GitHub mirror: the whole events.csv, re-downloaded each time."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        url = options.get("url") or self.options["url"]
        # The mirror rewrites events.csv in place, so a cached copy is never trusted.
        return [fetcher.download(url, self.name, name="events.csv", refresh=True)]


ADAPTER = CirAdapter(
    name="cir",
    description="CIR / Bellingcat Russia-Ukraine Monitor Map: geolocated OSINT incidents, 2022",
    readers=[MonitorReader()],
    folders=("cir_russia_ukraine_monitor_2022",),
    live_help="the mirror's events.csv (--option url=… to change it); no credentials",
    options={"url": MIRROR},
)
