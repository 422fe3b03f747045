"""Border geometry: the theatre's border lines, distances to them and which side a point is.

* :func:`border_lines` — each declared border (``BLR-UKR``…) built by code from the Natural
  Earth admin-0 countries file the theatre names, cached under ``<cache>/geo``;
* :func:`distance_km` — vectorised, geodesic-accurate (< 1 %) distance from points to a line;
* :func:`refresh_border_distances` — the table
  ``event_border_km(border, source, source_id, batch_id, km, side)`` of point-located
  events within ``max_km`` of each border, kept up to date batch by batch.

Accuracy of the 1:50m generalisation
------------------------------------
Natural Earth 1:50m is drawn for maps at 1:50,000,000: its border lines keep a vertex every
few km and cut the meanders of river borders (the Pripyat, Dnieper and Bug along BLR-UKR and
BLR-POL). The lines are therefore much *shorter* than the true borders (BLR-UKR 745 km here
against ≈1,080 km surveyed; BLR-POL 317 against ≈420), but they are displaced from the true
border by only ~1–3 km: a distance to the line is off from the distance to the true border
by at most that displacement, i.e. a few km, whatever the length deficit. Consequences:

* distances are good to a few km — use thresholds of tens of km (``within_km`` ≥ 10), never
  sub-kilometre ones;
* ``side`` (point-in-polygon) is unreliable for points within ~2–3 km of a border; a point
  on a river bank can fall in the neighbour's polygon;
* the projection itself adds < 0.5 % (see :mod:`vigil.geo.distance`), negligible next to
  the generalisation;
* this Natural Earth version (v4.0) puts Crimea in RUS (data README).
"""

from vigil.geo.borders import (
    TOLERANCE_DEG,
    border_lines,
    country_polygons,
    read_countries,
    shared_border,
)
from vigil.geo.distance import aeqd, distance_km, length_km
from vigil.geo.events import TABLE, refresh_border_distances

__all__ = [
    "TABLE",
    "TOLERANCE_DEG",
    "aeqd",
    "border_lines",
    "country_polygons",
    "distance_km",
    "length_km",
    "read_countries",
    "refresh_border_distances",
    "shared_border",
]
