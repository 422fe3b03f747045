"""SVG charts, the one drawing code of every HTML page Vigil writes.

The dashboard (:mod:`vigil.web.svg`), the indicator timelines and the scenario histories
(:mod:`vigil.indicators.plot`, :mod:`vigil.scenarios.plot`) draw with these functions, so a
figure looks the same wherever it is read and every page works offline with no script.
PNGs for print (the PDF briefing) are matplotlib's.

Each figure is a self-contained SVG string. Colours are set as presentation attributes (not
only CSS classes) so a figure still reads correctly when the stylesheet is missing, e.g.
when an analyst saves a single page. Every piece of text that reaches the markup (series
names, event titles, ids) comes from ingested data and is therefore untrusted: it always
goes through :func:`esc`. Numbers are formatted explicitly so output is deterministic and
tests can compare it to the API. This module imports no other part of Vigil except
:mod:`vigil.display`.
"""

from __future__ import annotations

import math
import re
import zlib
from datetime import date, timedelta
from html import escape

from vigil.display import neutralise

__all__ = ["PALETTE", "data_table", "line_chart", "page", "safe_class"]

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

# Z-score state zones are shaded lightly behind the lines; unknown classes fall back to grey.
BAND_COLOURS = {"normal": "#009E73", "elevated": "#E69F00", "high": "#D55E00"}
BAND_DEFAULT = "#999999"

POINT_LIMIT = 400  # above this many points a series is drawn as a path only, no markers
FONT = 'font-family="sans-serif"'
CHAR_W = 6.5  # rough width of one 11 px sans-serif character, for layout estimates

_CLASS_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_SERIES_CLASS = re.compile(r"^s(\d+)$")


# ---------------------------------------------------------------------------------------------
# Small shared helpers


def esc(value: object) -> str:
    """Escape untrusted text for both element content and quoted attributes, its control
    and bidi characters made visible first (a right-to-left override in a headline would
    reorder the tooltip: :func:`vigil.display.neutralise`)."""
    return escape(neutralise(value), quote=True)


def f1(value: float) -> str:
    """Coordinates with one decimal: sub-pixel precision is wasted bytes."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _raw(value: float) -> str:
    """A machine-readable value (up to 6 decimals) for `data-value`, read back by tests."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def finite(value: object) -> float | None:
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


def svg_open(width: float, height: float, title: str, css: str) -> str:
    """Root element with an accessible name; width/height keep it sized without CSS."""
    w, h = f1(width), f1(height)
    return (
        f'<svg xmlns="{SVG_NS}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="{esc(title)}" class="{css}">'
        f"<title>{esc(title)}</title>"
    )


def text(x: float, y: float, content: str, *, anchor: str = "start", css: str = "") -> str:
    """One line of label text; content is escaped here so callers cannot forget."""
    cls = f' class="{css}"' if css else ""
    return (
        f'<text x="{f1(x)}" y="{f1(y)}" text-anchor="{anchor}" {FONT} font-size="11" '
        f'fill="#333333"{cls}>{esc(content)}</text>'
    )


def no_data(width: int, title: str, css: str = "chart") -> str:
    """A small placeholder so an empty panel says why it is empty instead of collapsing."""
    height = 60
    return (
        svg_open(width, height, title, f"{css} empty")
        + text(width / 2, height / 2 + 4, "no data", anchor="middle", css="no-data")
        + "</svg>"
    )


def visible_title(title: str, x: float, y: float) -> str:
    """Title text drawn on the figure (the <title> element is for screen readers only)."""
    if not title:
        return ""
    return (
        f'<text x="{f1(x)}" y="{f1(y)}" {FONT} font-size="13" font-weight="bold" '
        f'fill="#222222" class="chart-title">{esc(title)}</text>'
    )


def legend(
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
            f'<rect x="{f1(x)}" y="{f1(y)}" width="12" height="10" fill="{colour}" '
            f'class="swatch {esc(css)}"/>'
        )
        parts.append(text(x + 16, y + 9, label))
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
    pts = [(d, finite(v)) for d, v in series.get("points") or []]
    return sorted(pts, key=lambda p: p[0])


