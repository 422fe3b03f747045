r"""Daily evidence series of an indicator, as of any date, from events, series and text.

The aggregations are Ibis expressions over *unbound* tables (``ibis.table(schema,
name)``): they name no backend, use no DuckDB extension or spatial type, and compile
unchanged to BigQuery or Spark SQL (``ibis.to_sql(expr, dialect=...)``, tested). Locally
they are compiled for DuckDB and run on the store's connection; an Ibis backend (PySpark,
BigQuery) can be passed instead of the DuckDB connection and executes the same
expressions.

**Vintages.** Every aggregate keeps the day its records became available (``asof`` =
the date of ``available_at``; a record is visible "as of D" iff ``available_at < D + 1
day``, i.e. ``asof ≤ D``). The templates aggregate over all time, keyed by day and
``asof``; a date range is a filter on those keys (:func:`in_window`), so one query per
evidence kind, for all indicators at once, serves every as-of date in the range:
:func:`daily_evidence` keeps only rows with ``asof ≤ D``. Nothing available after D can
reach a value as of D.

**Kinds** (one daily column each; NaN = no data that day, 0 = observed, nothing found):

- ``events``: :math:`x_t = \sum_{e:\,\mathrm{day}(e)=t} \max_{r \ni e} w_r` — events on
  day ``t`` matching any event rule ``r`` (categories, event country, actor countries,
  sources, within ``within_km`` of a ``near_borders`` border via the TEMP table
  ``event_border_km`` that :func:`vigil.geo.register_border_distances` creates), each
  counted once with its largest rule weight, on its first day (``occurred_on``). A day is
  *observed* only when a source able
  to report these categories (it has reported one of them, as of D) reported anything
  that day; other days are NaN, so the years before an event dataset starts are not a
  fake run of zeros.
- ``series:<name>``: per period, the value summed over dimensions (only dimensions
  available as of D), spread evenly over the period's days, :math:`x_t = v_p / |p|`
  (a monthly count becomes a per-day rate: a 7-day sum is a weekly figure, and months of
  28 and 31 days compare fairly). Where a series mixes frequencies the finest is used.
- ``text``: matched headlines (table ``text_matches``; a document counts once, occurrences
  1, claims — denials, hypotheticals, warnings — :data:`CLAIM_WEIGHT`: talk about an event
  is weaker evidence than a report of it, but it is not nothing), normalised by the feed
  volume of the same day:

  .. math:: x_t = 1000 \cdot \frac{\sum_{f \in F_t} m_{f,t}}{\sum_{f \in F_t} n_{f,t}}

  where :math:`n_{f,t}` is feed ``f``'s item total that day (observations
  ``rss.feed_items_total``, ``attrs.feed``; a document's feed is its ``outlet``),
  :math:`m_{f,t}` its matches and :math:`F_t` the feeds with a total that day: matches
  per 1,000 items of the feeds that published. A new feed adds to both sums, so a change
  in which feeds exist does not look like an escalation. Matches from feeds without a
  total do not count; a day without any total is NaN. Totals of day ``t`` are complete
  (available) at its end, so as of D the text series ends at D − 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import ibis
import pandas as pd
from ibis import _

from vigil.errors import VigilError
from vigil.store import ANALYST_SOURCE
from vigil.theatre import EventRule, Indicator, SeriesRule

CLAIM_WEIGHT = 0.25
#: observation units that count items (non-negative): modelled as Poisson counts
COUNT_UNITS = frozenset(
    {"events", "fatalities", "deaths", "detections", "articles", "items", "count", "fires per day"}
)
FEED_TOTALS = "rss.feed_items_total"
#: a period's window columns: it must start by the window's end and end after its start
PERIOD_COLUMNS = ("period_start", "period_end")
BORDER_TABLE = "event_border_km"


def _table(name: str, strings: str, **typed: str) -> ibis.Table:
    """An unbound table: the named string columns plus ``typed`` ones."""
    return ibis.table(dict.fromkeys(strings.split(), "string") | typed, name=name)


EVENTS = _table(
    "events", "source source_id category mode country actor1_country actor2_country summary "
    "location url", occurred_on="date", available_at="timestamp",
)  # fmt: skip
OBSERVATIONS = _table(
    "observations", "source source_id series geo url unit freq attrs", period_start="date",
    period_end="date", value="float64", available_at="timestamp",
)  # fmt: skip
TEXT_MATCHES = _table(
    "text_matches", "theatre indicator source source_id outlet kind cue",
    published_at="timestamp", available_at="timestamp",
)  # fmt: skip
BORDER_KM = ibis.table(
    {"source": "string", "source_id": "string", "border": "string", "km": "float64"},
    name=BORDER_TABLE,
)


# ---------------------------------------------------------------- Ibis templates
# Templates aggregate over all time, keyed by the record's day and ``asof``; a date window
# is a filter on those keys (:func:`in_window`), so one compiled template serves every
# date range (compiling costs ~10-100 ms; running a few ms).
def _rule_predicate(t: ibis.Table, rule: EventRule):
    pred = t.category.isin(rule.categories)
    if rule.modes:
        pred &= t.mode.isin(rule.modes)
    if rule.countries:
        pred &= t.country.isin(rule.countries)
    if rule.actor_countries:
        ac = rule.actor_countries
        pred &= t.actor1_country.isin(ac) | t.actor2_country.isin(ac)
    if rule.sources:
        pred &= t.source.isin(rule.sources)
    if rule.near_borders:
        km = [t[f"km_{b}"] for b in rule.near_borders]
        nearest = km[0] if len(km) == 1 else ibis.least(*km)
        pred &= nearest.notnull() & (nearest <= rule.within_km)
    return pred


def _events_base(indicators: tuple[Indicator, ...]) -> ibis.Table:
    """``events`` with, when rules need it, the km to each border they name (NULL: far)."""
    return _with_border_km(
        sorted({b for i in indicators for r in i.evidence.events for b in r.near_borders})
    )


def rule_events_expr(rule: EventRule) -> ibis.Table:
    """The events one rule matches (what indicators count, for a single rule: an outcome's
    resolver), with ``occurred_on`` and ``available_at``."""
    base = _with_border_km(sorted(rule.near_borders))
    return base.filter(_rule_predicate(base, rule)).select(
        "source", "source_id", "occurred_on", "available_at"
    )


def _with_border_km(borders: list[str]) -> ibis.Table:
    if not borders:
        return EVENTS
    near = BORDER_KM.group_by(["source", "source_id"]).agg(
        **{f"km_{b}": BORDER_KM.km.min(where=BORDER_KM.border == b) for b in borders}
    )
    joined = EVENTS.left_join(near, ["source", "source_id"])
    return joined.select(*EVENTS.columns, *(f"km_{b}" for b in borders))


def event_matches_expr(indicators: tuple[Indicator, ...]) -> ibis.Table:
    """Matching events, one row per (indicator, event): ``indicator, source, source_id,
    day, asof, w`` with ``w`` the largest weight of the indicator's rules it matches."""
    base = _events_base(indicators)
    parts = []
    for ind in indicators:
        rules = ind.evidence.events
        preds = [_rule_predicate(base, r) for r in rules]
        weights = [p.ifelse(float(r.weight), 0.0) for p, r in zip(preds, rules, strict=True)]
        match = preds[0] if len(preds) == 1 else ibis.or_(*preds)
        parts.append(base.filter(match).select(
            "source", "source_id", indicator=ibis.literal(ind.id), day=base.occurred_on,
            asof=base.available_at.date(),
            w=weights[0] if len(weights) == 1 else ibis.greatest(*weights),
        ))  # fmt: skip
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def events_expr(indicators: tuple[Indicator, ...]) -> ibis.Table:
    """Weighted matching events per ``(indicator, day, asof)``."""
    return (
        event_matches_expr(indicators).group_by(["indicator", "day", "asof"]).agg(value=_.w.sum())
    )


