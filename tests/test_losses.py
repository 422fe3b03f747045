"""War-losses adapter: UA General Staff claims (JSON) and the Oryx scrape (log, summary, models)."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources.losses import ADAPTER, NOT_VALUES, TEXT_FIELDS

FOLDER = "ukraine_war_losses"
MISLABEL = "Losses of Armoured Combat Vehicles\xa0[Tanks, AFVs, IFVs, APCs, and MRAPs]"


def value_fields(items: list[dict]) -> int:
    """Independent count of the numeric fields the claims files hold."""
    return sum(
        1
        for item in items
        for k, v in item.items()
        if k not in NOT_VALUES and k not in TEXT_FIELDS and v is not None
    )


def test_every_real_file_is_read(shared_data: Path) -> None:
    found = [p.name for p in ADAPTER.files_in(shared_data / FOLDER)]
    assert found == [
        "oryx_log.csv",
        "oryx_summary.csv",
        "petroivaniuk_russia_losses_equipment.json",
        "petroivaniuk_russia_losses_equipment_correction.json",
        "petroivaniuk_russia_losses_equipment_oryx.json",
        "petroivaniuk_russia_losses_personnel.json",
    ]


@pytest.mark.parametrize("name", ["equipment", "personnel", "equipment_correction"])
def test_real_claims_one_observation_per_field(con, shared_data: Path, name: str) -> None:
    path = shared_data / FOLDER / f"petroivaniuk_russia_losses_{name}.json"
    items = json.loads(path.read_text())
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == report.loaded == value_fields(items)
    assert report.rejected == report.duplicates == 0
    assert report.notes[0].startswith(f"{len(items)} input rows → {report.rows_in} observations")
    prefix = "losses.ua_corrections." if "correction" in name else "losses.ua_claims."
    assert {s for (s,) in con.execute("SELECT DISTINCT series FROM observations").fetchall()} == {
        prefix + k.lower().replace(" ", "_").replace("-", "_")
        for item in items
        for k in item
        if k not in NOT_VALUES and k not in TEXT_FIELDS
    }


def test_real_claims_spot_values(con, shared_data: Path) -> None:
    for name in ("equipment", "personnel"):
        ingest_file(con, ADAPTER, shared_data / FOLDER / f"petroivaniuk_russia_losses_{name}.json")
    personnel = con.execute(
        "SELECT value, geo, attrs, available_at, unit FROM observations "
        "WHERE source_id = 'losses.ua_claims.personnel|RUS|2022-03-01'"
    ).fetchone()
    assert personnel == (
        5710.0,
        "RUS",
        '{"claimed_by": "UKR", "personnel_approx": "about"}',
        datetime(2022, 3, 2),
        "cumulative count",
    )
    tank = con.execute(
        "SELECT value, attrs FROM observations "
        "WHERE source_id = 'losses.ua_claims.tank|RUS|2022-04-25'"
    ).fetchone()
    items = json.loads(
        (shared_data / FOLDER / "petroivaniuk_russia_losses_equipment.json").read_text()
    )
    (apr25,) = [i for i in items if i["date"] == "2022-04-25"]
    assert tank == (
        float(apr25["tank"]),
        '{"claimed_by": "UKR", "greatest_losses_direction": "Sievierodonetsk"}',
    )


def test_real_oryx_models_dated_by_the_claims_beside_them(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / "petroivaniuk_russia_losses_equipment_oryx.json"
    items = json.loads(path.read_text())
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == report.loaded == len(items) == 338
    assert report.notes == ("dated 2026-08-08: the last date of the equipment claims beside it",)
    total = con.execute(
        "SELECT sum(value), min(period_start), max(available_at) FROM observations"
    ).fetchone()
    assert total == (sum(i["losses_total"] for i in items), date(2026, 8, 8), datetime(2026, 8, 9))


def test_real_oryx_log_and_summary(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / "oryx_log.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == len(rows) == 12127
    assert (report.loaded, report.rejected) == (len(rows) - 4, 4)
    assert report.notes == (
        f"{sum(r['country'] == MISLABEL for r in rows)} rows under the "
        "mislabelled heading loaded as RUS",
    )
    assert con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall() == [
        (60, "state 'optic' is not an Oryx loss state (destroyed, damaged, abandoned, captured)"),
        (160, "state 'optic' is not an Oryx loss state (destroyed, damaged, abandoned, captured)"),
        (5652, "state 'tured' is not an Oryx loss state (destroyed, damaged, abandoned, captured)"),
        (5664, "state 'tured' is not an Oryx loss state (destroyed, damaged, abandoned, captured)"),
    ]
    # The relabelling hand-over: Russia's count drops to zero as the heading's appears.
    handover = con.execute(
        "SELECT sum(value), count(*) FROM observations WHERE series = 'oryx.destroyed' "
        "AND geo = 'RUS' AND attrs LIKE '%\"tanks\"%' AND available_at = '2024-08-31 01:22:09'"
    )
    assert handover.fetchone() == (0.0, 2)
    summary = ingest_file(con, ADAPTER, shared_data / FOLDER / "oryx_summary.csv")
    assert (summary.rows_in, summary.loaded, summary.rejected) == (86, 86, 0)
    assert summary.notes[0] == (
        "dated 2025-08-29 21:18:40: the last timestamp of the oryx_log.csv beside it"
    )
    # The totals are the sums of the log's changes (mislabelled rows counted as Russia's).
    sums: dict[tuple, int] = defaultdict(int)
    for r in rows:
        if r["state"] in ("destroyed", "damaged", "abandoned", "captured"):
            country = "UKR" if r["country"] == "Ukraine" else "RUS"
            sums[(country, r["category"].replace("\xa0", " "), r["state"])] += int(r["value"])
    totals = con.execute(
        "SELECT geo, json_extract_string(attrs, '$.category'), split_part(series, '.', 3), value "
        "FROM observations WHERE series LIKE 'oryx.summary.%'"
    ).fetchall()
    assert all(sums[(g, c, s)] == v for g, c, s, v in totals) and len(totals) == 86


def test_forced_reload_changes_nothing(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / "oryx_log.csv"
    first = ingest_file(con, ADAPTER, path)
    sql = "SELECT * EXCLUDE (batch_id) FROM observations ORDER BY source_id"
    before = con.execute(sql).fetchall()
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, first.loaded)
    assert con.execute(sql).fetchall() == before


def test_malformed_oryx_rows_are_rejected(con) -> None:
    report = ingest_file(con, ADAPTER, FIXTURES / "losses" / "oryx_log.csv", max_reject_share=0.9)
    assert (report.rows_in, report.loaded, report.rejected) == (7, 3, 4)
    assert con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall() == [
        (4, "country 'Atlantis' is not Russia or Ukraine"),
        (5, "timestamp '2023-05-02 25:00:00' is not YYYY-MM-DD HH:MM:SS"),
        (6, "state 'optic' is not an Oryx loss state (destroyed, damaged, abandoned, captured)"),
        (7, "value 'two' is not an integer"),
    ]
    report = ingest_file(
        con, ADAPTER, FIXTURES / "losses" / "oryx_summary.csv", max_reject_share=0.9
    )
    assert (report.loaded, report.rejected) == (1, 1)
    got = con.execute(
        "SELECT geo, period_start, available_at, attrs FROM observations "
        "WHERE series = 'oryx.summary.destroyed'"
    ).fetchone()
    assert got[:3] == ("RUS", date(2024, 9, 1), datetime(2024, 9, 1, 10))
    assert json.loads(got[3])["category"] == "tanks"


def test_malformed_claims_are_rejected(con) -> None:
    path = FIXTURES / "losses" / "petroivaniuk_russia_losses_equipment.json"
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.9)
    assert (report.rows_in, report.loaded, report.rejected) == (8, 5, 3)
    assert con.execute("SELECT line, error_type, reason FROM rejects ORDER BY line").fetchall() == [
        (10, "invalid", "tank 'many' is not a number"),
        (17, "invalid", "date empty is not a YYYY-MM-DD date"),
        (21, "parse", "expected a JSON object"),
    ]
    models = ingest_file(
        con,
        ADAPTER,
        FIXTURES / "losses" / "petroivaniuk_russia_losses_equipment_oryx.json",
        max_reject_share=0.9,
    )
    assert (models.loaded, models.rejected) == (1, 2)
    assert models.notes == ("dated 2023-05-04: the last date of the equipment claims beside it",)


def test_wrong_json_shape_and_missing_sibling_fail_at_once(con, tmp_path: Path) -> None:
    path = FIXTURES / "losses" / "petroivaniuk_russia_losses_personnel.json"
    with pytest.raises(InputError, match="expected a JSON array"):
        ingest_file(con, ADAPTER, path)
    alone = tmp_path / "petroivaniuk_russia_losses_equipment_oryx.json"
    shutil.copy(FIXTURES / "losses" / alone.name, alone)
    with pytest.raises(InputError) as exc:
        ingest_file(con, ADAPTER, alone)
    assert str(exc.value).startswith(
        f"{alone}: Oryx per-model totals carry no date; vigil dates them by the last date of "
        "petroivaniuk_russia_losses_equipment.json, which is not beside it"
    )
    summary = tmp_path / "oryx_summary.csv"
    shutil.copy(FIXTURES / "losses" / summary.name, summary)
    with pytest.raises(InputError, match=r"oryx_log\.csv, which is not beside it"):
        ingest_file(con, ADAPTER, summary)


def _serve_all(server, first: list[Reply]) -> None:
    claims = (FIXTURES / "losses" / "petroivaniuk_russia_losses_equipment.json").read_text()
    for name in ("equipment", "personnel", "equipment_correction", "equipment_oryx"):
        server.route(f"/petro/russia_losses_{name}.json", Reply(200, claims))
    server.route("/petro/russia_losses_equipment.json", *first, Reply(200, claims))
    log = (FIXTURES / "losses" / "oryx_log.csv").read_text()
    server.route("/oryx/log.csv", Reply(200, log))
    server.route("/oryx/summary.csv", Reply(200, log))


def test_live_download_retries_429_then_loads(con, http_server, fetcher) -> None:
    _serve_all(http_server, [Reply(429, "slow down", {"Retry-After": "5"})])
    fetched = ADAPTER.fetch_live(
        fetcher, petro_base_url=f"{http_server.url}/petro", oryx_base_url=f"{http_server.url}/oryx/"
    )
    assert fetcher.waits == [5.0]
    assert [f.path.name for f in fetched] == [
        "petroivaniuk_russia_losses_equipment.json",
        "petroivaniuk_russia_losses_personnel.json",
        "petroivaniuk_russia_losses_equipment_correction.json",
        "petroivaniuk_russia_losses_equipment_oryx.json",
        "oryx_log.csv",
        "oryx_summary.csv",
    ]
    report = ingest_file(con, ADAPTER, fetched[0].path, max_reject_share=0.9)
    assert (report.loaded, report.rejected) == (5, 3)


def test_live_persistent_500_is_a_fetch_error(http_server, fetcher) -> None:
    _serve_all(http_server, [Reply(500, "down")] * 5)
    with pytest.raises(FetchError, match="failed after 4 attempts: HTTP 500"):
        ADAPTER.fetch_live(
            fetcher,
            petro_base_url=f"{http_server.url}/petro",
            oryx_base_url=f"{http_server.url}/oryx",
        )
