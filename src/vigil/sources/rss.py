"""News headlines from RSS/Atom feeds: the 2021-2023 snapshot, its per-feed totals, live feeds.

* ``rss_headlines*.parquet`` — region/security-filtered headlines (documents);
* ``rss_feed_daily_totals*.csv[.gz]`` — all items per feed per day before filtering
  (observations ``rss.feed_items_total``): the denominators for keyword counts;
* ``*.rss.jsonl`` — one live fetch of one feed, written by ``fetch_live`` (documents).

Documents are public when published, so ``available_at`` is the item's publication
time — bounded by when it was actually seen (capture day's end, or fetch time), so a
publisher's wrong future date can never make a headline visible later than it was.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from vigil.errors import FetchError, InputError
from vigil.sources.base import Adapter, Reader, Reject, Stage, locate_lines
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.rss_feed import fetch_feed, load_state, outlet_key, save_state
from vigil.sources.tabular import (
    MAX_COUNT,
    CsvReader,
    CsvSpec,
    Range,
    check_required,
    latest_date,
    range_checks,
    settle_keys,
)

SERIES = "rss.feed_items_total"
# RSS was created in March 1999 (RSS 0.9, Netscape): no feed item or count predates it.
EARLIEST = date(1999, 3, 1)
DEFAULT_FEEDS = (
    "https://feeds.bbci.co.uk/news/world/rss.xml",
    "https://www.theguardian.com/world/rss",
    "https://www.aljazeera.com/xml/rss/all.xml",
    "https://www.themoscowtimes.com/rss/news",
    "https://tvn24.pl/najwazniejsze.xml",
)


def _lit(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """A quoted SQL identifier (double quotes doubled): Parquet column names are data."""
    return '"' + name.replace('"', '""') + '"'


def _language(col: str) -> str:
    """SQL: 'en-US', 'en_gb', 'PL' → ISO 639-1 'en', 'pl'; anything else → NULL."""
    return f"nullif(regexp_extract(lower(trim({col})), '^([a-z]{{2}})([-_].*)?$', 1), '')"


def _quoted(col: str, name: str) -> str:
    return f"'{name} ' || coalesce('''' || {col} || '''', 'empty')"


def _link_title_key(link: str, title: str) -> str:
    # Unit separator between the parts, so ('a b', 'c') and ('a', 'b c') differ.
    return f"md5(coalesce({link}, '') || chr(31) || coalesce({title}, ''))"


def _stage(con, table: str, select: str, source_sql: str, raw_sql: str) -> int:
    """``stage_select`` for non-CSV sources (it reads DuckDB's CSV reject tables)."""
    con.execute(
        f"""CREATE TEMP TABLE {table} AS
            SELECT *, md5(raw) AS record_hash FROM (
                SELECT {select}, {raw_sql} AS raw FROM {source_sql} AS src)"""
    )
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------- snapshot headlines
PARQUET_REQUIRED = ("day", "feed", "title", "description", "link", "date_published", "language")
_ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"
# date_published as UTC: ISO 8601 with an offset (all 133,430 real values), or RFC 822.
# A value without an offset is refused: its zone is unknowable.
_PUBLISHED = f"""CASE
    WHEN regexp_matches(trim(date_published), '{_ISO_WITH_OFFSET}')
        THEN timezone('UTC', TRY_CAST(trim(date_published) AS TIMESTAMPTZ))
    ELSE timezone('UTC', try_strptime(
        regexp_replace(trim(date_published), '\\s(GMT|UTC|UT|Z)$', ' +0000'),
        '%a, %d %b %Y %H:%M:%S %z')) END"""

# The capture job saved each day's items into that day's folder, so an item was seen
# by the end of ``day`` at the latest: a date_published after that is a publisher's
# clock/scheduling error, and using it would hide a headline the system had already
# seen. Hence available_at = least(published, day + 1 day). (No real value is later than
# day's end; 14 fall exactly on it.) A missing date falls back to the capture day.
PARQUET_SELECT = f"""
    {_link_title_key("src.link", "src.title")} AS source_id,
    coalesce(src._pub, src._day::TIMESTAMP) AS published_at,
    'headline' AS doc_type,
    nullif(src.title, '') AS title,
    nullif(src.description, '') AS body,
    {_language("src.language")} AS language,
    nullif(src.feed, '') AS outlet,
    CASE WHEN src._pub IS NULL THEN src._day + INTERVAL 1 DAY
         ELSE least(src._pub, src._day + INTERVAL 1 DAY) END AS available_at,
    CASE WHEN src._pub IS NULL THEN 'capture_day_end (no date_published)'
         WHEN src._pub > src._day + INTERVAL 1 DAY
             THEN 'capture_day_end (date_published after the capture day)'
         ELSE 'date_published' END AS available_basis,
    nullif(src.link, '') AS url,
    CASE
        WHEN src._day IS NULL THEN {_quoted("src.day", "day")} || ' is not a YYYY-MM-DD date'
        WHEN src._pub IS NULL AND nullif(trim(src.date_published), '') IS NOT NULL
            THEN {_quoted("src.date_published", "date_published")}
                 || ' is not a time with a UTC offset'
        WHEN nullif(src.title, '') IS NULL AND nullif(src.link, '') IS NULL
            THEN 'title and link are both empty'
    /*ranges*/
    END AS _reject"""


def parquet_ranges() -> list[Range]:
    """Plausible ranges of a snapshot row (the run date bounds it)."""
    return [
        # a day the capture ran: from RSS's creation to the run date
        Range("day", "src._day", EARLIEST, latest_date(), text="src.day"),
        # a feed item's date: not before RSS existed (a later one is capped, not refused:
        # available_at is bounded by the capture day, see PARQUET_SELECT)
        Range("date_published", "src._pub::DATE", EARLIEST, None, text="src.date_published"),
    ]


class HeadlinesParquetReader(Reader):
    """The filtered 2021-2023 headline snapshot (Parquet)."""

    kind = "documents"
    label = "RSS headline snapshot (rss_headlines*.parquet: day, feed, title, link, …)"

    def matches(self, path: Path) -> bool:
        return path.match("rss_headlines*.parquet")

    def _columns(self, con, path: Path) -> list[str]:
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_lit(str(path))})").fetchall()
        except duckdb.Error as exc:
            raise InputError(
                f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})",
                "re-download it: the file is damaged or not Parquet",
            ) from exc
        names = [r[0] for r in rows]
        check_required(path, names, PARQUET_REQUIRED, self.label)
        return names

    @staticmethod
    def _raw(names: list[str]) -> str:
        # The row as JSON, every column as text and in file order (not the helper columns).
        pairs = ", ".join(f"{_ident(n)} := src.{_ident(n)}::VARCHAR" for n in names)
        return f"to_json(struct_pack({pairs}))::VARCHAR"

    def stage(self, con, path: Path, table: str) -> Stage:
        names = self._columns(con, path)
        source = f"""(SELECT *, try_strptime(day::VARCHAR, '%Y-%m-%d')::DATE AS _day,
                             {_PUBLISHED} AS _pub
                      FROM (SELECT * REPLACE ({
            ", ".join(f"{_ident(c)}::VARCHAR AS {_ident(c)}" for c in PARQUET_REQUIRED)
        })
                            FROM read_parquet({_lit(str(path))})))"""
        select = PARQUET_SELECT.replace("/*ranges*/", range_checks(parquet_ranges()))
        rows = _stage(con, table, select, source, self._raw(names))
        no_feed, no_date, clamped = con.execute(
            f"""SELECT count(*) FILTER (WHERE outlet IS NULL),
                       count(*) FILTER (WHERE available_basis LIKE '%no date%'),
                       count(*) FILTER (WHERE available_basis LIKE '%after the capture%')
                FROM {table} WHERE _reject IS NULL"""
        ).fetchone()
        notes = []
        if no_feed:
            notes.append(f"{no_feed} rows have an empty feed (outlet left empty)")
        if no_date:
            notes.append(f"{no_date} rows have no date_published (capture day used)")
        if clamped:
            notes.append(f"{clamped} rows dated after their capture day (available_at capped)")
        stage = Stage(rows, (), tuple(notes))
        return settle_keys(con, table, stage, self, path, key="link+title")

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        """1-based row numbers in the Parquet file of the given raw rows."""
        con = duckdb.connect()
        try:
            names = self._columns(con, path)
            con.execute("CREATE TEMP TABLE wanted (raw VARCHAR)")
            con.executemany("INSERT INTO wanted VALUES (?)", [[r] for r in raws])
            rows = con.execute(
                f"""SELECT r.raw, min(r.n) FROM (
                        SELECT src.file_row_number + 1 AS n, {self._raw(names)} AS raw
                        FROM read_parquet({_lit(str(path))}, file_row_number=true) src) r
                    JOIN wanted USING (raw) GROUP BY 1"""
            ).fetchall()
        finally:
            con.close()
        return {raw: int(n) for raw, n in rows}


