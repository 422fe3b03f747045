"""ACLED: event exports and API pages (events), deletions (tombstones), aggregates (observations).

* Event CSV: ACLED's 31-column export (older exports add ``data_id``, ``iso3``,
  ``event_id_no_cnty``; extra columns are kept in ``raw``), also what the live API wrote
  to the cache. ``event_id_cnty`` is the key: ACLED keeps it when it revises an event.
  ``available_at`` is ``timestamp``, ACLED's *last modification* time — later than first
  publication, so a backtest never sees an event early, only sometimes late.
* Deletions (``acled_deleted_*.csv``): ACLED's list of withdrawn events, as tombstones.
* Aggregates (``acled_*_country_{month,year}_asof_*.csv`` from ACLED's dashboard,
  ``acledr_ctryMo[Ev]_*.csv`` from the acledr package): counts per country and period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pycountry

from vigil.reference import countries, taxonomy
from vigil.sources import acled_api
from vigil.sources.base import Adapter, Reader, Stage
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.tabular import (
    MAX_COUNT,
    Range,
    check_required,
    header_names,
    latest_date,
    locate_csv_records,
    range_checks,
    read_csv_sql,
    reject_beyond_body,
    settle_keys,
    stage_select,
)

ALIASES = "src/vigil/reference/country_aliases.csv"


def _q(expr: str) -> str:
    """SQL quoting a value for a reject reason: 'value', or 'empty' when NULL."""
    return f"coalesce('''' || {expr} || '''', 'empty')"


def _read(path: Path, names: list[str]) -> str:
    return read_csv_sql(
        path, dict.fromkeys(names, "VARCHAR"), delim=",", header=True, quote='"', escape='"'
    )


# ---------------------------------------------------------------- events

EVENT_REQUIRED = (
    "event_id_cnty",
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "inter1",
    "actor2",
    "inter2",
    "iso",
    "country",
    "admin1",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "notes",
    "fatalities",
    "timestamp",
)
# Exports write "24 February 2022" or "24-February-2022"; the API writes ISO dates.
_DATE = (
    "try_strptime(trim(src.event_date), ['%Y-%m-%d', '%d %B %Y', '%d-%B-%Y', "
    "'%d %b %Y', '%d-%b-%Y'])::DATE"
)
_TS = "TRY_CAST(trim(src.timestamp) AS BIGINT)"
_CODE = "trim(src.event_type) || '|' || trim(src.sub_event_type)"
# Actor types: numeric 1-8 in exports, text labels from the API (SOURCES.md §1.2).
INTER_LABELS = (
    "State forces",
    "Rebel group",
    "Political militia",
    "Identity militia",
    "Rioters",
    "Protesters",
    "Civilians",
    "External/Other forces",
)
# Plain sea names are rarely in the alias table; ACLED codes maritime events to them
# since May 2026 ("Red Sea"). Such events keep country NULL instead of being rejected.
_SEA_WORDS = r"\b(sea|ocean|gulf|bay|strait|straits|channel|waters)\b"


def _inter(col: str) -> str:
    """SQL normalising one inter column to ACLED's text label (0 or empty: no actor)."""
    num = f"TRY_CAST(trim(src.{col}) AS INTEGER)"
    labels = "[" + ", ".join(f"'{label}'" for label in INTER_LABELS) + "]"
    # Text labels compared without case and a plural "s" ("Rebel Groups" = "Rebel group").
    key = f"regexp_replace(lower(trim(src.{col})), 's$', '')"
    text = " ".join(
        f"WHEN '{re.sub('s$', '', label.lower())}' THEN '{label}'" for label in INTER_LABELS
    )
    return (
        f"CASE WHEN nullif(trim(src.{col}), '') IS NULL OR {num} = 0 THEN NULL "
        f"WHEN {num} BETWEEN 1 AND 8 THEN {labels}[{num}] WHEN {num} IS NOT NULL THEN NULL "
        f"ELSE CASE {key} {text} ELSE trim(src.{col}) END END"
    )


def _number_check(col: str, cast: str, what: str, bad: str) -> str:
    return (
        f"WHEN src.{col} IS NOT NULL AND (TRY_CAST(src.{col} AS {cast}) IS NULL "
        f"OR {bad.format(v=f'TRY_CAST(src.{col} AS {cast})')}) "
        f"THEN '{col} ''' || src.{col} || ''' is not {what}'"
    )


