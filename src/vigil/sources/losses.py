"""Russia–Ukraine war losses: daily UA General Staff claims (PetroIvaniuk) and Oryx counts.

* ``petroivaniuk_russia_losses_{equipment,personnel}.json``: arrays of daily *cumulative*
  Russian losses claimed by Ukraine's General Staff. Each numeric field becomes one
  observation (rows_in counts them, see :mod:`vigil.sources.gpr`) of
  ``losses.ua_claims.<field>`` (``field artillery`` → ``field_artillery``), geo ``RUS``
  (whose losses), attrs ``{"claimed_by": "UKR"}`` plus the row's text fields
  (``greatest losses direction``, ``personnel*`` = about/more); ``day`` (war-day counter)
  is not loaded. ``…_correction.json``: the dataset's corrections, ``losses.ua_corrections.*``.
  ``date`` is the morning report's date (day 1 = 2022-02-24; the 2022-03-01 figure of 5,710
  personnel is the one posted that morning): available at the end of ``date``.
* ``…_equipment_oryx.json``: Oryx per-model totals without a date → ``losses.oryx_by_model``
  dated to the last ``date`` of the equipment file beside it (same download).
* ``oryx_log.csv`` (mauforonda/ukraine): each change the scraper saw in Oryx's counts →
  ``oryx.<state>`` (a signed change), available at its UTC ``timestamp``. From 2024-08-31
  the scraper labels Russia's rows with the page heading "Losses of Armoured Combat
  Vehicles […]" (1,660 rows: Russia's counts drop to zero and reappear under that label in
  the same run); those rows are Russia's and load as ``RUS`` with attrs
  ``country_inferred``. Other unknown countries and scraper debris (states ``optic``,
  ``tured``) are rejected. ``oryx_summary.csv``: the latest totals → ``oryx.summary.<state>``,
  dated to the last timestamp of ``oryx_log.csv`` beside it (the totals equal the log's sums).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import InputError
from vigil.reference import countries
from vigil.sources.base import Adapter, Reject, Stage
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.series import (
    Parsed,
    RecordReader,
    cell_select,
    dumps,
    json_array,
    value_range,
)
from vigil.sources.tabular import (
    CsvReader,
    CsvSpec,
    Range,
    check_required,
    header_names,
    latest_date,
    read_csv_sql,
    settle_keys,
    stage_select,
)

if TYPE_CHECKING:
    import duckdb

# The General Staff posts its tally on the morning of `date`: known by the end of it.
LAG_DAYS = 0
TEXT_FIELDS = {
    "greatest losses direction": "greatest_losses_direction",
    "personnel*": "personnel_approx",
}
NOT_VALUES = {"date", "day"}
STATES = ("destroyed", "damaged", "abandoned", "captured")
# Oryx page heading the scraper took for a country name from 2024-08-31 (normalised form).
MISLABEL = "losses of armoured combat vehicles"

_DATE = "try_strptime(src.period, '%Y-%m-%d')::DATE"
_BASIS = "end of date (UA General Staff posts the tally on the morning of the date)"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# Day 1 of the full-scale invasion: the General Staff's tally and Oryx's lists start there.
EARLIEST = date(2022, 2, 24)


def _dated(basis: str = _BASIS, key: str = "src.series || '|' || src.geo") -> str:
    return cell_select(
        earliest=EARLIEST,
        # cumulative losses are never negative (corrections and changes are signed)
        ranges=[value_range(0, None, where="src.unit = 'cumulative count'")],
        period=_DATE,
        period_end=_DATE,
        freq="D",
        id_period="%Y-%m-%d",
        lag_days=LAG_DAYS,
        basis=basis,
        period_name="date",
        period_format="YYYY-MM-DD",
        key=key,
    )


class ClaimsReader(RecordReader):
    """PetroIvaniuk daily cumulative claims (equipment, personnel) and corrections."""

    label = "PetroIvaniuk russia_losses_{equipment,personnel}[_correction].json"
    pattern = re.compile(
        r"^(petroivaniuk_)?russia_losses_(equipment|personnel)"
        r"(_correction)?\.json$"
    )

    def parse(self, path: Path) -> Parsed:
        correction = "_correction" in path.name
        prefix = "losses.ua_corrections." if correction else "losses.ua_claims."
        unit = "count (correction)" if correction else "cumulative count"
        parsed = Parsed()
        items = json_array(path, self.label)
        skipped = 0
        for line, item in items:
            if not isinstance(item, dict):
                parsed.rejects.append(
                    Reject(line, "parse", "expected a JSON object", dumps({"item": item}))
                )
                continue
            text = {
                TEXT_FIELDS[k]: str(v).strip()
                for k, v in item.items()
                if k in TEXT_FIELDS and v is not None
            }
            attrs = dumps({"claimed_by": "UKR", **text})
            context = {k: item[k] for k in ("date", "day", *TEXT_FIELDS) if k in item}
            date = item.get("date")
            for field, value in item.items():
                if field in NOT_VALUES or field in TEXT_FIELDS:
                    continue
                if value is None:
                    skipped += 1
                    continue
                parsed.add(
                    line,
                    period=date if isinstance(date, str) else None,
                    col=field,
                    cell=str(value),
                    series=prefix + _slug(field),
                    geo="RUS",
                    unit=unit,
                    attrs=attrs,
                    raw=dumps({**context, field: value}),
                )
        parsed.notes.append(
            f"{len(items)} input rows → {len(parsed.records)} observations; "
            f"{skipped} null values skipped; day (a counter) not loaded"
        )
        return parsed

    def select(self, parsed: Parsed) -> str:
        return _dated()


class OryxModelsReader(RecordReader):
    """PetroIvaniuk's copy of Oryx per-model Russian losses (no date of its own)."""

    label = "PetroIvaniuk russia_losses_equipment_oryx.json"
    pattern = re.compile(r"^(petroivaniuk_)?russia_losses_equipment_oryx\.json$")

    def parse(self, path: Path) -> Parsed:
        as_of = _last_claim_date(path)
        parsed = Parsed()
        for line, item in json_array(path, self.label):
            if not isinstance(item, dict):
                parsed.rejects.append(
                    Reject(line, "parse", "expected a JSON object", dumps({"item": item}))
                )
                continue
            labels = {
                k: item.get(k) for k in ("equipment_oryx", "model", "manufacturer", "equipment_ua")
            }
            value = item.get("losses_total")
            parsed.add(
                line,
                period=as_of,
                col="losses_total",
                cell=None if value is None else str(value),
                series="losses.oryx_by_model",
                geo="RUS",
                unit="cumulative count",
                attrs=dumps({"claimed_by": "Oryx (visually confirmed)", **labels}),
                aux=f"{labels['equipment_oryx']}|{labels['model']}",
                problem=None if labels["model"] else "model is empty",
                raw=dumps(item),
            )
        parsed.notes.append(f"dated {as_of}: the last date of the equipment claims beside it")
        return parsed

    def select(self, parsed: Parsed) -> str:
        return _dated(
            basis="as-of: end of the last date of the equipment claims beside it",
            key="src.series || '|' || src.aux",
        )


