"""How far the evidence reaches for a theatre, and the default as-of date it supports.

The default as-of is the day the evidence still covers, not the last day any record
became available: one source running on (or one stray record dated years ahead) would
otherwise put the default where most indicators see nothing new. :func:`source_reach`
says, per source, from when to when its records became available; :func:`covered_until`
turns that into the default date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import pandas as pd

from vigil.errors import InputError
from vigil.query import tables as T  # noqa: N812
from vigil.query.engine import run
from vigil.store import ANALYST_SOURCE

if TYPE_CHECKING:
    import duckdb

    from vigil.theatre import TheatreSpec

#: the record kinds that decide :func:`covered_until`; observations only inform
DECIDING = ("events", "documents")


@dataclass(frozen=True)
class SourceReach:
    """How far one evidence source reaches for a theatre.

    ``first``/``last``: the first and last day on which its records became available
    (``available_at``): for ``events``, its records located in the theatre's countries;
    for ``documents``, all its documents; for ``observations``, the observations of the
    series the theatre's indicators read (each series rule's series, geo and source).
    """

    source: str
    kind: str  # 'events' | 'documents' | 'observations'
    first: dt.date | None
    last: dt.date | None
    records: int


def _series_filter(ob: ibis.Table, theatre: TheatreSpec):
    """Predicate over ``observations`` for the indicators' series (False: none)."""
    rules = {(r.series, r.geo, r.source) for i in theatre.indicators for r in i.evidence.series}
    preds = []
    for series, geo, source in sorted(rules, key=repr):
        pred = ob.series == series
        if geo:
            pred &= ob.geo.isin(list(geo))
        if source:
            pred &= ob.source == source
        preds.append(pred)
    return ibis.or_(*preds) if preds else ibis.literal(False)


def _reach(t: ibis.Table) -> ibis.Table:
    return t.group_by("source").agg(
        first=t.available_at.min(), last=t.available_at.max(), n=t.count()
    )


def source_reach(con: duckdb.DuckDBPyConnection, theatre: TheatreSpec) -> list[SourceReach]:
    """Every source with records for ``theatre``: kind, first and last day available, count
    (one query, on the store or on the engine attached to it; sources without records are
    not listed). Sorted by kind, then source."""
    ev, ob = T.EVENTS, T.OBSERVATIONS
    docs = _reach(T.DOCUMENTS)
    parts = [
        _reach(ev.filter(ev.country.isin(list(theatre.theatre.countries)))).mutate(
            kind=ibis.literal("events")
        ),
        # an analyst's own documents are no feed: their own kind, never deciding
        docs.mutate(kind=(docs.source == ANALYST_SOURCE).ifelse("analyst", "documents")),
        _reach(ob.filter(_series_filter(ob, theatre))).mutate(kind=ibis.literal("observations")),
    ]
    rows = run(con, ibis.union(*parts, distinct=False))
    rows = rows.sort_values(["kind", "source"], kind="stable")
    return [
        SourceReach(r.source, r.kind, _day(r.first), _day(r.last), int(r.n))
        for r in rows.itertuples(index=False)
    ]


def _day(value) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def covered_until(
    con: duckdb.DuckDBPyConnection,
    theatre: TheatreSpec,
    reach: list[SourceReach] | None = None,
) -> dt.date:
    """The default as-of date for ``theatre``: the latest day on which a majority of its
    event and document sources were still delivering, capped at today.

    The sources counted are those with any event located in the theatre's countries, or
    with any document. Sorted by their ``last`` day, the date is the lower median: with
    an odd count the middle one, with an even count the earlier of the two middle ones, so
    on that day more than half of the sources still had records to come (a tie does not
    count as cover). Why a median: the default date should be one where most evidence is
    live, so that most indicators read fresh evidence; the last day of any source (the
    old rule) follows whichever source runs longest, or a single mistyped record dated
    years ahead, while a median needs half the sources to move. Why the lower one: one
    stray late source must not move the date (three sources and a fourth late one keep
    the median of the three).

    Observation series are left out: some (war fires, loss tallies, GPR) run years past
    the event and text evidence, and a date chosen by them would find most indicators
    without live evidence. ``reach`` (from :func:`source_reach`) saves the query when the
    caller has it. Raises InputError when no event or document source has records.
    """
    reach = source_reach(con, theatre) if reach is None else reach
    lasts = sorted(r.last for r in reach if r.kind in DECIDING and r.records and r.last)
    if not lasts:
        raise InputError(
            f"the store holds no events or documents for the {theatre.theatre.id} theatre "
            f"(no event located in {', '.join(theatre.theatre.countries)}, no document), so "
            "there is no date the evidence covers to default to",
            "load event or text data (`vigil ingest --data DIR`) or give the date (--as-of)",
        )
    return min(lasts[(len(lasts) - 1) // 2], dt.date.today())
