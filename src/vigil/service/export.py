"""Exports other tools can load: a theatre's indicators, readings, assessments, outcomes,
evidence and the statistical forecaster's country-month probabilities, as CSV and Parquet.

Every table is declared once, in :data:`SCHEMAS` (its columns' names, DuckDB types and
meanings, in order): the writer casts and orders the rows by it, and
:func:`schema_markdown` turns it into the column tables of ``docs/EXPORTS.md`` (a test
keeps the two equal), so the documentation cannot drift from the files.

Dates. The dated tables cover every ``step_days``-th day from ``start`` up to ``end``
(:func:`export_dates`), each date using only what was available by its end, as every
reading of the store does. ``forecasts`` is the exception: the forecaster issues one
forecast a month, on the 15th (the origins its backtest scores), so it covers the 15ths
that fall in the range, whatever the step.

Assessments and outcomes: stored where stored, computed (never stored) where not.
``assessments`` and ``outcomes`` come from the assessments stored for the current model
(:func:`vigil.service.assess.model_hash` of the theatre and library, without extra
evidence: an assessment made with the forecaster as evidence is another model) and the
horizon, on the export's dates (:func:`vigil.scenarios.audit.history`). A date with no
stored assessment is **computed without being stored**, and its rows say so (``stored`` is
false; :attr:`ExportResult.computed` lists the dates), because:

* an export is a read: the stored assessments are the audit trail of what was assessed
  and said, and a file written for another tool is no such act (storing would also make an
  export fail, or change the store, beside ``vigil serve``, which holds it);
* reporting the dates as missing would leave holes exactly where a user asked for numbers,
  and send them to ``vigil replay`` (which stores) for what one evidence load gives in well
  under a second a date (:func:`vigil.service.assess.replay`);
* computed and stored numbers agree when made from the same data (same model hash, no
  look-ahead: each date reads only what was available by then); where data was loaded
  since an assessment was stored, the stored one is what was said at the time and is
  kept, and the ``stored`` column tells the two apart.

Writes are all or nothing: every file is written to a temporary file in the output folder
first and renamed over its name only once all were written, so a failure (a full disk, an
interrupted run) leaves no half-written file and no new file at all.

The forecaster (scikit-learn, LightGBM) is imported only when ``forecasts`` is asked for.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import InputError, UsageError
from vigil.forecast import MODEL_IDS
from vigil.indicators.evidence import EvidenceRange
from vigil.indicators.readings import BLIND, NOTE, IndicatorReading, Reader
from vigil.indicators.series import series_kind
from vigil.scenarios import audit
from vigil.service import assess as A  # noqa: N812
from vigil.service.look import json_number

if TYPE_CHECKING:
    from vigil.scenarios.spec import ScenarioLibrary
    from vigil.theatre import Indicator, TheatreSpec

#: export dates in one run, at most (as ``vigil replay``'s MAX_REPLAY): a daily export of
#: five years is 1,826 dates; more is a mistyped date
MAX_DATES = 2000
#: the longest step and horizon, in days (as the command line's --step and --horizon)
MAX_STEP_DAYS, MAX_HORIZON_DAYS = 3650, 730
FORMATS = ("csv", "parquet")
#: evidence items per indicator and date (what ``vigil indicators`` attaches by default)
EVIDENCE_PER_INDICATOR = 5
#: the forecaster's horizons, in months: one ``p_h<k>`` column each
#: (:data:`vigil.forecast.panel.HORIZONS`)
FORECAST_HORIZONS = (1, 3)
#: ViEWS' month numbering: month_id 1 is January of this year
MONTH_ID_EPOCH = 1980
#: the tables that read the store's assessments (their file names carry the horizon)
_HORIZON_TABLES = ("assessments", "outcomes")


# ------------------------------------------------------------------------------ schema
@dataclass(frozen=True)
class Column:
    """One column of an exported table: its name, DuckDB type and meaning (with unit)."""

    name: str
    type: str  #: VARCHAR, DATE, DOUBLE, INTEGER or BOOLEAN
    meaning: str


@dataclass(frozen=True)
class Schema:
    """An exported table: what one row is, what the table is for, its columns in order."""

    name: str
    row: str
    about: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: str, meaning: str) -> Column:
    return Column(name, type_, meaning)


_THEATRE = _c("theatre", "VARCHAR", "Theatre id (the folder under `theatres/`).")
_AS_OF = _c("as_of", "DATE", "The date read: only what was available by its end is used.")
_INDICATOR = _c("indicator", "VARCHAR", "Indicator id (`theatres/<id>/indicators/<id>.yaml`).")
_MODEL = (
    _c("horizon_days", "INTEGER", "Days ahead the assessment covers."),
    _c("model_hash", "VARCHAR", "SHA-256 of the specs and model version the numbers come "
       "from (`vigil.service.assess.model_hash`); rows of one hash are comparable."),
    _c("stored", "BOOLEAN", "True: the assessment stored in the store on that date; false: "
       "none was stored for this model and horizon, so it was computed for the export "
       "(and not stored)."),
)  # fmt: skip
_INTERVAL = (
    _c("interval_low", "DOUBLE", "Lower end of the 90 % interval of the probability."),
    _c("interval_high", "DOUBLE", "Upper end of the 90 % interval of the probability."),
)

SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        Schema("indicators", "indicator × evidence kind × measure",
               "The theatre's indicator definitions: what each indicator reads (its evidence "
               "kinds) and the cut-offs its readings are judged against — the change "
               "against its own baseline (a z-score) and, where declared, a level.", (
            _THEATRE, _INDICATOR,
            _c("name", "VARCHAR", "Indicator name."),
            _c("indicator_group", "VARCHAR", "Group of correlated indicators it belongs to."),
            _c("direction", "VARCHAR", "escalatory, de-escalatory or context."),
            _c("kind", "VARCHAR", "Evidence kind: `events`, `text` or `series:<name>` (with "
               "`@<geo>` when restricted); the `kind` of the readings' parts."),
            _c("measure", "VARCHAR", "`change` (anomaly z against the indicator's trailing "
               "baseline) or `level` (fixed, date-free cut-offs)."),
            _c("sources", "VARCHAR", "Sources the evidence rules name, `;`-separated; empty: "
               "any source of the kind."),
            _c("countries", "VARCHAR", "Countries (ISO3) the rules name, `;`-separated; "
               "empty: any."),
            _c("unit", "VARCHAR", "`z` for a change; the level's unit."),
            _c("statistic", "VARCHAR", "A level's statistic over its window: `sum` or "
               "`mean` (a text level is a share of documents, in %); empty for a change."),
            _c("window_days", "INTEGER", "Days of the baseline (change) or of the level's "
               "window."),
            _c("smoothing_days", "INTEGER", "Days the change's smoothed value averages; empty "
               "for a level."),
            _c("min_days", "INTEGER", "Observed days the change's baseline needs; empty for "
               "a level."),
            _c("elevated", "DOUBLE", "Cut-off of `elevated`, in `unit`."),
            _c("high", "DOUBLE", "Cut-off of `high`, in `unit`."),
        )),
        Schema("readings", "date × indicator",
               "Each indicator as the scenario model reads it on each date: its state, "
               "whether it was observed or blind and why, the part that decided it, its "
               "anomaly z and its level, and the analyst's graded note in force.", (
            _THEATRE, _AS_OF, _INDICATOR,
            _c("state", "VARCHAR", "normal, elevated, high, or blind (no observed part: it "
               "carries no weight)."),
            _c("observed", "BOOLEAN", "True when some part was observed (state is not "
               "blind)."),
            _c("label", "VARCHAR", "The state with the observed level beside it, e.g. "
               "`high (level 31)`."),
            _c("data_date", "DATE", "Latest day of the data behind the deciding part (the "
               "scenario model's decay counts from it); empty when blind."),
            _c("strength", "DOUBLE", "Weight of the reading: 1 for events or series, the "
               "text rule's strength for text alone, a note's grade weight; 0 when blind."),
            _c("driver", "VARCHAR", "The deciding part, described (kind, measure, value, "
               "unit → state)."),
            _c("driver_kind", "VARCHAR", "Evidence kind of the deciding part (`note` for "
               "an analyst's note)."),
            _c("driver_measure", "VARCHAR", "`change`, `level` or `graded` (a note)."),
            _c("driver_value", "DOUBLE", "Value of the deciding part, in `driver_unit` (3 "
               "decimals)."),
            _c("driver_unit", "VARCHAR", "`z`, the level's unit, or the note's grade."),
            _c("z", "DOUBLE", "Highest observed change (anomaly z) among the evidence kinds, "
               "3 decimals; empty when no change was observed."),
            _c("level", "DOUBLE", "The observed level shown in `label`, in `level_unit` (3 "
               "decimals); empty when none."),
            _c("level_unit", "VARCHAR", "Unit of `level`."),
            _c("blind_reasons", "VARCHAR", "Why each blind part is blind, ` | `-separated "
               "(`<kind> <measure>: <reason>`); empty when every part was observed."),
            _c("note_id", "VARCHAR", "The analyst's graded note in force on the date, if "
               "any (docs/NOTES.md)."),
            _c("note_grade", "VARCHAR", "Its Admiralty grade (reliability and credibility, "
               "e.g. `B2`)."),
        )),
        Schema("assessments", "date × scenario set × scenario",
               "The scenario model's probability of each scenario of each set within the "
               "horizon, with its prior and 90 % interval.", (
            _THEATRE, _AS_OF, *_MODEL,
            _c("scenario_set", "VARCHAR", "Scenario set id (`theatres/<id>/scenarios/`)."),
            _c("scenario", "VARCHAR", "Scenario id (a rung of the set's ladder)."),
            _c("scenario_name", "VARCHAR", "Scenario name."),
            _c("rung", "INTEGER", "Position on the set's ladder, 0 the lowest."),
            _c("prior", "DOUBLE", "Prior probability within the horizon (base rates)."),
            _c("probability", "DOUBLE", "Probability within the horizon, given the "
               "evidence."),
            *_INTERVAL,
            _c("is_leading", "BOOLEAN", "True for the set's most probable scenario."),
            _c("readings_used", "INTEGER", "The set's indicators with a usable reading; 0: "
               "the prior alone."),
        )),
        Schema("outcomes", "date × outcome",
               "The probability that each outcome (a scenario set reaching at least a rung) "
               "happens within the horizon, and whether it was already observed under "
               "way.", (
            _THEATRE, _AS_OF, *_MODEL,
            _c("outcome", "VARCHAR", "Outcome id."),
            _c("scenario_set", "VARCHAR", "The scenario set it belongs to."),
            _c("at_least", "VARCHAR", "The rung the set must reach."),
            _c("question", "VARCHAR", "The question the outcome answers."),
            _c("prior", "DOUBLE", "Prior probability within the horizon."),
            _c("probability", "DOUBLE", "Probability within the horizon, given the "
               "evidence."),
            *_INTERVAL,
            _c("observed", "BOOLEAN", "True when the outcome was observed under way on the "
               "date (seen, not foreseen)."),
            _c("observed_since", "DATE", "Since when it was under way; empty when not "
               "observed."),
            _c("observed_floor", "DOUBLE", "The floor its being under way puts under the "
               "probability; empty when not observed."),
        )),
        Schema("evidence", "date × indicator × item",
               f"The evidence items behind each indicator's value on each date (up to "
               f"{EVIDENCE_PER_INDICATOR}, as `vigil evidence` lists them): the events and "
               "matched documents of the last smoothing window and the latest period of "
               "each series, with their links. Analysts' notes are in `readings` "
               "(`note_id`).", (
            _THEATRE, _AS_OF, _INDICATOR,
            _c("rank", "INTEGER", "Position in the indicator's list on the date, 1 first "
               "(most recent first)."),
            _c("kind", "VARCHAR", "`event`, `observation` (a series value) or `document`."),
            _c("source", "VARCHAR", "Source (adapter) of the record."),
            _c("source_id", "VARCHAR", "The record's id within its source."),
            _c("date", "DATE", "The event's day, the observation's period start or the "
               "document's publication date."),
            _c("title", "VARCHAR", "Event summary, series and its dimensions, or headline "
               "(source text: treat as untrusted)."),
            _c("url", "VARCHAR", "Link to the record, where the source gives one "
               "(untrusted)."),
            _c("weight", "DOUBLE", "Rule weight (events) or match weight (documents)."),
            _c("category", "VARCHAR", "Event category (events)."),
            _c("country", "VARCHAR", "Event country, ISO3 (events)."),
            _c("series", "VARCHAR", "Series name (observations)."),
            _c("period_end", "DATE", "Last day of the observation's period (observations)."),
            _c("value", "DOUBLE", "The observation's value (3 decimals)."),
            _c("outlet", "VARCHAR", "The document's outlet (documents)."),
            _c("match_kind", "VARCHAR", "`occurrence` (reports the thing happening) or "
               "`claim` (someone says it does) (documents)."),
            _c("cue", "VARCHAR", "The words that made a document a claim (documents)."),
        )),
        Schema("forecasts", "forecast origin × country (ViEWS-like: one row per country "
               "× month)",
               "The statistical forecaster's probability that a country's monthly political "
               "violence (ACLED) reaches its escalation threshold, `max(10, 2 × its 12-month "
               "mean)`, within 1 and 3 months, issued on the 15th of each month of the range "
               "from the data known then (docs/FORECAST.md). One column per horizon, in the "
               "shape conflict forecasters exchange (ViEWS).", (
            _c("month_id", "INTEGER", "ViEWS month number of the last month of data the "
               "forecast rests on (ViEWS' t): 1 = January 1980, "
               "`(year − 1980) × 12 + month`."),
            _c("iso3", "VARCHAR", "Country, ISO 3166-1 alpha-3 (as ACLED's country-month "
               "file codes it)."),
            _c("year", "INTEGER", "Year of `month_id`."),
            _c("month", "INTEGER", "Month of `month_id`, 1–12."),
            *(
                _c(f"p_h{h}", "DOUBLE", f"Probability that some month of `month_id + 1` … "
                   f"`month_id + {h}` reaches the threshold (4 decimals)."
                   if h > 1 else "Probability that month `month_id + 1` reaches the "
                   "threshold (4 decimals).")
                for h in FORECAST_HORIZONS
            ),
            _c("as_of", "DATE", "The forecast's origin: the 15th it was issued on, using "
               "only what was published by then."),
            _c("threshold", "DOUBLE", "The country's escalation threshold, in events a "
               "month."),
            _c("kind", "VARCHAR", "`onset` (every month of the last 12 had fewer than 10 "
               "events) or `escalation`."),
            _c("model", "VARCHAR", "The forecaster (`vigil forecast --model`)."),
        )),
    )
}  # fmt: skip
TABLES = tuple(SCHEMAS)


def schema_markdown() -> str:
    """The column tables of ``docs/EXPORTS.md``, generated from :data:`SCHEMAS`."""
    parts = []
    for s in SCHEMAS.values():
        rows = [f"| `{c.name}` | {c.type} | {c.meaning} |" for c in s.columns]
        parts.append(
            f"### `{s.name}`\n\nOne row per {s.row}. {s.about}\n\n"
            "| column | type | meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n"
        )
    return "\n".join(parts)


def month_id(year: int, month: int) -> int:
    """ViEWS' month number: 1 is January 1980."""
    return (year - MONTH_ID_EPOCH) * 12 + month


