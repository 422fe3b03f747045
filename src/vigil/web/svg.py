"""Server-rendered SVG for the offline dashboard: line charts, bar charts and an event map.

The dashboard must work from a laptop with no network and no JavaScript, so every figure is a
self-contained SVG string built here. Colours are set as presentation attributes (not only
CSS classes) so a figure still reads correctly when the stylesheet is missing, e.g. when an
analyst saves a single page. Every piece of text that reaches the markup (series names,
event titles, ids, country codes) comes from ingested data and is therefore untrusted: it
always goes through `_esc`. Numbers are formatted explicitly so output is deterministic and
tests can compare it to the API.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from datetime import date, timedelta
from html import escape

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from vigil.display import neutralise

__all__ = ["line_chart", "map_svg", "project"]

SVG_NS = "http://www.w3.org/2000/svg"

# Okabe–Ito: distinguishable under the common colour-vision deficiencies. Yellow is last
# because it is the weakest against a white background.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#F0E442",
)

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

# Z-score state zones are shaded lightly behind the lines; unknown classes fall back to grey.
BAND_COLOURS = {"normal": "#009E73", "elevated": "#E69F00", "high": "#D55E00"}
BAND_DEFAULT = "#999999"

POINT_LIMIT = 400  # above this many points a series is drawn as a path only, no markers
SIMPLIFY_FRACTION = 0.004  # of the bbox span: about 3 px on a 760 px map
FONT = 'font-family="sans-serif"'
CHAR_W = 6.5  # rough width of one 11 px sans-serif character, for layout estimates

_CLASS_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_SERIES_CLASS = re.compile(r"^s(\d+)$")


# ---------------------------------------------------------------------------------------------
# Small shared helpers


def _esc(value: object) -> str:
    """Escape untrusted text for both element content and quoted attributes, its control
    and bidi characters made visible first (a right-to-left override in a headline would
    reorder the tooltip: :func:`vigil.display.neutralise`)."""
    return escape(neutralise(value), quote=True)


def _f1(value: float) -> str:
    """Coordinates with one decimal: sub-pixel precision is wasted bytes."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _raw(value: float) -> str:
    """A machine-readable value (up to 6 decimals) for `data-value`, read back by tests."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _finite(value: object) -> float | None:
    """Numbers that can be drawn; None, NaN and infinities all count as missing."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt_value(value: float, percent: bool) -> str:
    """Human-readable value for tooltips and labels."""
    return f"{value * 100:.1f} %" if percent else f"{value:.2f}"


def safe_class(text: object) -> str:
    """Reduce arbitrary text to a CSS class token ([a-z0-9_-]), never empty."""
    token = _CLASS_UNSAFE.sub("-", str(text).lower()).strip("-")
    return token or "unknown"