def _last_claim_date(path: Path) -> str:
    sibling = path.with_name(path.name.replace("_oryx", ""))
    if not sibling.exists():
        raise InputError(
            f"{path}: Oryx per-model totals carry no date; vigil dates them by the last date "
            f"of {sibling.name}, which is not beside it",
            "keep the files of one download together in one folder",
        )
    dates = [
        i.get("date")
        for _, i in json_array(sibling, ClaimsReader.label)
        if isinstance(i, dict) and isinstance(i.get("date"), str)
    ]
    if not dates:
        raise InputError(f"{sibling}: no dates", "re-download the equipment claims")
    return max(dates)


# Russia/Ukraine by name; the mislabelled heading is Russia (see the module docstring).
_ISO = f"""CASE WHEN starts_with(vigil_norm_name(src.country), '{MISLABEL}') THEN 'RUS'
    WHEN al.iso3 IN ('RUS', 'UKR') THEN al.iso3 END"""
_ATTRS = f"""CASE WHEN starts_with(vigil_norm_name(src.country), '{MISLABEL}')
    THEN json_object('category', {{cat}}, 'country_inferred',
                     'RUS: the scraper labels Russia''s rows with a page heading since 2024-08-31')
    ELSE json_object('category', {{cat}}) END::VARCHAR"""
