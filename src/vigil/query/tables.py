"""The store's tables as Ibis sees them: unbound (``ibis.table(schema, name)``), so an
expression over them names no backend and compiles for DuckDB, Spark or BigQuery alike.

Only the columns the queries read are declared (never ``raw``): the Parquet mirror that
Spark reads (:mod:`vigil.query.lake`) carries the same columns, and nothing here needs a
JSON function, a DuckDB extension or a spatial type, which is what keeps the queries
portable (a JSON lookup on ``observations.attrs`` became a Python UDF on Spark that
crashed, so what the queries need from ``attrs`` is a real column: ``feed``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import ibis


def _table(name: str, strings: str, **typed: str) -> ibis.Table:
    """An unbound table: the named string columns plus ``typed`` ones."""
    return ibis.table(dict.fromkeys(strings.split(), "string") | typed, name=name)


EVENTS = _table(
    "events", "source source_id category mode country actor1_country actor2_country summary "
    "location url geo_precision", occurred_on="date", available_at="timestamp",
    longitude="float64", latitude="float64", batch_id="int64",
)  # fmt: skip
OBSERVATIONS = _table(
    "observations", "source source_id series geo url unit freq attrs feed", period_start="date",
    period_end="date", value="float64", available_at="timestamp",
)  # fmt: skip
TEXT_MATCHES = _table(
    "text_matches", "theatre indicator source source_id outlet kind cue",
    published_at="timestamp", available_at="timestamp",
)  # fmt: skip
DOCUMENTS = _table(
    "documents", "source source_id title url body doc_type outlet", published_at="timestamp",
    available_at="timestamp",
)  # fmt: skip
BORDER_TABLE = "event_border_km"
BORDER_KM = _table(BORDER_TABLE, "source source_id border side", km="float64")
#: the tables an engine other than the store's must hold (the lake mirrors them)
TABLES = {t.get_name(): t for t in (EVENTS, OBSERVATIONS, TEXT_MATCHES, DOCUMENTS, BORDER_KM)}


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
