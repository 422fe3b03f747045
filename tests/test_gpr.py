"""GPR adapter: wide daily/monthly files staged one cell per observation, reconciled per cell."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources.gpr import ADAPTER

FOLDER = "geopolitical_risk_gpr"
DAILY = "gpr_daily_1985_to_2025-10-20.csv"
MONTHLY = "gpr_monthly_export_to_2024-07.csv"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def cells(rows: list[dict[str, str]], skip: set[str]) -> int:
    """Independent count of the value cells a wide file holds."""
    return sum(1 for r in rows for k, v in r.items() if k not in skip and v.strip())


def observations(con) -> list[tuple]:
    sql = "SELECT * EXCLUDE (batch_id) FROM observations ORDER BY source_id"
    return con.execute(sql).fetchall()


def test_real_daily_file_one_observation_per_cell(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / DAILY
    rows = read(path)
    report = ingest_file(con, ADAPTER, path)
    expected = cells(rows, {"DAY", "date", "event"})
    assert report.rows_in == expected == 6 * len(rows)
    assert (report.loaded, report.duplicates, report.rejected) == (expected, 0, 0)
    assert report.notes == (
        f"{len(rows)} input rows → {expected} observations; 0 empty cells skipped",
    )
    got = con.execute(
        "SELECT value, attrs, available_at, geo, freq FROM observations "
        "WHERE source_id = 'gpr.daily|WORLD|2022-02-25'"
    ).fetchone()
    (row,) = [r for r in rows if r["DAY"] == "20220225"]
    assert got == (
        float(row["GPRD"]),
        '{"event": "Russia / Ukraine Tensions"}',
        datetime(2022, 2, 27),
        "WORLD",
        "D",
    )
    events = con.execute("SELECT count(*) FROM observations WHERE attrs LIKE '%event%'")
    assert events.fetchone()[0] == sum(1 for r in rows if r["event"].strip()) == 11
    articles = con.execute(
        "SELECT value FROM observations WHERE source_id = 'gpr.daily_articles|WORLD|2022-02-25'"
    ).fetchone()
    assert articles == (float(row["N10D"]),)


def test_real_monthly_file_codebook_and_country_indices(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / MONTHLY
    rows = read(path)
    report = ingest_file(con, ADAPTER, path)
    expected = cells(rows, {"month", "var_name", "var_label"})
    empty = sum(
        1
        for r in rows
        for k, v in r.items()
        if k not in ("month", "var_name", "var_label") and not v.strip()
    )
    assert report.rows_in == report.loaded == expected
    assert report.rejected == 0
    assert (
        report.notes[0] == f"{len(rows)} input rows → {expected} observations; "
        f"{empty} empty cells skipped"
    )
    assert report.notes[1].startswith("var_name/var_label: codebook of 113 column labels")
    geos = con.execute(
        "SELECT count(DISTINCT geo) FROM observations WHERE series = 'gpr.country'"
    ).fetchone()[0]
    assert geos == sum(1 for k in rows[0] if k.startswith("GPRC_")) == 44
    (feb22,) = [r for r in rows if r["month"] == "2022-02-01"]
    wanted = (
        "'gpr.country:UKR', 'gpr.country:POL', 'gpr.monthly:WORLD', 'gpr.country_historical:RUS'"
    )
    sql = (
        "SELECT series || ':' || geo, value FROM observations WHERE period_start = '2022-02-01' "
        f"AND series || ':' || geo IN ({wanted})"
    )
    got = dict(con.execute(sql).fetchall())
    assert got == {
        "gpr.country:UKR": float(feb22["GPRC_UKR"]),
        "gpr.country:POL": float(feb22["GPRC_POL"]),
        "gpr.monthly:WORLD": float(feb22["GPR"]),
        "gpr.country_historical:RUS": float(feb22["GPRHC_RUS"]),
    }
    gprh = con.execute(
        "SELECT attrs, unit, available_at, period_end FROM observations "
        "WHERE source_id = 'gpr.monthly_gprh|WORLD|2022-02'"
    ).fetchone()
    assert gprh == (
        '{"label": "Historical GPR (Index: 1900:2019=100)"}',
        "index (1900-2019=100)",
        datetime(2022, 3, 11),
        date(2022, 2, 28),
    )
    # The codebook cells themselves are metadata, not values.
    codebook = "SELECT count(*) FROM observations WHERE contains(raw, 'var_')"
    assert con.execute(codebook).fetchone() == (0,)


def test_forced_reload_changes_nothing(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / DAILY
    first = ingest_file(con, ADAPTER, path)
    before = observations(con)
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, first.rows_in)
    assert observations(con) == before


def test_malformed_daily_cells_are_rejected(con) -> None:
    path = FIXTURES / "gpr" / "gpr_daily_malformed.csv"
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.9)
    # 5 parsed rows: 29 non-empty cells + 1 unparseable line.
    assert (report.rows_in, report.loaded, report.rejected) == (30, 17, 13)
    got = con.execute("SELECT line, reason, count(*) FROM rejects GROUP BY ALL ORDER BY 1")
    assert got.fetchall() == [
        (4, "DAY '20220133' is not a YYYYMMDD date", 6),
        (5, "date '2022-01-05' disagrees with DAY '20220104'", 5),
        (6, "GPRD 'lots' is not a number", 1),
        (7, "expected 9 fields, found 4", 1),
    ]
    event = con.execute(
        "SELECT attrs FROM observations WHERE source_id = 'gpr.daily|WORLD|2022-01-02'"
    ).fetchone()
    assert event == ('{"event": "Synthetic Crisis"}',)


def test_malformed_monthly_cells_are_rejected(con) -> None:
    path = FIXTURES / "gpr" / "gpr_monthly_malformed.csv"
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.9)
    assert (report.rows_in, report.loaded, report.rejected) == (26, 15, 11)
    got = con.execute("SELECT line, reason, count(*) FROM rejects GROUP BY ALL ORDER BY 1, 2")
    assert got.fetchall() == [
        (2, "GPRC_XY1: 'XY1' is not an ISO 3166 alpha-3 country code", 1),
        (4, "month '1985-13-01' is not a YYYY-MM-DD date", 8),
        (5, "GPRC_XY1: 'XY1' is not an ISO 3166 alpha-3 country code", 1),
        (5, "GPRT 'n/a' is not a number", 1),
    ]
    assert report.notes[2] == (
        "columns without a codebook label: GPRT, GPRA, N10, GPRC_POL, GPRC_XY1, GPRHC_UKR"
    )


def test_wrong_header_fails_at_once(con) -> None:
    path = FIXTURES / "gpr" / "gpr_daily_wrong_header.csv"
    with pytest.raises(InputError) as exc:
        ingest_file(con, ADAPTER, path)
    assert str(exc.value).startswith(
        f"{path}: not a GPR daily CSV export (DAY, N10D, GPRD, GPRD_ACT, GPRD_THREAT, …): "
        "header lacks GPRD, GPRD_ACT, GPRD_THREAT, N10D (found: DAY, articles, index)"
    )


def test_live_needs_csv_urls(fetcher) -> None:
    with pytest.raises(InputError, match=r"official files are \.xls"):
        ADAPTER.fetch_live(fetcher)


def test_live_download_retries_429_then_loads(con, http_server, fetcher) -> None:
    text = (FIXTURES / "gpr" / "gpr_daily_malformed.csv").read_text().splitlines()
    http_server.route("/daily.csv", Reply(429, "later"), Reply(200, "\n".join(text[:3]) + "\n"))
    (fetched,) = ADAPTER.fetch_live(fetcher, daily_url=f"{http_server.url}/daily.csv")
    assert fetcher.waits == [0.5]
    report = ingest_file(con, ADAPTER, fetched.path)
    assert (report.loaded, report.rejected) == (12, 0)


def test_live_persistent_500_is_a_fetch_error(http_server, fetcher) -> None:
    http_server.route("/monthly.csv", Reply(500, "down"))
    with pytest.raises(FetchError, match="HTTP 500"):
        ADAPTER.fetch_live(fetcher, monthly_url=f"{http_server.url}/monthly.csv")
