"""Events near the theatre's borders: the ``event_border_km`` table, kept up to date.

Only events placed at a point count (``geo_precision`` in ``precisions``, ``'point'`` by
default): country and province centroids are not places (SOURCES.md §1.1) — a country
centroid would sit "near" a border for a small country and far from it for a large one.

The distances were rebuilt from every geolocated event of the area on each use; at GDELT
scale (≈300k new events a day) that is the cost that grows with the store. They are now a
table of the store, measured batch by batch: per border, ``border_km_state`` records what
the rows were measured against (a fingerprint of the line and the precisions: nothing
about a theatre, so theatres sharing a border share its rows), out to which distance, and
up to which batch (of events, or of withdrawals). A
refresh measures only the events of newer batches (a revised event moves to a newer
batch, so its old row is replaced; a withdrawn one loses its row), and a changed
geometry, or a wider reach than stored, measures that border again from scratch.

A read-only connection cannot write the table. When the stored table is current for the
theatre it is used as is; otherwise the connection gets a TEMP table of the same name
(which DuckDB resolves before the stored one) holding the stored rows still valid plus
the newer batches measured in memory, so a reader never computes from stale distances
and never measures more than what the writer has not yet measured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import numpy as np
import shapely

from vigil.geo.borders import border_lines, country_polygons
from vigil.geo.distance import distance_km
from vigil.query.engine import engine_of
from vigil.query.spark import SparkEngine
from vigil.store import has_table, transaction
from vigil.theatre import Theatre

TABLE = "event_border_km"
STATE = "border_km_state"
#: Fewest km per degree of latitude (110.57 at the equator), rounded down: bounding boxes
#: built with it are never too small.
KM_PER_DEG = 110.0
_COLUMNS = "border, source, source_id, batch_id, km, side"


@dataclass(frozen=True)
class _Border:
    """One border as measured: its line, bounding box and fingerprint."""

    id: str
    line: object
    box: tuple[float, float, float, float]
    fingerprint: str
    countries: tuple[str, ...] = ()  #: the border's two countries: a point's possible sides

    @property
    def reach_km(self) -> float:
        """How far from the border rows are kept (the fingerprint's suffix)."""
        return float(self.fingerprint.rsplit("@", 1)[1])


def refresh_border_distances(
    con: duckdb.DuckDBPyConnection,
    theatre: Theatre,
    data_dir: Path,
    cache_dir: Path,
    *,
    max_km: float = 200.0,
    precisions: tuple[str, ...] = ("point",),
) -> int:
    """Bring ``event_border_km`` up to date for the theatre's borders; rows measured now.

    One row per (event, border) with :math:`d \\le` ``max_km``: ``border``, ``source``,
    ``source_id``, ``batch_id`` (the event's), ``km``
    (:func:`vigil.geo.distance.distance_km`) and ``side``, which of the border's two
    countries holds the event (NULL in neither: at sea or in a third country; unreliable
    within ~2 km of a border, see :mod:`vigil.geo`). Rows are kept out to the
    widest ``max_km`` asked for; the indicator rules apply their own ``within_km``.

    Events are first cut to each border's bounding box widened by ``max_km``
    (:math:`\\Delta\\varphi = d/110`, :math:`\\Delta\\lambda = d / (110 \\cos\\varphi_{max})`
    degrees), so only nearby points are projected. See the module docstring for what is
    stored, what a read-only connection does, and when a border is measured again.
    """
    lines = border_lines(data_dir, theatre, cache_dir)
    if not has_table(con, STATE, where="stored"):  # a bare connection: the TEMP table only
        con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT * FROM ({_EMPTY})")
        if not lines:
            return 0
        borders = _borders(lines, theatre, precisions, max_km)
        return _measure(con, theatre, data_dir, cache_dir, borders, precisions, 0, TABLE)
    if not lines:
        return 0
    borders = _borders(lines, theatre, precisions, max_km)
    if _read_only(con):
        return _refresh_in_memory(con, theatre, data_dir, cache_dir, borders, precisions)
    with transaction(con):
        return _refresh_stored(con, theatre, data_dir, cache_dir, borders, precisions)


_EMPTY = """SELECT NULL::VARCHAR AS border, NULL::VARCHAR AS source, NULL::VARCHAR AS source_id,
    NULL::BIGINT AS batch_id, NULL::DOUBLE AS km, NULL::VARCHAR AS side WHERE FALSE"""


def _borders(lines, theatre: Theatre, precisions, max_km: float) -> list[_Border]:
    """The theatre's borders as measured. Nothing in a fingerprint depends on the theatre
    (a border's rows are its line's, and ``side`` is one of its own two countries), so
    theatres that share a border share its rows."""
    out = []
    for bid, line in lines.items():
        digest = hashlib.sha256(shapely.to_wkb(line)).hexdigest()
        key = f"{digest}|{','.join(sorted(precisions))}"
        fp = hashlib.sha256(key.encode()).hexdigest()[:32]
        box = _widen(line.bounds, max_km)
        out.append(_Border(bid, line, box, f"{fp}@{max_km:g}", tuple(bid.split("-"))))
    return out


def _read_only(con) -> bool:
    row = con.execute(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0])


