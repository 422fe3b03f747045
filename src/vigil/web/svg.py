"""Server-rendered SVG for the offline dashboard: line charts and an event map.

The dashboard must work from a laptop with no network and no JavaScript, so every figure is a
self-contained SVG string. The line charts are :mod:`vigil.charts`' (the same drawing as the
offline chart pages); the event map, which needs country outlines, is drawn here with the
same helpers. Every piece of text that reaches the markup (event titles, ids, country codes)
comes from ingested data and is therefore untrusted: it always goes through `_esc`.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from vigil.charts import (
    PALETTE,
    line_chart,
    safe_class,
)
from vigil.charts import esc as _esc
from vigil.charts import f1 as _f1
from vigil.charts import finite as _finite
from vigil.charts import legend as _legend
from vigil.charts import no_data as _no_data
from vigil.charts import svg_open as _svg_open
from vigil.charts import text as _text
from vigil.charts import visible_title as _visible_title

__all__ = ["line_chart", "map_svg", "project", "safe_class", "source_colour"]

# Sources get fixed colours so the same source looks the same on every page and every day.
SOURCE_COLOURS = {
    "acled": "#D55E00",
    "ucdp": "#CC79A7",
    "gdelt": "#0072B2",
    "rss": "#009E73",
    "fires": "#E69F00",
    "frontex": "#56B4E9",
    "cir": "#000000",
    "losses": "#882255",
}

SIMPLIFY_FRACTION = 0.004  # of the bbox span: about 3 px on a 760 px map


# ---------------------------------------------------------------------------------------------
# Event map


def _bbox_scale(bbox: tuple[float, float, float, float], width: float) -> tuple[float, float]:
    """Pixels per degree of latitude, and the cos(latitude) factor applied to longitude."""
    min_lon, min_lat, max_lon, max_lat = bbox
    kx = max(math.cos(math.radians((min_lat + max_lat) / 2)), 0.05)
    return width / (max(max_lon - min_lon, 1e-9) * kx), kx


def project(
    lon: float, lat: float, bbox: tuple[float, float, float, float], width: float
) -> tuple[float, float]:
    """Equirectangular projection onto a `width`-wide canvas, north up and east right.

    Longitude is compressed by cos(mean latitude) so shapes at mid-latitudes are not
    stretched sideways; over a theatre-sized box this distortion is negligible.
    """
    scale, kx = _bbox_scale(bbox, width)
    return (lon - bbox[0]) * kx * scale, (bbox[3] - lat) * scale


def _map_height(bbox: tuple[float, float, float, float], width: float) -> float:
    """Canvas height that keeps the projection's aspect ratio."""
    scale, _ = _bbox_scale(bbox, width)
    return (bbox[3] - bbox[1]) * scale