_EVENT_REJECT = f"""CASE
    WHEN nullif(trim(src.event_id_cnty), '') IS NULL THEN 'event_id_cnty is empty'
    WHEN {_DATE} IS NULL THEN 'event_date ' || {_q("src.event_date")}
         || ' is not a date (expected 2022-02-24 or 24 February 2022)'
    WHEN cat.category IS NULL THEN 'event_type|sub_event_type ' || {_q(_CODE)}
         || ' is not in the ACLED category map'
    WHEN {_TS} IS NULL OR {_TS} NOT BETWEEN 0 AND 4102444800 THEN 'timestamp '
         || {_q("src.timestamp")} || ' is not a Unix time in seconds'
    {_number_check("latitude", "DOUBLE", "a latitude", "abs({v}) > 90")}
    {_number_check("longitude", "DOUBLE", "a longitude", "abs({v}) > 180")}
    WHEN trim(src.geo_precision) NOT IN ('1', '2', '3')
        THEN 'geo_precision ''' || src.geo_precision || ''' is not 1, 2 or 3'
    {_number_check("fatalities", "INTEGER", "a count", "{v} < 0")}
    WHEN TRY_CAST(trim(src.inter1) AS INTEGER) NOT BETWEEN 0 AND 8
        THEN 'inter1 ''' || src.inter1 || ''' is not an actor type (0-8 or a label)'
    WHEN TRY_CAST(trim(src.inter2) AS INTEGER) NOT BETWEEN 0 AND 8
        THEN 'inter2 ''' || src.inter2 || ''' is not an actor type (0-8 or a label)'
    /*ranges*/
END"""
# ACLED's data begin in 1997 (its African coverage; other regions start later).
EARLIEST = date(1997, 1, 1)


def event_ranges() -> list[Range]:
    """Plausible ranges of an event row (the run date bounds it: files carry no date)."""
    return [
        # an event ACLED coded: from its first year to the run date (no file date to use)
        Range("event_date", _DATE, EARLIEST, latest_date(), text="src.event_date"),
        # deaths of one event: a count, never more than everyone alive
        Range(
            "fatalities", "TRY_CAST(src.fatalities AS DOUBLE)", 0, MAX_COUNT, text="src.fatalities"
        ),
    ]


_SEA = (
    f"((ca.alias_norm IS NOT NULL AND ca.iso3 IS NULL) OR (ca.alias_norm IS NULL "
    f"AND regexp_matches(lower(src.country), '{_SEA_WORDS}')))"
)

EVENT_SELECT = f"""
    trim(src.event_id_cnty) AS source_id,
    {_DATE} AS occurred_on,
    {_DATE} AS occurred_until,
    cat.category AS category,
    cat.mode AS mode,
    {_CODE} AS source_code,
    nullif(trim(src.actor1), '') AS actor1,
    NULL::VARCHAR AS actor1_country,
    nullif(trim(src.actor2), '') AS actor2,
    NULL::VARCHAR AS actor2_country,
    CASE WHEN {_SEA} THEN NULL ELSE coalesce(num.iso3, ca.iso3) END AS country,
    nullif(trim(src.admin1), '') AS admin1,
    nullif(trim(src.location), '') AS location,
    TRY_CAST(src.latitude AS DOUBLE) AS latitude,
    TRY_CAST(src.longitude AS DOUBLE) AS longitude,
    CASE trim(src.geo_precision) WHEN '1' THEN 'point' WHEN '2' THEN 'admin2'
         WHEN '3' THEN 'admin1' END AS geo_precision,
    TRY_CAST(src.fatalities AS INTEGER) AS fatalities,
    NULL::INTEGER AS mentions,
    NULL::DOUBLE AS goldstein,
    NULL::DOUBLE AS tone,
    nullif(trim(src.notes), '') AS summary,
    epoch_ms({_TS} * 1000) AS available_at,
    'timestamp (ACLED last modification)' AS available_basis,
    NULL::VARCHAR AS url,
    {_inter("inter1")} AS actor1_type,
    {_inter("inter2")} AS actor2_type,
    src.country AS _country_name,
    {_SEA} AS _sea,
    {_EVENT_REJECT} AS _reject"""

