"""CIR Russia-Ukraine Monitor adapter: the real 2022 file, synthetic malformed files, live."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import re
from pathlib import Path

import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources.cir import ADAPTER, BASIS

FIX = FIXTURES / "cir"
REAL = "cir_russia_ukraine_monitor_2022/events.csv.gz"


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The file's records, counted independently of DuckDB."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def snapshot(con) -> list[tuple]:
    return con.execute("SELECT * FROM events ORDER BY source_id").fetchall()


def event(con, source_id: str) -> dict:
    cur = con.execute("SELECT * FROM events WHERE source_id = ?", [source_id])
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def test_real_file_loads_and_reconciles(con, shared_data):
    path = shared_data / REAL
    rows = csv_rows(path)
    assert len(rows) == 6650  # the README's count
    bad = [r for r in rows if not r["entry"] or not re.fullmatch(r"\d{4}-\d\d-\d\d", r["date"])]
    # copies of one incident (same entry, date, title, place) collapse to one record
    incidents = {
        (r["entry"], r["date"], r["title"], r["lat"], r["lon"]) for r in rows if r not in bad
    }
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == 6650
    assert report.rejected == len(bad) == 8
    assert report.loaded == len(incidents) == 6639
    assert report.duplicates == 6650 - 8 - 6639
    assert report.notes == (
        "5 entry ids reused for different incidents, kept apart as "
        "<entry>#2…: UW0104, UW0105, UW0132, UW0454, UW5227",
    )
    reasons = dict(con.execute("SELECT reason, count(*) FROM rejects GROUP BY 1").fetchall())
    assert reasons == {"entry is empty (the row has no CIR id)": 4, "date is empty": 4}
    assert (
        con.execute(
            "SELECT count(*) FROM events WHERE category IS NULL OR available_basis <> ?", [BASIS]
        ).fetchone()[0]
        == 0
    )
    # every named country resolves (typos like "Belaurs" included); only blanks stay empty
    named = {
        (r["entry"], r["date"], r["title"], r["lat"], r["lon"])
        for r in rows
        if r not in bad and r["country"] not in ("", "Other (type name in cell)")
    }
    assert con.execute("SELECT count(country) FROM events").fetchone()[0] == len(named)

    before = snapshot(con)
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.duplicates, again.rejected) == (0, 6650 - 8, 8)
    assert snapshot(con) == before


def test_belarus_build_up(con, shared_data):
    """Jan-Feb 2022: the Russian build-up in Belarus is there, as DEPLOY events."""
    path = shared_data / REAL
    expected = sum(
        1
        for r in csv_rows(path)
        if r["entry"] and r["country"] in ("Belarus", "Belaurs") and r["date"] < "2022-03-01"
    )
    ingest_file(con, ADAPTER, path)
    got = dict(
        con.execute(
            "SELECT category, count(*) FROM events WHERE country = 'BLR' "
            "AND occurred_on < DATE '2022-03-01' GROUP BY 1"
        ).fetchall()
    )
    assert sum(got.values()) == expected == 79  # 81 rows, 2 of them without an entry id
    assert got["DEPLOY"] >= 0.95 * 79  # the rest is the residual "Other" group


def test_spot_values(con, shared_data):
    ingest_file(con, ADAPTER, shared_data / REAL)
    e = event(con, "UW0067")
    assert (e["occurred_on"], e["occurred_until"]) == (dt.date(2022, 1, 1), dt.date(2022, 1, 1))
    assert (e["category"], e["mode"], e["source_code"]) == (
        "DEPLOY",
        "force presence",
        "Russian Military Presence January 2022",
    )
    assert (e["country"], e["location"], e["geo_precision"]) == ("BLR", "Petrishki", "point")
    assert (e["latitude"], e["longitude"]) == (54.069385, 27.211645)
    assert e["summary"] == (
        "01/01/2022 Russian military equipment moving in Belarus — "
        "Russian military equipment moving in Belarus"
    )
    assert e["url"] == "https://twitter.com/GirkinGirkin/status/1488544876908187650"
    assert e["available_at"] == dt.datetime(2022, 1, 3)
    # a reused id: the second incident is kept under UW0104#2
    assert (event(con, "UW0104")["location"], event(con, "UW0104#2")["location"]) == (
        "Sevastopol",
        "Rylsk",
    )
    assert event(con, "UW0104#2")["country"] == "RUS"


def test_malformed_rows(con):
    path = FIX / "cir_malformed.csv"
    with pytest.raises(
        InputError,
        match=r"5 of 9 rows rejected .* line 3: date '2022-02-30' "
        r"is not a YYYY-MM-DD date",
    ):
        ingest_file(con, ADAPTER, path)
    report = ingest_file(con, ADAPTER, path, max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.duplicates, report.rejected) == (9, 3, 1, 5)
    assert con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall() == [
        (3, "date '2022-02-30' is not a YYYY-MM-DD date"),
        (4, "entry is empty (the row has no CIR id)"),
        (5, "event_group 'Alien Landing' is not a known CIR event group"),
        (6, "lat 'forty-eight' is not a number"),
        (7, "date is empty"),
    ]
    assert event(con, "TST0001")["country"] == "BLR"  # "Belaurs"
    first = event(con, "TST0007")
    assert (first["country"], first["geo_precision"], first["latitude"]) == ("UKR", None, None)
    assert first["summary"] == "05/03/2022 Synthetic damage, quoted — Good row"
    assert event(con, "TST0007#2")["category"] == "ASSAULT"


def test_wrong_file_for_adapter(con):
    with pytest.raises(
        InputError,
        match=r"not a CIR Russia-Ukraine Monitor events\.csv .* "
        r"header lacks event_group, brief description, "
        r"province, town/city, link",
    ):
        ingest_file(con, ADAPTER, FIX / "cir_wrong_header.csv")
    with pytest.raises(InputError, match="not a file the cir adapter reads"):
        ingest_file(con, ADAPTER, FIXTURES / "ucdp" / "ucdp_us_dates.csv")


def test_live_429_then_success_and_refresh(con, http_server, fetcher):
    body = (FIX / "events.csv").read_bytes()
    http_server.route("/mirror/events.csv", Reply(429, "slow down"), Reply(200, body))
    url = f"{http_server.url}/mirror/events.csv"
    fetched = ADAPTER.fetch_live(fetcher, url=url)
    assert fetcher.waits == [0.5]
    assert fetched[0].path.name == "events.csv" and fetched[0].path.read_bytes() == body
    report = ingest_file(con, ADAPTER, fetched[0].path, label=fetched[0].url)
    assert (report.rows_in, report.loaded) == (2, 2)
    assert event(con, "TST0101")["country"] == "BLR"
    # the mirror changes in place: a second fetch downloads again instead of using the cache
    ADAPTER.fetch_live(fetcher, url=url)
    assert len(http_server.requests) == 3


def test_live_500_persists(http_server, fetcher):
    http_server.route("/mirror/events.csv", Reply(500, "boom"))
    with pytest.raises(FetchError, match="failed after 4 attempts: HTTP 500"):
        ADAPTER.fetch_live(fetcher, url=f"{http_server.url}/mirror/events.csv")
    assert fetcher.waits == [0.5, 1.0, 2.0]


def test_row_with_extra_fields_is_a_parse_reject(con):
    report = ingest_file(con, ADAPTER, FIX / "cir_extra_column.csv", max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (3, 2, 1)
    line, kind, reason = con.execute("SELECT line, error_type, reason FROM rejects").fetchone()
    assert (line, kind) == (4, "TOO MANY COLUMNS")
    assert reason.startswith("too many columns: Expected Number of Columns: 15")
