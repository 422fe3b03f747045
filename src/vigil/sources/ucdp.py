"""UCDP Georeferenced Event Dataset (GED) and GED Candidate CSVs, plus the UCDP API.

One event per row, 49 standard columns (SOURCES.md §1.3); some files add columns (the
peacerep mirror adds ``date_start_iso``/``date_end_iso``) and some candidate releases were
shipped without a header row, so the header is detected from the first record. Dates come
as ISO (``2014-01-22``, ``2014-01-22 00:00:00.000``) or US style (``9/30/2022 12:00:00 AM``).
Older exports are cp1252 in places: lines that are not UTF-8 are decoded as cp1252 into a
temporary UTF-8 copy, and the count is kept as a batch note.

GED has no publication timestamp per event, so ``available_at`` follows the release a
row came from, decided per file (never from a hard-coded date):

* a **Candidate** file — ``candidate`` in the file or folder name, or a candidate version
  number in the name (``GEDEvent_v24_0_1``, API version ``25.0.9``) — is released monthly
  with under a month's lag: ``date_end`` + :data:`RELEASE_LAG_DAYS` (:data:`BASIS`);
* any other file is stable GED, released once a year in June and covering up to the
  previous year: a row gets 30 June of ``year`` + 1 (:data:`GED_BASIS`). Files such as
  the peacerep 2014-2022q1 extract are "GED 22.1 + candidate events": the GED version is
  not in the file, so a row whose ``year`` is the latest ``year`` present in the file is
  taken as the candidate part (``date_end`` + 31 days) and every earlier year as stable
  GED. (A stable-only file's last year thus gets the candidate lag: its events were
  public in the monthly candidate releases before the annual one.)

Columns the reader uses but does not require (``number_of_sources``, ``adm_1``,
``where_coordinates``, ``source_headline``, ``year``) are read as empty when a file lacks
them (``year`` then falls back to the year of ``date_start``), with a batch note.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx

from vigil.errors import FetchError, InputError
from vigil.reference import countries, taxonomy
from vigil.sources.base import Adapter, Reader, Stage, first_line, open_text
from vigil.sources.http import RETRY_STATUSES, Fetched, Fetcher
from vigil.sources.tabular import (
    MAX_COUNT,
    Range,
    check_required,
    in_file_order,
    latest_date,
    range_checks,
    read_csv_sql,
    reject_beyond_body,
    restore_file_order,
    settle_keys,
    stage_select,
    wide_fields,
)

# The header line of a GED CSV download, in file order.
HEADER = (
    "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,conflict_new_id,"
    "conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,side_a_new_id,side_a,"
    "side_b_dset_id,side_b_new_id,side_b,number_of_sources,source_article,source_office,"
    "source_date,source_headline,source_original,where_prec,where_coordinates,"
    "where_description,adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,"
    "country_id,region,event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,"
    "deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob"
)
COLUMNS = tuple(HEADER.split(","))
assert len(COLUMNS) == 49

REQUIRED = (
    "id",
    "type_of_violence",
    "side_a",
    "side_b",
    "country",
    "date_start",
    "date_end",
    "latitude",
    "longitude",
    "where_prec",
    "best",
)

# UCDP Candidate events are released monthly, each month's events within a month (SOURCES.md
# §1.3), so an event is knowable at the latest ~31 days after it ended. Stable GED releases
# come later (yearly); the candidate lag is the earliest a live system could have seen a row.
RELEASE_LAG_DAYS = 31
BASIS = f"date_end+{RELEASE_LAG_DAYS}d (UCDP Candidate monthly release, <1 month lag)"
# Stable GED is released once a year, in June, covering events up to the previous year
# (GED 22.1: June 2022, events to 2021-12-31): a row is public from 30 June of year+1.
GED_RELEASE_MONTH_DAY = (6, 30)
GED_BASIS = "annual GED release (June of year+1)"
# A Candidate file: "candidate" in its file or folder name, or a candidate version number
# (YY.0.M: GEDEvent_v24_0_1.csv, or ucdp_ged_25.0.9_… written by the live fetch).
_CANDIDATE_NAME = re.compile(r"candidate|gedevent_v\d+_0_\d+|^ucdp_ged_\d+\.0\.\d+_", re.I)

# Used by the select but not required: descriptive fields, read as NULL when absent.
OPTIONAL = ("year", "number_of_sources", "adm_1", "where_coordinates", "source_headline")

API = "https://ucdpapi.pcr.uu.se"
TOKEN_ENV = "UCDP_TOKEN"
# UCDP answers rate-limited requests with HTTP 400 (SOURCES.md §4.2), so 400 is retried too.
API_RETRY = RETRY_STATUSES | {400}
MAX_PAGES = 10_000


def _date(col: str) -> str:
    """SQL: DATE from an ISO or US-style (M/D/YYYY [h:mm[:ss] [AM]]) UCDP date, else NULL."""
    s = f"src.{col}"
    return f"""CASE
        WHEN regexp_full_match({s}, '\\d{{4}}-\\d{{2}}-\\d{{2}}([ T][0-9:.]+)?')
            THEN TRY_CAST(left({s}, 10) AS DATE)
        WHEN regexp_full_match({s}, '\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}( \\d{{1,2}}:\\d{{2}}(:\\d{{2}}(\\.\\d+)?)?( ?[AaPp][Mm])?)?')
            THEN try_strptime(split_part({s}, ' ', 1), '%m/%d/%Y')::DATE
    END"""  # noqa: E501 - one regular expression


def _bad(col: str, what: str) -> str:
    """SQL: the reject reason "<col> '<value>' is not <what>" (or "is empty")."""
    return f"'{col} ' || coalesce('''' || src.{col} || '''', 'empty') || ' is not {what}'"


def _not_int(col: str) -> str:
    return f"src.{col} IS NOT NULL AND TRY_CAST(src.{col} AS INTEGER) IS NULL"


_REJECT = f"""CASE
    WHEN src.id IS NULL OR TRY_CAST(src.id AS BIGINT) IS NULL THEN {_bad("id", "an integer")}
    WHEN {_date("date_start")} IS NULL THEN {_bad("date_start", "a date")}
    WHEN {_date("date_end")} IS NULL THEN {_bad("date_end", "a date")}
    WHEN {_date("date_end")} < {_date("date_start")}
        THEN 'date_end ''' || src.date_end || ''' is before date_start ''' || src.date_start
             || ''''
    WHEN cat.category IS NULL THEN {_bad("type_of_violence", "a UCDP type of violence (1-3)")}
    WHEN src.latitude IS NOT NULL AND TRY_CAST(src.latitude AS DOUBLE) IS NULL
        THEN {_bad("latitude", "a number")}
    WHEN src.longitude IS NOT NULL AND TRY_CAST(src.longitude AS DOUBLE) IS NULL
        THEN {_bad("longitude", "a number")}
    WHEN abs(TRY_CAST(src.latitude AS DOUBLE)) > 90 OR abs(TRY_CAST(src.longitude AS DOUBLE)) > 180
        THEN 'latitude/longitude ' || src.latitude || ',' || src.longitude
             || ' is outside the globe'
    WHEN src.where_prec IS NOT NULL AND src.where_prec NOT IN ('1','2','3','4','5','6','7')
        THEN {_bad("where_prec", "a UCDP precision code (1-7)")}
    WHEN {_not_int("best")} THEN {_bad("best", "an integer")}
    WHEN {_not_int("number_of_sources")} THEN {_bad("number_of_sources", "an integer")}
    /*ranges*/
END"""

# UCDP GED covers organised violence from 1989 on (its codebook's first year).
EARLIEST = date(1989, 1, 1)


def ranges() -> list[Range]:
    """Plausible ranges of a row (the run date bounds it: GED files carry no date)."""
    return [
        # an event GED coded: from its first year to the run date
        Range("date_start", _date("date_start"), EARLIEST, latest_date(), text="src.date_start"),
        Range("date_end", _date("date_end"), EARLIEST, latest_date(), text="src.date_end"),
        # deaths of one event (best estimate): a count, never more than everyone alive
        Range("best", "TRY_CAST(src.best AS DOUBLE)", 0, MAX_COUNT, text="src.best"),
    ]


# where_prec (UCDP codebook): 1 exact place, 2 within ~25 km of a known place, 3 only ADM2,
# 4 only ADM1, 5 estimated or linear feature (border, road, front), 6 only country,
# 7 international waters or airspace.
_PRECISION = """CASE src.where_prec
    WHEN '1' THEN 'point' WHEN '2' THEN 'near' WHEN '3' THEN 'admin2' WHEN '4' THEN 'admin1'
    WHEN '5' THEN 'region' WHEN '6' THEN 'country' WHEN '7' THEN 'sea' ELSE 'unknown' END"""

# Government sides are named "Government of <country>"; other sides (DPR, Civilians) are
# not states and keep no actor country. GW codes (gwnoa) have no reference table yet.
_SIDE_ISO3 = (
    "(SELECT iso3 FROM ref_country_alias WHERE alias_norm = vigil_norm_name("
    "regexp_extract({s}, '^Government of (.+)$', 1)))"
)

_YEAR = f"coalesce(TRY_CAST(src.year AS INTEGER), year({_date('date_start')}))"
# stable GED: a row of a GED (+ candidate) file whose year is before the file's latest year
_STABLE = f"({_YEAR} < max({_YEAR}) OVER ())"

SELECT_TEMPLATE = f"""
    src.id AS source_id,
    {_date("date_start")} AS occurred_on,
    {_date("date_end")} AS occurred_until,
    cat.category AS category,
    cat.mode AS mode,
    src.type_of_violence AS source_code,
    src.side_a AS actor1,
    {_SIDE_ISO3.format(s="src.side_a")} AS actor1_country,
    src.side_b AS actor2,
    {_SIDE_ISO3.format(s="src.side_b")} AS actor2_country,
    geo.iso3 AS country,
    src.adm_1 AS admin1,
    src.where_coordinates AS location,
    TRY_CAST(src.latitude AS DOUBLE) AS latitude,
    TRY_CAST(src.longitude AS DOUBLE) AS longitude,
    {_PRECISION} AS geo_precision,
    TRY_CAST(src.best AS INTEGER) AS fatalities,
    CASE WHEN TRY_CAST(src.number_of_sources AS INTEGER) >= 0
         THEN TRY_CAST(src.number_of_sources AS INTEGER) END AS mentions,
    NULL::DOUBLE AS goldstein,
    NULL::DOUBLE AS tone,
    src.source_headline AS summary,
    CASE WHEN {{stable}} THEN make_date({_YEAR} + 1, {GED_RELEASE_MONTH_DAY[0]},
                                      {GED_RELEASE_MONTH_DAY[1]})::TIMESTAMP
         ELSE ({_date("date_end")} + INTERVAL {RELEASE_LAG_DAYS} DAY)::TIMESTAMP
    END AS available_at,
    CASE WHEN {{stable}} THEN '{GED_BASIS}' ELSE '{BASIS}' END AS available_basis,
    NULL::VARCHAR AS url,
    CASE WHEN geo.alias_norm IS NULL THEN src.country END AS _unmapped,
    src._pos AS _pos,
    {_REJECT} AS _reject"""


def select_for(path: Path) -> str:
    """The select for ``path``: a Candidate file's rows all get the candidate lag."""
    select = SELECT_TEMPLATE.replace("{stable}", "FALSE" if is_candidate(path) else _STABLE)
    return select.replace("/*ranges*/", range_checks(ranges()))


def is_candidate(path: Path) -> bool:
    """True for a UCDP Candidate file, by its file or folder name (see the module doc)."""
    return bool(_CANDIDATE_NAME.search(path.name) or _CANDIDATE_NAME.search(path.parent.name))


JOINS = """
    LEFT JOIN ref_country_alias geo ON geo.alias_norm = vigil_norm_name(src.country)
    LEFT JOIN ref_category_map cat ON cat.scheme = 'ucdp' AND cat.code = src.type_of_violence"""


def decoded_lines(path: Path, counts: list[int] | None = None) -> Iterator[str]:
    """Lines of ``path`` as text: UTF-8, or cp1252 for a line that is not UTF-8 (counted)."""
    with open_text(path) as fh:  # type: ignore[attr-defined]
        for number, line in enumerate(fh):
            try:
                text = line.decode("utf-8-sig" if number == 0 else "utf-8")
            except UnicodeDecodeError:
                # cp1252 leaves five bytes undefined; those become U+FFFD rather than fail.
                text = line.decode("cp1252", errors="replace")
                if counts is not None:
                    counts[0] += 1
            yield text


def _is_utf8(path: Path) -> bool:
    """True when the whole file decodes as UTF-8 (streamed, so large files stay cheap)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open_text(path) as fh:  # type: ignore[attr-defined]
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


class _utf8_copy:  # noqa: N801 - used as a context manager like open()
    """``path`` itself if it is UTF-8, else a temporary UTF-8 copy; ``cp1252_lines`` counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.cp1252_lines = 0

    def __enter__(self) -> Path:
        if _is_utf8(self.path):
            return self.path
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-ucdp-")
        target = Path(self.tmp.name) / "utf8.csv"
        counts = [0]
        with target.open("w", encoding="utf-8", newline="") as out:
            out.writelines(decoded_lines(self.path, counts))
        self.cp1252_lines = counts[0]
        return target

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()


def first_record(path: Path) -> list[str]:
    """The first CSV record of ``path`` (a header or, in headerless files, an event)."""
    first_line(path)  # bounded: a first line of gigabytes fails here, before it is read whole
    try:
        with wide_fields():
            return next(csv.reader(decoded_lines(path)), [])
    except csv.Error as exc:
        raise InputError(
            f"{path}: the first record cannot be read as CSV ({exc})",
            "check that the file was given to the right SOURCE (`vigil sources`)",
        ) from exc


def _has_header(path: Path, record: list[str], label: str) -> bool:
    """True for a header'd file; False for a headerless 49-column one; else an InputError."""
    if record and record[0] == "id":
        check_required(path, record, REQUIRED, label)
        return True
    if record and record[0].strip().isdigit():
        if len(record) != len(COLUMNS):
            raise InputError(
                f"{path}: no header and the first record has {len(record)} fields; a "
                f"headerless UCDP GED file must have the {len(COLUMNS)} standard columns",
                "add the header row, or check that the file was given to the right SOURCE",
            )
        return False
    check_required(path, record, REQUIRED, label)  # raises, naming what is missing
    return True


class GedReader(Reader):
    """A UCDP GED / GED Candidate CSV (plain or gzipped, with or without a header row)."""

    kind = "events"
    label = "UCDP GED CSV (49 columns: id, relid, year, …; header row optional)"

    def matches(self, path: Path) -> bool:
        name = path.name.lower()
        return name.endswith((".csv", ".csv.gz")) and ("ucdp" in name or "ged" in name)

    def stage(self, con, path: Path, table: str) -> Stage:
        countries.register_reference_tables(con)
        taxonomy.register_reference_tables(con)
        header = _has_header(path, first_record(path), self.label)
        copy = _utf8_copy(path)
        with copy as text_path:
            names = first_record(text_path) if header else COLUMNS
            absent = [c for c in OPTIONAL if c not in names]
            source, raw = in_file_order(
                read_csv_sql(
                    text_path,
                    dict.fromkeys(names, "VARCHAR"),
                    delim=",",
                    header=header,
                    quote='"',
                    escape='"',
                ),
                names,
            )
            if absent:
                nulls = ", ".join(f'NULL::VARCHAR AS "{c}"' for c in absent)
                source = f"(SELECT *, {nulls} FROM {source})"
            stage = stage_select(
                con, text_path, table, select_for(path), source, raw_sql=raw, joins=JOINS
            )
        restore_file_order(con, table)
        notes = list(stage.notes)
        beyond = reject_beyond_body(con, table)
        if beyond:
            notes.append(f"{beyond} rows dated far beyond the rest of the file quarantined")
        if not header:
            notes.append("no header row: read with the 49 standard UCDP GED column names")
        if absent:
            notes.append(f"columns absent, read as empty: {', '.join(absent)}")
        if copy.cp1252_lines:
            notes.append(f"{copy.cp1252_lines} lines decoded as cp1252 (not valid UTF-8)")
        unmapped = con.execute(
            f"SELECT _unmapped, count(*) FROM {table} WHERE _unmapped IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        con.execute(f"ALTER TABLE {table} DROP COLUMN _unmapped")
        if unmapped:
            listed = ", ".join(f"{name!r} ×{n}" for name, n in unmapped[:10])
            notes.append(f"country names with no ISO3 (country left empty): {listed}")
        stage = Stage(stage.rows_in, stage.rejects, tuple(notes))
        return settle_keys(con, table, stage, self, path, key="id")

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        wanted = {tuple((k, v or "") for k, v in json.loads(r).items()): r for r in raws}
        header = _has_header(path, first_record(path), self.label)
        found: dict[str, int] = {}
        with wide_fields():
            reader = csv.reader(decoded_lines(path))
            try:
                names = next(reader, []) if header else COLUMNS
                for number, row in enumerate(reader, start=2 if header else 1):
                    key = tuple(zip(names, row, strict=False))
                    if key in wanted:
                        found[wanted[key]] = number
            except csv.Error:
                pass  # a field over MAX_FIELD_CHARS: rows not found are reported without a line
        return found


class UcdpAdapter(Adapter):
    """UCDP with the GED API: all pages of one version/country/date window, cached as CSV."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        token = os.environ.get(TOKEN_ENV)
        if not token:
            raise FetchError(
                f"{TOKEN_ENV} is not set: the UCDP API needs an access token "
                "(x-ucdp-access-token header)",
                f"request a token from UCDP and export {TOKEN_ENV}=…, or download the GED "
                "CSV and run `vigil ingest ucdp PATH`",
            )
        opts = {**self.options, **options}
        version, country = opts["version"], opts["country"]
        since, until = opts.get("since") or "", opts.get("until") or ""
        for name, value in (("since", since), ("until", until)):
            if value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise InputError(f"{name} {value!r} is not a date", "use YYYY-MM-DD")
        url = f"{opts['base_url'].rstrip('/')}/api/gedevents/{version}"
        # httpx encodes the values: a country or date option cannot add query parameters
        params = {"pagesize": "1000", "Country": country}
        params.update({"StartDate": since} if since else {})
        params.update({"EndDate": until} if until else {})
        url = str(httpx.URL(url, params=params))
        rows = _all_pages(fetcher, url, {"x-ucdp-access-token": token})
        if not rows:
            raise InputError(
                f"the UCDP API returned no events for {url}",
                "check --option version=… (candidate releases such as 25.0.9 "
                "cover recent months), country= (a GW code) and the dates",
            )
        name = f"ucdp_ged_{version}_{country}_{since or 'start'}_{until or 'end'}.csv"
        target = fetcher.cache_dir / self.name / name
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        with part.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            writer.writerows([_cell(row.get(c)) for c in COLUMNS] for row in rows)
        part.replace(target)
        return [Fetched(target, url)]


def _all_pages(fetcher: Fetcher, url: str, headers: dict[str, str]) -> list[dict]:
    """Every ``Result`` row, following ``NextPageUrl`` until it is empty.

    The token header goes only to the first URL's origin (scheme, host, port): a
    ``NextPageUrl`` naming another origin is refused, never followed with the token.
    """
    rows: list[dict] = []
    seen: set[str] = set()
    origin = _origin(httpx.URL(url))
    while url:
        if _origin(httpx.URL(url)) != origin:
            raise FetchError(
                f"UCDP API NextPageUrl {url} is on another host than the API "
                f"({origin[0]}://{origin[1]}:{origin[2]}); not sending the token there",
                "the API reply is wrong or tampered with; check --option base_url and "
                "try again later",
            )
        if url in seen or len(seen) >= MAX_PAGES:
            raise FetchError(
                f"UCDP API pagination loops at {url}",
                "the API returned a page already fetched; try again later",
            )
        seen.add(url)
        page = fetcher.get_json(url, headers=headers, retry_on=API_RETRY)
        if not isinstance(page, dict) or not isinstance(page.get("Result"), list):
            raise FetchError(
                f"GET {url}: the reply has no 'Result' list",
                "the UCDP API format changed or the URL is wrong",
            )
        for item in page["Result"]:
            missing = [c for c in REQUIRED if c not in item]
            if missing:
                raise FetchError(
                    f"GET {url}: an event lacks {', '.join(missing)}",
                    "the UCDP API format changed; report it",
                )
        rows.extend(page["Result"])
        next_url = page.get("NextPageUrl") or ""
        url = str(httpx.URL(url).join(next_url)) if next_url else ""
    return rows


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default)


def _cell(value: object) -> str:
    """A JSON value as the CSV downloads write it (null → empty, true → True)."""
    return "" if value is None else str(value)


ADAPTER = UcdpAdapter(
    name="ucdp",
    description="UCDP Georeferenced Event Dataset (GED and GED Candidate): organised-violence "
    "events with fatality estimates",
    readers=[GedReader()],
    folders=("ucdp_ged_ukraine_2014_2022q1", "ucdp_ged_ukraine_candidate_2022_2023"),
    live_help="UCDP API gedevents (all pages) for --option version=… country=<GW code> "
    "since=/until=YYYY-MM-DD; needs UCDP_TOKEN",
    options={"base_url": API, "version": "25.1", "country": "369"},
)