def _default_bbox(
    outlines: dict[str, BaseGeometry], points: list[dict]
) -> tuple[float, float, float, float] | None:
    """Union bounds of the outlines (or of the points if there are none), padded 2 %."""
    bounds = [g.bounds for g in outlines.values() if g is not None and not g.is_empty]
    if not bounds:
        coords = [(_finite(p.get("lon")), _finite(p.get("lat"))) for p in points]
        bounds = [(x, y, x, y) for x, y in coords if x is not None and y is not None]
    if not bounds:
        return None
    min_lon, min_lat = min(b[0] for b in bounds), min(b[1] for b in bounds)
    max_lon, max_lat = max(b[2] for b in bounds), max(b[3] for b in bounds)
    pad_x = max((max_lon - min_lon) * 0.02, 0.5 if max_lon == min_lon else 0.0)
    pad_y = max((max_lat - min_lat) * 0.02, 0.5 if max_lat == min_lat else 0.0)
    return (min_lon - pad_x, max(min_lat - pad_y, -90), max_lon + pad_x, min(max_lat + pad_y, 90))


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    """Flatten any geometry to its polygon parts (clipping can yield collections)."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon):
        return [p for p in geom.geoms if not p.is_empty]
    return [p for part in getattr(geom, "geoms", []) for p in _polygons(part)]


def _ring_d(coords, bbox, width: float) -> str:
    """One closed ring as path data, dropping points that round to the same pixel."""
    out: list[str] = []
    for lon, lat in coords:
        x, y = project(lon, lat, bbox, width)
        pair = f"{_f1(x)},{_f1(y)}"
        if not out or out[-1] != pair:
            out.append(pair)
    return ("M" + " L".join(out) + " Z") if len(out) >= 3 else ""


def _shape_for_map(geom: BaseGeometry, bbox, tolerance: float) -> list[Polygon]:
    """Clip to (a margin around) the map, simplify, and drop sub-pixel islands.

    Clipping first means a huge neighbour at the edge costs only the part that is visible;
    simplifying keeps the page small; both are invisible at dashboard scale.
    """
    margin = tolerance * 5
    clipped = shapely.clip_by_rect(
        geom, bbox[0] - margin, bbox[1] - margin, bbox[2] + margin, bbox[3] + margin
    )
    simple = clipped.simplify(tolerance, preserve_topology=True)
    return [p for p in _polygons(simple) if p.area >= tolerance * tolerance]


def _country_svg(code: str, geom: BaseGeometry, bbox, width: float, tolerance: float) -> str:
    """One country outline plus its code label at a point guaranteed inside the shape."""
    if geom is None or geom.is_empty:
        return ""
    polys = _shape_for_map(geom, bbox, tolerance)
    rings = [
        _ring_d(ring.coords, bbox, width)
        for poly in polys
        for ring in (poly.exterior, *poly.interiors)
    ]
    d = " ".join(r for r in rings if r)
    if not d:
        return ""
    out = (
        f'<path class="country" data-country="{_esc(code)}" d="{d}" fill="#f2f0eb" '
        f'stroke="#8c8c8c" stroke-width="0.8" fill-rule="evenodd"/>'
    )
    label_at = MultiPolygon(polys).representative_point() if polys else None
    if label_at is not None and _inside(label_at.x, label_at.y, bbox):
        x, y = project(label_at.x, label_at.y, bbox, width)
        out += _text(x, y, code, anchor="middle", css="country-label")
    return out


def _inside(lon: float, lat: float, bbox) -> bool:
    """Whether a coordinate falls within the bbox (edges included)."""
    return bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


def source_colour(source: str) -> str:
    """Fixed colour per source; unknown sources get a stable palette colour by hash."""
    key = safe_class(source)
    if key in SOURCE_COLOURS:
        return SOURCE_COLOURS[key]
    return PALETTE[zlib.crc32(key.encode()) % len(PALETTE)]


def _event_svg(p: dict, bbox, width: float) -> str:
    """One event marker with its identifying attributes and a hover description."""
    x, y = project(float(p["lon"]), float(p["lat"]), bbox, width)
    source, category = str(p.get("source") or ""), str(p.get("category") or "")
    day = str(p.get("date") or "")
    tip = " · ".join(part for part in (day, source, category, p.get("title")) if part)
    return (
        f'<circle class="event src-{safe_class(source)} cat-{safe_class(category)}" '
        f'cx="{_f1(x)}" cy="{_f1(y)}" r="3.5" fill="{source_colour(source)}" '
        f'fill-opacity="0.8" stroke="#ffffff" stroke-width="0.6" '
        f'data-id="{_esc(p.get("id", ""))}" data-source="{_esc(source)}" '
        f'data-category="{_esc(category)}" data-date="{_esc(day)}">'
        f"<title>{_esc(tip)}</title></circle>"
    )


def _split_points(points: list[dict], bbox) -> tuple[list[dict], int]:
    """Points that can be drawn, and how many fall outside the map (or lack coordinates)."""
    shown: list[dict] = []
    for p in points:
        lon, lat = _finite(p.get("lon")), _finite(p.get("lat"))
        if lon is not None and lat is not None and _inside(lon, lat, bbox):
            shown.append(p)
    return shown, len(points) - len(shown)


def _map_footer(shown: list[dict], outside: int, y0: float, width: float) -> tuple[str, float]:
    """Legend of sources with counts, then the caption line; returns markup and height."""
    counts = Counter(str(p.get("source") or "") for p in shown)
    items = [
        (f"{src or 'unknown'} ({n})", source_colour(src), f"src-{safe_class(src)}")
        for src, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    legend, legend_h = _legend(items, 8, y0, width - 8)
    caption = f"{len(shown)} event{'' if len(shown) == 1 else 's'} shown"
    if outside:
        caption += f" · {outside} outside the map"
    text = _text(8, y0 + legend_h + 12, caption, css="caption")
    return legend + text, legend_h + 20


def map_svg(
    outlines: dict[str, BaseGeometry],
    points: list[dict],
    *,
    bbox: tuple[float, float, float, float] | None = None,
    width: int = 760,
    title: str = "",
) -> str:
    """Event map: simplified country outlines and event dots, with no tiles or images.

    Everything is vector data drawn from local boundaries, so the map works offline and
    its size stays bounded by the simplification tolerance rather than the source detail.
    """
    outlines = outlines or {}
    points = points or []
    box = bbox or _default_bbox(outlines, points)
    if box is None:
        return _no_data(width, title, "map")
    map_h = _map_height(box, width)
    tolerance = SIMPLIFY_FRACTION * max(box[2] - box[0], box[3] - box[1])
    shown, outside = _split_points(points, box)
    top = 24 if title else 0
    footer, footer_h = _map_footer(shown, outside, top + map_h + 8, width)
    clip_id = f"map-{zlib.crc32(repr((box, width, title)).encode()):08x}"
    countries = (
        _country_svg(str(c), g, box, width, tolerance) for c, g in sorted(outlines.items())
    )
    return "".join(
        [
            _svg_open(width, top + map_h + 8 + footer_h, title, "map"),
            _visible_title(title, 8, 16),
            f'<clipPath id="{clip_id}"><rect x="0" y="0" width="{_f1(width)}" '
            f'height="{_f1(map_h)}"/></clipPath>',
            f'<g transform="translate(0 {top})"><g clip-path="url(#{clip_id})">',
            f'<rect class="sea" x="0" y="0" width="{_f1(width)}" height="{_f1(map_h)}" '
            f'fill="#e8f1f8"/>',
            '<g class="countries">',
            *countries,
            '</g><g class="events">',
            *(_event_svg(p, box, width) for p in shown),
            "</g></g></g>",
            footer,
            "</svg>",
        ]
    )