EVENT_JOINS = f"""
    LEFT JOIN ref_category_map cat ON cat.scheme = 'acled' AND cat.code = {_CODE}
    LEFT JOIN _acled_iso_numeric num ON num.numeric = TRY_CAST(trim(src.iso) AS INTEGER)
    LEFT JOIN ref_country_alias ca ON ca.alias_norm = vigil_norm_name(src.country)"""


def _register(con) -> None:
    """Reference tables, created once per connection (building them costs ~0.5 s)."""
    have = {
        r[0]
        for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    }
    if not {"ref_country_alias", "ref_country"} <= have:
        countries.register_reference_tables(con)
    if "ref_category_map" not in have:
        taxonomy.register_reference_tables(con)
    if "_acled_iso_numeric" not in have:
        rows = ", ".join(f"({int(c.numeric)}, '{c.alpha_3}')" for c in pycountry.countries)
        con.execute("CREATE TEMP TABLE _acled_iso_numeric(numeric INTEGER, iso3 VARCHAR)")
        con.execute(f"INSERT INTO _acled_iso_numeric VALUES {rows}")


class EventReader(Reader):
    """An ACLED event export, or an API page the live fetch wrote in the same layout."""

    kind = "events"
    label = "CSV of ACLED events (export or API page: event_id_cnty, event_date, …, timestamp)"

    def matches(self, path: Path) -> bool:
        name = path.name.lower()
        if not name.endswith((".csv", ".csv.gz")):
            return False
        # Exports are often renamed ("2022-Ukraine.csv"): recognise them by the key column.
        try:
            return "acled" in name or "event_id_cnty" in header_names(path, ",")
        except OSError:
            return False

    def stage(self, con, path: Path, table: str) -> Stage:
        names = header_names(path, ",")
        check_required(path, names, EVENT_REQUIRED, self.label)
        _register(con)
        select = EVENT_SELECT.replace("/*ranges*/", range_checks(event_ranges()))
        stage = stage_select(con, path, table, select, _read(path, names), joins=EVENT_JOINS)
        notes = list(stage.notes)
        beyond = reject_beyond_body(con, table)
        if beyond:
            notes.append(f"{beyond} events dated far beyond the rest of the file quarantined")
        for sea, what in (
            (True, "located at sea or in no state"),
            (False, "whose country matched no ISO code"),
        ):
            found = con.execute(
                f"SELECT _country_name, count(*) FROM {table} WHERE _reject IS NULL "
                f"AND country IS NULL AND _sea = {sea} GROUP BY 1 ORDER BY 2 DESC, 1"
            ).fetchall()
            if found:
                listed = ", ".join(f"{n or 'empty'} ×{c}" for n, c in found[:10])
                total = sum(c for _, c in found)
                hint = "" if sea else f"; add an alias to {ALIASES}"
                notes.append(f"{total} events {what}, country left empty ({listed}){hint}")
        con.execute(f"ALTER TABLE {table} DROP COLUMN _country_name")
        con.execute(f"ALTER TABLE {table} DROP COLUMN _sea")
        stage = replace(stage, notes=tuple(notes))
        return settle_keys(con, table, stage, self, path, key="event_id_cnty")

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        return locate_csv_records(path, raws)


DELETED_NAME = re.compile(r"^acled_deleted_.*\.csv$")


class DeletionReader(Reader):
    """ACLED's deleted-events list: each row a tombstone for one event_id_cnty."""

    kind = "events"
    label = "CSV of ACLED deletions (acled_deleted_*.csv: event_id_cnty, deleted_timestamp)"

    def matches(self, path: Path) -> bool:
        return bool(DELETED_NAME.match(path.name))

    def stage(self, con, path: Path, table: str) -> Stage:
        names = header_names(path, ",")
        check_required(path, names, acled_api.DELETED_COLUMNS, self.label)
        ts = "TRY_CAST(trim(src.deleted_timestamp) AS BIGINT)"
        own = {"source_id", "available_at", "available_basis", "raw", "record_hash"}
        # Every other events column is NULL: a tombstone only names the key.
        nulls = ", ".join(
            f"NULL::{typ} AS {col}"
            for col, typ, *_ in con.execute("DESCRIBE events").fetchall()
            if col not in own | {"source", "batch_id"}
        )
        select = f"""trim(src.event_id_cnty) AS source_id, {nulls},
            epoch_ms({ts} * 1000) AS available_at,
            'deleted_timestamp (ACLED deletion)' AS available_basis, TRUE AS _delete,
            CASE WHEN nullif(trim(src.event_id_cnty), '') IS NULL THEN 'event_id_cnty is empty'
                 WHEN {ts} IS NULL OR {ts} NOT BETWEEN 0 AND 4102444800
                 THEN 'deleted_timestamp ' || {_q("src.deleted_timestamp")}
                      || ' is not a Unix time in seconds' END AS _reject"""
        return stage_select(con, path, table, select, _read(path, names))

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        return locate_csv_records(path, raws)