def _svg_open(width: float, height: float, title: str, css: str) -> str:
    """Root element with an accessible name; width/height keep it sized without CSS."""
    w, h = _f1(width), _f1(height)
    return (
        f'<svg xmlns="{SVG_NS}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="{_esc(title)}" class="{css}">'
        f"<title>{_esc(title)}</title>"
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", css: str = "") -> str:
    """One line of label text; content is escaped here so callers cannot forget."""
    cls = f' class="{css}"' if css else ""
    return (
        f'<text x="{_f1(x)}" y="{_f1(y)}" text-anchor="{anchor}" {FONT} font-size="11" '
        f'fill="#333333"{cls}>{_esc(content)}</text>'
    )


def _no_data(width: int, title: str, css: str = "chart") -> str:
    """A small placeholder so an empty panel says why it is empty instead of collapsing."""
    height = 60
    return (
        _svg_open(width, height, title, f"{css} empty")
        + _text(width / 2, height / 2 + 4, "no data", anchor="middle", css="no-data")
        + "</svg>"
    )


def _visible_title(title: str, x: float, y: float) -> str:
    """Title text drawn on the figure (the <title> element is for screen readers only)."""
    if not title:
        return ""
    return (
        f'<text x="{_f1(x)}" y="{_f1(y)}" {FONT} font-size="13" font-weight="bold" '
        f'fill="#222222" class="chart-title">{_esc(title)}</text>'
    )


def _legend(
    items: list[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[str, float]:
    """Swatch + name entries, wrapped into rows; returns markup and the height used.

    `items` holds (label, colour, css class). Wrapping is estimated from character counts,
    which is good enough for short series and source names.
    """
    parts: list[str] = ['<g class="legend">']
    x, y, row_h = x0, y0, 16.0
    for label, colour, css in items:
        item_w = 20 + CHAR_W * len(label) + 14
        if x > x0 and x + item_w > width:
            x, y = x0, y + row_h
        parts.append(
            f'<rect x="{_f1(x)}" y="{_f1(y)}" width="12" height="10" fill="{colour}" '
            f'class="swatch {_esc(css)}"/>'
        )
        parts.append(_text(x + 16, y + 9, label))
        x += item_w
    parts.append("</g>")
    return "".join(parts), (y - y0 + row_h) if items else 0.0


# ---------------------------------------------------------------------------------------------
# Line chart


def _series_colour(index: int, css: str | None) -> str:
    """Palette colour for a series; an explicit `sN` class keeps its colour across charts."""
    match = _SERIES_CLASS.match(css or "")
    slot = int(match.group(1)) if match else index
    return PALETTE[slot % len(PALETTE)]


def _clean_points(series: dict) -> list[tuple[date, float | None]]:
    """Date-sorted points with non-finite values turned into gaps."""
    pts = [(d, _finite(v)) for d, v in series.get("points") or []]
    return sorted(pts, key=lambda p: p[0])


def _clean_interval(series: dict) -> list[tuple[date, float | None, float | None]]:
    """Date-sorted uncertainty interval with non-finite bounds turned into gaps."""
    rows = [(d, _finite(lo), _finite(hi)) for d, lo, hi in series.get("interval") or []]
    return sorted(rows, key=lambda r: r[0])


def _data_extent(prepared: list[dict]) -> tuple[list[date], list[float]]:
    """All dates and finite values (lines and intervals) that the axes must cover."""
    dates: list[date] = []
    values: list[float] = []
    for s in prepared:
        for d, v in s["points"]:
            if v is not None:
                dates.append(d)
                values.append(v)
        for d, lo, hi in s["interval"]:
            if lo is not None and hi is not None:
                dates.append(d)
                values.extend((lo, hi))
    return dates, values


def _decimals(step: float) -> int:
    """Fewest decimals that show a tick step exactly (0.25 → 2, 5 → 0)."""
    for places in range(7):
        if abs(round(step, places) - step) <= 1e-9 * max(1.0, abs(step)):
            return places
    return 6


def _ticks_for(lo: float, hi: float, step: float) -> list[float]:
    """Multiples of `step` inside [lo, hi], with float noise trimmed."""
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _candidate_steps(span: float) -> list[float]:
    """1-2-2.5-5 steps around the span's magnitude, smallest first."""
    base = 10 ** math.floor(math.log10(span))
    return [m * base * 10**k for k in (-2, -1, 0) for m in (1, 2, 2.5, 5)]


def _nice_axis(
    lo: float, hi: float, fixed_lo: bool, fixed_hi: bool
) -> tuple[float, float, list[float]]:
    """Choose a y range and 4–6 round ticks; free ends are widened to the next tick."""
    if hi - lo <= 0:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = (lo, lo + pad) if fixed_lo else (lo - pad, hi + (0 if fixed_hi else pad))
        hi = max(hi, lo + pad)
    options = []
    for step in _candidate_steps(hi - lo):
        a = lo if fixed_lo else math.floor(lo / step + 1e-9) * step
        b = hi if fixed_hi else math.ceil(hi / step - 1e-9) * step
        ticks = _ticks_for(a, b, step)
        if 2 <= len(ticks) <= 6:
            # prefer 5 ticks, then the coarser step; anything under 4 only as a last resort
            options.append(((len(ticks) < 4, abs(len(ticks) - 5), -step), (a, b, ticks)))
    return min(options)[1] if options else (lo, hi, [lo, hi])


def _y_label(value: float, step: float, percent: bool) -> str:
    """Tick label with just enough decimals for the step."""
    if percent:
        return f"{value * 100:.{_decimals(step * 100)}f} %"
    return f"{value:.{_decimals(step)}f}"


def _month_add(day: date, months: int) -> date:
    """First of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _date_ticks(d0: date, d1: date) -> list[tuple[date, str]]:
    """Tick dates at month or year starts, at most about eight, labelled YYYY-MM or YYYY."""
    days = (d1 - d0).days
    if days > 3 * 365:
        years = (d1.year - d0.year) or 1
        step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 10_000) if years / s <= 8)
        first = d0.year if (d0.month, d0.day) == (1, 1) else d0.year + 1
        first += -first % step
        return [(date(y, 1, 1), str(y)) for y in range(first, d1.year + 1, step)]
    months = days / 30.4
    step = next(s for s in (1, 2, 3, 6, 12) if months / s <= 8)
    tick = date(d0.year, d0.month, 1)
    tick = tick if tick >= d0 else _month_add(tick, 1)
    while (tick.month - 1) % step:
        tick = _month_add(tick, 1)
    out = []
    while tick <= d1:
        out.append((tick, f"{tick.year:04d}-{tick.month:02d}"))
        tick = _month_add(tick, step)
    return out


class _Frame:
    """Maps (date, value) to plot coordinates; keeps the scale maths in one place."""

    def __init__(
        self, box: tuple[float, float, float, float], d0: date, d1: date, y0: float, y1: float
    ):
        self.left, self.top, self.right, self.bottom = box
        self.d0, self.days = d0, max((d1 - d0).days, 1)
        self.y0, self.y1 = y0, y1

    def x(self, day: date) -> float:
        return self.left + (day - self.d0).days / self.days * (self.right - self.left)

    def y(self, value: float) -> float:
        frac = (value - self.y0) / (self.y1 - self.y0)
        return self.bottom - frac * (self.bottom - self.top)


def _bands_svg(bands: list[dict], fr: _Frame) -> str:
    """Horizontal state zones (normal/elevated/high), clipped to the y range."""
    parts = ['<g class="bands">']
    for band in bands:
        lo, hi = _finite(band.get("from")), _finite(band.get("to"))
        lo = fr.y0 if lo is None else max(lo, fr.y0)
        hi = fr.y1 if hi is None else min(hi, fr.y1)
        if hi <= lo:  # outside the visible range, or given upside down
            continue
        css = str(band.get("class") or "")
        colour = BAND_COLOURS.get(css, BAND_DEFAULT)
        top, bottom = fr.y(hi), fr.y(lo)
        parts.append(
            f'<rect class="band {_esc(css)}" x="{_f1(fr.left)}" y="{_f1(top)}" '
            f'width="{_f1(fr.right - fr.left)}" height="{_f1(bottom - top)}" '
            f'fill="{colour}" fill-opacity="0.10"/>'
        )
        if band.get("label"):
            parts.append(
                _text(fr.right - 4, top + 12, band["label"], anchor="end", css="band-label")
            )
    parts.append("</g>")
    return "".join(parts)


def _axes_svg(fr: _Frame, ticks: list[float], percent: bool, y_label: str) -> str:
    """Grid lines, y tick labels, x date ticks and the optional y-axis caption."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    parts = ['<g class="axes">']
    for value in ticks:
        y = _f1(fr.y(value))
        parts.append(
            f'<line x1="{_f1(fr.left)}" x2="{_f1(fr.right)}" y1="{y}" y2="{y}" '
            f'stroke="#dddddd" stroke-width="1" class="grid"/>'
        )
        parts.append(
            _text(fr.left - 6, fr.y(value) + 4, _y_label(value, step, percent), anchor="end")
        )
    d1 = fr.d0 + timedelta(days=fr.days)
    for day, label in _date_ticks(fr.d0, d1):
        x = _f1(fr.x(day))
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{_f1(fr.bottom)}" y2="{_f1(fr.bottom + 4)}" '
            f'stroke="#666666" class="tick"/>'
        )
        parts.append(_text(fr.x(day), fr.bottom + 16, label, anchor="middle"))
    parts.append(
        f'<line x1="{_f1(fr.left)}" x2="{_f1(fr.right)}" y1="{_f1(fr.bottom)}" '
        f'y2="{_f1(fr.bottom)}" stroke="#666666" class="axis"/>'
    )
    if y_label:
        mid = (fr.top + fr.bottom) / 2
        parts.append(
            f'<text transform="translate(12 {_f1(mid)}) rotate(-90)" text-anchor="middle" '
            f'{FONT} font-size="11" fill="#333333" class="y-label">{_esc(y_label)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _segments(points: list[tuple[date, object]]) -> list[list[tuple[date, object]]]:
    """Split a series at missing values (None) so gaps are drawn as gaps, not interpolated."""
    runs: list[list[tuple[date, object]]] = [[]]
    for day, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((day, value))
    return [run for run in runs if run]


def _interval_svg(rows: list, fr: _Frame, css: str, colour: str) -> str:
    """Translucent band between lo and hi, one closed path per unbroken run."""
    paired = [(d, None if lo is None or hi is None else (lo, hi)) for d, lo, hi in rows]
    parts = []
    for run in _segments(paired):
        upper = [f"{_f1(fr.x(d))},{_f1(fr.y(b[1]))}" for d, b in run]
        lower = [f"{_f1(fr.x(d))},{_f1(fr.y(b[0]))}" for d, b in reversed(run)]
        parts.append(
            f'<path class="interval {css}" d="M{" L".join(upper + lower)} Z" fill="{colour}" '
            f'fill-opacity="0.18" stroke="none"/>'
        )
    return "".join(parts)


def _markers_svg(name: str, points: list, fr: _Frame, css: str, colour: str, percent: bool) -> str:
    """Hoverable point markers carrying the exact values for readers and end-to-end tests."""
    parts = []
    for day, value in points:
        if value is None:
            continue
        tip = f"{name} · {day.isoformat()} · {_fmt_value(value, percent)}"
        parts.append(
            f'<circle class="point {css}" cx="{_f1(fr.x(day))}" cy="{_f1(fr.y(value))}" r="2.5" '
            f'fill="{colour}" data-series="{_esc(name)}" data-date="{day.isoformat()}" '
            f'data-value="{_raw(value)}"><title>{_esc(tip)}</title></circle>'
        )
    return "".join(parts)


def _rings_svg(name: str, points: list, marked: frozenset, fr: _Frame, css: str) -> str:
    """A dark ring around each marked point (drawn however many points there are): the
    scenario history marks the dates a rung was observed under way, seen rather than
    foreseen, so a reader does not take a 99.9 % there for a forecast."""
    return "".join(
        f'<circle class="marked {css}" cx="{_f1(fr.x(day))}" cy="{_f1(fr.y(value))}" r="5.5" '
        f'fill="none" stroke="#1b1f24" stroke-width="1.5" data-series="{_esc(name)}" '
        f'data-date="{day.isoformat()}"/>'
        for day, value in points
        if day in marked and value is not None
    )


def _series_svg(s: dict, fr: _Frame, percent: bool) -> str:
    """One series: interval band behind, line segments, then markers if not too many."""
    name, css, colour = s["name"], _esc(s["css"]), s["colour"]
    parts = [f'<g class="series {css}" data-series="{_esc(name)}">']
    parts.append(_interval_svg(s["interval"], fr, css, colour))
    for run in _segments(s["points"]):
        d = " L".join(f"{_f1(fr.x(day))},{_f1(fr.y(v))}" for day, v in run)
        parts.append(
            f'<path class="line {css}" d="M{d}" fill="none" stroke="{colour}" '
            f'stroke-width="1.8" stroke-linejoin="round" data-series="{_esc(name)}"/>'
        )
    if len(s["points"]) <= POINT_LIMIT:
        parts.append(_markers_svg(name, s["points"], fr, css, colour, percent))
    parts.append(_rings_svg(name, s["points"], s["marked"], fr, css))
    parts.append("</g>")
    return "".join(parts)


def _prepare_series(series: list[dict]) -> list[dict]:
    """Normalise the caller's series dicts: names as text, classes and colours resolved."""
    prepared = []
    for i, s in enumerate(series):
        css = s.get("class")
        prepared.append(
            {
                "name": str(s.get("name", "")),
                "css": str(css) if css else f"s{i}",
                "colour": _series_colour(i, css),
                "points": _clean_points(s),
                "interval": _clean_interval(s),
                "marked": frozenset(s.get("marked") or ()),
            }
        )
    return prepared


def _x_range(dates: list[date]) -> tuple[date, date]:
    """Date range of the data; a single day is widened so it lands mid-chart."""
    d0, d1 = min(dates), max(dates)
    if d0 == d1:
        d0, d1 = d0 - timedelta(days=15), d1 + timedelta(days=15)
    return d0, d1


def line_chart(
    series: list[dict],
    *,
    width: int = 720,
    height: int = 260,
    y_min: float | None = None,
    y_max: float | None = None,
    y_label: str = "",
    percent: bool = False,
    bands: list[dict] | None = None,
    title: str = "",
) -> str:
    """Time-series line chart with optional uncertainty intervals and shaded state bands.

    A series is a dict: ``name``, ``points`` [(date, value)], optional ``interval``
    [(date, lo, hi)], ``class`` and ``marked`` (dates whose points get a ring). Points carry
    `data-*` attributes with raw values so the page can be checked against the
    API without parsing pixel positions.
    """
    prepared = _prepare_series(series or [])
    dates, values = _data_extent(prepared)
    if not values:
        return _no_data(width, title)
    lo = y_min if y_min is not None else min(values)
    hi = y_max if y_max is not None else max(values)
    y0, y1, ticks = _nice_axis(lo, hi, y_min is not None, y_max is not None)
    d0, d1 = _x_range(dates)
    items = [(s["name"], s["colour"], s["css"]) for s in prepared]
    legend, legend_h = _legend(items, 56, 24 if title else 6, width - 8)
    top = (24 if title else 6) + legend_h + 8
    fr = _Frame((56, top, width - 16, height - 28), d0, d1, y0, y1)
    clip_id = f"plot-{zlib.crc32((title + repr(d0) + repr(items)).encode()):08x}"
    return "".join(
        [
            _svg_open(width, height, title, "chart"),
            _visible_title(title, 8, 16),
            legend,
            _bands_svg(bands or [], fr),
            _axes_svg(fr, ticks, percent, y_label),
            f'<clipPath id="{clip_id}"><rect x="{_f1(fr.left)}" y="{_f1(fr.top - 4)}" '
            f'width="{_f1(fr.right - fr.left)}" height="{_f1(fr.bottom - fr.top + 8)}"/>'
            f'</clipPath><g clip-path="url(#{clip_id})">',
            *(_series_svg(s, fr, percent) for s in prepared),
            "</g></svg>",
        ]
    )


# ---------------------------------------------------------------------------------------------
# Bar chart


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