def month_of(mid: int) -> tuple[int, int]:
    """(year, month) of a ViEWS month number."""
    return MONTH_ID_EPOCH + (mid - 1) // 12, (mid - 1) % 12 + 1


# ------------------------------------------------------------------------------ result
@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: its files, the rows of each table, the dates it covered, the
    assessment dates computed rather than read from the store, the tables left out."""

    theatre: str
    start: dt.date
    end: dt.date
    step_days: int
    horizon_days: int
    dates: tuple[dt.date, ...]
    #: the files of each table written, one per format
    files: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    #: assessment dates with none stored: computed for the export, not stored
    computed: tuple[dt.date, ...] = ()
    #: tables left out of a default export, with why (e.g. no ACLED data for forecasts)
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file written, table by table."""
        return tuple(f for fs in self.files.values() for f in fs)

    def to_dict(self) -> dict:
        return {
            "theatre": self.theatre,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "step_days": self.step_days,
            "horizon_days": self.horizon_days,
            "dates": [d.isoformat() for d in self.dates],
            "files": {t: [str(f) for f in fs] for t, fs in self.files.items()},
            "rows": dict(self.rows),
            "computed": [d.isoformat() for d in self.computed],
            "skipped": dict(self.skipped),
        }


# ------------------------------------------------------------------------------ arguments
@dataclass(frozen=True)
class Request:
    """Checked arguments of an export (:func:`check`)."""

    dates: tuple[dt.date, ...]
    tables: tuple[str, ...]
    formats: tuple[str, ...]
    named: bool  #: the tables were named (else: every table, forecasts when possible)