def _clean_interval(series: dict) -> list[tuple[date, float | None, float | None]]:
    """Date-sorted uncertainty interval with non-finite bounds turned into gaps."""
    rows = [(d, finite(lo), finite(hi)) for d, lo, hi in series.get("interval") or []]
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
    """Maps (date, value) to plot coordinates; keeps the scale maths in one place. On a log
    scale values at or below the bottom of the axis are drawn on it."""

    def __init__(
        self,
        box: tuple[float, float, float, float],
        d0: date,
        d1: date,
        y0: float,
        y1: float,
        log: bool = False,
    ):
        self.left, self.top, self.right, self.bottom = box
        self.d0, self.days = d0, max((d1 - d0).days, 1)
        self.y0, self.y1, self.log = y0, y1, log

    def x(self, day: date) -> float:
        return self.left + (day - self.d0).days / self.days * (self.right - self.left)

    def y(self, value: float) -> float:
        if self.log:
            lo, hi = math.log10(self.y0), math.log10(self.y1)
            frac = (math.log10(max(value, self.y0)) - lo) / (hi - lo)
        else:
            frac = (value - self.y0) / (self.y1 - self.y0)
        return self.bottom - frac * (self.bottom - self.top)


def _bands_svg(bands: list[dict], fr: _Frame) -> str:
    """Horizontal state zones (normal/elevated/high), clipped to the y range."""
    parts = ['<g class="bands">']
    for band in bands:
        lo, hi = finite(band.get("from")), finite(band.get("to"))
        lo = fr.y0 if lo is None else max(lo, fr.y0)
        hi = fr.y1 if hi is None else min(hi, fr.y1)
        if hi <= lo:  # outside the visible range, or given upside down
            continue
        css = str(band.get("class") or "")
        colour = BAND_COLOURS.get(css, BAND_DEFAULT)
        top, bottom = fr.y(hi), fr.y(lo)
        parts.append(
            f'<rect class="band {esc(css)}" x="{f1(fr.left)}" y="{f1(top)}" '
            f'width="{f1(fr.right - fr.left)}" height="{f1(bottom - top)}" '
            f'fill="{colour}" fill-opacity="0.10"/>'
        )
        if band.get("label"):
            parts.append(
                text(fr.right - 4, top + 12, band["label"], anchor="end", css="band-label")
            )
    parts.append("</g>")
    return "".join(parts)