def _plan(con, borders: list[_Border]) -> tuple[int, list[tuple[_Border, int | None]]]:
    """The newest batch that can change a distance (of events, or of their withdrawals),
    and per border what to measure against and the batch it is measured through (None:
    from scratch: never measured, other geometry, or a wider reach than stored). A border
    stored out to a wider reach than asked keeps it."""
    top = con.execute(
        """SELECT greatest((SELECT coalesce(max(batch_id), 0) FROM events),
                           (SELECT coalesce(max(batch_id), 0) FROM tombstones
                            WHERE kind = 'events'))"""
    ).fetchone()[0]
    state = {
        b: (fp, through)
        for b, fp, through in con.execute(
            f"SELECT border, fingerprint, through_batch FROM {STATE}"
        ).fetchall()
    }
    plan: list[tuple[_Border, int | None]] = []
    for b in borders:
        fp, through = state.get(b.id, (None, None))
        if fp is not None and _covers(fp, b.fingerprint):
            km = float(fp.rsplit("@", 1)[1])
            plan.append((replace(b, fingerprint=fp, box=_widen(b.line.bounds, km)), through))
        else:
            plan.append((b, None))
    return int(top), plan


def _covers(stored: str, wanted: str) -> bool:
    """Whether rows measured under ``stored`` serve ``wanted``: the same geometry, out to
    at least as far."""
    s_fp, s_km = stored.rsplit("@", 1)
    w_fp, w_km = wanted.rsplit("@", 1)
    return s_fp == w_fp and float(s_km) >= float(w_km)


# The keys whose stored distance a batch after ``?`` invalidates: events revised into (or
# first loaded by) a newer batch, and events withdrawn by one. Both sets are as small as
# what was loaded since: no pass over the whole events table.
_STALE = """SELECT source, source_id FROM events WHERE batch_id > ?
            UNION ALL
            SELECT source, source_id FROM tombstones WHERE kind = 'events' AND batch_id > ?"""


