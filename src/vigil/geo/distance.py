"""Geodesic-accurate distances from points to border lines, with numpy and shapely only.

pyproj is not a dependency, so the projection is written out here. Both the points and the
line are projected to an **azimuthal equidistant** (AEQD) projection on a sphere centred on
the line (Snyder 1987, *Map Projections — A Working Manual*, pp. 191–196), and the planar
distance is measured with shapely's vectorised ``distance``.

With :math:`\\varphi` latitude, :math:`\\lambda` longitude, :math:`(\\varphi_0, \\lambda_0)`
the centre and :math:`\\Delta\\lambda = \\lambda - \\lambda_0`:

.. math::

    c &= 2 \\arcsin \\sqrt{\\sin^2\\tfrac{\\varphi-\\varphi_0}{2}
          + \\cos\\varphi_0 \\cos\\varphi \\sin^2\\tfrac{\\Delta\\lambda}{2}}
          \\quad\\text{(haversine: stable for small } c)\\\\
    k &= c / \\sin c \\quad (k = 1 \\text{ at } c = 0)\\\\
    x &= R\\,k \\cos\\varphi \\sin\\Delta\\lambda\\\\
    y &= R\\,k \\left[\\sin(\\varphi-\\varphi_0)
          + 2 \\sin\\varphi_0 \\cos\\varphi \\sin^2\\tfrac{\\Delta\\lambda}{2}\\right]

(the last is Snyder's :math:`\\cos\\varphi_0\\sin\\varphi - \\sin\\varphi_0\\cos\\varphi\\cos
\\Delta\\lambda`, rewritten to avoid cancellation near the centre). The sphere's radius is the
Gaussian mean radius of the WGS84 ellipsoid at the centre latitude,

.. math:: R = \\sqrt{M N} = \\frac{a\\sqrt{1-e^2}}{1 - e^2 \\sin^2\\varphi_0},

so the sphere osculates the ellipsoid there.

Error budget (measured in ``tests/test_geo.py`` against a Vincenty ellipsoidal reference):
distances from the centre are exact on the sphere; between two other points the AEQD scale
perpendicular to the radius is :math:`c/\\sin c \\approx 1 + c^2/6` (0.1 % at 500 km from
the centre, 0.4 % at 1,000 km); the sphere-for-ellipsoid substitution costs ≤ 0.3 % within
±8° of latitude of the centre. Both stay well under 1 % for events within a few hundred km of
a border segment up to ~1,500 km long; far from the centre (several thousand km) the error
grows and the function is not meant for that.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

#: WGS84 semi-major axis (km) and first eccentricity squared.
A_KM = 6378.137
E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)
#: GeoJSON segments are straight in lon/lat (RFC 7946 §3.1.1), not in the projection: lines
#: are densified to this step (degrees) before projecting so each piece stays faithful.
SEGMENT_DEG = 0.05


def gaussian_radius_km(lat_deg: float) -> float:
    """Gaussian mean radius :math:`\\sqrt{MN}` of the WGS84 ellipsoid at a latitude, in km."""
    s = np.sin(np.radians(lat_deg))
    return float(A_KM * np.sqrt(1 - E2) / (1 - E2 * s * s))


def aeqd(
    lons: ArrayLike, lats: ArrayLike, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical azimuthal equidistant projection centred on ``(lon0, lat0)``.

    Parameters
    ----------
    lons, lats : array_like
        Degrees (WGS84); broadcast together.
    lon0, lat0 : float
        Centre of the projection, degrees.

    Returns
    -------
    x, y : numpy.ndarray
        Kilometres east and north of the centre (formulas in the module docstring).
    """
    phi = np.radians(np.asarray(lats, dtype=float))
    dlam = np.radians(np.asarray(lons, dtype=float) - lon0)
    phi0 = np.radians(lat0)
    # wrap Δλ into [-π, π) so a line near the antimeridian does not jump a full turn
    dlam = (dlam + np.pi) % (2 * np.pi) - np.pi
    sin_half = np.sin(dlam / 2) ** 2
    hav = np.sin((phi - phi0) / 2) ** 2 + np.cos(phi0) * np.cos(phi) * sin_half
    c = 2 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
    sin_c = np.sin(c)
    k = np.divide(c, sin_c, out=np.ones_like(c), where=sin_c > 1e-15)
    rk = gaussian_radius_km(lat0) * k
    x = rk * np.cos(phi) * np.sin(dlam)
    y = rk * (np.sin(phi - phi0) + 2 * np.sin(phi0) * np.cos(phi) * sin_half)
    return x, y


def centre_of(geometry: BaseGeometry) -> tuple[float, float]:
    """The centre of a geometry's lon/lat bounding box: where the projection is centred."""
    x0, y0, x1, y1 = geometry.bounds
    return (x0 + x1) / 2, (y0 + y1) / 2


def project(geometry: BaseGeometry, centre: tuple[float, float]) -> BaseGeometry:
    """The geometry, densified to :data:`SEGMENT_DEG`, in AEQD kilometres about ``centre``."""
    dense = shapely.segmentize(geometry, SEGMENT_DEG)

    def fwd(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(aeqd(coords[:, 0], coords[:, 1], *centre))

    return shapely.transform(dense, fwd)


def distance_km(
    lons: ArrayLike,
    lats: ArrayLike,
    line: BaseGeometry,
    *,
    centre: tuple[float, float] | None = None,
) -> np.ndarray:
    """Distance in km from each point to the nearest point of ``line``.

    Parameters
    ----------
    lons, lats : array_like
        Point coordinates in degrees (WGS84), broadcast together. Non-finite coordinates
        give NaN.
    line : shapely geometry
        Usually a border (``LineString`` / ``MultiLineString``) in lon/lat. A polygon
        works too (distance 0 inside it).
    centre : (lon, lat), optional
        Projection centre; the centre of the line's bounding box by default.

    Returns
    -------
    numpy.ndarray
        Kilometres, shaped like the broadcast inputs: :math:`\\min_{q \\in L}
        \\lVert P(p) - P(q) \\rVert` with :math:`P` the AEQD projection.

    Raises
    ------
    ValueError
        If ``line`` is empty.
    """
    if line.is_empty:
        raise ValueError("distance_km: the line is empty")
    lon_arr, lat_arr = np.broadcast_arrays(
        np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    )
    centre = centre or centre_of(line)
    out = np.full(lon_arr.shape, np.nan)
    ok = np.isfinite(lon_arr) & np.isfinite(lat_arr)
    if ok.any():
        x, y = aeqd(lon_arr[ok], lat_arr[ok], *centre)
        out[ok] = shapely.distance(shapely.points(x, y), project(line, centre))
    return out


def length_km(line: BaseGeometry) -> float:
    """Length of a line in km, measured in the AEQD projection centred on it."""
    return float(shapely.length(project(line, centre_of(line))))