def export_dates(start: dt.date, end: dt.date, step_days: int) -> tuple[dt.date, ...]:
    """Every ``step_days``-th day from ``start`` up to ``end``."""
    return tuple(start + dt.timedelta(days=i) for i in range(0, (end - start).days + 1, step_days))


def check(
    *,
    start: dt.date,
    end: dt.date,
    step_days: int = 14,
    horizon_days: int = 90,
    formats: Sequence[str] = FORMATS,
    tables: Sequence[str] | None = None,
    data: Path | None = None,
    forecast_model: str = "ensemble",
) -> Request:
    """The arguments of :func:`export` checked before any work: a :class:`UsageError` with a
    hint for an unknown table or format, an empty or reversed range, too many dates."""
    if end < start:
        raise UsageError(f"the range ends ({end}) before it starts ({start})", "swap the dates")
    if not 1 <= step_days <= MAX_STEP_DAYS:
        raise UsageError(f"step of {step_days} days", f"use 1 to {MAX_STEP_DAYS} days")
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise UsageError(f"horizon of {horizon_days} days", f"use 1 to {MAX_HORIZON_DAYS} days")
    count = (end - start).days // step_days + 1
    if count > MAX_DATES:
        raise UsageError(
            f"{start} to {end} every {step_days} days is {count:,} dates; at most "
            f"{MAX_DATES:,} in one export",
            f"narrow the range or raise the step (e.g. {-(-count * step_days // MAX_DATES)} days)",
        )
    fmts = _known("format", formats, FORMATS)
    named = tables is not None
    chosen = _known("table", tables if named else TABLES, TABLES)
    if named and "forecasts" in chosen and data is None:
        raise UsageError(
            "the forecasts table needs the data folder",
            "give it (--data DIR): the forecaster reads the Natural Earth borders there",
        )
    if "forecasts" in chosen and forecast_model not in MODEL_IDS:
        raise UsageError(
            f"unknown forecaster {forecast_model!r}", f"choose one of: {', '.join(MODEL_IDS)}"
        )
    return Request(export_dates(start, end, step_days), chosen, fmts, named)


