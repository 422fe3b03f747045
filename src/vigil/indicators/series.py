r"""Daily evidence series of an indicator, as of any date, from events, series and text.

The aggregations are Ibis expressions over the *unbound* tables of
:mod:`vigil.query.tables`: they name no backend, use no DuckDB extension, JSON function or
spatial type, and run unchanged on DuckDB (the store, by default) and on Spark
(``--engine spark``; :mod:`vigil.query`), with identical results
(``tests/test_engine_parity.py``).

**Vintages.** Every aggregate keeps the day its records became available (``asof`` =
the date of ``available_at``; a record is visible "as of D" iff ``available_at < D + 1
day``, i.e. ``asof ≤ D``). The templates aggregate over all time, keyed by day and
``asof``; a date range is a filter on those keys
(:func:`vigil.query.tables.in_window`), so one query per evidence kind, for all
indicators at once, serves every as-of date in the range: :func:`daily_evidence` keeps
only rows with ``asof ≤ D``. Nothing available after D can reach a value as of D.

**Kinds** (one daily column each; NaN = no data that day, 0 = observed, nothing found):

- ``events``: :math:`x_t = \sum_{e:\,\mathrm{day}(e)=t} \max_{r \ni e} w_r` — events on
  day ``t`` matching any event rule ``r`` (categories, event country, actor countries,
  sources, within ``within_km`` of a ``near_borders`` border via the table
  ``event_border_km`` that :func:`vigil.geo.refresh_border_distances` keeps up to date), each
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
  ``rss.feed_items_total``, column ``feed``; a document's feed is its ``outlet``),
  :math:`m_{f,t}` its matches and :math:`F_t` the feeds with a total that day: matches
  per 1,000 items of the feeds that published. A new feed adds to both sums, so a change
  in which feeds exist does not look like an escalation. Matches from feeds without a
  total do not count; a day without any total is NaN. Totals of day ``t`` are complete
  (available) at its end, so as of D the text series ends at D − 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import ibis
import pandas as pd
from ibis import _

from vigil.errors import VigilError

# the query layer: the tables, templates and their runner, re-exported for indicator code
from vigil.query.engine import engine_of
from vigil.query.engine import fetch as fetch
from vigil.query.tables import BORDER_KM, BORDER_TABLE, EVENTS, OBSERVATIONS, TEXT_MATCHES
from vigil.query.tables import Query as Query
from vigil.store import ANALYST_SOURCE, has_table
from vigil.theatre import EventRule, Indicator, SeriesRule

CLAIM_WEIGHT = 0.25
#: observation units that count items (non-negative): modelled as Poisson counts
COUNT_UNITS = frozenset(
    {"events", "fatalities", "deaths", "detections", "articles", "items", "count", "fires per day"}
)
FEED_TOTALS = "rss.feed_items_total"
#: a period's window columns: it must start by the window's end and end after its start
PERIOD_COLUMNS = ("period_start", "period_end")


# ---------------------------------------------------------------- Ibis templates
# Templates aggregate over all time, keyed by the record's day and ``asof``; a date window
# is a filter on those keys (vigil.query.tables.in_window), so one compiled template
# serves every date range (compiling costs ~10-100 ms; running a few ms).
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
    ob = ob.mutate(asof=ob.available_at.date())
    return ob.group_by([ob.period_start.name("day"), "asof", "feed"]).agg(items=_.value.sum())


def series_kind(rule: SeriesRule) -> str:
    """Column name of a series rule: ``series:<name>`` (``@geo+geo`` when restricted)."""
    return f"series:{rule.series}" + (f"@{'+'.join(rule.geo)}" if rule.geo else "")


# ---------------------------------------------------------------- running
def check_border_table(con, indicators: tuple[Indicator, ...]) -> None:
    """Fail loudly when a rule needs border distances the engine cannot see: the table is
    missing, or (on the store) the borders the rules name were never measured, which
    would read as "no event near the border" (:func:`vigil.geo.refresh_border_distances`
    measures them; a read-only reader's TEMP table counts as measured)."""
    borders = {b for i in indicators for r in i.evidence.events for b in r.near_borders}
    if not borders:
        return
    if not engine_of(con).has_table(BORDER_TABLE):
        raise VigilError(
            f"indicator rules use near_borders but table {BORDER_TABLE} is missing",
            "prepare the evidence first (vigil.geo.refresh_border_distances)",
        )
    store = getattr(con, "store", con)
    if not isinstance(store, duckdb.DuckDBPyConnection):
        return
    if has_table(store, BORDER_TABLE, where="temp"):  # a read-only reader's own measure
        return
    if not has_table(store, "border_km_state", where="stored"):
        return  # an older store's own table, or a bare connection's
    measured = {r[0] for r in store.execute("SELECT border FROM border_km_state").fetchall()}
    if missing := sorted(borders - measured):
        raise VigilError(
            f"indicator rules use near_borders but distances to {', '.join(missing)} are "
            "not measured",
            "run any command that computes indicators (e.g. `vigil indicators`), which "
            "measures them, or call vigil.geo.refresh_border_distances",
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