# ------------------------------------------------------------------- per-feed totals
# Rows with an empty feed are kept (feed null in attrs): they count the items whose feed
# URL the capture lost, the denominator of the headlines stored with no outlet.
_DAY = "try_strptime(src.day, '%Y-%m-%d')::DATE"


def totals_ranges() -> list[Range]:
    """Plausible ranges of a totals row (the run date bounds it: the file carries no date)."""
    return [
        # a day the capture counted: from RSS's creation to the run date
        Range("day", _DAY, EARLIEST, latest_date(), text="src.day"),
        # items one feed published in one day: never more than MAX_COUNT
        Range("n_items", "TRY_CAST(src.n_items AS UBIGINT)", 0, MAX_COUNT, text="src.n_items"),
    ]


TOTALS = CsvSpec(
    kind="observations",
    label="RSS per-feed daily totals (rss_feed_daily_totals*.csv[.gz]: day, feed, n_items)",
    patterns=("rss_feed_daily_totals*.csv", "rss_feed_daily_totals*.csv.gz"),
    required=("day", "feed", "n_items"),
    select=f"""
        '{SERIES}|' || coalesce(src.feed, '') || '|' || strftime({_DAY}, '%Y-%m-%d')
            AS source_id,
        '{SERIES}' AS series,
        'WORLD' AS geo,
        {_DAY} AS period_start,
        {_DAY} AS period_end,
        'D' AS freq,
        TRY_CAST(src.n_items AS UBIGINT)::DOUBLE AS value,
        'items' AS unit,
        json_object('feed', nullif(trim(src.feed), ''))::VARCHAR AS attrs,
        nullif(trim(src.feed), '') AS feed,
        -- a day's count is complete when the day ends; the capture publishes no later
        ({_DAY} + INTERVAL 1 DAY)::TIMESTAMP AS available_at,
        'period_end (day''s count complete at its end)' AS available_basis,
        NULL::VARCHAR AS url,
        CASE
            WHEN {_DAY} IS NULL THEN {_quoted("src.day", "day")} || ' is not a YYYY-MM-DD date'
            WHEN TRY_CAST(src.n_items AS UBIGINT) IS NULL
                THEN {_quoted("src.n_items", "n_items")} || ' is not a non-negative integer'
            /*ranges*/
        END AS _reject""",
    ranges=totals_ranges,
)


