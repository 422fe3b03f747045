"""Border geometry on the real Natural Earth copy: lines, cache, distances, sides."""

from __future__ import annotations

import gzip
import json
import re
import shutil

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, shape

from vigil.errors import InputError
from vigil.geo import (
    TOLERANCE_DEG,
    border_lines,
    borders,
    country_polygons,
    distance_km,
    length_km,
    refresh_border_distances,
)
from vigil.theatre import Border, Theatre, load_theatre

NE = "natural_earth_admin0"
COUNTRIES = f"{NE}/ne_50m_admin_0_countries.geojson.gz"
# WGS84, written out again so the references below do not share the module's constants
A, F = 6378.137, 1 / 298.257223563
B_AX = A * (1 - F)
E2 = F * (2 - F)
# City centres (public coordinates), lon/lat
MINSK, MAZYR, KYIV = (27.5615, 53.9045), (29.2456, 52.0495), (30.5234, 50.4501)
BREST, BREST_FORTRESS = (23.6877, 52.0976), (23.6549, 52.0833)
VILNIUS, BIALYSTOK, DAUGAVPILS = (25.2797, 54.6872), (23.1688, 53.1325), (26.5362, 55.8747)
NOVOZYBKOV, BALTIC = (31.93, 52.54), (20.8, 55.7)  # RUS near the tripoint; at sea


def theatre(*pairs: str, countries: tuple[str, ...] = ("BLR",), boundaries: str = COUNTRIES):
    return Theatre(
        id="t",
        name="Test",
        countries=countries,
        boundaries=boundaries,
        borders=tuple(Border(id=p) for p in pairs),
    )


@pytest.fixture(scope="module")
def belarus():
    return load_theatre("belarus").theatre


@pytest.fixture(scope="module")
def lines(shared_data, belarus, tmp_path_factory):
    return border_lines(shared_data, belarus, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def derived(shared_data):
    path = shared_data / NE / "shared_land_borders_region_50m_derived.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return {f["properties"]["pair"]: f for f in features}


# --- border lines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "km"), [("BLR-UKR", 745), ("BLR-POL", 317), ("BLR-LTU", 429), ("BLR-LVA", 125)]
)
def test_belarus_borders_match_the_derived_copy(lines, derived, pair, km):
    line = lines[pair]
    assert line.geom_type in ("LineString", "MultiLineString")
    ref = derived[pair]
    assert length_km(line) == pytest.approx(ref["properties"]["length_km_approx"], rel=0.05)
    assert length_km(line) == pytest.approx(km, rel=0.05)
    # same place, not just the same length: no point of either is more than ~100 m off
    assert shapely.hausdorff_distance(line, shape(ref["geometry"])) < 0.001


def test_borders_are_in_declaration_order_and_lie_between_the_two(
    shared_data, belarus, lines, tmp_path
):
    assert list(lines) == ["BLR-UKR", "BLR-POL", "BLR-LTU", "BLR-LVA"]
    polygons = country_polygons(shared_data, belarus, tmp_path)
    for pair, line in lines.items():
        a, b = pair.split("-")
        assert shapely.distance(line, polygons[a].boundary) < 1e-9
        assert (
            shapely.hausdorff_distance(
                line, shapely.intersection(line, polygons[b].buffer(TOLERANCE_DEG * 1.01))
            )
            < 1e-9
        )


