"""Natural Earth adapter: population/GDP per country from the countries files; geometry left."""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources.naturalearth import ADAPTER

FOLDER = "natural_earth_admin0"
GEOMETRY = (
    "ne_50m_admin_0_boundary_lines_land.geojson.gz",
    "ne_50m_admin_0_countries_region_subset.geojson",
    "shared_land_borders_region_50m_derived.geojson",
)


def properties(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [f["properties"] for f in json.load(fh)["features"]]


def test_only_the_countries_files_are_read(shared_data: Path) -> None:
    found = [p.name for p in ADAPTER.files_in(shared_data / FOLDER)]
    assert found == ["ne_110m_admin_0_countries.geojson.gz", "ne_50m_admin_0_countries.geojson.gz"]
    for name in GEOMETRY:  # read in place by the geography features, named in the description
        with pytest.raises(InputError, match="not a file the naturalearth adapter reads"):
            ADAPTER.reader_for(shared_data / FOLDER / name)
    assert "boundary lines, region subset, derived shared borders" in ADAPTER.description


@pytest.mark.parametrize(("scale", "features"), [("50m", 241), ("110m", 177)])
def test_real_countries_two_observations_per_feature(con, shared_data, scale, features) -> None:
    path = shared_data / FOLDER / f"ne_{scale}_admin_0_countries.geojson.gz"
    props = properties(path)
    no_gdp = [p["NAME"] for p in props if p["GDP_MD_EST"] == 0 and p["GDP_YEAR"] == 0]
    report = ingest_file(con, ADAPTER, path)
    assert len(props) == features
    assert report.rows_in == report.loaded == 2 * features - len(no_gdp)
    assert report.rejected == report.duplicates == 0
    assert report.notes[0] == f"{features} features → {report.rows_in} observations"
    assert no_gdp == (["Vatican"] if scale == "50m" else [])
    ukr = con.execute(
        "SELECT series, value, period_start, period_end, available_at, attrs FROM observations "
        "WHERE geo = 'UKR' ORDER BY series"
    ).fetchall()
    (p,) = [p for p in props if p["ISO_A3"] == "UKR"]
    assert ukr == [
        (
            "ne.gdp_md_est",
            p["GDP_MD_EST"],
            date(2016, 1, 1),
            date(2016, 12, 31),
            datetime(2017, 11, 9),
            f'{{"scale": "1:{scale}", "name": "Ukraine"}}',
        ),
        (
            "ne.pop_est",
            p["POP_EST"],
            date(2017, 1, 1),
            date(2017, 12, 31),
            datetime(2017, 11, 9),
            f'{{"scale": "1:{scale}", "name": "Ukraine"}}',
        ),
    ]
    # ISO_A3 '-99': France and Norway by ADM0_A3, Kosovo as XKX, others flagged non-ISO.
    geos = dict(
        con.execute(
            "SELECT json_extract_string(attrs, '$.name'), geo FROM observations "
            "WHERE series = 'ne.pop_est'"
        ).fetchall()
    )
    assert (geos["France"], geos["Norway"], geos["Kosovo"], geos["N. Cyprus"]) == (
        "FRA",
        "NOR",
        "XKX",
        "CYN",
    )
    flagged = con.execute(
        "SELECT DISTINCT geo FROM observations WHERE attrs LIKE '%geo_scheme%'"
    ).fetchall()
    expected = {p["ADM0_A3"] for p in props if p["ISO_A3"] == "-99"} - {"FRA", "NOR", "KOS"}
    assert {g for (g,) in flagged} == expected  # e.g. CYN (N. Cyprus), SOL (Somaliland)


def test_both_scales_are_kept_apart_and_reload_changes_nothing(con, shared_data) -> None:
    paths = [shared_data / FOLDER / f"ne_{s}_admin_0_countries.geojson.gz" for s in ("50m", "110m")]
    loaded = [ingest_file(con, ADAPTER, p).loaded for p in paths]
    sql = "SELECT * EXCLUDE (batch_id) FROM observations ORDER BY source_id"
    before = con.execute(sql).fetchall()
    assert len(before) == sum(loaded)
    for path in paths:
        again = ingest_file(con, ADAPTER, path, force=True)
        assert (again.loaded, again.updated, again.duplicates) == (0, 0, again.rows_in)
    assert con.execute(sql).fetchall() == before


def test_malformed_features_are_rejected(con) -> None:
    path = FIXTURES / "naturalearth" / "ne_110m_admin_0_countries.geojson"
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.9)
    assert (report.rows_in, report.loaded, report.rejected) == (8, 4, 4)
    assert con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall() == [
        (5, "POP_EST 'lots' is not a number"),
        (6, "ISO_A3 '-99' is not a country code and ADM0_A3 is empty"),
        (7, "year '0.0' is not a plausible year"),
        (8, "feature has no properties object"),
    ]
    assert report.notes[1:] == (
        "GDP 0 with GDP_YEAR 0 (no estimate) skipped: Nowhere",
        "1 values without a year dated by DEFAULT_YEAR",
    )


def test_not_a_feature_collection_fails_at_once(con) -> None:
    path = FIXTURES / "naturalearth" / "ne_50m_admin_0_countries.geojson"
    with pytest.raises(InputError) as exc:
        ingest_file(con, ADAPTER, path)
    assert str(exc.value).startswith(
        f"{path}: not a Natural Earth ne_{{50m,110m}}_admin_0_countries.geojson[.gz] (country "
        "features): expected a 'features' array"
    )


def test_live_download_retries_429_then_loads(con, http_server, fetcher) -> None:
    body = (FIXTURES / "naturalearth" / "ne_110m_admin_0_countries.geojson").read_text()
    http_server.route("/50m/ne_50m_admin_0_countries.json", Reply(429, "later"), Reply(200, body))
    http_server.route("/110m/ne_110m_admin_0_countries.json", Reply(200, body))
    fetched = ADAPTER.fetch_live(
        fetcher,
        url_50m=f"{http_server.url}/50m/ne_50m_admin_0_countries.json",
        url_110m=f"{http_server.url}/110m/ne_110m_admin_0_countries.json",
    )
    assert fetcher.waits == [0.5]
    assert [f.path.name for f in fetched] == [
        "ne_50m_admin_0_countries.json",
        "ne_110m_admin_0_countries.json",
    ]
    report = ingest_file(con, ADAPTER, fetched[0].path, max_reject_share=0.9)
    assert (report.loaded, report.rejected) == (4, 4)


def test_live_persistent_500_is_a_fetch_error(http_server, fetcher) -> None:
    http_server.route("/ne.json", Reply(500, "down"))
    with pytest.raises(FetchError, match="HTTP 500"):
        ADAPTER.fetch_live(fetcher, url_50m=f"{http_server.url}/ne.json", url_110m="")