def _axes_svg(fr: _Frame, ticks: list[float], percent: bool, y_label: str) -> str:
    """Grid lines, y tick labels, x date ticks and the optional y-axis caption."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    parts = ['<g class="axes">']
    for value in ticks:
        y = f1(fr.y(value))
        parts.append(
            f'<line x1="{f1(fr.left)}" x2="{f1(fr.right)}" y1="{y}" y2="{y}" '
            f'stroke="#dddddd" stroke-width="1" class="grid"/>'
        )
        parts.append(
            text(
                fr.left - 6,
                fr.y(value) + 4,
                _y_label(value, value if fr.log else step, percent),
                anchor="end",
            )
        )
    d1 = fr.d0 + timedelta(days=fr.days)
    for day, label in _date_ticks(fr.d0, d1):
        x = f1(fr.x(day))
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{f1(fr.bottom)}" y2="{f1(fr.bottom + 4)}" '
            f'stroke="#666666" class="tick"/>'
        )
        parts.append(text(fr.x(day), fr.bottom + 16, label, anchor="middle"))
    parts.append(
        f'<line x1="{f1(fr.left)}" x2="{f1(fr.right)}" y1="{f1(fr.bottom)}" '
        f'y2="{f1(fr.bottom)}" stroke="#666666" class="axis"/>'
    )
    if y_label:
        mid = (fr.top + fr.bottom) / 2
        parts.append(
            f'<text transform="translate(12 {f1(mid)}) rotate(-90)" text-anchor="middle" '
            f'{FONT} font-size="11" fill="#333333" class="y-label">{esc(y_label)}</text>'
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
        upper = [f"{f1(fr.x(d))},{f1(fr.y(b[1]))}" for d, b in run]
        lower = [f"{f1(fr.x(d))},{f1(fr.y(b[0]))}" for d, b in reversed(run)]
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
            f'<circle class="point {css}" cx="{f1(fr.x(day))}" cy="{f1(fr.y(value))}" r="2.5" '
            f'fill="{colour}" data-series="{esc(name)}" data-date="{day.isoformat()}" '
            f'data-value="{_raw(value)}"><title>{esc(tip)}</title></circle>'
        )
    return "".join(parts)


def _rings_svg(name: str, points: list, marked: frozenset, fr: _Frame, css: str) -> str:
    """A dark ring around each marked point (drawn however many points there are): the
    scenario history marks the dates a rung was observed under way, seen rather than
    foreseen, so a reader does not take a 99.9 % there for a forecast."""
    return "".join(
        f'<circle class="marked {css}" cx="{f1(fr.x(day))}" cy="{f1(fr.y(value))}" r="5.5" '
        f'fill="none" stroke="#1b1f24" stroke-width="1.5" data-series="{esc(name)}" '
        f'data-date="{day.isoformat()}"/>'
        for day, value in points
        if day in marked and value is not None
    )


def _series_svg(s: dict, fr: _Frame, percent: bool) -> str:
    """One series: interval band behind, line segments, then markers if not too many."""
    name, css, colour = s["name"], esc(s["css"]), s["colour"]
    parts = [f'<g class="series {css}" data-series="{esc(name)}">']
    parts.append(_interval_svg(s["interval"], fr, css, colour))
    for run in _segments(s["points"]):
        d = " L".join(f"{f1(fr.x(day))},{f1(fr.y(v))}" for day, v in run)
        parts.append(
            f'<path class="line {css}" d="M{d}" fill="none" stroke="{colour}" '
            f'stroke-width="1.8" stroke-linejoin="round" data-series="{esc(name)}"/>'
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


def _log_axis(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """Whole decades around the positive range [lo, hi]."""
    a = math.floor(math.log10(lo) + 1e-9)
    b = max(math.ceil(math.log10(hi) - 1e-9), a + 1)
    return 10.0**a, 10.0**b, [10.0**k for k in range(a, b + 1)]


def _spans_svg(spans: list[dict], fr: _Frame) -> str:
    """Vertical shading of date ranges (e.g. the runs of an indicator's state), each with
    its range in a tooltip; ``to`` is exclusive."""
    parts = ['<g class="spans">']
    for span in spans:
        first, stop = span.get("from"), span.get("to")
        if not isinstance(first, date) or not isinstance(stop, date):
            continue
        x0 = min(max(fr.x(first), fr.left), fr.right)
        x1 = min(max(fr.x(stop), fr.left), fr.right)
        if x1 <= x0:
            continue
        css = str(span.get("class") or "")
        colour = BAND_COLOURS.get(css, BAND_DEFAULT)
        tip = f"{span.get('label') or css}: {first.isoformat()} to {stop.isoformat()}"
        parts.append(
            f'<rect class="span {esc(css)}" x="{f1(x0)}" y="{f1(fr.top)}" '
            f'width="{f1(x1 - x0)}" height="{f1(fr.bottom - fr.top)}" fill="{colour}" '
            f'fill-opacity="0.14" data-from="{first.isoformat()}" '
            f'data-to="{stop.isoformat()}"><title>{esc(tip)}</title></rect>'
        )
    parts.append("</g>")
    return "".join(parts)


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
    spans: list[dict] | None = None,
    log: bool = False,
) -> str:
    """Time-series line chart with optional uncertainty intervals and shaded state bands.

    A series is a dict: ``name``, ``points`` [(date, value)], optional ``interval``
    [(date, lo, hi)], ``class`` and ``marked`` (dates whose points get a ring). Points carry
    `data-*` attributes with raw values so the page can be checked against the
    API without parsing pixel positions. ``bands`` shade value ranges (``from``, ``to``,
    ``class``, ``label``), ``spans`` date ranges (the same keys, dates); ``log`` draws the
    values on a log scale of whole decades (values at or below zero on its floor).
    """
    prepared = _prepare_series(series or [])
    dates, values = _data_extent(prepared)
    if log:
        values = [v for v in values if v > 0]
    if not values:
        return no_data(width, title)
    lo = y_min if y_min is not None else min(values)
    hi = y_max if y_max is not None else max(values)
    if log:
        y0, y1, ticks = _log_axis(lo if lo > 0 else min(values), max(hi, lo * 10))
    else:
        y0, y1, ticks = _nice_axis(lo, hi, y_min is not None, y_max is not None)
    d0, d1 = _x_range(dates)
    items = [(s["name"], s["colour"], s["css"]) for s in prepared]
    key, legend_h = legend(items, 56, 24 if title else 6, width - 8)
    top = (24 if title else 6) + legend_h + 8
    fr = _Frame((56, top, width - 16, height - 28), d0, d1, y0, y1, log)
    clip_id = f"plot-{zlib.crc32((title + repr(d0) + repr(items)).encode()):08x}"
    return "".join(
        [
            svg_open(width, height, title, "chart"),
            visible_title(title, 8, 16),
            key,
            _spans_svg(spans or [], fr),
            _bands_svg(bands or [], fr),
            _axes_svg(fr, ticks, percent, y_label),
            f'<clipPath id="{clip_id}"><rect x="{f1(fr.left)}" y="{f1(fr.top - 4)}" '
            f'width="{f1(fr.right - fr.left)}" height="{f1(fr.bottom - fr.top + 8)}"/>'
            f'</clipPath><g clip-path="url(#{clip_id})">',
            *(_series_svg(s, fr, percent) for s in prepared),
            "</g></svg>",
        ]
    )


# ---------------------------------------------------------------------------------------------
# Pages: figures with their numbers, no script


def data_table(
    series: list[dict],
    *,
    percent: bool = False,
    caption: str = "the numbers",
    notes: dict[str, dict[date, str]] | None = None,
) -> str:
    """The series of a chart as a table (one row per date, one column per series, the
    interval beside the value, ``observed`` on marked dates; ``notes``: further text columns
    by date), folded under ``caption``: the figure's numbers for a reader who needs them
    exactly, or reads with a screen reader."""
    prepared = _prepare_series(series or [])
    notes = notes or {}
    rows: dict[date, dict[int, str]] = {day: {} for col in notes.values() for day in col}
    for k, s in enumerate(prepared):
        bounds = {d: (lo, hi) for d, lo, hi in s["interval"]}
        for day, value in s["points"]:
            if value is None:
                continue
            cell = _fmt_value(value, percent)
            lo, hi = bounds.get(day, (None, None))
            if lo is not None and hi is not None:
                cell += f" ({_fmt_value(lo, percent)}–{_fmt_value(hi, percent)})"
            if day in s["marked"]:
                cell += " observed"
            rows.setdefault(day, {})[k] = cell
    names = [s["name"] for s in prepared] + list(notes)
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    body = "".join(
        f"<tr><td>{day.isoformat()}</td>"
        + "".join(f"<td>{esc(cells.get(k, '–'))}</td>" for k in range(len(prepared)))
        + "".join(f"<td>{esc(col.get(day, '–'))}</td>" for col in notes.values())
        + "</tr>"
        for day, cells in sorted(rows.items())
    )
    return (
        f"<details><summary>{esc(caption)}</summary><table><thead><tr><th>date</th>{head}"
        f"</tr></thead><tbody>{body}</tbody></table></details>"
    )


PAGE_CSS = (
    "body{font-family:sans-serif;max-width:1240px;margin:1.5rem auto;padding:0 1rem;"
    "color:#222}h1{font-size:1.4rem}h2{font-size:1.05rem;margin:1.6rem 0 .3rem}"
    "svg{max-width:100%;height:auto;display:block}p.note{color:#555;font-size:.9rem}"
    "table{border-collapse:collapse;font-size:.8rem;margin:.4rem 0}"
    "td,th{border:1px solid #ddd;padding:.15rem .4rem;text-align:right}"
    "th{background:#f3f3f3}summary{cursor:pointer;color:#555;font-size:.85rem}"
    "section{margin-top:1.4rem}"
)


def page(title: str, sections: list[tuple[str, str]], *, note: str = "") -> str:
    """A self-contained HTML page: ``sections`` of (heading, markup), the markup made here
    (:func:`line_chart`, :func:`data_table`). No script and nothing fetched: the page's
    Content-Security-Policy allows only its inline styles."""
    body = "".join(
        (f"<section><h2>{esc(heading)}</h2>" if heading else "<section>") + markup + "</section>"
        for heading, markup in sections
    )
    intro = f'<p class="note">{esc(note)}</p>' if note else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{PAGE_CSS}</style></head>"
        f"<body><h1>{esc(title)}</h1>{intro}{body}</body></html>\n"
    )