def test_second_call_reads_the_cache_not_the_countries_file(shared_data, monkeypatch, tmp_path):
    th = theatre("BLR-UKR", "BLR-POL", countries=("BLR", "UKR", "POL"))
    first = border_lines(shared_data, th, tmp_path)
    assert len(list((tmp_path / "geo").glob("*-BLR-UKR.geojson"))) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("the countries file was parsed again")

    monkeypatch.setattr(borders, "read_countries", no_reading)
    again = border_lines(shared_data, th, tmp_path)
    polygons = country_polygons(shared_data, th, tmp_path)
    assert set(polygons) == {"BLR", "UKR", "POL"}
    for pair in first:  # bit-for-bit: the cache round-trips coordinates exactly
        assert shapely.equals_exact(first[pair], again[pair], tolerance=0)
    # a damaged border file is rebuilt from the cached polygons, bit for bit
    damaged = next((tmp_path / "geo").glob("*-BLR-POL.geojson"))
    damaged.write_text("{not json")
    rebuilt = border_lines(shared_data, th, tmp_path)["BLR-POL"]
    assert shapely.equals_exact(rebuilt, first["BLR-POL"], tolerance=0)
    assert json.loads(damaged.read_text())["properties"]["key"] == "BLR-POL"
    # a damaged polygon file sends it back to the countries file (here: refused)
    damaged.write_text("{not json")
    next((tmp_path / "geo").glob("*[0-9a-f]-POL.geojson")).write_text("[]")
    with pytest.raises(AssertionError, match="parsed again"):
        border_lines(shared_data, th, tmp_path)


def test_changed_input_invalidates_the_cache(shared_data, tmp_path):
    data = tmp_path / "data"
    (data / NE).mkdir(parents=True)
    copy = data / COUNTRIES
    shutil.copyfile(shared_data / COUNTRIES, copy)
    th = theatre("BLR-UKR", countries=("BLR", "UKR"))
    before = border_lines(data, th, tmp_path / "cache")["BLR-UKR"]
    # shift every country 0.1° east: a stale cache would keep the old line
    with gzip.open(copy, "rb") as fh:
        collection = json.load(fh)
    for feature in collection["features"]:
        geom = shapely.transform(shape(feature["geometry"]), lambda xy: xy + np.array([0.1, 0.0]))
        feature["geometry"] = shapely.geometry.mapping(geom)
    with gzip.open(copy, "wt", encoding="utf-8", compresslevel=1) as fh:
        json.dump(collection, fh)
    after = border_lines(data, th, tmp_path / "cache")["BLR-UKR"]
    assert after.bounds[0] == pytest.approx(before.bounds[0] + 0.1, abs=1e-9)
    assert len(list((tmp_path / "cache" / "geo").glob("*-BLR-UKR.geojson"))) == 2


def test_a_pair_without_a_shared_border_is_an_input_error(shared_data, tmp_path):
    with pytest.raises(InputError) as err:
        border_lines(shared_data, theatre("BLR-UKR", "BLR-DEU"), tmp_path)
    assert str(err.value) == (
        "border BLR-DEU: BLR and DEU share no land border in "
        "natural_earth_admin0/ne_50m_admin_0_countries.geojson.gz; "
        "remove the border from theatre.yaml or correct its country codes"
    )


def test_unknown_country_and_missing_file_are_input_errors(shared_data, tmp_path):
    with pytest.raises(InputError, match=r"^theatre t: no country XXA in natural_earth"):
        border_lines(shared_data, theatre("BLR-XXA"), tmp_path)
    with pytest.raises(InputError, match=r"boundaries file .*nowhere\.geojson\.gz not found"):
        border_lines(shared_data, theatre("BLR-UKR", boundaries="nowhere.geojson.gz"), tmp_path)
    bad = tmp_path / "bad.geojson"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a GeoJSON FeatureCollection"):
        border_lines(tmp_path, theatre("BLR-UKR", boundaries="bad.geojson"), tmp_path)


def test_iso_a3_minus_99_falls_back_to_adm0_a3(shared_data, tmp_path):
    # France and Norway have ISO_A3 -99 in Natural Earth v4.0
    polygons = country_polygons(shared_data, theatre(countries=("FRA", "NOR")), tmp_path)
    assert shapely.contains_xy(polygons["FRA"], 2.35, 48.86)  # Paris
    assert shapely.contains_xy(polygons["NOR"], 10.75, 59.91)  # Oslo


# --- distances ------------------------------------------------------------------------------


def meridian_arc_km(lat0: float, lat1: float) -> float:
    """Ellipsoidal meridian arc, by integrating M(φ) = a(1-e²)/(1-e² sin²φ)^1.5."""
    phi = np.radians(np.linspace(lat0, lat1, 20001))
    m = A * (1 - E2) / (1 - E2 * np.sin(phi) ** 2) ** 1.5
    return float(abs(np.trapezoid(m, phi)))