def _known(what: str, given: Iterable[str], known: tuple[str, ...]) -> tuple[str, ...]:
    """``given`` in ``known``'s order, once each; an unknown or no name is a usage error."""
    given = [given] if isinstance(given, str) else list(given)
    unknown = [g for g in given if g not in known]
    if unknown:
        raise UsageError(f"unknown {what} {unknown[0]!r}", f"choose from: {', '.join(known)}")
    if not given:
        raise UsageError(f"no {what} to export", f"choose from: {', '.join(known)}")
    return tuple(k for k in known if k in given)


# ------------------------------------------------------------------------------ export
def export(
    con,
    spec: TheatreSpec,
    library: ScenarioLibrary,
    *,
    start: dt.date,
    end: dt.date,
    step_days: int = 14,
    horizon_days: int = 90,
    out: Path,
    formats: Sequence[str] = FORMATS,
    tables: Sequence[str] | None = None,
    data: Path | None = None,
    forecast_model: str = "ensemble",
) -> ExportResult:
    """Write the ``tables`` (default: every one of :data:`TABLES`, ``forecasts`` only where
    ``data`` is given and the store holds ACLED's country-month counts) over the dates of
    ``start`` … ``end`` every ``step_days``, in each of ``formats``, to ``out``; all files or
    none (see the module doc). ``con``: the store, with evidence prepared
    (:func:`vigil.service.look.prepare_evidence`)."""
    req = check(
        start=start, end=end, step_days=step_days, horizon_days=horizon_days, formats=formats,
        tables=tables, data=data, forecast_model=forecast_model,
    )  # fmt: skip
    stem = f"{spec.theatre.id}_{{table}}_{start}_{end}"
    names = {
        t: stem.format(table=t) + (f"_h{horizon_days}" if t in _HORIZON_TABLES else "")
        for t in req.tables
    }
    # the folder and the files' names are checked before the work, not after it
    _ready(out, [out / f"{names[t]}.{fmt}" for t in req.tables for fmt in req.formats])
    got = collect(
        con, spec, library, dates=req.dates, horizon_days=horizon_days, tables=req.tables,
        data=data, forecast_model=forecast_model, strict=req.named,
    )  # fmt: skip
    files = write_tables(got.tables, out, names, req.formats)
    return ExportResult(
        spec.theatre.id, start, end, step_days, horizon_days, req.dates, files,
        {t: len(rows) for t, rows in got.tables.items()}, got.computed, got.skipped,
    )  # fmt: skip