def coverage_expr(indicators: tuple[Indicator, ...]) -> ibis.Table:
    """Observed days per indicator: days on which a source able to report its categories
    reported anything. ``asof`` = the later of the source's first visible event that day
    and its first visible event in the categories."""
    active = EVENTS.group_by(["source", EVENTS.occurred_on.name("day")]).agg(
        day_asof=_.available_at.min().date()
    )
    parts = []
    for ind in indicators:
        rules = ind.evidence.events
        pred = EVENTS.category.isin(sorted({c for r in rules for c in r.categories}))
        if all(r.sources for r in rules):
            pred &= EVENTS.source.isin(sorted({s for r in rules for s in r.sources}))
        parts.append(EVENTS.filter(pred).group_by("source").agg(
            able_asof=_.available_at.min().date()).mutate(indicator=ibis.literal(ind.id))
        )  # fmt: skip
    able = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    joined = active.join(able, "source")
    return joined.select("indicator", "day", asof=ibis.greatest(joined.day_asof, joined.able_asof))


def series_rows(ob: ibis.Table, rule: SeriesRule) -> ibis.Table:
    """The observations a series rule selects (one definition for values and evidence)."""
    pred = ob.series == rule.series
    if rule.geo:
        pred &= ob.geo.isin(rule.geo)
    if rule.source:
        pred &= ob.source == rule.source
    return ob.filter(pred)