# ---------------------------------------------------------------- aggregates

# ACLED releases its data weekly; an event on a period's last day is in a release about
# a week later, and its dashboard aggregates are refreshed from those releases. 14 days =
# two release cycles, so one missed or late release does not make a value look early.
RELEASE_LAG_DAYS = 14
AGG_NAME = re.compile(
    r"^acled_(?P<measure>[a-z_]+?)_country_(?P<grain>month|year)"
    r"(?:_asof_(?P<asof>\d{4}-\d{2}-\d{2}))?\.csv$"
)
ACLEDR_NAME = re.compile(r"^acledr_ctryMo(?P<by_type>Ev)?(?:_[0-9_-]+)?\.csv$")
# ACLED dashboard file measure → (value column, series, unit).
MEASURES = {
    "political_violence_events": ("EVENTS", "acled.pv_events", "events"),
    "fatalities": ("FATALITIES", "acled.fatalities", "fatalities"),
    "civilian_fatalities": ("FATALITIES", "acled.civilian_fatalities", "fatalities"),
    "demonstration_events": ("EVENTS", "acled.demonstration_events", "events"),
    "civilian_targeting_events": ("EVENTS", "acled.civilian_targeting_events", "events"),
}


@dataclass(frozen=True)
class _Plan:
    """How one aggregate file's columns become observations."""

    country: str  # column with the country name
    period_cols: tuple[str, ...]  # columns giving the period (named in reasons)
    period_sql: str  # SQL for the period's first day (DATE), NULL when malformed
    freq: str  # 'M' or 'Y'
    measures: tuple[tuple[str, str, str], ...]  # (value column, series, unit)
    by_type: bool = False  # acledr per event type: the type goes in series and attrs
    as_of: date | None = None  # the file's as-of date: later periods are partial
    notes: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        type_col = ("event_type",) if self.by_type else ()
        return (self.country, *self.period_cols, *type_col, *(c for c, _, _ in self.measures))


def _plan(path: Path) -> _Plan:
    if m := AGG_NAME.match(path.name):
        measure = (MEASURES[m["measure"]],)
        as_of = date.fromisoformat(m["asof"]) if m["asof"] else None
        if m["grain"] == "month":
            return _Plan(
                "COUNTRY",
                ("MONTH", "YEAR"),
                "try_strptime(trim(src.MONTH) || ' ' || trim(src.YEAR), '%B %Y')::DATE",
                "M",
                measure,
                as_of=as_of,
                notes=(
                    "sparse file: months with no events are absent, not stored as 0 "
                    "(read a missing month as 0 events)",
                ),
            )
        return _Plan(
            "COUNTRY",
            ("YEAR",),
            "CASE WHEN regexp_full_match(trim(src.YEAR), '[0-9]{4}') "
            "THEN make_date(trim(src.YEAR)::INTEGER, 1, 1) END",
            "Y",
            measure,
            as_of=as_of,
        )
    m = ACLEDR_NAME.match(path.name)
    measures = (("Events", "acledr.events", "events"), ("Deaths", "acledr.deaths", "deaths"))
    return _Plan(
        "Country",
        ("event_month",),
        "date_trunc('month', try_strptime(trim(src.event_month), '%Y-%m-%d'))::DATE",
        "M",
        measures,
        by_type=bool(m and m["by_type"]),
        notes=(
            "each row gives one observation per measure (Events, Deaths): rows_in "
            "counts observations",
        ),
    )


