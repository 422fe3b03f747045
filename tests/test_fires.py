"""Economist war-fire adapter: strikes (two vintages), Russian-held area, labelled model output."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources.fires import ADAPTER, FILES

FOLDER = "economist_war_fires"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def cells(rows: list[dict[str, str]], columns) -> int:
    return sum(1 for r in rows for k in columns if r[k].strip() not in ("", "NA"))


def values(con, where: str) -> dict[str, float]:
    return dict(con.execute(f"SELECT series, value FROM observations WHERE {where}").fetchall())


def test_every_real_file_is_read_and_nothing_else(shared_data: Path) -> None:
    found = [p.name for p in ADAPTER.files_in(shared_data / FOLDER)]
    assert found == [
        "area_assessed_as_controlled_by_russia.csv",
        "meta-estimate-deaths.csv",
        "strikes_by_location_and_day.csv",
        "strikes_by_location_and_day_archive.csv",
    ]


@pytest.mark.parametrize("archive", [False, True], ids=["current", "archive"])
def test_real_strikes_one_observation_per_cell(con, shared_data: Path, archive: bool) -> None:
    name = "strikes_by_location_and_day" + ("_archive" if archive else "") + ".csv"
    rows = read(shared_data / FOLDER / name)
    columns = [c for c in rows[0] if c != "date"]
    report = ingest_file(con, ADAPTER, shared_data / FOLDER / name)
    assert report.rows_in == report.loaded == cells(rows, columns)
    assert report.rejected == report.duplicates == 0
    assert report.notes[0].startswith(f"{len(rows)} input rows → {report.rows_in} observations")
    suffix = ".archive" if archive else ""
    first = rows[0]  # newest first
    got = values(con, f"period_start = '{first['date']}'")
    assert got[f"fires.war_fires_per_day{suffix}"] == float(first["war_fires_per_day"])
    assert got[f"fires.cloud_cover_in_country{suffix}"] == float(first["cloud_cover_in_country"])
    attrs = {a for (a,) in con.execute("SELECT DISTINCT attrs FROM observations").fetchall()}
    assert attrs == ({'{"vintage": "archive"}'} if archive else {None})
    geo, available = con.execute(
        "SELECT DISTINCT geo, available_at FROM observations WHERE period_start = '2022-02-24'"
    ).fetchone()
    assert (geo, available) == ("UKR", datetime(2022, 2, 26))


def test_both_vintages_are_kept_side_by_side(con, shared_data: Path) -> None:
    for name in ("strikes_by_location_and_day.csv", "strikes_by_location_and_day_archive.csv"):
        ingest_file(con, ADAPTER, shared_data / FOLDER / name)
    got = values(
        con,
        "period_start = '2022-03-08' AND series LIKE "
        "'fires.war_fires_per_day_in_ukraine_held_area_7dma%'",
    )
    assert got == {
        "fires.war_fires_per_day_in_ukraine_held_area_7dma": 8.142857142857142,
        "fires.war_fires_per_day_in_ukraine_held_area_7dma.archive": 7.857142857142857,
    }


def test_real_area_file_converts_to_km2_and_rejects_the_repeated_dates_conflicts(
    con, shared_data
) -> None:
    path = shared_data / FOLDER / "area_assessed_as_controlled_by_russia.csv"
    rows = read(path)
    columns = [c for c in rows[0] if c != "date"]
    report = ingest_file(con, ADAPTER, path)
    repeated = [r for r in rows if r["date"] == "2026-04-04"]
    assert len(repeated) == 2
    assert report.rows_in == cells(rows, columns)
    # 2026-04-04 twice: the same area and percentage (duplicates), but three different
    # changes, which the file contradicts itself on: both copies of each are rejected
    same = [c for c in columns if repeated[0][c] == repeated[1][c]]
    assert len(same) == report.duplicates == 2
    assert report.rejected == 2 * (len(columns) - len(same)) == 6
    assert report.loaded == report.rows_in - 8
    assert report.notes[1] == (
        "dates repeated (identical values counted as duplicates, differing values rejected): "
        "2026-04-04"
    )
    got = values(con, "period_start = '2026-04-04'")
    assert set(got) == {"fires.area_russia_controlled_km2", "fires.area_russia_controlled_pct"}
    reasons = con.execute("SELECT DISTINCT reason FROM rejects ORDER BY 1").fetchall()
    assert reasons[0][0] == (
        "key fires.area_russia_controlled_change_30d_km2|UKR|2026-04-04 appears on lines "
        "1504 and 1505 with different content"
    )
    last = rows[-1]
    got = values(con, f"period_start = '{last['date']}'")
    assert got["fires.area_russia_controlled_km2"] == pytest.approx(
        float(last["area_assessed_as_russia_controlled"]) / 1e6
    )
    assert got["fires.area_russia_controlled_pct"] == float(
        last["area_assessed_as_russia_controlled_percent"]
    )


def test_real_model_output_is_labelled_and_dated_to_its_vintage(con, shared_data) -> None:
    path = shared_data / FOLDER / "meta-estimate-deaths.csv"
    rows = read(path)
    columns = ("estimate", "ci_lower", "ci_upper", "pi_low", "pi_high")
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == report.loaded == cells(rows, columns)
    summary = con.execute(
        "SELECT DISTINCT attrs, geo, available_at, unit FROM observations"
    ).fetchall()
    assert summary == [('{"model_output": true}', "RUS", datetime(2026, 8, 23), "deaths")]
    (row,) = [r for r in rows if r["date"] == "2026-08-21"]
    got = values(con, "period_start = '2026-08-21'")
    assert got["economist_model.deaths.estimate"] == float(row["estimate"])
    assert set(got) == {f"economist_model.deaths.{c}" for c in columns}


def test_forced_reload_changes_nothing(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / "area_assessed_as_controlled_by_russia.csv"
    first = ingest_file(con, ADAPTER, path)
    before = con.execute("SELECT * EXCLUDE (batch_id) FROM observations ORDER BY 1, 2").fetchall()
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.updated) == (0, 0)
    # the repeated date's differing cells are rejected again, everything else is a duplicate
    assert (again.duplicates, again.rejected) == (first.rows_in - 6, 6)
    after = con.execute("SELECT * EXCLUDE (batch_id) FROM observations ORDER BY 1, 2").fetchall()
    assert after == before


def test_malformed_strikes_cells_are_rejected(con) -> None:
    path = FIXTURES / "fires" / "strikes_by_location_and_day.csv"
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.9)
    assert (report.rows_in, report.loaded, report.rejected) == (18, 10, 8)
    assert con.execute(
        "SELECT line, reason, count(*) FROM rejects GROUP BY ALL ORDER BY 1"
    ).fetchall() == [
        (3, "war_fires_per_day 'few' is not a number", 1),
        (4, "date '2024-03-33' is not a YYYY-MM-DD date", 5),
        (5, "war_fires_per_day_7dma 'Inf' is not a number", 1),
        (6, "expected 6 fields, found 5", 1),
    ]


def test_malformed_model_country_is_rejected(con) -> None:
    path = FIXTURES / "fires" / "meta-estimate-deaths.csv"
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.9)
    assert (report.rows_in, report.loaded, report.rejected) == (10, 5, 5)
    reasons = con.execute("SELECT DISTINCT line, reason FROM rejects").fetchall()
    assert reasons == [(4, "country 'atlantis' is not a known country")]


def test_wrong_header_fails_at_once(con, tmp_path: Path) -> None:
    path = tmp_path / "strikes_by_location_and_day.csv"
    path.write_text("day,fires\n2024-01-01,3\n")
    with pytest.raises(InputError, match="header lacks date, fires_per_day, war_fires_per_day"):
        ingest_file(con, ADAPTER, path)


def test_live_downloads_the_four_files_with_retry(con, http_server, fetcher) -> None:
    body = (FIXTURES / "fires" / "strikes_by_location_and_day.csv").read_text()
    good = "\n".join(body.splitlines()[:2]) + "\n"
    for i, path in enumerate(FILES):
        replies = [Reply(200, good)] if i else [Reply(503, "busy"), Reply(200, good)]
        http_server.route("/repo/" + path, *replies)
    fetched = ADAPTER.fetch_live(fetcher, base_url=f"{http_server.url}/repo")
    assert [f.path.name for f in fetched] == [p.rsplit("/", 1)[1] for p in FILES]
    assert fetcher.waits == [0.5]
    report = ingest_file(con, ADAPTER, fetched[0].path)
    assert (report.loaded, report.rejected) == (4, 0)


def test_live_429_then_success_and_persistent_500(http_server, fetcher) -> None:
    for path in FILES:
        http_server.route("/repo/" + path, Reply(429, "x", {"Retry-After": "2"}), Reply(200, "x"))
    ADAPTER.fetch_live(fetcher, base_url=f"{http_server.url}/repo/")
    assert fetcher.waits == [2.0] * 4
    http_server.route("/repo/" + FILES[0], Reply(500, "down"))
    with pytest.raises(FetchError, match="HTTP 500"):
        ADAPTER.fetch_live(fetcher, base_url=f"{http_server.url}/repo/")