@pytest.mark.parametrize("dlat", [0.45, 0.9, 1.8, -0.45, -0.9, -1.8])
def test_distance_along_a_meridian_matches_the_ellipsoid(dlat):
    parallel = LineString([(22.0, 52.0), (26.0, 52.0)])  # a horizontal lon/lat segment
    got = float(distance_km(24.0, 52.0 + dlat, parallel))
    # measured 0.11–0.14 %: the sphere of radius √(MN) against the ellipsoid
    assert got == pytest.approx(meridian_arc_km(52.0, 52.0 + dlat), rel=0.003)


def vincenty_km(lon1, lat1, lon2, lat2):
    """Vincenty's (1975) inverse formula on WGS84, vectorised; the independent reference."""
    u1, u2 = (np.arctan((1 - F) * np.tan(np.radians(x))) for x in (lat1, lat2))
    lon = big_l = np.radians(lon2 - lon1)
    for _ in range(25):  # converged to < 1e-12 rad for these distances
        sin_s = np.hypot(
            np.cos(u2) * np.sin(lon),
            np.cos(u1) * np.sin(u2) - np.sin(u1) * np.cos(u2) * np.cos(lon),
        )
        cos_s = np.sin(u1) * np.sin(u2) + np.cos(u1) * np.cos(u2) * np.cos(lon)
        sigma = np.arctan2(sin_s, cos_s)
        sin_a = np.cos(u1) * np.cos(u2) * np.sin(lon) / sin_s
        cos2_a = 1 - sin_a**2
        cos_2sm = cos_s - 2 * np.sin(u1) * np.sin(u2) / cos2_a
        c = F / 16 * cos2_a * (4 + F * (4 - 3 * cos2_a))
        lon = big_l + (1 - c) * F * sin_a * (
            sigma + c * sin_s * (cos_2sm + c * cos_s * (-1 + 2 * cos_2sm**2))
        )
    u_sq = cos2_a * (A**2 - B_AX**2) / B_AX**2
    k_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    k_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    inner = k_b / 6 * cos_2sm * (-3 + 4 * sin_s**2) * (-3 + 4 * cos_2sm**2)
    d_sigma = k_b * sin_s * (cos_2sm + k_b / 4 * (cos_s * (-1 + 2 * cos_2sm**2) - inner))
    return B_AX * k_a * (sigma - d_sigma)


def test_vincenty_reference_is_right():
    # Flinders Peak → Buninyong, Vincenty (1975): 54,972.271 m
    d = vincenty_km(
        144 + 25 / 60 + 29.52440 / 3600,
        -(37 + 57 / 60 + 3.72030 / 3600),
        143 + 55 / 60 + 35.38390 / 3600,
        -(37 + 39 / 60 + 10.15610 / 3600),
    )
    assert d == pytest.approx(54.972271, abs=1e-5)


def test_distance_to_a_real_border_is_within_one_percent_of_vincenty(lines):
    line = lines["BLR-UKR"]
    dense = shapely.get_coordinates(shapely.segmentize(line, 0.005))  # ≤ 0.55 km steps
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(23.0, 33.0, 60), rng.uniform(49.0, 54.5, 60)
    got = distance_km(lon, lat, line)
    ref = np.array(
        [vincenty_km(x, y, dense[:, 0], dense[:, 1]).min() for x, y in zip(lon, lat, strict=True)]
    )
    band = (ref >= 50) & (ref <= 200)
    assert band.sum() >= 10  # the sample really covers the 50–200 km band
    assert np.max(np.abs(got[band] / ref[band] - 1)) < 0.005  # measured ≤ 0.18 %; design: 1 %


def test_city_distances_are_plausible(lines):
    assert 200 < distance_km(*MINSK, lines["BLR-UKR"]) < 280
    assert distance_km(*MAZYR, lines["BLR-UKR"]) < 60
    assert 70 < distance_km(*KYIV, lines["BLR-UKR"]) < 110
    assert distance_km(*BREST_FORTRESS, lines["BLR-POL"]) < 5  # on the Bug
    assert distance_km(*BREST, lines["BLR-POL"]) < 7
    assert 15 < distance_km(*VILNIUS, lines["BLR-LTU"]) < 40