def _agg_select(p: _Plan) -> str:
    """Select-list over ``src`` (a file row) × ``m`` (one measure) → observation columns."""
    start = p.period_sql
    end = f"last_day({start})" if p.freq == "M" else f"make_date(year({start}), 12, 31)"
    label = f"strftime({start}, '{'%Y-%m' if p.freq == 'M' else '%Y'}')"
    text = "CASE m.col " + " ".join(f"WHEN '{c}' THEN src.{c}" for c, _, _ in p.measures) + " END"
    num = f"TRY_CAST(trim({text}) AS DOUBLE)"
    series, attrs, type_check = "m.series", "NULL::VARCHAR", ""
    if p.by_type:
        series = (
            "m.series || '.' || trim(regexp_replace(lower(trim(src.event_type)), "
            "'[^a-z0-9]+', '_', 'g'), '_')"
        )
        attrs = "json_object('event_type', trim(src.event_type))::VARCHAR"
        type_check = (
            f"WHEN et.event_type IS NULL THEN 'event_type ' || {_q('src.event_type')} "
            "|| ' is not an ACLED event type'"
        )
    avail = f"({end} + INTERVAL {RELEASE_LAG_DAYS + 1} DAY)::TIMESTAMP"
    basis = f"'period end+{RELEASE_LAG_DAYS}d (ACLED weekly release lag)'"
    if p.as_of:
        # A period not past the lag on the as-of date holds what was known on that day.
        cap = f"(DATE '{p.as_of}' + INTERVAL 1 DAY)::TIMESTAMP"
        basis = (
            f"CASE WHEN {avail} > {cap} THEN 'file as-of date {p.as_of} (period not past "
            f"the release lag)' ELSE {basis} END"
        )
        avail = f"least({avail}, {cap})"
        attrs = (
            f"CASE WHEN {end} > DATE '{p.as_of}' THEN "
            f'\'{{"partial": true, "as_of": "{p.as_of}"}}\' END'
        )
    ranges = [
        # a period ACLED counted: from its first year to the file's as-of date (a later
        # period cannot have been counted yet), else to the run date
        Range(
            "/".join(p.period_cols),
            start,
            EARLIEST,
            p.as_of or latest_date(),
            text="concat_ws('/', " + ", ".join(f"src.{x}" for x in p.period_cols) + ")",
        ),
        # events or deaths of one country and period: a count, never more than everyone alive
        Range("", num, 0, MAX_COUNT, text=text, column_sql="m.col"),
    ]
    c = f"src.{p.country}"
    period_text = _q("concat_ws('/', " + ", ".join(f"src.{x}" for x in p.period_cols) + ")")
    bad = "' || m.col || ' ''' || " + text + " || '''"
    return f"""
        {series} || '|' || ca.iso3 || '|' || {label} AS source_id,
        {series} AS series, ca.iso3 AS geo, {start} AS period_start, {end} AS period_end,
        '{p.freq}' AS freq, {num} AS value, m.unit AS unit, {attrs} AS attrs,
        {avail} AS available_at, {basis} AS available_basis, NULL::VARCHAR AS url,
        {c} AS _name,
        CASE WHEN nullif(trim({c}), '') IS NULL THEN '{p.country} is empty'
             WHEN ca.alias_norm IS NOT NULL AND ca.iso3 IS NULL THEN '{p.country} '
                  || {_q(c)} || ' is not a country (aliased to no ISO code in {ALIASES})'
             WHEN ca.iso3 IS NULL THEN '{p.country} ' || {_q(c)}
                  || ' matches no country: add an alias to {ALIASES}'
             WHEN {start} IS NULL THEN '{"/".join(p.period_cols)} ' || {period_text}
                  || ' is not a {"month" if p.freq == "M" else "year"}'
             {type_check}
             WHEN {text} IS NULL THEN m.col || ' is empty'
             WHEN {num} IS NULL THEN '{bad} is not a number'
             WHEN {num} < 0 THEN '{bad} is negative'
             {range_checks(ranges)}
        END AS _reject"""