@dataclass(frozen=True)
class Collected:
    """The rows of each table (tuples in :data:`SCHEMAS` order), the assessment dates
    computed, the tables left out and why."""

    tables: dict[str, list[tuple]]
    computed: tuple[dt.date, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)


def collect(
    con,
    spec: TheatreSpec,
    library: ScenarioLibrary,
    *,
    dates: Sequence[dt.date],
    horizon_days: int = 90,
    tables: Sequence[str] = TABLES,
    data: Path | None = None,
    forecast_model: str = "ensemble",
    strict: bool = True,
) -> Collected:
    """The rows :func:`export` writes, in memory (arguments as checked by :func:`check`).
    ``strict``: a forecasts table that cannot be made is an error; otherwise it is left
    out, with the reason in :attr:`Collected.skipped`."""
    out: dict[str, list[tuple]] = {}
    computed: tuple[dt.date, ...] = ()
    skipped: dict[str, str] = {}
    if "indicators" in tables:
        out["indicators"] = indicator_rows(spec)
    if "readings" in tables:
        out["readings"] = reading_rows(con, spec, dates)
    if "assessments" in tables or "outcomes" in tables:
        results, computed = assessments_for(con, spec, library, dates, horizon_days)
        if "assessments" in tables:
            out["assessments"] = [r for a in results for r in _assessment_rows(a)]
        if "outcomes" in tables:
            out["outcomes"] = [r for a in results for r in _outcome_rows(a)]
    if "evidence" in tables:
        out["evidence"] = evidence_rows(con, spec, dates)
    if "forecasts" in tables:
        try:
            out["forecasts"] = forecast_rows(con, data, dates, forecast_model)
        except InputError as exc:
            if strict:
                raise
            skipped["forecasts"] = exc.message
    return Collected({t: out[t] for t in TABLES if t in out}, computed, skipped)