_CATEGORY = "lower(trim(replace(src.category, chr(160), ' ')))"
_STATE_OK = "src.state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")"
_REJECTS = f"""
        WHEN ({_ISO}) IS NULL
            THEN 'country ' || coalesce('''' || src.country || '''', 'empty')
                 || ' is not Russia or Ukraine'
        WHEN NOT {_STATE_OK} OR src.state IS NULL
            THEN 'state ' || coalesce('''' || src.state || '''', 'empty')
                 || ' is not an Oryx loss state ({", ".join(STATES)})'
        WHEN nullif({_CATEGORY}, '') IS NULL THEN 'category is empty'
        WHEN TRY_CAST(src.value AS BIGINT) IS NULL
            THEN 'value ' || coalesce('''' || src.value || '''', 'empty') || ' is not an integer'"""
_JOIN = " LEFT JOIN ref_country_alias al ON al.alias_norm = vigil_norm_name(src.country)"
_TS = "try_strptime(src.timestamp, '%Y-%m-%d %H:%M:%S')"

LOG_SELECT = f"""
    'oryx.' || src.state || '|' || src.country || '|' || src.category || '|' || src.timestamp
        AS source_id,
    'oryx.' || src.state AS series, {_ISO} AS geo,
    {_TS}::DATE AS period_start, {_TS}::DATE AS period_end, 'irregular' AS freq,
    TRY_CAST(src.value AS DOUBLE) AS value, 'count change' AS unit,
    {_ATTRS.format(cat=_CATEGORY)} AS attrs,
    {_TS} AS available_at, 'timestamp (the scraper first saw the change, UTC)' AS available_basis,
    NULL::VARCHAR AS url,
    CASE WHEN {_TS} IS NULL
            THEN 'timestamp ' || coalesce('''' || src.timestamp || '''', 'empty')
                 || ' is not YYYY-MM-DD HH:MM:SS'{_REJECTS}
        /*ranges*/
    END AS _reject"""

SUMMARY_SELECT = f"""
    'oryx.summary.' || src.state || '|' || src.country || '|' || src.category || '|' || $asof
        AS source_id,
    'oryx.summary.' || src.state AS series, {_ISO} AS geo,
    $asof::TIMESTAMP::DATE AS period_start, $asof::TIMESTAMP::DATE AS period_end,
    'D' AS freq, TRY_CAST(src.value AS DOUBLE) AS value, 'count' AS unit,
    {_ATTRS.format(cat=_CATEGORY)} AS attrs,
    $asof::TIMESTAMP AS available_at,
    'as-of: last timestamp of oryx_log.csv beside it (the totals are its sums)' AS available_basis,
    NULL::VARCHAR AS url,
    CASE WHEN FALSE THEN NULL{_REJECTS}
        /*ranges*/
    END AS _reject"""


class OryxReader(CsvReader):
    """mauforonda's Oryx scrape: the change log, or the summary dated by the log beside it."""

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Stage:
        countries.register_reference_tables(con)
        names = header_names(path, ",")
        check_required(path, names, self.spec.required, self.label)
        select, notes = self.spec.compiled(), ()
        if "$asof" in select:
            as_of = _last_log_time(con, path)
            select = select.replace("$asof", f"'{as_of}'")
            notes = (f"dated {as_of}: the last timestamp of the oryx_log.csv beside it",)
        source = read_csv_sql(
            path, dict.fromkeys(names, "VARCHAR"), delim=",", header=True, quote='"', escape='"'
        )
        stage = stage_select(con, path, table, select, source, joins=_JOIN, single_line=True)
        inferred = con.execute(
            f"SELECT count(*) FROM {table} WHERE _reject IS NULL AND "
            "attrs LIKE '%country_inferred%'"
        ).fetchone()[0]
        if inferred:
            notes += (f"{inferred} rows under the mislabelled heading loaded as RUS",)
        stage = Stage(stage.rows_in, stage.rejects, notes)
        return settle_keys(con, table, stage, self, path, key=self.spec.key)