def test_distance_is_vectorised_and_nan_safe():
    line = LineString([(24.0, 52.0), (24.0, 53.0)])
    got = distance_km([24.0, np.nan, 25.0], 52.5, line)
    assert got.shape == (3,)
    assert got[0] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(got[1])
    assert 60 < got[2] < 75  # 1° of longitude at 52.5° N ≈ 68 km
    with pytest.raises(ValueError, match="empty"):
        distance_km(24.0, 52.0, LineString())


# --- events near borders --------------------------------------------------------------------


def add_events(con, rows, batch: int = 1):
    """Insert (source_id, lon, lat, precision) rows into the events table, as ``batch``
    (a later batch: what a load of new or revised events writes)."""
    con.executemany(
        f"""INSERT INTO events (source, source_id, occurred_on, occurred_until, category,
               longitude, latitude, geo_precision, available_at, available_basis, raw,
               record_hash, batch_id)
           VALUES ('test', ?, DATE '2022-02-01', DATE '2022-02-01', 'DEPLOY', ?, ?, ?,
                   TIMESTAMP '2022-02-0{1 + batch}', 'test', '{{}}', 'h{batch}', {batch})""",
        rows,
    )


def test_refresh_border_distances(con, shared_data, belarus, tmp_path):
    add_events(
        con,
        [
            ("mazyr", *MAZYR, "point"),
            ("kyiv", *KYIV, "point"),
            ("brest", *BREST, "point"),
            ("novozybkov", *NOVOZYBKOV, "point"),  # RUS, ~50 km from the tripoint
            ("centroid", *MAZYR, "country"),  # centroids are not places
            ("province", *MAZYR, "admin1"),
            ("nowhere", None, None, "point"),
            ("paris", 2.35, 48.86, "point"),
        ],
    )
    n = refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=200)
    rows = con.execute(
        "SELECT source_id, border, km, side FROM event_border_km ORDER BY source_id, border"
    ).fetchall()
    assert n == len(rows)
    got = {(sid, border): (km, side) for sid, border, km, side in rows}
    assert {sid for sid, _ in got} == {"mazyr", "kyiv", "brest", "novozybkov"}
    assert got["mazyr", "BLR-UKR"][1] == "BLR"
    assert got["kyiv", "BLR-UKR"][1] == "UKR"
    assert got["novozybkov", "BLR-UKR"][1] is None  # in Russia: neither side of BLR-UKR
    assert got["brest", "BLR-POL"][0] == pytest.approx(
        float(distance_km(*BREST, border_lines(shared_data, belarus, tmp_path)["BLR-POL"])),
        abs=1e-9,
    )
    assert ("kyiv", "BLR-POL") not in got  # ~500 km away
    assert all(km <= 200 for km, _ in got.values())
    # the table is kept: a narrower radius measures nothing new (rules apply within_km)
    assert refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=60) == 0
    assert con.execute("SELECT count(*) FROM event_border_km").fetchone()[0] == len(rows)
    near = con.execute(
        "SELECT source_id, border FROM event_border_km WHERE km <= 60 ORDER BY 1, 2"
    ).fetchall()
    assert near == [
        ("brest", "BLR-POL"),
        ("brest", "BLR-UKR"),
        ("mazyr", "BLR-UKR"),
        ("novozybkov", "BLR-UKR"),
    ]


def test_register_with_no_events_or_no_borders_gives_an_empty_table(con, shared_data, tmp_path):
    assert refresh_border_distances(con, theatre("BLR-UKR"), shared_data, tmp_path) == 0
    assert con.execute("SELECT count(*) FROM event_border_km").fetchone() == (0,)
    add_events(con, [("mazyr", *MAZYR, "point")])
    assert refresh_border_distances(con, theatre(), shared_data, tmp_path) == 0
    cols = [r[0] for r in con.execute("DESCRIBE event_border_km").fetchall()]
    assert cols == ["border", "source", "source_id", "batch_id", "km", "side"]