# ------------------------------------------------------------------------------ indicators
def indicator_rows(spec: TheatreSpec) -> list[tuple]:
    """One row per indicator × evidence kind × measure: the change of every kind the
    indicator reads, then each declared level."""
    rows = []
    for ind in spec.indicators:
        head = (spec.theatre.id, ind.id, ind.name, ind.group, ind.direction)
        b, t = ind.baseline, ind.thresholds
        change = ("z", None, b.window_days, b.smoothing_days, b.min_days, t.elevated, t.high)
        for kind in _kinds(ind):
            rows.append((*head, kind, "change", *_reach(ind, kind), *change))
        for lv in ind.level:
            kind = lv.kind if lv.kind != "series" else _series_kind(ind, lv.series)
            statistic = "share" if lv.kind == "text" else lv.statistic
            level = (lv.unit, statistic, lv.window_days, None, None, lv.elevated, lv.high)
            rows.append((*head, kind, "level", *_reach(ind, kind), *level))
    return rows


def _kinds(ind: Indicator) -> list[str]:
    kinds = ["events"] if ind.evidence.events else []
    kinds += list(dict.fromkeys(series_kind(r) for r in ind.evidence.series))
    return kinds + (["text"] if ind.evidence.text is not None else [])


def _series_kind(ind: Indicator, series: str | None) -> str:
    return next(series_kind(r) for r in ind.evidence.series if r.series == series)


def _reach(ind: Indicator, kind: str) -> tuple[str | None, str | None]:
    """(sources, countries) the rules of ``kind`` name, ``;``-separated; None: any."""
    if kind == "events":
        rules = ind.evidence.events
        if any(not r.sources for r in rules):
            sources = None
        else:
            sources = ";".join(sorted({s for r in rules for s in r.sources}))
        countries = None if any(not r.countries for r in rules) else ";".join(
            sorted({c for r in rules for c in r.countries})
        )  # fmt: skip
        return sources, countries
    if kind.startswith("series:"):
        rules = [r for r in ind.evidence.series if series_kind(r) == kind]
        sources = {r.source for r in rules}
        geo = {g for r in rules for g in r.geo}
        return (
            None if None in sources else ";".join(sorted(sources)),
            ";".join(sorted(geo)) or None,
        )
    return None, None


# ------------------------------------------------------------------------------ readings
def reading_rows(con, spec: TheatreSpec, dates: Sequence[dt.date]) -> list[tuple]:
    """Every indicator of ``spec`` on each date, from one load of the store."""
    if not dates:
        return []
    read = Reader(con, spec, min(dates), max(dates)).read(dates)
    return [
        _reading_row(spec.theatre.id, r)
        for day_rows in zip(*read.values(), strict=True)
        for r in day_rows
    ]