def _log_ranges() -> list[Range]:
    return [
        # a change the scraper saw: from the invasion (Oryx's lists start there) to the run date
        Range("timestamp", f"{_TS}::DATE", EARLIEST, latest_date(), text="src.timestamp"),
    ]


def _summary_ranges() -> list[Range]:
    # a total of losses is never negative
    return [Range("value", "TRY_CAST(src.value AS DOUBLE)", 0, None, text="src.value")]


def _last_log_time(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    log = path.with_name(path.name.replace("summary", "log"))
    if not log.exists():
        raise InputError(
            f"{path}: the Oryx summary carries no date; vigil dates it by the last timestamp "
            f"of {log.name}, which is not beside it",
            "keep the files of one download together in one folder",
        )
    source = read_csv_sql(
        log,
        dict.fromkeys(header_names(log, ","), "VARCHAR"),
        delim=",",
        header=True,
        quote='"',
        escape='"',
    )
    last = con.execute(f"SELECT max({_TS}) FROM {source} AS src").fetchone()[0]
    if last is None:
        raise InputError(f"{log}: no valid timestamp", "re-download the Oryx log")
    return last.isoformat(sep=" ")


LOG = CsvSpec(
    kind="observations",
    label="Oryx change log oryx_log.csv (timestamp, country, category, state, value)",
    patterns=("oryx_log*.csv",),
    required=("timestamp", "country", "category", "state", "value"),
    select=LOG_SELECT,
    ranges=_log_ranges,
)
SUMMARY = CsvSpec(
    kind="observations",
    label="Oryx totals oryx_summary.csv (country, category, state, value)",
    patterns=("oryx_summary*.csv",),
    required=("country", "category", "state", "value"),
    select=SUMMARY_SELECT,
    ranges=_summary_ranges,
)


class LossesAdapter(Adapter):
    """Downloads the PetroIvaniuk JSON files and the Oryx scrape from GitHub."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        opts = {**self.options, **options}
        petro = opts["petro_base_url"].rstrip("/") + "/"
        oryx = opts["oryx_base_url"].rstrip("/") + "/"
        wanted = [
            (petro + f"russia_losses_{n}.json", f"petroivaniuk_russia_losses_{n}.json")
            for n in ("equipment", "personnel", "equipment_correction", "equipment_oryx")
        ]
        wanted += [(oryx + "log.csv", "oryx_log.csv"), (oryx + "summary.csv", "oryx_summary.csv")]
        return [fetcher.download(url, self.name, name=name, refresh=True) for url, name in wanted]


ADAPTER = LossesAdapter(
    name="losses",
    description="Russian war losses: UA General Staff daily cumulative claims (PetroIvaniuk) "
    "and Oryx visually confirmed counts (per model, change log, totals)",
    readers=[ClaimsReader(), OryxModelsReader(), OryxReader(LOG), OryxReader(SUMMARY)],
    folders=("ukraine_war_losses",),
    live_help="PetroIvaniuk/2022-Ukraine-Russia-War-Dataset data/*.json and mauforonda/ukraine "
    "log.csv, summary.csv from GitHub (--option petro_base_url=…, oryx_base_url=…); "
    "no credentials",
    options={
        "petro_base_url": "https://raw.githubusercontent.com/PetroIvaniuk/"
        "2022-Ukraine-Russia-War-Dataset/HEAD/data/",
        "oryx_base_url": "https://raw.githubusercontent.com/mauforonda/ukraine/HEAD/",
    },
)
