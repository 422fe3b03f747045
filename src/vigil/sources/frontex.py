"""Frontex monthly detections of illegal border crossings (IBC), by route and nationality.

One CSV row (``month, route, type, nat, n``) is one observation of series
``frontex.ibc.<route_slug>`` (``Eastern Borders Route`` → ``frontex.ibc.eastern_borders``).
A route is not a country, so ``geo`` is the route region code ``EU:<route_slug>``; the
nationality and the Sea/Land type go into attrs. Nationality codes are kept as given:
besides ISO3 the file uses Frontex/IOM codes such as ``OOO`` and ``OOS`` (other or not
specified), ``STL`` (stateless) and ``XKX`` (Kosovo); the batch notes list the non-ISO ones.

``available_at`` is the end of the month plus 45 days: Frontex announces each month's
preliminary detections in the middle of the following month and updates its downloadable
"Monthly detections of IBC" data afterwards. Values are as of the file's vintage
(IOM's copy of 3 June 2025): later revisions are not visible as such.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import InputError
from vigil.reference import countries
from vigil.sources.base import Adapter, Stage
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.tabular import MAX_COUNT, CsvReader, CsvSpec, Range, latest_date

if TYPE_CHECKING:
    import duckdb

# Frontex announces a month's detections mid-next-month; its data file follows.
LAG_DAYS = 45

_SLUG = (
    "trim(regexp_replace(lower(regexp_replace(trim(src.route), '\\s*Route$', '')), "
    "'[^a-z0-9]+', '_', 'g'), '_')"
)
_MONTH = "try_strptime(trim(src.month), '%Y-%m')::DATE"
_N = "TRY_CAST(src.n AS DOUBLE)"

SELECT = f"""
    'frontex.ibc.' || {_SLUG} || '|' || trim(src.nat) || '|' || trim(src.type) || '|'
        || strftime({_MONTH}, '%Y-%m') AS source_id,
    'frontex.ibc.' || {_SLUG} AS series,
    'EU:' || {_SLUG} AS geo,
    {_MONTH} AS period_start,
    last_day({_MONTH}) AS period_end,
    'M' AS freq,
    {_N} AS value,
    'detections' AS unit,
    json_object('nationality', trim(src.nat), 'type', trim(src.type))::VARCHAR AS attrs,
    (last_day({_MONTH}) + INTERVAL 1 DAY)::TIMESTAMP + INTERVAL {LAG_DAYS} DAY AS available_at,
    'end of month + {LAG_DAYS}d (Frontex: monthly detections announced mid-next-month, data file '
        || 'updated after)' AS available_basis,
    NULL::VARCHAR AS url,
    CASE
        WHEN {_MONTH} IS NULL
            THEN 'month ' || coalesce('''' || src.month || '''', 'empty') || ' is not YYYY-MM'
        WHEN nullif(trim(src.route), '') IS NULL OR {_SLUG} = '' THEN 'route is empty'
        WHEN nullif(trim(src.nat), '') IS NULL THEN 'nat is empty'
        WHEN nullif(trim(src.type), '') IS NULL THEN 'type is empty'
        WHEN {_N} IS NULL OR NOT isfinite({_N}) OR {_N} < 0
            THEN 'n ' || coalesce('''' || src.n || '''', 'empty')
                 || ' is not a count of detections'
        /*ranges*/
    END AS _reject"""

# Frontex's monthly IBC detections begin in January 2009.
EARLIEST = date(2009, 1, 1)


def ranges() -> list[Range]:
    """Plausible ranges of a row (the run date bounds it: the file carries no date)."""
    return [
        # a month Frontex counted: from its first to the run date
        Range("month", _MONTH, EARLIEST, latest_date(), text="src.month"),
        # people detected on one route in one month: never more than everyone alive
        Range("n", _N, 0, MAX_COUNT, text="src.n"),
    ]


SPEC = CsvSpec(
    kind="observations",
    label="Frontex IBC monthly CSV (month, route, type, nat, n)",
    patterns=("frontex*.csv",),
    required=("month", "route", "type", "nat", "n"),
    select=SELECT,
    ranges=ranges,
)


class FrontexReader(CsvReader):
    """The route × nationality × month CSV; notes list the non-ISO nationality codes."""

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Stage:
        stage = super().stage(con, path, table)
        iso3 = {c["iso3"] for c in countries.countries()}
        codes = con.execute(
            f"SELECT json_extract_string(attrs, '$.nationality') AS nat, count(*) FROM {table} "
            "WHERE _reject IS NULL GROUP BY 1 ORDER BY 1"
        ).fetchall()
        other = [f"{nat} ×{n}" for nat, n in codes if nat not in iso3]
        notes = stage.notes
        if other:
            notes += (f"nationality codes kept that are not ISO 3166: {', '.join(other)}",)
        return Stage(stage.rows_in, stage.rejects, notes)


class FrontexAdapter(Adapter):
    """Frontex with a live download of a CSV in the same layout from a configurable URL."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        url = options.get("url") or self.options["url"]
        if not url:
            raise InputError(
                "the frontex adapter needs --option url=… : Frontex publishes an .xlsx and "
                "IOM's mirror an R .rda file, neither of which vigil reads",
                "convert the data to a CSV with columns month,route,type,nat,n and give its URL",
            )
        name = "frontex_ibc_monthly_route_nationality_live.csv"
        return [fetcher.download(url, self.name, name=name, refresh=True)]


ADAPTER = FrontexAdapter(
    name="frontex",
    description="Frontex monthly detections of illegal border crossings by route, "
    "nationality and Sea/Land type (series frontex.ibc.<route>, geo EU:<route>)",
    readers=[FrontexReader(SPEC)],
    folders=("frontex_irregular_border_crossings",),
    live_help="a CSV (month,route,type,nat,n) from --option url=… (Frontex's own file is "
    ".xlsx, IOM gdidata's is .rda: convert first); no credentials",
    options={"url": ""},
)