def _reading_row(theatre: str, r: IndicatorReading) -> tuple:
    seen = [p for p in r.parts if p.state != BLIND]
    changes = [p.value for p in seen if p.measure == "change" and p.value is not None]
    level = next((p for p in seen if p.measure == "level"), None)
    note = next((p for p in r.parts if p.kind == NOTE), None)
    d = r.driver
    return (
        theatre, r.day, r.indicator, r.state, r.state != BLIND, r.label,
        r.observed, float(r.strength),
        d.describe() if d else None, d.kind if d else None, d.measure if d else None,
        json_number(d.value) if d else None, (d.unit or None) if d else None,
        json_number(max(changes)) if changes else None,
        json_number(level.value) if level else None, level.unit if level else None,
        " | ".join(r.reasons) or None,
        note.note if note else None, note.unit if note else None,
    )  # fmt: skip


# ------------------------------------------------------------------------------ assessments
def assessments_for(
    con, spec: TheatreSpec, library: ScenarioLibrary, dates: Sequence[dt.date], horizon: int
) -> tuple[list[dict], tuple[dt.date, ...]]:
    """The assessment JSON of each date, oldest first, each with ``stored`` set: the one
    stored for the current model and ``horizon`` where there is one, else computed here
    and not stored (see the module doc); and the dates computed."""
    if not dates:
        return [], ()
    mh = A.model_hash(spec, library)
    found = {
        r["as_of"]: r for r in audit.history(con, spec.theatre.id, horizon, mh, min(dates),
                                             max(dates))
    }  # fmt: skip
    missing = [d for d in dates if d.isoformat() not in found]
    made = {
        a.as_of.isoformat(): A.assessment_json(a)
        for a in A.replay(con, spec, library, missing, horizon, with_evidence=False)
    }
    out = []
    for d in sorted(set(dates)):
        key = d.isoformat()
        out.append({**found[key], "stored": True} if key in found else
                   {**made[key], "stored": False})  # fmt: skip
    return out, tuple(missing)


def _head(a: dict) -> tuple:
    return (
        a["theatre"], dt.date.fromisoformat(a["as_of"]), a["horizon_days"], a["model_hash"],
        a["stored"],
    )  # fmt: skip


def _assessment_rows(a: dict) -> list[tuple]:
    rows = []
    for s in a["scenario_sets"]:
        for k, sc in enumerate(s["scenarios"]):
            low, high = sc["interval"]
            rows.append((
                *_head(a), s["id"], sc["id"], sc["name"], k, sc["prior"], sc["probability"],
                low, high, sc["id"] == s["leading"], s["readings_used"],
            ))  # fmt: skip
    return rows


def _outcome_rows(a: dict) -> list[tuple]:
    rows = []
    for o in a["outcomes"]:
        obs = o.get("observed") or None
        rows.append((
            *_head(a), o["id"], o["set"], o["at_least"], o["question"].strip(), o["prior"],
            o["probability"], o["interval"][0], o["interval"][1], obs is not None,
            dt.date.fromisoformat(obs["since"]) if obs else None,
            obs["probability"] if obs else None,
        ))  # fmt: skip
    return rows


# ------------------------------------------------------------------------------ evidence
def evidence_rows(con, spec: TheatreSpec, dates: Sequence[dt.date]) -> list[tuple]:
    """The evidence items of every indicator on each date, from one fetch of the range."""
    if not dates or not spec.indicators:
        return []
    cache = EvidenceRange(con, spec.theatre.id, spec.indicators, min(dates), max(dates))
    rows = []
    for day in dates:
        for ind, items in cache.at(day, limit=EVIDENCE_PER_INDICATOR).items():
            for rank, e in enumerate(items, 1):
                rows.append((
                    spec.theatre.id, day, ind, rank, e.kind, e.source, e.source_id, e.date,
                    e.title, e.url, e.weight, e.category, e.country, e.series, e.period_end,
                    json_number(e.value), e.outlet, e.match_kind, e.cue,
                ))  # fmt: skip
    return rows