def test_side_is_one_of_the_borders_own_countries(con, shared_data, tmp_path):
    """A point's side of a border is the border country that holds it, whatever the
    theatre lists (so theatres sharing a border share its rows); elsewhere, none."""
    add_events(
        con,
        [
            ("vilnius", *VILNIUS, "point"),
            ("bialystok", *BIALYSTOK, "point"),
            ("daugavpils", *DAUGAVPILS, "point"),
            ("baltic", *BALTIC, "point"),
        ],
    )
    th = theatre("BLR-LTU", "BLR-POL", "BLR-LVA", countries=("BLR",))
    refresh_border_distances(con, th, shared_data, tmp_path, max_km=300)
    rows = con.execute("SELECT source_id, border, side FROM event_border_km").fetchall()
    sides = {(sid, border): side for sid, border, side in rows}
    assert sides["vilnius", "BLR-LTU"] == "LTU"
    assert sides["bialystok", "BLR-POL"] == "POL"
    assert sides["daugavpils", "BLR-LVA"] == "LVA"
    assert sides.get(("vilnius", "BLR-POL")) is None  # Lithuania: neither BLR nor POL
    assert all(side is None for (sid, _), side in sides.items() if sid == "baltic")
    assert re.fullmatch(
        r"[0-9a-f]{64}-BLR-LTU\.geojson", next((tmp_path / "geo").glob("*-BLR-LTU.geojson")).name
    )


def _rows(con):
    return con.execute(
        "SELECT source_id, border, batch_id, round(km, 6) FROM event_border_km ORDER BY 1, 2"
    ).fetchall()


def test_border_distances_are_kept_up_to_date_batch_by_batch(con, shared_data, belarus, tmp_path):
    """Only new batches are measured; a revised event's row is replaced, a withdrawn
    event's dropped; the result equals measuring everything from scratch."""
    add_events(con, [("mazyr", *MAZYR, "point"), ("brest", *BREST, "point")])
    first = refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=200)
    assert first == len(_rows(con)) > 0
    assert refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=200) == 0
    # batch 2: a new event, and mazyr revised (it moves to Kyiv, its batch with it)
    con.execute("DELETE FROM events WHERE source_id = 'mazyr'")
    add_events(con, [("mazyr", *KYIV, "point"), ("novozybkov", *NOVOZYBKOV, "point")], batch=2)
    # and brest withdrawn (a tombstone written by batch 2)
    con.execute("DELETE FROM events WHERE source_id = 'brest'")
    con.execute(
        "INSERT INTO tombstones VALUES ('test', 'events', 'brest', TIMESTAMP '2022-02-03', 2)"
    )
    measured = refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=200)
    got = _rows(con)
    assert measured == sum(1 for r in got if r[2] == 2)
    assert {r[0] for r in got} == {"mazyr", "novozybkov"}
    assert all(r[2] == 2 for r in got)
    # the same as measuring from scratch
    con.execute("DELETE FROM border_km_state")
    refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=200)
    assert _rows(con) == got


def test_a_wider_reach_or_other_geometry_measures_again(con, shared_data, belarus, tmp_path):
    add_events(con, [("kyiv", *KYIV, "point")])  # ~100 km from BLR-UKR
    refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=50)
    assert _rows(con) == []
    assert refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=200) > 0
    assert {r[0] for r in _rows(con)} == {"kyiv"}
    fingerprints = dict(con.execute("SELECT border, fingerprint FROM border_km_state").fetchall())
    assert all(fp.endswith("@200") for fp in fingerprints.values())


