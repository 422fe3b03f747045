"""GDELT 2.0 event exports: 61 tab-separated columns, no header, one event per line.

Files as users download them: ``YYYYMMDDHHMMSS.export.CSV.zip`` from the 15-minute feed
(also accepted plain or gzipped). Quoting is disabled: GDELT never quotes and a stray
``"`` in a name must not swallow the rest of the row (SOURCES.md §4.1). Countries:
ActionGeo/ActorGeo codes are FIPS 10-4, actor codes CAMEO — both mapped to ISO3.
``available_at`` is DATEADDED, the 15-minute batch in which GDELT first saw the event,
so a backtest never sees an event before GDELT published it.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from vigil.errors import InputError
from vigil.reference import countries, taxonomy
from vigil.sources.base import Adapter, Reader, Stage, first_line, locate_lines
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.tabular import (
    Range,
    latest_date,
    range_checks,
    read_csv_sql,
    settle_keys,
    stage_select,
)

COLUMNS = [
    "GLOBALEVENTID",
    "SQLDATE",
    "MonthYear",
    "Year",
    "FractionDate",
    "Actor1Code",
    "Actor1Name",
    "Actor1CountryCode",
    "Actor1KnownGroupCode",
    "Actor1EthnicCode",
    "Actor1Religion1Code",
    "Actor1Religion2Code",
    "Actor1Type1Code",
    "Actor1Type2Code",
    "Actor1Type3Code",
    "Actor2Code",
    "Actor2Name",
    "Actor2CountryCode",
    "Actor2KnownGroupCode",
    "Actor2EthnicCode",
    "Actor2Religion1Code",
    "Actor2Religion2Code",
    "Actor2Type1Code",
    "Actor2Type2Code",
    "Actor2Type3Code",
    "IsRootEvent",
    "EventCode",
    "EventBaseCode",
    "EventRootCode",
    "QuadClass",
    "GoldsteinScale",
    "NumMentions",
    "NumSources",
    "NumArticles",
    "AvgTone",
    "Actor1Geo_Type",
    "Actor1Geo_FullName",
    "Actor1Geo_CountryCode",
    "Actor1Geo_ADM1Code",
    "Actor1Geo_ADM2Code",
    "Actor1Geo_Lat",
    "Actor1Geo_Long",
    "Actor1Geo_FeatureID",
    "Actor2Geo_Type",
    "Actor2Geo_FullName",
    "Actor2Geo_CountryCode",
    "Actor2Geo_ADM1Code",
    "Actor2Geo_ADM2Code",
    "Actor2Geo_Lat",
    "Actor2Geo_Long",
    "Actor2Geo_FeatureID",
    "ActionGeo_Type",
    "ActionGeo_FullName",
    "ActionGeo_CountryCode",
    "ActionGeo_ADM1Code",
    "ActionGeo_ADM2Code",
    "ActionGeo_Lat",
    "ActionGeo_Long",
    "ActionGeo_FeatureID",
    "DATEADDED",
    "SOURCEURL",
]
assert len(COLUMNS) == 61

NAME = re.compile(r"^\d{14}\.export\.csv(\.gz|\.zip)?$", re.IGNORECASE)
FEED = "http://data.gdeltproject.org/gdeltv2/"

# Rows that fail a check get the first reason that applies, naming column and value.
_REJECT = """CASE
    WHEN TRY_CAST(src.GLOBALEVENTID AS BIGINT) IS NULL
        THEN 'GLOBALEVENTID ' || coalesce('''' || src.GLOBALEVENTID || '''', 'empty')
             || ' is not an integer'
    WHEN try_strptime(src.SQLDATE, '%Y%m%d') IS NULL
        THEN 'SQLDATE ' || coalesce('''' || src.SQLDATE || '''', 'empty')
             || ' is not a YYYYMMDD date'
    WHEN try_strptime(src.DATEADDED, '%Y%m%d%H%M%S') IS NULL
        THEN 'DATEADDED ' || coalesce('''' || src.DATEADDED || '''', 'empty')
             || ' is not a YYYYMMDDHHMMSS time'
    WHEN coalesce(c4.category, c3.category, c2.category) IS NULL
        THEN 'EventCode ' || coalesce('''' || src.EventCode || '''', 'empty')
             || ' is not a CAMEO event code'
    WHEN src.ActionGeo_Lat IS NOT NULL AND TRY_CAST(src.ActionGeo_Lat AS DOUBLE) IS NULL
        THEN 'ActionGeo_Lat ''' || src.ActionGeo_Lat || ''' is not a number'
    WHEN src.ActionGeo_Long IS NOT NULL AND TRY_CAST(src.ActionGeo_Long AS DOUBLE) IS NULL
        THEN 'ActionGeo_Long ''' || src.ActionGeo_Long || ''' is not a number'
    WHEN abs(TRY_CAST(src.ActionGeo_Lat AS DOUBLE)) > 90
        OR abs(TRY_CAST(src.ActionGeo_Long AS DOUBLE)) > 180
        THEN 'ActionGeo_Lat/Long ' || src.ActionGeo_Lat || ',' || src.ActionGeo_Long
             || ' is outside the globe'
    WHEN src.NumMentions IS NOT NULL AND TRY_CAST(src.NumMentions AS INTEGER) IS NULL
        THEN 'NumMentions ''' || src.NumMentions || ''' is not an integer'
    WHEN src.GoldsteinScale IS NOT NULL AND TRY_CAST(src.GoldsteinScale AS DOUBLE) IS NULL
        THEN 'GoldsteinScale ''' || src.GoldsteinScale || ''' is not a number'
    WHEN src.AvgTone IS NOT NULL AND TRY_CAST(src.AvgTone AS DOUBLE) IS NULL
        THEN 'AvgTone ''' || src.AvgTone || ''' is not a number'
    /*ranges*/
END"""

# The first 15-minute export of the GDELT 2.0 event feed (20150218230000).
FEED_START = date(2015, 2, 18)
# GDELT dates an event by the day the article says it happened, which it resolves up to a
# year back ("last year's attack"); a year and a day allows for a leap year.
LOOKBACK = timedelta(days=366)
# SQLDATE is a local calendar day, the file's stamp UTC: an event in a zone ahead of UTC
# can carry the next day's date.
AHEAD = timedelta(days=1)


def file_stamp(path: Path) -> date | None:
    """The date in an export's name (``20180101000000.export.CSV``), None if not a date."""
    try:
        return datetime.strptime(path.name[:8], "%Y%m%d").date()
    except ValueError:
        return None


def ranges(path: Path) -> list[Range]:
    """The plausible range of each typed column, for the export file ``path``."""
    stamp = file_stamp(path)
    last = stamp + AHEAD if stamp else latest_date()
    first = max(FEED_START - LOOKBACK, stamp - LOOKBACK) if stamp else FEED_START - LOOKBACK
    sqldate = "try_strptime(src.SQLDATE, '%Y%m%d')::DATE"
    added = "try_strptime(src.DATEADDED, '%Y%m%d%H%M%S')::DATE"
    return [
        # an event this file reports, dated up to a year before it; GDELT 2.0 begins 2015-02-18
        Range("SQLDATE", sqldate, first, last, text="src.SQLDATE"),
        # the batch that first saw the event: from the feed's start to this file's own batch
        Range("DATEADDED", added, FEED_START, last, text="src.DATEADDED"),
        # the Goldstein scale is defined on -10…+10 (CAMEO codebook)
        Range(
            "GoldsteinScale",
            "TRY_CAST(src.GoldsteinScale AS DOUBLE)",
            -10,
            10,
            text="src.GoldsteinScale",
        ),
        # tone = % positive words - % negative words of the articles: within -100…+100
        Range("AvgTone", "TRY_CAST(src.AvgTone AS DOUBLE)", -100, 100, text="src.AvgTone"),
        # a count of mentions
        Range(
            "NumMentions", "TRY_CAST(src.NumMentions AS INTEGER)", 0, None, text="src.NumMentions"
        ),
    ]


def select_for(path: Path) -> str:
    """The select for ``path``: its date ranges follow the file's own stamp."""
    return SELECT.replace("/*ranges*/", range_checks(ranges(path)))


# Geo types 1 (country) and 5 (ADM1) are centroids, not places (SOURCES.md §1.1).
_PRECISION = """CASE src.ActionGeo_Type
    WHEN '1' THEN 'country' WHEN '2' THEN 'admin1' WHEN '5' THEN 'admin1'
    WHEN '3' THEN 'point' WHEN '4' THEN 'point' ELSE 'unknown' END"""

SELECT = f"""
    src.GLOBALEVENTID AS source_id,
    try_strptime(src.SQLDATE, '%Y%m%d')::DATE AS occurred_on,
    try_strptime(src.SQLDATE, '%Y%m%d')::DATE AS occurred_until,
    coalesce(c4.category, c3.category, c2.category) AS category,
    coalesce(c4.mode, c3.mode, c2.mode) AS mode,
    src.EventCode AS source_code,
    coalesce(src.Actor1Name, src.Actor1Code) AS actor1,
    a1.iso3 AS actor1_country,
    src.Actor1Type1Code AS actor1_type,
    coalesce(src.Actor2Name, src.Actor2Code) AS actor2,
    a2.iso3 AS actor2_country,
    src.Actor2Type1Code AS actor2_type,
    geo.iso3 AS country,
    src.ActionGeo_ADM1Code AS admin1,
    src.ActionGeo_FullName AS location,
    TRY_CAST(src.ActionGeo_Lat AS DOUBLE) AS latitude,
    TRY_CAST(src.ActionGeo_Long AS DOUBLE) AS longitude,
    {_PRECISION} AS geo_precision,
    NULL::INTEGER AS fatalities,
    TRY_CAST(src.NumMentions AS INTEGER) AS mentions,
    TRY_CAST(src.GoldsteinScale AS DOUBLE) AS goldstein,
    TRY_CAST(src.AvgTone AS DOUBLE) AS tone,
    NULL::VARCHAR AS summary,
    try_strptime(src.DATEADDED, '%Y%m%d%H%M%S') AS available_at,
    'DATEADDED' AS available_basis,
    src.SOURCEURL AS url,
    src.ActionGeo_CountryCode AS _fips,
    {_REJECT} AS _reject"""

JOINS = """
    LEFT JOIN ref_fips geo ON geo.fips = src.ActionGeo_CountryCode
    LEFT JOIN ref_cameo_country a1 ON a1.cameo = src.Actor1CountryCode
    LEFT JOIN ref_cameo_country a2 ON a2.cameo = src.Actor2CountryCode
    LEFT JOIN ref_category_map c4 ON c4.scheme = 'cameo' AND c4.code = src.EventCode
    LEFT JOIN ref_category_map c3 ON c3.scheme = 'cameo' AND c3.code = src.EventBaseCode
    LEFT JOIN ref_category_map c2 ON c2.scheme = 'cameo' AND c2.code = src.EventRootCode"""

# The raw row is the line itself: tab-joined fields, empty fields as read.
RAW = "concat_ws(chr(9), " + ", ".join(f"coalesce(src.{c}, '')" for c in COLUMNS) + ")"


class ExportReader(Reader):
    """A GDELT 2.0 event export (``.export.CSV`` plain, gzipped or zipped)."""

    kind = "events"
    label = "GDELT 2.0 event export (YYYYMMDDHHMMSS.export.CSV[.zip|.gz], 61 tab-separated columns)"

    def matches(self, path: Path) -> bool:
        return bool(NAME.match(path.name))

    def stage(self, con, path: Path, table: str) -> Stage:
        countries.register_reference_tables(con)
        taxonomy.register_reference_tables(con)
        with _unzipped(path) as text_path:
            _check_shape(path, text_path)
            columns = dict.fromkeys(COLUMNS, "VARCHAR")
            source = read_csv_sql(text_path, columns, delim="\t", header=False, quote="", escape="")
            stage = stage_select(
                con, text_path, table, select_for(path), source, raw_sql=RAW, joins=JOINS
            )
        unmapped = con.execute(
            f"SELECT _fips, count(*) FROM {table} WHERE country IS NULL AND _fips IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        con.execute(f"ALTER TABLE {table} DROP COLUMN _fips")
        notes = stage.notes
        if unmapped:
            listed = ", ".join(f"{code} ×{n}" for code, n in unmapped[:10])
            notes += (f"ActionGeo FIPS codes with no ISO3 (country left empty): {listed}",)
        stage = Stage(stage.rows_in, stage.rejects, notes)
        return settle_keys(con, table, stage, self, path, key="GLOBALEVENTID")

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        with _unzipped(path) as text_path:
            return locate_lines(text_path, set(raws))


class _unzipped:  # noqa: N801 - used as a context manager like open()
    """A path DuckDB can read: zip members are extracted to a temporary file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Path:
        if not self.path.name.lower().endswith(".zip"):
            return self.path
        try:
            archive = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise InputError(
                f"{self.path}: not a valid zip archive ({exc})",
                "re-download it: the download was probably cut short",
            ) from exc
        with archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise InputError(
                    f"{self.path}: expected one file in the zip, found {len(members)}",
                    "give the GDELT export zip as downloaded",
                )
            self.tmp = tempfile.TemporaryDirectory(prefix="vigil-gdelt-")
            return Path(archive.extract(members[0], self.tmp.name))

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()


def _check_shape(path: Path, text_path: Path) -> None:
    """Fail early, with the likely cause, when the first line is not a GDELT 2.0 row."""
    line = first_line(text_path)
    if not line:
        raise InputError(
            f"{path}: no rows to load (the file has no data rows)",
            "re-download it: an empty export usually means an interrupted download",
        )
    fields = line.count(b"\t") + 1
    if fields == 61:
        return
    if fields == 58:
        raise InputError(
            f"{path}: line 1 has 58 tab-separated columns: this is a GDELT 1.0 daily export",
            "vigil reads GDELT 2.0 exports (61 columns) from the 15-minute feed",
        )
    delim = "comma-separated" if line.count(b",") > fields else "tab-separated"
    raise InputError(
        f"{path}: line 1 has {fields} tab-separated columns, not the 61 of a GDELT 2.0 "
        f"event export (it looks {delim})",
        "check that the file was given to the right SOURCE (`vigil sources`)",
    )


class GdeltAdapter(Adapter):
    """GDELT with the 15-minute feed: ``lastupdate.txt`` or a range of ``masterfilelist.txt``."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        base = options.get("base_url", self.options["base_url"]).rstrip("/") + "/"
        since, until = options.get("since"), options.get("until")
        if since or until:
            index = fetcher.get_text(base + "masterfilelist.txt")
            entries = [
                e
                for e in parse_index(index, base + "masterfilelist.txt")
                if _in_range(e[2], since, until)
            ]
        else:
            entries = parse_index(
                fetcher.get_text(base + "lastupdate.txt"), base + "lastupdate.txt"
            )
        exports = [e for e in entries if NAME.match(e[2].rsplit("/", 1)[-1])]
        if not exports:
            raise InputError(
                "the GDELT index lists no event export in that range",
                "check --option since=YYYYMMDDHHMMSS / until=… or try later",
            )
        return [fetcher.download(url, self.name, md5=md5, size=size) for size, md5, url in exports]


def parse_index(text: str, where: str) -> list[tuple[int, str, str]]:
    """Lines ``<bytes> <md5> <url>`` of lastupdate.txt / masterfilelist.txt."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[0].isdigit() or not re.fullmatch(r"[0-9a-f]{32}", parts[1]):
            raise InputError(
                f"{where} line {number}: expected '<bytes> <md5> <url>', got {line!r}",
                "the GDELT index format changed or the download is corrupt",
            )
        entries.append((int(parts[0]), parts[1], parts[2]))
    return entries


def _in_range(url: str, since: str | None, until: str | None) -> bool:
    stamp = url.rsplit("/", 1)[-1][:14]
    if not stamp.isdigit():
        return False
    return (not since or stamp >= _stamp(since)) and (not until or stamp <= _stamp(until))


def _stamp(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    try:
        datetime.strptime(digits[:8], "%Y%m%d")
    except ValueError as exc:
        raise InputError(f"{value!r} is not a date", "use YYYY-MM-DD or YYYYMMDDHHMMSS") from exc
    return digits.ljust(14, "0")


ADAPTER = GdeltAdapter(
    name="gdelt",
    description="GDELT 2.0 event exports (CAMEO-coded news events, 15-minute batches)",
    readers=[ExportReader()],
    folders=("gdelt_raw_samples",),
    live_help="latest 15-minute export via lastupdate.txt, or a range with "
    "--option since=YYYY-MM-DD --option until=…; MD5-checked; no credentials",
    options={"base_url": FEED},
)
