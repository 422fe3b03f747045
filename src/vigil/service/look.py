"""One dated look at a theatre: bring text matches and border distances up to date, then
compute every indicator as of a date. The CLI and (later) the web app call only this.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.geo import refresh_border_distances
from vigil.indicators.compute import IndicatorValue, compute_indicators
from vigil.indicators.evidence import EvidenceItem
from vigil.indicators.readings import IndicatorReading, Reader
from vigil.text.match import MatchReport, match_documents

if TYPE_CHECKING:
    from collections.abc import Mapping

    import duckdb

    from vigil.theatre import TextRule, TheatreSpec


@dataclass(frozen=True)
class Prepared:
    """What preparing the evidence did: text matching per source, border distances."""

    matches: tuple[MatchReport, ...]
    border_rows: int


def prepare_evidence(
    con: duckdb.DuckDBPyConnection,
    theatre: TheatreSpec,
    data_dir: Path,
    cache_dir: Path,
    rules: Mapping[str, TextRule] | None = None,
) -> Prepared:
    """Match new documents of every source to the text rules (the indicators', the
    theatre's topics and ``rules``, e.g. a scenario library's outcome resolvers) and
    register border distances.

    Matching is incremental (only documents not yet examined under the current rules), so
    calling this before every computation costs little once the store is matched.
    """
    sources = [r[0] for r in con.execute("SELECT DISTINCT source FROM documents").fetchall()]
    reports = tuple(match_documents(con, theatre, source=s, extra=rules) for s in sorted(sources))
    return Prepared(reports, refresh_borders(con, theatre, data_dir, cache_dir))


def refresh_borders(
    con: duckdb.DuckDBPyConnection, theatre: TheatreSpec, data_dir: Path, cache_dir: Path
) -> int:
    """Bring the event distances to the theatre's borders up to date, out to
    :meth:`~vigil.theatre.TheatreSpec.border_reach_km` (rows measured now; 0 for a theatre
    without borders): the store's ``event_border_km``, measured batch by batch, or on a
    read-only connection a TEMP table of the stored rows plus what the writer has not
    measured yet (:mod:`vigil.geo.events`)."""
    if not theatre.theatre.borders:
        return 0
    return refresh_border_distances(
        con, theatre.theatre, data_dir, cache_dir, max_km=theatre.border_reach_km()
    )


def indicators_as_of(
    con: duckdb.DuckDBPyConnection,
    theatre: TheatreSpec,
    as_of: dt.date,
    evidence_limit: int = 5,
    reader: Reader | None = None,
) -> list[tuple[IndicatorValue, IndicatorReading]]:
    """Every indicator of ``theatre`` as of ``as_of``: its value (the change against its own
    baseline, with evidence items) beside the scenario model's reading of it (level and
    change, observed or blind; :mod:`vigil.indicators.readings`), from one load of the
    store (``reader``'s when given: every indicator, through ``as_of``; evidence must be
    prepared first)."""
    reader = reader or Reader(con, theatre, as_of, as_of)
    readings = reader.read([as_of])
    values = compute_indicators(
        con, theatre, as_of, evidence_limit=evidence_limit, arrays=reader.arrays
    )
    return [(v, readings[v.id][0]) for v in values]


def reading_json(r: IndicatorReading) -> dict:
    """A reading with stable keys: ``state`` (normal/elevated/high/blind), ``label`` (the
    state with its observed level), ``strength``, ``driver`` and ``parts[]`` (kind,
    measure, state, value, unit, reason)."""
    return {
        "state": r.state,
        "label": r.label,
        "strength": r.strength,
        "observed": r.observed.isoformat() if r.observed else None,
        "driver": r.driver.describe() if r.driver else None,
        "parts": [
            {
                "kind": p.kind,
                "measure": p.measure,
                "state": p.state,
                "value": json_number(p.value),
                "unit": p.unit,
                "reason": p.reason or None,
            }
            for p in r.parts
        ],
    }


def json_number(value: float | None) -> float | None:
    """A float for JSON: rounded to 3 decimals, None for missing or non-finite."""
    return None if value is None or not math.isfinite(value) else round(float(value), 3)


def evidence_json(item: EvidenceItem) -> dict:
    """An evidence item with stable keys (dates as ISO strings)."""
    return {
        "kind": item.kind,
        "source": item.source,
        "source_id": item.source_id,
        "date": item.date.isoformat(),
        "title": item.title,
        "url": item.url,
        "category": item.category,
        "country": item.country,
        "series": item.series,
        "value": json_number(item.value),
        "outlet": item.outlet,
        "match_kind": item.match_kind,
        "cue": item.cue,
    }


def indicator_json(value: IndicatorValue, reading: IndicatorReading | None = None) -> dict:
    """One indicator with stable keys: ``id``, ``state`` (the change against its own
    baseline), ``score``, ``evidence[]``…, and with ``reading`` the scenario model's reading
    (level and change, observed or blind; None when not given)."""
    return {
        "reading": reading_json(reading) if reading else None,
        "id": value.id,
        "name": value.name,
        "group": value.group,
        "direction": value.direction,
        "state": value.state,
        "score": json_number(value.score),
        "trend": {"direction": value.trend.direction, "slope": json_number(value.trend.slope)},
        "change_point": value.change_point.isoformat() if value.change_point else None,
        "change_direction": value.change_direction,
        "latest": {
            kind: {
                "day": k.day.isoformat() if k.day else None,
                "value": json_number(k.value),
                "z": json_number(k.z),
                "state": k.state,
                "stale": k.stale,
            }
            for kind, k in value.latest.items()
        },
        "evidence": [evidence_json(e) for e in value.evidence],
    }
