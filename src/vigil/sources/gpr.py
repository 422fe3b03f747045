"""Caldara & Iacoviello Geopolitical Risk (GPR) index: daily and monthly CSV exports.

Both files are *wide*: one input row (a day or a month) holds many values, one per
column. Each non-empty value cell becomes one observation, so **rows_in counts staged
cells, not input lines**: the ingest reconciles ``rows_in = loaded + duplicates +
rejected`` over cells, a bad cell is rejected alone (its reason names the column), and
the input line count is kept in the batch notes ("N input rows → M observations; K
empty cells skipped"). A line that cannot be split into the header's fields is one
parse reject. Each observation's ``raw`` is the key column plus its own cell (not the
whole 115-column row), so a revision of one value updates one observation.

* daily (``DAY`` YYYYMMDD): ``GPRD`` → gpr.daily, ``GPRD_ACT`` → gpr.daily_act,
  ``GPRD_THREAT`` → gpr.daily_threat, ``N10D`` → gpr.daily_articles, ``GPRD_MA7/30`` →
  gpr.daily_ma7/_ma30; geo WORLD; the authors' ``event`` label goes into gpr.daily's
  attrs; ``date`` (a copy of DAY) is checked against DAY.
* monthly (``month``): ``GPR``/``GPRT``/``GPRA`` → gpr.monthly/_threats/_acts (WORLD),
  ``GPRC_<ISO3>`` → gpr.country and ``GPRHC_<ISO3>`` → gpr.country_historical (geo = the
  ISO3 suffix), every other column → gpr.monthly_<column> with its codebook label in
  attrs. ``var_name``/``var_label`` are a codebook embedded in the first rows: read as
  metadata (they give the labels), never loaded as values.

Caveat for backtests: the index is computed retrospectively by the authors (current
method since Oct 2021); ``available_at`` is the regular release time of each period.

The shared reading machinery is in :mod:`vigil.sources.series`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from vigil.errors import InputError
from vigil.reference import countries
from vigil.sources.base import Adapter
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.series import (
    Parsed,
    RecordReader,
    cell_select,
    cells_note,
    csv_rows,
    dumps,
    q,
    value_range,
)

INDEX_RECENT = "index (1985-2019=100)"
INDEX_HIST = "index (1900-2019=100)"
PERCENT = "percent of articles"

# Daily columns → (series, unit). DAY, date and event are keys/labels, not values.
DAILY = {
    "GPRD": ("gpr.daily", INDEX_RECENT),
    "GPRD_ACT": ("gpr.daily_act", INDEX_RECENT),
    "GPRD_THREAT": ("gpr.daily_threat", INDEX_RECENT),
    "N10D": ("gpr.daily_articles", "articles"),
    "GPRD_MA30": ("gpr.daily_ma30", INDEX_RECENT),
    "GPRD_MA7": ("gpr.daily_ma7", INDEX_RECENT),
}
MONTHLY = {"GPR": "gpr.monthly", "GPRT": "gpr.monthly_threats", "GPRA": "gpr.monthly_acts"}
CODEBOOK = ("var_name", "var_label")

# The daily index counts the articles of day d, so it exists once d is over; the authors
# post it afterwards, at the earliest the next day: available at the end of day d + 1.
DAILY_LAG_DAYS = 1
# "Updated monthly around the 10th of the following month" (the authors' data page).
MONTHLY_LAG_DAYS = 10


class DailyReader(RecordReader):
    """The daily GPR export (DAY, N10D, GPRD, GPRD_ACT, GPRD_THREAT, …, event)."""

    label = "GPR daily CSV export (DAY, N10D, GPRD, GPRD_ACT, GPRD_THREAT, …)"
    pattern = re.compile(r"^.*gpr_daily.*\.csv$", re.IGNORECASE)

    def parse(self, path: Path) -> Parsed:
        header, rows, rejects = csv_rows(path, self.label, ("DAY", *list(DAILY)[:4]))
        parsed = Parsed(rejects=rejects)
        at = {name: i for i, name in enumerate(header)}
        values = [c for c in DAILY if c in at]
        skipped = 0
        for line, fields in rows:
            day = fields[at["DAY"]].strip()
            date = fields[at["date"]].strip() if "date" in at else ""
            event = fields[at["event"]].strip() if "event" in at else ""
            for col in values:
                cell = fields[at[col]].strip()
                if not cell:
                    skipped += 1
                    continue
                series, unit = DAILY[col]
                raw = {"DAY": day, "date": date, col: cell} if date else {"DAY": day, col: cell}
                attrs = None
                if col == "GPRD" and event:
                    raw["event"] = fields[at["event"]]
                    attrs = dumps({"event": event})
                parsed.add(
                    line,
                    period=day,
                    col=col,
                    cell=cell,
                    series=series,
                    geo="WORLD",
                    unit=unit,
                    attrs=attrs,
                    aux=date or None,
                    raw=dumps(raw),
                )
        parsed.notes.append(cells_note(len(rows), len(parsed.records), skipped))
        ignored = [c for c in header if c not in {"DAY", "date", "event", *DAILY}]
        if ignored:
            parsed.notes.append(f"columns not loaded (not GPR daily values): {', '.join(ignored)}")
        return parsed

    def select(self, parsed: Parsed) -> str:
        day = "try_strptime(src.period, '%Y%m%d')::DATE"
        # `aux` is the row's `date` column, a copy of DAY: a disagreement is a broken row.
        disagrees = (
            f"src.aux IS NOT NULL AND try_strptime(src.aux, '%Y-%m-%d')::DATE "
            f"IS DISTINCT FROM {day}"
        )
        return cell_select(
            period=day,
            period_end=day,
            freq="D",
            id_period="%Y-%m-%d",
            lag_days=DAILY_LAG_DAYS,
            period_name="DAY",
            period_format="YYYYMMDD",
            basis="end of day + 1d (GPR daily: counted from the day's papers, posted after)",
            # the daily index begins on 1985-01-01
            earliest=date(1985, 1, 1),
            # indices and article counts are never negative
            ranges=[value_range(0, None)],
            checks=[
                (
                    disagrees,
                    f"'date ' || {q('src.aux')} || ' disagrees with DAY ' || {q('src.period')}",
                )
            ],
        )


class MonthlyReader(RecordReader):
    """The monthly GPR export (month, GPR, GPRT, GPRA, GPRC_*, GPRHC_*, …, var_name, var_label)."""

    label = "GPR monthly CSV export (month, GPR, GPRT, GPRA, GPRC_<ISO3>, …)"
    pattern = re.compile(r"^.*gpr_(monthly|export).*\.csv$", re.IGNORECASE)

    def parse(self, path: Path) -> Parsed:
        header, rows, rejects = csv_rows(path, self.label, ("month", *MONTHLY))
        parsed = Parsed(rejects=rejects)
        at = {name: i for i, name in enumerate(header)}
        labels = {}
        if all(c in at for c in CODEBOOK):
            for _, fields in rows:
                name, text = (fields[at[c]].strip() for c in CODEBOOK)
                if name:
                    labels[name] = text
        values = [c for c in header if c not in ("month", *CODEBOOK)]
        iso3 = {c["iso3"] for c in countries.countries()}
        skipped = 0
        for line, fields in rows:
            month = fields[at["month"]].strip()
            for col in values:
                cell = fields[at[col]].strip()
                if not cell:
                    skipped += 1
                    continue
                series, geo, unit, attrs = _monthly_series(col, labels)
                problem = None
                if geo != "WORLD" and geo not in iso3:
                    problem = f"{col}: '{geo}' is not an ISO 3166 alpha-3 country code"
                parsed.add(
                    line,
                    period=month,
                    col=col,
                    cell=cell,
                    series=series,
                    geo=geo,
                    unit=unit,
                    attrs=attrs,
                    problem=problem,
                    raw=dumps({"month": month, col: cell}),
                )
        parsed.notes.append(cells_note(len(rows), len(parsed.records), skipped))
        if labels:
            parsed.notes.append(
                f"var_name/var_label: codebook of {len(labels)} column labels "
                "embedded in the first rows, read as metadata, not loaded"
            )
        unlabelled = [c for c in values if c not in labels]
        if unlabelled:
            parsed.notes.append(f"columns without a codebook label: {', '.join(unlabelled)}")
        return parsed

    def select(self, parsed: Parsed) -> str:
        month = (
            "date_trunc('month', coalesce(try_strptime(src.period, '%Y-%m-%d'), "
            "try_strptime(src.period, '%Y-%m-%d %H:%M:%S'), "
            "try_strptime(src.period, '%Y-%m')))::DATE"
        )
        return cell_select(
            period=month,
            period_end=f"last_day({month})",
            freq="M",
            id_period="%Y-%m",
            lag_days=MONTHLY_LAG_DAYS,
            period_name="month",
            period_format="YYYY-MM-DD",
            basis="end of month + 10d (GPR monthly: released around the 10th of the next month)",
            # the historical indices (GPRH*, GPRHC_*) begin in January 1900
            earliest=date(1900, 1, 1),
            ranges=[
                # indices, article counts and shares are never negative…
                value_range(0, None),
                # …and a share of articles is at most all of them
                value_range(None, 100, where=f"src.unit = '{PERCENT}'"),
            ],
        )


def _monthly_series(col: str, labels: dict[str, str]) -> tuple[str, str, str, str | None]:
    """(series, geo, unit, attrs) of a monthly column; units follow the codebook's labels."""
    if col in MONTHLY:
        return MONTHLY[col], "WORLD", INDEX_RECENT, None
    for prefix, series in (("GPRC_", "gpr.country"), ("GPRHC_", "gpr.country_historical")):
        if col.startswith(prefix):
            return series, col[len(prefix) :], PERCENT, None
    if col in ("N10", "N3H"):
        unit = "articles"
    elif col.startswith("SHARE"):
        unit = PERCENT
    else:
        unit = INDEX_HIST if col.startswith("GPRH") else INDEX_RECENT
    attrs = dumps({"label": labels[col]}) if col in labels else None
    return f"gpr.monthly_{col.lower()}", "WORLD", unit, attrs


class GprAdapter(Adapter):
    """GPR with live download of CSV exports from configurable URLs."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        opts = {**self.options, **options}
        wanted = [
            (opts.get("daily_url"), "gpr_daily_live.csv"),
            (opts.get("monthly_url"), "gpr_monthly_export_live.csv"),
        ]
        wanted = [(url, name) for url, name in wanted if url]
        if not wanted:
            raise InputError(
                "the GPR adapter needs CSV URLs: the official files are .xls, which vigil "
                "does not read",
                "pass --option daily_url=URL and/or --option monthly_url=URL of CSV exports",
            )
        return [fetcher.download(url, self.name, name=name, refresh=True) for url, name in wanted]


ADAPTER = GprAdapter(
    name="gpr",
    description="Caldara & Iacoviello Geopolitical Risk index: daily world index and monthly "
    "world, historical and 44 country indices (one observation per value cell)",
    readers=[DailyReader(), MonthlyReader()],
    folders=("geopolitical_risk_gpr",),
    live_help="CSV exports of the daily and monthly GPR files from --option daily_url=… / "
    "monthly_url=… (official files at matteoiacoviello.com/gpr.htm are .xls: "
    "export them to CSV); no credentials",
    options={"daily_url": "", "monthly_url": ""},
)