def series_expr(indicators: tuple[Indicator, ...]) -> ibis.Table:
    """Per indicator, series kind, period and vintage: the value summed over dimensions."""
    ob = OBSERVATIONS
    parts = []
    for ind in indicators:
        for rule in ind.evidence.series:
            t = series_rows(ob, rule).mutate(
                indicator=ibis.literal(ind.id), kind=ibis.literal(series_kind(rule)),
                asof=ob.available_at.date(),
            )  # fmt: skip
            parts.append(
                t.group_by(["indicator", "kind", "freq", "period_start", "period_end", "asof"]).agg(
                    value=_.value.sum(), unit=_.unit.max()
                )
            )
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def text_expr(theatre: str, indicator_ids: tuple[str, ...]) -> ibis.Table:
    """Weighted matched documents per ``(indicator, day, asof, feed)``."""
    tm = TEXT_MATCHES.filter(
        TEXT_MATCHES.theatre == theatre,
        TEXT_MATCHES.indicator.isin(indicator_ids),
        # an analyst's documents are cited, never counted in a rate (vigil.analyst)
        TEXT_MATCHES.source != ANALYST_SOURCE,
    )
    tm = tm.mutate(w=(tm.kind == "occurrence").ifelse(1.0, CLAIM_WEIGHT))
    docs = tm.group_by(["indicator", "source", "source_id"]).agg(
        day=_.published_at.min().date(), asof=_.available_at.min().date(),
        feed=_.outlet.max(), w=_.w.max(),
    )  # fmt: skip
    return docs.group_by(["indicator", "day", "asof", "feed"]).agg(matches=_.w.sum())


def topic_expr(theatre: str, topic_ids: tuple[str, ...]) -> ibis.Table:
    """Documents on each topic per ``(indicator, day, asof, feed)`` (``indicator`` is
    ``topic:<id>``); a document counts once, claim or not: it is on the topic either way."""
    tm = TEXT_MATCHES.filter(
        TEXT_MATCHES.theatre == theatre, TEXT_MATCHES.indicator.isin(topic_ids)
    )
    docs = tm.group_by(["indicator", "source", "source_id"]).agg(
        day=_.published_at.min().date(), asof=_.available_at.min().date(), feed=_.outlet.max()
    )
    return docs.group_by(["indicator", "day", "asof", "feed"]).agg(
        matches=_.count().cast("float64")
    )


def activity_expr() -> ibis.Table:
    """Events per ``(source, country, day, asof)``, whatever their category: where each
    source was reporting at all (an event source that reports nothing from a country in a
    month cannot be read as saying the country was quiet)."""
    return EVENTS.group_by(
        [
            "source",
            "country",
            EVENTS.occurred_on.name("day"),
            EVENTS.available_at.date().name("asof"),
        ]
    ).agg(n=_.count())


def able_expr() -> ibis.Table:
    """When each source first reported each category (``asof`` of its first visible event
    of it): from then on the source is *able* to report that category."""
    return (
        EVENTS.group_by(["source", "category"])
        .agg(day=_.available_at.min().date())
        .mutate(asof=_.day)
    )


def totals_expr() -> ibis.Table:
    """Items per ``(day, asof, feed)``: the denominators of the text signal."""
    ob = OBSERVATIONS.filter(OBSERVATIONS.series == FEED_TOTALS)
    ob = ob.mutate(feed=ob.attrs.cast("json")["feed"].str, asof=ob.available_at.date())
    return ob.group_by([ob.period_start.name("day"), "asof", "feed"]).agg(items=_.value.sum())


def series_kind(rule: SeriesRule) -> str:
    """Column name of a series rule: ``series:<name>`` (``@geo+geo`` when restricted)."""
    return f"series:{rule.series}" + (f"@{'+'.join(rule.geo)}" if rule.geo else "")


# ---------------------------------------------------------------- running
@dataclass(frozen=True)
class Query:
    """A template with the columns its date window applies to."""

    key: str  #: identifies the template (spec content), for the compiled-SQL cache
    build: Callable[[], ibis.Table]
    first: str = "day"  #: column that must be ≤ the window's end
    last: str = "day"  #: column that must be ≥ the window's start


def in_window(q: Query, start: dt.date, end: dt.date) -> ibis.Table:
    """The template restricted to ``[start, end]`` and to records visible by ``end``."""
    t = q.build()
    return t.filter(t[q.last] >= start, t[q.first] <= end, t.asof <= end)


_SQL: dict[str, str] = {}