def _reject_conflicts(con, table: str, column: str) -> None:
    """Reject rows that would silently overwrite each other under one source_id."""
    # Two names for one ISO3 (ACLED lists "Akrotiri and Dhekelia" apart from the United
    # Kingdom): keep the country's own ISO name, else the name with most rows, and reject
    # the other name's rows wholesale, so that a series never mixes two territories.
    con.execute(f"""
        UPDATE {table} AS t SET _reject = '{column} ''' || t._name || ''' maps to ' || t.geo
            || ' as ''' || k.keep || ''' does in this file, so their values would overwrite '
            || 'each other; map it to its own code or to none in {ALIASES}'
        FROM (SELECT geo, first(_name ORDER BY own DESC, n DESC, _name) AS keep
              FROM (SELECT s.geo, vigil_norm_name(s._name) AS norm, min(s._name) AS _name,
                           count(*) AS n, norm = any_value(vigil_norm_name(rc.name)) AS own
                    FROM {table} AS s LEFT JOIN ref_country AS rc ON rc.iso3 = s.geo
                    WHERE s._reject IS NULL GROUP BY s.geo, norm)
              GROUP BY geo) AS k
        WHERE t.geo = k.geo AND vigil_norm_name(t._name) <> vigil_norm_name(k.keep)
          AND t._reject IS NULL""")
    # The same key twice with different content: the ingest's one rule (settle_keys).


class AggregateReader(Reader):
    """ACLED dashboard aggregates and acledr country-month files → observations."""

    kind = "observations"
    label = (
        "CSV of ACLED aggregates (acled_<measure>_country_<month|year>_asof_<date>.csv, "
        "acledr_ctryMo[Ev]_*.csv)"
    )

    def matches(self, path: Path) -> bool:
        m = AGG_NAME.match(path.name)
        return bool(m and m["measure"] in MEASURES) or bool(ACLEDR_NAME.match(path.name))

    def stage(self, con, path: Path, table: str) -> Stage:
        plan = _plan(path)
        names = header_names(path, ",")
        check_required(path, names, plan.required, self.label)
        _register(con)
        values = ", ".join(f"('{c}', '{s}', '{u}')" for c, s, u in plan.measures)
        joins = (
            f"CROSS JOIN (VALUES {values}) AS m(col, series, unit) "
            "LEFT JOIN ref_country_alias ca "
            f"ON ca.alias_norm = vigil_norm_name(src.{plan.country})"
        )
        if plan.by_type:
            joins += (
                " LEFT JOIN (SELECT DISTINCT split_part(code, '|', 1) AS event_type "
                "FROM ref_category_map WHERE scheme = 'acled') AS et "
                "ON et.event_type = trim(src.event_type)"
            )
        stage = stage_select(con, path, table, _agg_select(plan), _read(path, names), joins=joins)
        _reject_conflicts(con, table, plan.country)
        stage = settle_keys(con, table, stage, self, path, key="key")
        con.execute(f"ALTER TABLE {table} DROP COLUMN _name")
        notes = list(stage.notes + plan.notes)
        partial = con.execute(
            f"SELECT count(*), min(period_start) FROM {table} "
            "WHERE _reject IS NULL AND attrs LIKE '%partial%'"
        ).fetchone()
        if partial[0]:
            notes.append(
                f"{partial[0]} values for periods from {partial[1]:%Y-%m} on are "
                f"partial (file as of {plan.as_of}; attrs partial=true)"
            )
        return replace(stage, notes=tuple(notes))

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        return locate_csv_records(path, raws)


class AcledAdapter(Adapter):
    """ACLED with the live API (see :mod:`vigil.sources.acled_api`)."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        return acled_api.fetch(fetcher, self.name, {**self.options, **options})

    def files_in(self, folder: Path) -> list[Path]:
        # Deletion lists last: rebuilding from the cache must not let an older events
        # file bring back an event that a deletions list withdrew.
        return sorted(super().files_in(folder), key=lambda p: bool(DELETED_NAME.match(p.name)))


ADAPTER = AcledAdapter(
    name="acled",
    description="ACLED conflict events (exports, OAuth API, deletions) and ACLED/acledr "
    "country aggregates",
    # Aggregates and deletions first: the event reader also takes any CSV named *acled*.
    readers=[AggregateReader(), DeletionReader(), EventReader()],
    folders=("acled_aggregates",),
    live_help="events per country and month from the ACLED API (OAuth) plus deletions; "
    f"needs {acled_api.ENV_USER} and {acled_api.ENV_PASSWORD}; --option "
    "countries=Ukraine,… since=YYYY-MM-DD until=YYYY-MM-DD limit=N (page size, at most "
    f"{acled_api.PAGE_LIMIT}, the API's maximum: a larger value is lowered to it); also "
    "returns the events and deletions files already cached (loaded ones are skipped)",
    options={
        "base_url": acled_api.BASE_URL,
        "countries": acled_api.DEFAULT_COUNTRIES,
        "limit": acled_api.PAGE_LIMIT,
    },
)