def test_a_read_only_store_measures_only_what_the_writer_has_not(shared_data, belarus, tmp_path):
    from vigil.store import connect, open_store

    db = tmp_path / "v.duckdb"
    writer = connect(db)
    add_events(writer, [("mazyr", *MAZYR, "point")])
    refresh_border_distances(writer, belarus, shared_data, tmp_path, max_km=200)
    stored = _rows(writer)
    add_events(writer, [("brest", *BREST, "point")], batch=2)
    writer.close()
    reader = open_store(db)
    measured = refresh_border_distances(reader, belarus, shared_data, tmp_path, max_km=200)
    got = _rows(reader)  # the TEMP table: stored rows plus brest, measured in memory
    assert measured == sum(1 for r in got if r[0] == "brest") > 0
    assert [r for r in got if r[0] == "mazyr"] == stored
    assert reader.execute("SELECT count(*) FROM v.main.event_border_km").fetchone()[0] == len(
        stored
    )
    reader.close()


def test_a_withdrawal_after_the_last_events_leaves_the_table_current(
    shared_data, belarus, tmp_path
):
    """A deletions-only batch newer than every event batch moves the watermark: later
    refreshes measure nothing, and a read-only reader uses the stored table as is."""
    from vigil.store import connect, open_store

    db = tmp_path / "v.duckdb"
    writer = connect(db)
    add_events(writer, [("mazyr", *MAZYR, "point"), ("brest", *BREST, "point")])
    refresh_border_distances(writer, belarus, shared_data, tmp_path, max_km=200)
    writer.execute("DELETE FROM events WHERE source_id = 'brest'")
    writer.execute(
        "INSERT INTO tombstones VALUES ('test', 'events', 'brest', TIMESTAMP '2022-02-03', 7)"
    )
    assert refresh_border_distances(writer, belarus, shared_data, tmp_path, max_km=200) == 0
    assert {r[0] for r in _rows(writer)} == {"mazyr"}
    through = {r[0] for r in writer.execute("SELECT through_batch FROM border_km_state").fetchall()}
    assert through == {7}
    assert refresh_border_distances(writer, belarus, shared_data, tmp_path, max_km=200) == 0
    writer.close()
    reader = open_store(db)
    assert refresh_border_distances(reader, belarus, shared_data, tmp_path, max_km=200) == 0
    temp = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'event_border_km' AND temporary"
    assert reader.execute(temp).fetchone()[0] == 0  # current: no copy made
    reader.close()


def test_a_reader_follows_revisions_and_withdrawals_the_writer_has_not_measured(
    shared_data, belarus, tmp_path
):
    from vigil.store import connect, open_store

    db = tmp_path / "v.duckdb"
    writer = connect(db)
    add_events(writer, [("mazyr", *MAZYR, "point"), ("brest", *BREST, "point")])
    refresh_border_distances(writer, belarus, shared_data, tmp_path, max_km=200)
    # batch 2 revises mazyr (now at Kyiv) and withdraws brest; nobody measures it
    writer.execute("DELETE FROM events WHERE source_id IN ('mazyr', 'brest')")
    add_events(writer, [("mazyr", *KYIV, "point")], batch=2)
    writer.execute(
        "INSERT INTO tombstones VALUES ('test', 'events', 'brest', TIMESTAMP '2022-02-03', 2)"
    )
    writer.close()
    reader = open_store(db)
    refresh_border_distances(reader, belarus, shared_data, tmp_path, max_km=200)
    seen = _rows(reader)
    reader.close()
    writer = connect(db)  # what the writer measures from scratch
    writer.execute("DELETE FROM border_km_state")
    refresh_border_distances(writer, belarus, shared_data, tmp_path, max_km=200)
    assert seen == _rows(writer)
    assert {r[0] for r in seen} == {"mazyr"} and all(r[2] == 2 for r in seen)
    writer.close()


def test_theatres_sharing_a_border_share_its_rows(con, shared_data, belarus, tmp_path):
    """Alternating between two theatres that share borders measures nothing again."""
    add_events(con, [("mazyr", *MAZYR, "point"), ("kyiv", *KYIV, "point")])
    other = belarus.model_copy(update={"countries": tuple(reversed(belarus.countries))})
    assert refresh_border_distances(con, belarus, shared_data, tmp_path, max_km=200) > 0
    rows = _rows(con)
    for th in (other, belarus, other):
        assert refresh_border_distances(con, th, shared_data, tmp_path, max_km=200) == 0
    assert _rows(con) == rows
