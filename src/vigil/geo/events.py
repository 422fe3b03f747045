"""Events near the theatre's borders: the ``event_border_km`` temporary table.

Only events placed at a point count (``geo_precision`` in ``precisions``, ``'point'`` by
default): country and province centroids are not places (SOURCES.md §1.1) — a country
centroid would sit "near" a border for a small country and far from it for a large one.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import shapely

from vigil.geo.borders import border_lines, country_polygons
from vigil.geo.distance import distance_km
from vigil.theatre import Theatre

TABLE = "event_border_km"
#: Fewest km per degree of latitude (110.57 at the equator), rounded down: bounding boxes
#: built with it are never too small.
KM_PER_DEG = 110.0

_CREATE = f"""CREATE OR REPLACE TEMP TABLE {TABLE} (
    source     VARCHAR NOT NULL,
    source_id  VARCHAR NOT NULL,
    border     VARCHAR NOT NULL,   -- theatre border id, e.g. BLR-UKR
    km         DOUBLE NOT NULL,    -- distance to the border line (Natural Earth 1:50m)
    side       VARCHAR             -- ISO3 of the theatre country containing the point
)"""


def register_border_distances(
    con: duckdb.DuckDBPyConnection,
    theatre: Theatre,
    data_dir: Path,
    cache_dir: Path,
    *,
    max_km: float = 200.0,
    precisions: tuple[str, ...] = ("point",),
) -> int:
    """Create TEMP table ``event_border_km`` for the events within ``max_km`` of a border.

    One row per (event, border) with :math:`d \\le` ``max_km``: ``source``, ``source_id``,
    ``border``, ``km`` (:func:`vigil.geo.distance.distance_km`) and ``side``, the ISO3 of
    the theatre country whose polygon contains the event (NULL at sea or outside the
    theatre's countries; unreliable within ~2 km of a border, see :mod:`vigil.geo`). The
    table is replaced on every call and lives as long as the connection.

    Events are first cut to each border's bounding box widened by ``max_km``
    (:math:`\\Delta\\varphi = d/110`, :math:`\\Delta\\lambda = d / (110 \\cos\\varphi_{max})`
    degrees), so only nearby points are projected.

    Returns
    -------
    int
        Rows written.
    """
    lines = border_lines(data_dir, theatre, cache_dir)
    con.execute(_CREATE)
    if not lines:
        return 0
    boxes = {bid: _widen(line.bounds, max_km) for bid, line in lines.items()}
    events = _candidates(con, boxes.values(), precisions)
    lon, lat = events["longitude"], events["latitude"]
    idx_parts, border_parts, km_parts = [], [], []
    for bid, line in lines.items():
        x0, y0, x1, y1 = boxes[bid]
        idx = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        km = distance_km(lon[idx], lat[idx], line)
        keep = km <= max_km
        idx_parts.append(idx[keep])
        km_parts.append(km[keep])
        border_parts.append(np.full(int(keep.sum()), bid, dtype=object))
    idx = np.concatenate(idx_parts)
    sides = _sides(
        lon, lat, np.unique(idx), country_polygons(data_dir, theatre, cache_dir), theatre.countries
    )
    frame = {
        "source": events["source"][idx].astype(object),
        "source_id": events["source_id"][idx].astype(object),
        "border": np.concatenate(border_parts),
        "km": np.concatenate(km_parts).astype(float),
        "side": np.array([sides.get(int(i)) for i in idx], dtype=object),
    }
    if len(idx):
        con.register("_vigil_event_border_km", frame)
        try:
            con.execute(f"INSERT INTO {TABLE} SELECT * FROM _vigil_event_border_km")
        finally:
            con.unregister("_vigil_event_border_km")
    return len(idx)


def _widen(bounds: tuple[float, float, float, float], max_km: float):
    x0, y0, x1, y1 = bounds
    dlat = max_km / KM_PER_DEG
    y0, y1 = max(y0 - dlat, -90.0), min(y1 + dlat, 90.0)
    # a degree of longitude is shortest at the most poleward latitude of the box
    cos_min = max(math.cos(math.radians(max(abs(y0), abs(y1)))), 1e-6)
    dlon = min(max_km / (KM_PER_DEG * cos_min), 180.0)
    return x0 - dlon, y0, x1 + dlon, y1


def _candidates(con, boxes, precisions: tuple[str, ...]) -> dict[str, np.ndarray]:
    x0, y0, x1, y1 = (
        f(v) for f, v in zip((min, min, max, max), zip(*boxes, strict=True), strict=True)
    )
    marks = ", ".join("?" for _ in precisions)
    return con.execute(
        f"""SELECT source, source_id, longitude, latitude FROM events
            WHERE geo_precision IN ({marks or "NULL"})
              AND longitude BETWEEN ? AND ? AND latitude BETWEEN ? AND ?""",
        [*precisions, x0, x1, y0, y1],
    ).fetchnumpy()


def _sides(lon, lat, idx, polygons, order) -> dict[int, str]:
    """Map event index → ISO3 of the first polygon (in theatre order) that contains it."""
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