class TotalsReader(CsvReader):
    """The per-feed daily totals CSV; notes how many rows have no feed."""

    def stage(self, con, path: Path, table: str) -> Stage:
        stage = super().stage(con, path, table)
        n = con.execute(
            f"SELECT count(*) FROM {table} WHERE _reject IS NULL AND attrs = '{{\"feed\":null}}'"
        ).fetchone()[0]
        notes = (f"{n} rows have an empty feed (attrs feed null)",) if n else ()
        return Stage(stage.rows_in, stage.rejects, stage.notes + notes)


# ------------------------------------------------------------------ live fetch files
# A fetch file is a header line (the feed and when it was fetched) then one item per
# line. Fetch metadata stays out of the item lines so an unchanged item seen again in a
# later fetch has the same raw text and hash: a duplicate, not a revision.
_PUB_TEXT = "json_extract_string(src.raw, '$.published')"
# Only a time with an offset is cast: DuckDB would read a bare one in the session's zone.
_PUB = (
    f"CASE WHEN regexp_matches({_PUB_TEXT}, '{_ISO_WITH_OFFSET}') "
    f"THEN timezone('UTC', TRY_CAST({_PUB_TEXT} AS TIMESTAMPTZ)) END"
)
_FIELD = "nullif(json_extract_string(src.raw, '$.{}'), '')"
_GUID, _LINK, _TITLE = _FIELD.format("guid"), _FIELD.format("link"), _FIELD.format("title")
JSONL_SELECT = f"""
    CASE WHEN {_GUID} IS NULL THEN {_link_title_key(_LINK, _TITLE)}
         -- a guid that is not a URI/URN is only unique within its feed
         WHEN contains({_GUID}, ':') THEN {_GUID}
         ELSE src.feed_url || '#' || {_GUID} END AS source_id,
    coalesce({_PUB}, src.fetched_at) AS published_at,
    'headline' AS doc_type,
    {_TITLE} AS title,
    {_FIELD.format("description")} AS body,
    {_language(_FIELD.format("language"))} AS language,
    src.outlet AS outlet,
    -- public when published, but seen no later than the fetch: a future-dated item
    -- was visible at fetch time
    least(coalesce({_PUB}, src.fetched_at), src.fetched_at) AS available_at,
    CASE WHEN {_PUB} IS NULL THEN 'fetched_at (item has no date)'
         WHEN {_PUB} > src.fetched_at THEN 'fetched_at (item dated after the fetch)'
         ELSE 'feed item date' END AS available_basis,
    {_LINK} AS url,
    CASE
        WHEN {_PUB} IS NULL AND {_FIELD.format("published")} IS NOT NULL
            THEN {_quoted(_FIELD.format("published"), "published")}
                 || ' is not an ISO 8601 time with offset'
        WHEN {_TITLE} IS NULL AND {_LINK} IS NULL THEN 'title and link are both empty'
    END AS _reject"""