def _refresh_stored(con, theatre, data_dir, cache_dir, borders, precisions) -> int:
    top, plan = _plan(con, borders)
    written = 0
    for b, through in plan:
        if through is None:
            con.execute(f"DELETE FROM {TABLE} WHERE border = ?", [b.id])
            through = 0
        elif through >= top:
            continue
        else:
            con.execute(
                f"DELETE FROM {TABLE} WHERE border = ? AND (source, source_id) IN ({_STALE})",
                [b.id, through, through],
            )
        written += _measure(con, theatre, data_dir, cache_dir, [b], precisions, through, TABLE)
        con.execute(
            f"INSERT OR REPLACE INTO {STATE} VALUES (?, ?, ?, ?, ?)",
            [b.id, b.fingerprint, b.reach_km, top,
             dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        )  # fmt: skip
    return written


def _refresh_in_memory(con, theatre, data_dir, cache_dir, borders, precisions) -> int:
    """A read-only connection: the stored rows still valid plus newer batches measured
    here, as a TEMP table that shadows the stored one (nothing when it is current)."""
    top, plan = _plan(con, borders)
    if all(t is not None and t >= top for _, t in plan):
        con.execute(f"DROP TABLE IF EXISTS temp.{TABLE}")
        return 0
    # the stored table by its catalog: "main" alone would find the TEMP one (temp.main)
    stored = f'"{con.execute("SELECT current_database()").fetchone()[0]}".main.{TABLE}'
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT * FROM ({_EMPTY})")
    written = 0
    for b, through in plan:
        if through is not None:  # keep what is stored and still current
            con.execute(
                f"""INSERT INTO temp.{TABLE} SELECT {_COLUMNS} FROM {stored}
                    WHERE border = ? AND (source, source_id) NOT IN ({_STALE})""",
                [b.id, through, through],
            )
        written += _measure(
            con, theatre, data_dir, cache_dir, [b], precisions, through or 0, f"temp.{TABLE}"
        )
    return written


def _measure(con, theatre, data_dir, cache_dir, borders, precisions, after: int, into) -> int:
    """Measure the events of batches after ``after`` against ``borders``; insert the rows
    within each border's reach into ``into``. On Spark (``--engine spark``) the measuring
    runs where the events are, partition by partition, with the same
    :func:`measure_rows`; only the rows near a border come back to the store."""
    if not borders:
        return 0
    polygons = country_polygons(data_dir, theatre, cache_dir)
    engine = engine_of(con)
    if isinstance(engine, SparkEngine):
        frame = _measure_on_spark(engine, con, borders, polygons, precisions, after)
    else:
        events = _candidates(con, [b.box for b in borders], precisions, after)
        frame = measure_rows(events, borders, polygons)
    if not len(frame["border"]):
        return 0
    # DuckDB 2 refuses register() while an earlier statement's result (a DELETE's count,
    # a one-row fetchone) is not read to its end; a finished query replaces it
    con.execute("SELECT 1").fetchall()
    con.register("_vigil_event_border_km", frame)
    try:
        con.execute(
            f"INSERT INTO {into} ({_COLUMNS}) SELECT {_COLUMNS} FROM _vigil_event_border_km"
        )
    finally:
        con.unregister("_vigil_event_border_km")
    return len(frame["border"])


def measure_rows(events: dict, borders: list[_Border], polygons) -> dict:
    """The ``event_border_km`` rows of some events (arrays ``source``, ``source_id``,
    ``longitude``, ``latitude``, ``batch_id``): one per event and border within the
    border's reach, with its distance and side (which of the border's two countries holds
    the point; NULL in neither). Pure: the store and Spark both call it."""
    lon = np.asarray(events["longitude"], dtype=float)
    lat = np.asarray(events["latitude"], dtype=float)
    idx_parts, border_parts, km_parts, side_parts = [], [], [], []
    for b in borders:
        x0, y0, x1, y1 = b.box
        idx = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        km = distance_km(lon[idx], lat[idx], b.line)
        keep = idx[km <= b.reach_km]
        own = {c: polygons[c] for c in b.countries if c in polygons}
        sides = _sides(lon, lat, keep, own, b.countries) if len(keep) else {}
        idx_parts.append(keep)
        km_parts.append(km[km <= b.reach_km])
        border_parts.append(np.full(len(keep), b.id, dtype=object))
        side_parts.append(np.array([sides.get(int(i)) for i in keep], dtype=object))
    idx = np.concatenate(idx_parts) if idx_parts else np.array([], dtype=int)

    def joined(parts, dtype):
        return np.concatenate(parts) if parts else np.array([], dtype=dtype)

    return {
        "border": joined(border_parts, object),
        "source": np.asarray(events["source"], dtype=object)[idx],
        "source_id": np.asarray(events["source_id"], dtype=object)[idx],
        "batch_id": np.asarray(events["batch_id"]).astype(np.int64)[idx],
        "km": joined(km_parts, float).astype(float),
        "side": joined(side_parts, object),
    }


def _measure_on_spark(engine, store, borders, polygons, precisions, after) -> dict:
    """:func:`measure_rows` as a Spark job over the lake's events (synced first)."""
    import pandas as pd

    # the events only: the distances themselves are being rewritten in this transaction
    engine.sync(getattr(store, "store", store), tables=("events",))
    x0, y0, x1, y1 = _union([b.box for b in borders])
    ev = engine.session.table("events")
    ev = ev.where(
        ev.geo_precision.isin(list(precisions)) & (ev.batch_id > after)
        & ev.longitude.between(x0, x1) & ev.latitude.between(y0, y1)
    ).select("source", "source_id", "longitude", "latitude", "batch_id")  # fmt: skip
    # geometry travels as WKB (prepared geometries do not pickle)
    lines = [(b.id, shapely.to_wkb(b.line), b.box, b.reach_km, b.countries) for b in borders]
    areas = {code: shapely.to_wkb(geom) for code, geom in polygons.items()}

    def measure(frames):
        mine = [
            _Border(bid, shapely.from_wkb(wkb), box, f"spark@{km:g}", own)
            for bid, wkb, box, km, own in lines
        ]
        shapes = {code: shapely.from_wkb(wkb) for code, wkb in areas.items()}
        for frame in frames:
            yield pd.DataFrame(measure_rows(frame, mine, shapes))

    schema = "border string, source string, source_id string, batch_id long, km double, side string"
    rows = engine.execute_spark(ev.mapInPandas(measure, schema))
    out = {c: rows[c].to_numpy() for c in rows.columns}
    for c in _TEXT:  # a missing side is NULL, as on the store's path, not pandas' NaN
        out[c] = np.array([None if pd.isna(v) else v for v in out[c]], dtype=object)
    return out


_TEXT = ("border", "source", "source_id", "side")


def _union(boxes):
    return tuple(f(v) for f, v in zip((min, min, max, max), zip(*boxes, strict=True), strict=True))


def _widen(bounds: tuple[float, float, float, float], max_km: float):
    x0, y0, x1, y1 = bounds
    dlat = max_km / KM_PER_DEG
    y0, y1 = max(y0 - dlat, -90.0), min(y1 + dlat, 90.0)
    # a degree of longitude is shortest at the most poleward latitude of the box
    cos_min = max(math.cos(math.radians(max(abs(y0), abs(y1)))), 1e-6)
    dlon = min(max_km / (KM_PER_DEG * cos_min), 180.0)
    return x0 - dlon, y0, x1 + dlon, y1


def _candidates(con, boxes, precisions: tuple[str, ...], after: int) -> dict[str, np.ndarray]:
    x0, y0, x1, y1 = _union(boxes)
    marks = ", ".join("?" for _ in precisions)
    return con.execute(
        f"""SELECT source, source_id, longitude, latitude, batch_id FROM events
            WHERE geo_precision IN ({marks or "NULL"}) AND batch_id > ?
              AND longitude BETWEEN ? AND ? AND latitude BETWEEN ? AND ?""",
        [*precisions, after, x0, x1, y0, y1],
    ).fetchnumpy()


def _sides(lon, lat, idx, polygons, order) -> dict[int, str]:
    """Map event index → ISO3 of the first polygon (in ``order``) that contains it."""
    sides: dict[int, str] = {}
    left = idx
    for code in [*order, *(c for c in polygons if c not in order)]:
        if not len(left):
            break
        geom = polygons[code]
        shapely.prepare(geom)
        inside = shapely.contains_xy(geom, lon[left], lat[left])
        sides.update(dict.fromkeys(left[inside].tolist(), code))
        left = left[~inside]
    return sides