# ------------------------------------------------------------------------------ forecasts
def forecast_rows(
    con, data: Path | None, dates: Sequence[dt.date], model: str = "ensemble"
) -> list[tuple]:
    """The forecaster's probabilities on the 15th of each month of the dates' range, one
    row per origin × country with a column per horizon (:data:`FORECAST_HORIZONS`)."""
    if data is None:
        raise InputError(
            "no data folder given: the forecaster reads the Natural Earth borders there"
        )
    if not dates:
        return []
    # heavy (scikit-learn, LightGBM): imported only when the forecasts table is asked for
    from vigil.forecast.panel import monthly_origins
    from vigil.forecast.predict import forecast_table, panel_builder

    build = _memo(panel_builder(con, data))
    rows = []
    for origin in monthly_origins(min(dates), max(dates)):
        per: dict[str, dict] = {}
        for h in FORECAST_HORIZONS:
            table = forecast_table(build, con, origin, h, model)
            for r in table.itertuples(index=False):
                row = per.setdefault(r.country, {"last": r.last_month, "threshold": r.threshold,
                                                 "kind": r.kind})  # fmt: skip
                row[h] = round(float(r.p), 4)
        for iso3, row in sorted(per.items()):
            year, month = row["last"].year, row["last"].month
            rows.append((
                month_id(year, month), iso3, year, month,
                *(row.get(h) for h in FORECAST_HORIZONS),
                origin, round(float(row["threshold"]), 4), row["kind"], model,
            ))  # fmt: skip
    return rows


def _memo(build: Callable) -> Callable:
    """``build`` remembering its panels: the horizons of one origin train on one panel."""
    seen: dict = {}

    def cached(as_of, origins, labels=True):
        key = (as_of, tuple(origins), labels)
        if key not in seen:
            seen[key] = build(as_of, origins, labels)
        return seen[key]

    return cached


# ------------------------------------------------------------------------------ writing
def write_tables(
    tables: Mapping[str, Sequence[tuple]],
    out: Path,
    names: Mapping[str, str],
    formats: Sequence[str] = FORMATS,
) -> dict[str, tuple[Path, ...]]:
    """Each table in each format as ``out/<names[table]>.<format>``, all or none: written
    to temporary files in ``out`` first, renamed once every one is written. Returns the
    files of each table."""
    targets = {t: [out / f"{names[t]}.{fmt}" for fmt in formats] for t in tables}
    _ready(out, [p for paths in targets.values() for p in paths])
    staged: list[tuple[str, Path, Path]] = []
    try:
        for table, rows in tables.items():
            for fmt, final in zip(formats, targets[table], strict=True):
                fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{names[table]}.", suffix=".tmp")
                os.close(fd)
                staged.append((table, Path(tmp), final))
                write_file(SCHEMAS[table], rows, Path(tmp), fmt)
        for _, tmp, final in staged:
            os.replace(tmp, final)
    except BaseException as exc:
        for _, tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(
                f"cannot write the export to {out}: {exc.strerror or exc}",
                "check the folder's permissions and free space, then run the export again",
            ) from None
        raise
    return {t: tuple(final for name, _, final in staged if name == t) for t in tables}


def _ready(out: Path, targets: list[Path]) -> None:
    """``out`` exists as a folder, and every target is free or a regular file: a folder (or
    a FIFO) in the way would otherwise fail the export half-way through its renames."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{out} is not a folder", "give another output folder") from None
    except OSError as exc:
        raise UsageError(
            f"cannot write to {out}: {exc.strerror or exc}", "choose a folder you can write to"
        ) from None
    for final in targets:
        if final.exists() and not final.is_file():
            raise UsageError(
                f"{final} is in the way: it exists and is not a file",
                "move it, or give another output folder",
            )


def write_file(schema: Schema, rows: Sequence[tuple], path: Path, fmt: str) -> None:
    """``rows`` (tuples in ``schema``'s column order) as one file: CSV (UTF-8, a header,
    ISO dates, empty for a missing value) or Parquet, each column cast to its type."""
    import duckdb

    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema.columns)
    values = [[_plain(v) for v in col] for col in columns]
    select = ", ".join(
        f'unnest(${k}::{c.type}[]) AS "{c.name}"' for k, c in enumerate(schema.columns, 1)
    )
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    target = str(path).replace("'", "''")
    with duckdb.connect() as db:  # its own, in memory: the store is only read
        db.execute(f"COPY (SELECT {select}) TO '{target}' ({options})", values)


def _plain(value):
    """An empty string is no value (empty in CSV, as a missing one)."""
    return None if isinstance(value, str) and not value else value
