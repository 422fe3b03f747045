"""SVG rendering for the offline dashboard: well-formed, escaped, and faithful to the numbers.

Output is parsed with ElementTree, so any unescaped markup in untrusted text shows up as a
parse error or as an unexpected element/attribute rather than passing silently.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from shapely.geometry import Point, box

from vigil.web.svg import line_chart, map_svg, project

NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert(1)</script>" onload="x'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def elements(root: ET.Element, tag: str, css: str | None = None) -> list[ET.Element]:
    found = list(root.iter(f"{NS}{tag}"))
    if css is not None:
        found = [e for e in found if css in (e.get("class") or "").split()]
    return found


def assert_inert(svg: str) -> None:
    """No script element, no event-handler attribute, nothing loaded from outside."""
    root = parse(svg)
    for el in root.iter():
        assert not el.tag.lower().endswith("script")
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "javascript:" not in value.lower()
            assert not name.endswith("href") or value.startswith("#")
    assert "<script" not in svg.lower()
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in svg


def all_text(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{NS}text")]


def monthly(n: int, start: date = date(2023, 1, 1), values=None) -> list[tuple[date, float]]:
    values = values or [0.1 * (i % 5) for i in range(n)]
    return [(start + timedelta(days=31 * i), values[i]) for i in range(n)]


# --- line chart ------------------------------------------------------------------------------


def test_line_chart_root_is_accessible_and_sized() -> None:
    svg = line_chart([{"name": "a", "points": monthly(6)}], title="Risk <now>", width=600)
    root = parse(svg)
    assert root.get("viewBox") == "0 0 600.0 260.0"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Risk <now>"
    assert root.get("class") == "chart"
    assert root.find(f"{NS}title").text == "Risk <now>"
    assert "Risk &lt;now&gt;" in svg


def test_line_chart_escapes_untrusted_names_everywhere() -> None:
    series = [{"name": EVIL, "class": EVIL, "points": monthly(3)}]
    svg = line_chart(series, title=EVIL, y_label=EVIL, bands=[{"from": 0, "to": 1, "label": EVIL}])
    assert_inert(svg)
    assert '" onload="' not in svg
    root = parse(svg)
    # the text survives intact for the reader, only escaped in the markup
    assert {c.get("data-series") for c in elements(root, "circle")} == {EVIL}
    assert EVIL in all_text(root)
    assert root.get("aria-label") == EVIL


def test_point_data_attributes_match_inputs() -> None:
    values = [0.0, 0.25, 1.5, -3.125, 123.456789, 0.1234564]
    pts = monthly(len(values), values=values)
    root = parse(line_chart([{"name": "z", "points": pts}]))
    circles = elements(root, "circle", "point")
    assert [c.get("data-date") for c in circles] == [d.isoformat() for d, _ in pts]
    assert [float(c.get("data-value")) for c in circles] == [round(v, 6) for v in values]
    assert circles[1].get("data-value") == "0.25"
    assert circles[0].get("data-value") == "0"
    assert all(c.get("data-series") == "z" for c in circles)


def test_point_tooltips_format_values() -> None:
    pts = [(date(2024, 3, 1), 0.25), (date(2024, 4, 1), 0.5)]
    pct = parse(line_chart([{"name": "p", "points": pts}], percent=True))
    titles = [c.find(f"{NS}title").text for c in elements(pct, "circle")]
    assert titles == ["p · 2024-03-01 · 25.0 %", "p · 2024-04-01 · 50.0 %"]
    plain = parse(line_chart([{"name": "p", "points": pts}]))
    assert elements(plain, "circle")[0].find(f"{NS}title").text == "p · 2024-03-01 · 0.25"


def test_none_breaks_the_line_into_segments() -> None:
    pts = monthly(6)
    gappy = [*pts[:3], (pts[3][0], None), *pts[4:]]
    nan = [*pts[:2], (pts[2][0], float("nan")), *pts[3:]]
    for points, expected in ((pts, 1), (gappy, 2), (nan, 2)):
        root = parse(line_chart([{"name": "a", "points": points}]))
        assert len(elements(root, "path", "line")) == expected
        finite = sum(1 for _, v in points if v == v and v is not None)
        assert len(elements(root, "circle", "point")) == finite


def test_line_segments_follow_date_order_and_axis_direction() -> None:
    pts = [(date(2024, 1, 1), 0.0), (date(2024, 7, 1), 1.0)]
    root = parse(line_chart([{"name": "a", "points": list(reversed(pts))}]))
    c0, c1 = elements(root, "circle")
    assert c0.get("data-date") == "2024-01-01"
    assert float(c1.get("cx")) > float(c0.get("cx"))  # later is right
    assert float(c1.get("cy")) < float(c0.get("cy"))  # larger is up


def test_large_series_skip_markers_but_keep_the_line() -> None:
    pts = [(date(2000, 1, 1) + timedelta(days=i), float(i % 17)) for i in range(401)]
    root = parse(line_chart([{"name": "daily", "points": pts}]))
    assert elements(root, "circle") == []
    assert len(elements(root, "path", "line")) == 1
    few = parse(line_chart([{"name": "daily", "points": pts[:400]}]))
    assert len(elements(few, "circle")) == 400


def test_marked_points_get_a_ring_on_their_own_point_whatever_the_series_size() -> None:
    pts = [(date(2000, 1, 1) + timedelta(days=i), float(i % 17)) for i in range(401)]
    marked = [pts[3][0], pts[200][0], date(1999, 1, 1)]  # a date with no point draws nothing
    root = parse(line_chart([{"name": "daily", "points": pts, "marked": marked}]))
    rings = elements(root, "circle", "marked")
    assert [r.get("data-date") for r in rings] == ["2000-01-04", "2000-07-19"]
    few = parse(line_chart([{"name": "s", "points": pts[:10], "marked": [pts[3][0]]}]))
    (ring,) = elements(few, "circle", "marked")
    (point,) = [c for c in elements(few, "circle", "point") if c.get("data-date") == "2000-01-04"]
    assert (ring.get("cx"), ring.get("cy")) == (point.get("cx"), point.get("cy"))
    assert ring.get("fill") == "none"


def test_series_get_palette_strokes_and_classes() -> None:
    series = [
        {"name": "a", "points": monthly(4)},
        {"name": "b", "points": monthly(4)},
        {"name": "c", "class": "s0", "points": monthly(4)},
    ]
    root = parse(line_chart(series))
    lines = elements(root, "path", "line")
    strokes = [p.get("stroke") for p in lines]
    assert all(re.fullmatch(r"#[0-9A-F]{6}", s) for s in strokes)
    assert strokes[0] != strokes[1]
    assert strokes[2] == strokes[0]  # an explicit s0 keeps s0's colour
    assert [p.get("class").split()[1] for p in lines] == ["s0", "s1", "s0"]
    legend = [t for t in all_text(root) if t in {"a", "b", "c"}]
    assert legend == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("values", "y_min", "y_max"),
    [
        ([0.13, 0.87], None, None),
        ([0.0, 1.0], 0.0, 1.0),
        ([3.0, 3.0], None, None),
        ([-2.5, 17.0], None, None),
        ([0.001, 0.0042], None, None),
        ([120.0, 9800.0], 0.0, None),
    ],
)
def test_y_axis_has_four_to_six_ticks_covering_the_data(values, y_min, y_max) -> None:
    pts = monthly(len(values), values=values)
    root = parse(line_chart([{"name": "a", "points": pts}], y_min=y_min, y_max=y_max))
    grid = elements(root, "line", "grid")
    assert 4 <= len(grid) <= 6
    ys = [float(g.get("y1")) for g in grid]
    cys = [float(c.get("cy")) for c in elements(root, "circle")]
    assert min(ys) - 0.1 <= min(cys) and max(cys) <= max(ys) + 0.1


def test_percent_axis_labels() -> None:
    pts = monthly(3, values=[0.1, 0.5, 0.9])
    root = parse(line_chart([{"name": "a", "points": pts}], percent=True, y_min=0, y_max=1))
    texts = all_text(root)
    for label in ("0 %", "25 %", "50 %", "75 %", "100 %"):
        assert label in texts


def test_x_ticks_use_months_or_years_by_span() -> None:
    short = parse(line_chart([{"name": "a", "points": monthly(20)}]))
    month_labels = [t for t in all_text(short) if re.fullmatch(r"\d{4}-\d{2}", t)]
    assert 3 <= len(month_labels) <= 9
    assert not [t for t in all_text(short) if re.fullmatch(r"\d{4}", t)]
    long_pts = [(date(2010 + i, 6, 1), float(i)) for i in range(12)]
    long = parse(line_chart([{"name": "a", "points": long_pts}]))
    year_labels = [t for t in all_text(long) if re.fullmatch(r"\d{4}", t)]
    assert year_labels == ["2012", "2014", "2016", "2018", "2020"]  # 11 years: every 2nd
    assert not [t for t in all_text(long) if re.fullmatch(r"\d{4}-\d{2}", t)]


def test_intervals_and_bands_are_drawn() -> None:
    pts = monthly(5)
    interval = [(d, v - 0.1, v + 0.1) for d, v in pts]
    interval[2] = (interval[2][0], None, 0.3)
    bands = [
        {"from": -10, "to": 1, "class": "normal", "label": "normal"},
        {"from": 1, "to": 2, "class": "elevated", "label": "elevated"},
        {"from": 50, "to": 60, "class": "high", "label": "off-scale"},
    ]
    series = [{"name": "a", "points": pts, "interval": interval}]
    root = parse(line_chart(series, bands=bands, y_min=-1, y_max=1.5))
    assert len(elements(root, "path", "interval")) == 2  # the missing bound splits it
    drawn = elements(root, "rect", "band")
    assert [r.get("class") for r in drawn] == ["band normal", "band elevated"]
    assert "off-scale" not in all_text(root)
    normal, elevated = drawn
    assert float(elevated.get("y")) < float(normal.get("y"))


@pytest.mark.parametrize(
    "series",
    [
        [],
        [{"name": "a", "points": []}],
        [{"name": "a", "points": [(date(2024, 1, 1), None), (date(2024, 2, 1), None)]}],
    ],
)
def test_line_chart_without_data_says_so(series) -> None:
    root = parse(line_chart(series, title="t"))
    assert "no data" in all_text(root)
    assert elements(root, "path") == []


# --- map -------------------------------------------------------------------------------------


BBOX = (20.0, 35.0, 30.0, 45.0)


def test_projection_north_up_east_right() -> None:
    x0, y0 = project(25.0, 40.0, BBOX, 500)
    x_east, _ = project(26.0, 40.0, BBOX, 500)
    _, y_north = project(25.0, 41.0, BBOX, 500)
    assert x_east > x0
    assert y_north < y0
    assert project(20.0, 45.0, BBOX, 500) == pytest.approx((0.0, 0.0))
    x_max, _ = project(30.0, 35.0, BBOX, 500)
    assert x_max == pytest.approx(500.0)


def test_projection_compresses_longitude_by_latitude() -> None:
    # one degree east spans cos(40°) of one degree north at this latitude
    x0, y0 = project(25.0, 40.0, BBOX, 500)
    x1, _ = project(26.0, 40.0, BBOX, 500)
    _, y1 = project(25.0, 39.0, BBOX, 500)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(0.766, abs=0.001)


def event(i: int, lon: float, lat: float, **extra) -> dict:
    base = {
        "lon": lon,
        "lat": lat,
        "source": "acled",
        "category": "battles",
        "date": "2024-05-01",
        "title": f"event {i}",
        "id": f"e{i}",
    }
    return {**base, **extra}


def test_map_omits_and_counts_points_outside_bbox() -> None:
    outlines = {"GR": box(21, 36, 28, 42)}
    points = [event(0, 23, 38), event(1, 24, 39), event(2, 0, 0), event(3, 25, 50)]
    points.append(event(4, None, None))
    root = parse(map_svg(outlines, points, bbox=BBOX))
    circles = elements(root, "circle", "event")
    assert [c.get("data-id") for c in circles] == ["e0", "e1"]
    texts = all_text(root)
    assert "2 events shown · 3 outside the map" in texts
    assert "acled (2)" in texts


def test_map_points_land_where_projected() -> None:
    root = parse(map_svg({}, [event(0, 23, 38)], bbox=BBOX, width=500))
    (circle,) = elements(root, "circle", "event")
    x, y = project(23, 38, BBOX, 500)
    assert float(circle.get("cx")) == pytest.approx(x, abs=0.05)
    assert float(circle.get("cy")) == pytest.approx(y, abs=0.05)


def test_map_escapes_and_sanitises_event_fields() -> None:
    p = event(0, 23, 38, source="ACLED <x>", category=EVIL, title=EVIL, id=EVIL, date=EVIL)
    svg = map_svg({EVIL: box(21, 36, 28, 42)}, [p], bbox=BBOX, title=EVIL)
    assert_inert(svg)
    assert '" onload="' not in svg
    root = parse(svg)
    (circle,) = elements(root, "circle", "event")
    assert circle.get("data-id") == EVIL
    assert circle.get("data-category") == EVIL
    assert circle.get("data-source") == "ACLED <x>"
    assert EVIL in circle.find(f"{NS}title").text
    for css in circle.get("class").split():
        assert re.fullmatch(r"[a-z0-9_-]+", css), css
    assert "src-acled-x" in circle.get("class").split()
    (country,) = elements(root, "path", "country")
    assert country.get("data-country") == EVIL


def test_map_colours_by_source_with_attributes() -> None:
    points = [event(0, 23, 38), event(1, 24, 39, source="gdelt"), event(2, 25, 40)]
    root = parse(map_svg({}, points, bbox=BBOX))
    fills = [c.get("fill") for c in elements(root, "circle", "event")]
    assert fills[0] == fills[2] != fills[1]
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", f) for f in fills)


def test_map_simplifies_detailed_outlines() -> None:
    circle = Point(25, 40).buffer(4, quad_segs=2500)  # 10,000 vertices
    assert len(circle.exterior.coords) > 10_000
    svg = map_svg({"XX": circle}, [], bbox=BBOX)
    assert len(svg.encode()) < 30_000
    root = parse(svg)
    (path,) = elements(root, "path", "country")
    coords = re.findall(r"-?\d+\.\d", path.get("d"))
    assert len(coords) > 20  # still a recognisable circle, not a triangle
    assert all(re.fullmatch(r"-?\d+\.\d", c) for c in re.findall(r"-?[\d.]+", path.get("d")))


def test_map_labels_countries_and_clips_to_bbox() -> None:
    outlines = {"GR": box(21, 36, 28, 42), "FAR": box(100, 10, 101, 11)}
    root = parse(map_svg(outlines, [], bbox=BBOX))
    texts = all_text(root)
    assert "GR" in texts
    assert "FAR" not in texts
    clips = list(root.iter(f"{NS}clipPath"))
    assert len(clips) == 1
    clip_id = clips[0].get("id")
    users = [e for e in root.iter() if e.get("clip-path") == f"url(#{clip_id})"]
    assert users and users[0].find(f".//{NS}path") is not None


def test_map_default_bbox_pads_outline_bounds() -> None:
    outlines = {"A": box(10, 40, 20, 50), "B": box(20, 45, 30, 48)}
    root = parse(map_svg(outlines, [event(0, 29.9, 49.9), event(1, 31, 45)]))
    assert [c.get("data-id") for c in elements(root, "circle", "event")] == ["e0"]
    assert {p.get("data-country") for p in elements(root, "path", "country")} == {"A", "B"}
    width = float(root.get("width"))
    assert width == 760.0


def test_map_without_anything_says_no_data() -> None:
    root = parse(map_svg({}, []))
    assert "no data" in all_text(root)


# --- bar chart -------------------------------------------------------------------------------


# --- the chart pages (vigil.charts: the same drawing as the dashboard's) --------------------


def test_log_scale_spans_decades_and_keeps_every_value() -> None:
    from vigil.charts import line_chart as drawn

    pts = [(date(2023, 1, 1), 0.002), (date(2023, 2, 1), 0.03), (date(2023, 3, 1), 0.9)]
    svg = drawn([{"name": "p", "points": pts}], percent=True, log=True)
    root = parse(svg)
    labels = set(all_text(root))
    assert {"0.1 %", "1 %", "10 %", "100 %"} <= labels  # whole decades, percent labels
    ys = {c.get("data-value"): float(c.get("cy")) for c in elements(root, "circle", "point")}
    assert set(ys) == {"0.002", "0.03", "0.9"}
    assert ys["0.002"] > ys["0.03"] > ys["0.9"]  # higher value, higher on the page
    assert line_chart is drawn  # the dashboard draws with the same code as the chart pages


def test_spans_shade_dates_with_their_range_escaped() -> None:
    from vigil.charts import line_chart as drawn

    spans = [{"from": date(2023, 2, 1), "to": date(2023, 3, 1), "class": "high", "label": EVIL}]
    svg = drawn([{"name": "x", "points": monthly(6)}], spans=spans)
    assert_inert(svg)
    (rect,) = elements(parse(svg), "rect", "span")
    assert rect.get("data-from") == "2023-02-01" and rect.get("data-to") == "2023-03-01"
    assert float(rect.get("width")) > 0 and EVIL in "".join(rect.itertext())


def test_chart_page_is_self_contained_and_carries_the_numbers() -> None:
    from vigil.charts import data_table, page

    series = [
        {"name": EVIL, "points": monthly(3), "interval": [(date(2023, 1, 1), 0.0, 0.2)],
         "marked": [date(2023, 2, 1)]},
    ]  # fmt: skip
    table = data_table(series, percent=True, notes={"state": {date(2023, 1, 1): "high"}})
    html = page(f"title {EVIL}", [("", line_chart(series, percent=True) + table)], note=EVIL)
    assert "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "default-src 'none'" in html  # its CSP: nothing loaded, no script
    assert "&lt;script&gt;" in html
    assert "<td>2023-01-01</td><td>0.0 % (0.0 %–20.0 %)</td><td>high</td>" in html
    assert "<td>2023-02-01</td><td>10.0 % observed</td><td>–</td>" in html
