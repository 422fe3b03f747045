"""Frontex IBC adapter: the real monthly file, malformed rows, idempotency, live download."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources.frontex import ADAPTER

FOLDER = "frontex_irregular_border_crossings"
NAME = "frontex_ibc_monthly_route_nationality_2009-01_2025-04.csv"


def observations(con) -> list[tuple]:
    sql = "SELECT * EXCLUDE (batch_id) FROM observations ORDER BY source_id"
    return con.execute(sql).fetchall()


def test_real_file_loads_every_row(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / NAME
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == len(rows) == 34273
    assert (report.loaded, report.duplicates, report.rejected) == (len(rows), 0, 0)
    by_series = dict(con.execute("SELECT series, count(*) FROM observations GROUP BY 1").fetchall())
    assert by_series["frontex.ibc.eastern_borders"] == sum(
        r["route"] == "Eastern Borders Route" for r in rows
    )
    assert len(by_series) == len({r["route"] for r in rows})
    # README: Eastern Borders totals over nationalities (2021 Belarus crisis).
    totals = dict(
        con.execute(
            "SELECT strftime(period_start, '%Y-%m'), sum(value) FROM observations "
            "WHERE series = 'frontex.ibc.eastern_borders' AND geo = 'EU:eastern_borders' "
            "AND period_start BETWEEN '2021-06-01' AND '2021-12-01' GROUP BY 1"
        ).fetchall()
    )
    assert totals == {
        "2021-06": 601,
        "2021-07": 3236,
        "2021-08": 1953,
        "2021-09": 421,
        "2021-10": 780,
        "2021-11": 559,
        "2021-12": 156,
    }
    # Non-ISO nationality codes are kept, and named in the notes.
    nats = Counter(r["nat"] for r in rows)
    kept = dict(
        con.execute(
            "SELECT json_extract_string(attrs, '$.nationality'), count(*) FROM observations "
            "WHERE json_extract_string(attrs, '$.nationality') IN ('OOO', 'OOS', 'STL') "
            "GROUP BY 1"
        ).fetchall()
    )
    assert kept == {k: nats[k] for k in ("OOO", "OOS", "STL")}
    assert report.notes == (
        "nationality codes kept that are not ISO 3166: OOO ×418, OOS ×122, STL ×222",
    )
    one = con.execute(
        "SELECT source_id, value, attrs, available_at, period_end FROM observations "
        "WHERE source_id = 'frontex.ibc.eastern_borders|IRQ|Land|2021-07'"
    ).fetchone()
    (irq,) = [
        r
        for r in rows
        if (r["route"], r["nat"], r["month"]) == ("Eastern Borders Route", "IRQ", "2021-07")
    ]
    assert one[1:] == (
        float(irq["n"]),
        '{"nationality":"IRQ","type":"Land"}',
        datetime(2021, 9, 15),
        datetime(2021, 7, 31).date(),
    )


def test_forced_reload_changes_nothing(con, shared_data: Path) -> None:
    path = shared_data / FOLDER / NAME
    first = ingest_file(con, ADAPTER, path)
    before = observations(con)
    assert ingest_file(con, ADAPTER, path).skipped
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, first.rows_in)
    assert observations(con) == before


def test_malformed_rows_are_rejected_with_line_and_reason(con) -> None:
    path = FIXTURES / "frontex" / "frontex_ibc_malformed.csv"
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.9)
    assert (report.rows_in, report.loaded, report.rejected) == (7, 3, 4)
    assert con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall() == [
        (4, "month '2021-13' is not YYYY-MM"),
        (5, "nat is empty"),
        (6, "n 'many' is not a count of detections"),
        (7, "missing columns: Expected Number of Columns: 5 Found: 4"),
    ]
    assert report.notes == ("nationality codes kept that are not ISO 3166: OOO ×1, STL ×1",)


def test_wrong_header_and_wrong_file_fail_at_once(con, shared_data: Path) -> None:
    path = FIXTURES / "frontex" / "frontex_wrong_header.csv"
    with pytest.raises(InputError) as exc:
        ingest_file(con, ADAPTER, path)
    assert str(exc.value).startswith(
        f"{path}: not a Frontex IBC monthly CSV (month, route, type, nat, n): header lacks "
        "nat, n (found: month, route, type, citizenship, detections)"
    )
    other = shared_data / "geopolitical_risk_gpr" / "gpr_daily_1985_to_2025-10-20.csv"
    with pytest.raises(InputError, match="not a file the frontex adapter reads"):
        ingest_file(con, ADAPTER, other)


def test_live_needs_a_csv_url(fetcher) -> None:
    with pytest.raises(InputError, match="needs --option url="):
        ADAPTER.fetch_live(fetcher)


def test_live_download_retries_429_then_loads(con, http_server, fetcher) -> None:
    body = (FIXTURES / "frontex" / "frontex_ibc_malformed.csv").read_text().splitlines()
    good = "\n".join(body[:3]) + "\n"
    http_server.route("/ibc.csv", Reply(429, "slow", {"Retry-After": "3"}), Reply(200, good))
    (fetched,) = ADAPTER.fetch_live(fetcher, url=f"{http_server.url}/ibc.csv")
    assert fetcher.waits == [3.0]
    assert ADAPTER.reader_for(fetched.path)  # the cached name is one the reader takes
    report = ingest_file(con, ADAPTER, fetched.path)
    assert (report.loaded, report.rejected) == (2, 0)


def test_live_persistent_500_is_a_fetch_error(http_server, fetcher) -> None:
    http_server.route("/ibc.csv", Reply(500, "broken"))
    with pytest.raises(FetchError, match="failed after 4 attempts: HTTP 500"):
        ADAPTER.fetch_live(fetcher, url=f"{http_server.url}/ibc.csv")
    assert len(fetcher.waits) == 3