def fetch(con, q: Query, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Run ``q`` over ``[start, end]``. On DuckDB the template is compiled once per process
    and the window passed as parameters; any other Ibis backend executes
    :func:`in_window` (ibis 12's DuckDB backend calls APIs DuckDB 2 and pandas 3
    deprecate, hence the direct path)."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return con.execute(in_window(q, start, end))
    sql = _SQL.get(q.key)
    if sql is None:
        sql = _SQL[q.key] = ibis.to_sql(q.build(), dialect="duckdb")
    wrapped = (
        f'SELECT * FROM ({sql}) AS v WHERE v."{q.last}" >= ? AND v."{q.first}" <= ? AND v.asof <= ?'
    )
    return con.execute(wrapped, [start, end, end]).df()


def check_border_table(con, indicators: tuple[Indicator, ...]) -> None:
    """Fail loudly when a rule needs ``event_border_km`` and it was not registered."""
    if not any(r.near_borders for i in indicators for r in i.evidence.events):
        return
    if isinstance(con, duckdb.DuckDBPyConnection):
        sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?"
        found = con.execute(sql, [BORDER_TABLE]).fetchone()[0]
    else:  # an Ibis backend
        found = BORDER_TABLE in con.list_tables()
    if not found:
        raise VigilError(
            f"indicator rules use near_borders but table {BORDER_TABLE} is missing",
            "call vigil.geo.register_border_distances(con, theatre, data_dir, cache_dir) first",
        )


def spec_key(kind: str, indicators: tuple[Indicator, ...], *extra: str) -> str:
    """Cache key of a template: its kind and the evidence specs it is built from."""
    specs = ";".join(f"{i.id}={i.evidence.model_dump_json()}" for i in indicators)
    return "|".join((kind, specs, *extra))


# ---------------------------------------------------------------- vintages
@dataclass(frozen=True)
class Vintages:
    """One indicator's evidence aggregates over a date range, each row with its ``asof``
    (:func:`vigil.indicators.compute.load_vintages`)."""

    events: pd.DataFrame | None = None  #: day, asof, value
    coverage: pd.DataFrame | None = None  #: day, asof (observed days of the event sources)
    series: dict[str, pd.DataFrame] = field(default_factory=dict)  #: kind → freq, period…
    text: pd.DataFrame | None = None  #: day, asof, feed, matches
    totals: pd.DataFrame | None = None  #: day, asof, feed, items


# ---------------------------------------------------------------- daily series
@dataclass(frozen=True)
class DailyEvidence:
    """Daily evidence as of one date: values, count units and period length per kind."""

    values: pd.DataFrame  #: index = days [start, as_of]; one column per kind
    units: pd.DataFrame  #: value·days one counted item adds (see baseline.poisson_floor)
    periods: dict[str, int]  #: days per period (1 for daily kinds)
    counts: dict[str, bool]  #: whether the kind counts items (events, text, count series)


def daily_evidence(v: Vintages, as_of: dt.date, start: dt.date) -> DailyEvidence:
    """The daily series of every evidence kind, using only rows with ``asof ≤ as_of``.

    One date; :class:`vigil.indicators.arrays.EvidenceArrays` serves many from one build.
    """
    from vigil.indicators.arrays import EvidenceArrays  # arrays builds on this module

    return as_frames(EvidenceArrays.from_vintages(v), as_of, start)


def as_frames(arrays, as_of: dt.date, start: dt.date) -> DailyEvidence:
    """:meth:`EvidenceArrays.daily <vigil.indicators.arrays.EvidenceArrays.daily>` as
    frames indexed by day."""
    daily = arrays.daily(as_of.toordinal(), start.toordinal())
    days = pd.date_range(start, as_of, freq="D")
    return DailyEvidence(
        pd.DataFrame({k: d.x for k, d in daily.items()}, index=days),
        pd.DataFrame({k: d.unit for k, d in daily.items()}, index=days),
        {k: d.period for k, d in daily.items()},
        {k: d.count for k, d in daily.items()},
    )


def attach_totals(text: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """Matches with ``items_asof``: when their feed's total for their day became known
    (NaT: never), so the per-date join is a comparison (:func:`daily_evidence`).
    ``totals`` may be :func:`first_totals` already (computed once for many indicators)."""
    first = totals if "items_asof" in totals else first_totals(totals)
    return text.merge(first, on=["day", "feed"], how="left")


def first_totals(totals: pd.DataFrame) -> pd.DataFrame:
    """``day, feed, items_asof``: when each feed's total of each day first became known."""
    first = totals[totals["items"] > 0].groupby(["day", "feed"], as_index=False)["asof"].min()
    return first.rename(columns={"asof": "items_asof"})


def weekly_sums(values: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """7-day sums in weeks ending on ``end`` (a week with no observed day is NaN)."""
    frame = values[values.index <= pd.Timestamp(end)]
    sums = frame.rolling(7, min_periods=1).sum()
    return sums.iloc[::-1].iloc[::7].iloc[::-1].rename_axis("week_ending")