class FetchFileReader(Reader):
    """One live fetch of one feed, as written by :meth:`RssAdapter.fetch_live`."""

    kind = "documents"
    label = "live RSS fetch file (*.rss.jsonl, written by `vigil ingest rss --live`)"

    def matches(self, path: Path) -> bool:
        return path.name.endswith(".rss.jsonl")

    def stage(self, con, path: Path, table: str) -> Stage:
        with path.open("rb") as fh:
            lines = [b.decode("utf-8", errors="replace").rstrip("\r\n") for b in fh]
        header = _header(path, lines[0] if lines else "")
        good, rejects = [], []
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                ok = isinstance(json.loads(line), dict)
            except ValueError as exc:
                rejects.append(Reject(number, "parse", f"not JSON ({exc})", line))
                continue
            if ok:
                good.append(line)
            else:
                rejects.append(Reject(number, "parse", "not a JSON object", line))
        con.execute("DROP TABLE IF EXISTS _vigil_rss_lines")
        con.execute(
            "CREATE TEMP TABLE _vigil_rss_lines AS SELECT unnest(?::VARCHAR[]) AS raw, "
            "?::VARCHAR AS feed_url, ?::TIMESTAMP AS fetched_at, ?::VARCHAR AS outlet",
            [good, header["feed_url"], header["_fetched"], outlet_key(header["feed_url"])],
        )
        rows = _stage(con, table, JSONL_SELECT, "_vigil_rss_lines", "src.raw")
        con.execute("DROP TABLE _vigil_rss_lines")
        stage = Stage(rows + len(rejects), tuple(rejects))
        return settle_keys(con, table, stage, self, path, key="guid")

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        return locate_lines(path, set(raws))


def _header(path: Path, line: str) -> dict:
    """The fetch file's first line, checked: feed_url and a UTC fetched_at."""
    try:
        header = json.loads(line)
        fetched = datetime.fromisoformat(header["fetched_at"])
        if not isinstance(header["feed_url"], str) or fetched.tzinfo is None:
            raise ValueError
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a live RSS fetch file: line 1 must be a JSON header with "
            "feed_url and fetched_at (ISO 8601 with offset)",
            "give *.rss.jsonl files written by `vigil ingest rss --live`",
        ) from exc
    header["_fetched"] = fetched.astimezone(UTC).replace(tzinfo=None)
    return header


class RssAdapter(Adapter):
    """RSS with live fetching of the feeds in ``--option feeds=URL,URL``."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        """Fetch each feed (conditional GET); a failed feed does not stop the others.

        Returns the fetch file of every feed that succeeded, then every other fetch file
        already in the cache: a file written by an earlier run whose ingest failed would
        otherwise never be loaded (re-offering is idempotent: the ingest skips a file
        whose checksum is already loaded). A failed feed becomes one line in
        ``fetcher.warnings``; only when every feed failed and there is nothing to
        return is it an error.
        """
        feeds = [
            u.strip() for u in options.get("feeds", self.options["feeds"]).split(",") if u.strip()
        ]
        folder = fetcher.cache_dir / self.name
        state = load_state(folder)
        fetched: list[Fetched] = []
        failures: list[str] = []
        for url in feeds:
            try:
                got = fetch_feed(fetcher, url, folder, state)
            except FetchError as exc:
                failures.append(exc.message if url in exc.message else f"{url}: {exc.message}")
                continue
            if got is not None and got.path not in {f.path for f in fetched}:
                fetched.append(got)
        save_state(folder, state)
        returned = {f.path for f in fetched}
        fetched += [
            Fetched(path, path.resolve().as_uri())
            for path in sorted(folder.glob("*.rss.jsonl"))
            if path.is_file() and path not in returned
        ]
        if failures and len(failures) == len(feeds) and not fetched:
            raise FetchError(
                f"{len(failures)} of {len(feeds)} feeds failed: " + " | ".join(failures),
                "nothing was fetched and no earlier fetch file is cached; check the URLs "
                "in --option feeds, or try again later",
            )
        fetcher.warnings.extend(f"rss feed skipped: {failure}" for failure in failures)
        return fetched


ADAPTER = RssAdapter(
    name="rss",
    description="News headlines from RSS/Atom feeds (2021-2023 snapshot, per-feed totals, live)",
    readers=[HeadlinesParquetReader(), TotalsReader(TOTALS), FetchFileReader()],
    folders=("news_rss_headlines_2021_2023",),
    live_help="GETs each feed in --option feeds=URL,… (default: BBC/Guardian/Al Jazeera/"
    "Moscow Times/TVN24 world news) with ETag/Last-Modified; no credentials; a failed "
    "feed is a warning, not an error; fetch files cached by earlier runs are offered again "
    "(loaded ones are skipped)",
    options={"feeds": ",".join(DEFAULT_FEEDS)},
)
