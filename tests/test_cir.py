"""CIR Russia-Ukraine Monitor adapter: the real 2022 file, synthetic malformed files, live."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
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


def incident_hash(date: str, title: str, lat: str, lon: str) -> str:
    return hashlib.md5("|".join((date, title, lat, lon)).encode()).hexdigest()[:8]


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
    malformed = [
        r for r in rows if not r["entry"] or not re.fullmatch(r"\d{4}-\d\d-\d\d", r["date"])
    ]
    # quarantined (tests/test_quarantine.py): the title starts with another day (a month
    # slip), or the date lies far beyond the rest of the file (a year slip in date and title)
    contradicted = {"UW2917", "UW3704", "UW4519"}
    beyond = {"UW4066", "UW4067", "UW4069"}
    for r in rows:
        if r["entry"] in contradicted:
            title_day = dt.datetime.strptime(r["title"][:10], "%d/%m/%Y").date()
            assert abs(title_day - dt.date.fromisoformat(r["date"])).days > 3
    bad = malformed + [r for r in rows if r["entry"] in contradicted | beyond]
    # copies of one incident (same entry, date, title, place) collapse to one record
    incidents = {
        (r["entry"], r["date"], r["title"], r["lat"], r["lon"]) for r in rows if r not in bad
    }
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == 6650
    assert report.rejected == len(bad) == 14
    assert report.loaded == len(incidents) == 6633
    assert report.duplicates == 6650 - 14 - 6633
    assert report.notes == (
        "3 rows dated far beyond the rest of the file quarantined",
        "5 entry ids reused for different incidents, each incident kept as "
        "<entry>#<md5(date|title|lat|lon)[:8]>: UW0104, UW0105, UW0132, UW0454, UW5227",
        "1 entry value(s) appear on rows with different content; copies of one incident "
        "(same date, title, lat, lon): the first in the file kept, the others counted as "
        "duplicates: UW0523",
    )
    # UW0523: three copies of one incident under three links; the file's first is kept
    first = next(r for r in rows if r["entry"] == "UW0523")
    url = con.execute("SELECT url FROM events WHERE source_id = 'UW0523'").fetchone()[0]
    assert url == first["link"]
    # ids computed independently: the plain entry, or entry#hash for a reused entry
    by_entry: dict[str, set] = {}
    for entry, *incident in incidents:
        by_entry.setdefault(entry, set()).add(tuple(incident))
    expected_ids = {
        e if len(found) == 1 else f"{e}#{incident_hash(*i)}"
        for e, found in by_entry.items()
        for i in found
    }
    stored_ids = {r[0] for r in con.execute("SELECT source_id FROM events").fetchall()}
    assert stored_ids == expected_ids and len(stored_ids) == 6633
    reasons = dict(con.execute("SELECT reason, count(*) FROM rejects GROUP BY 1").fetchall())
    assert {k: v for k, v in reasons.items() if not k.startswith("date 20")} == {
        "entry is empty (the row has no CIR id)": 4,
        "date is empty": 4,
    }
    quarantined = con.execute(
        "SELECT raw::JSON->>'entry', reason FROM rejects WHERE reason LIKE 'date 20%'"
    ).fetchall()
    assert {e for e, why in quarantined if "contradicts the date its own title" in why} == (
        contradicted
    )
    assert {e for e, why in quarantined if "after the 99th percentile" in why} == beyond
    last = max(dt.date.fromisoformat(r["date"]) for r in rows if r not in bad)
    assert con.execute("SELECT max(occurred_on) FROM events").fetchone()[0] == last
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
    assert (again.loaded, again.duplicates, again.rejected) == (0, 6650 - 14, 14)
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
    # a reused id: each incident is kept under UW0104#<md5(date|title|lat|lon)[:8]>
    assert (
        event(con, "UW0104#31939d09")["location"],
        event(con, "UW0104#ef62b66d")["location"],
    ) == (
        "Sevastopol",
        "Rylsk",
    )
    assert event(con, "UW0104#ef62b66d")["country"] == "RUS"
    assert con.execute("SELECT count(*) FROM events WHERE source_id = 'UW0104'").fetchone()[0] == 0


TITLE7 = "05/03/2022 Synthetic damage, quoted"


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
    # TST0007 names two incidents (the first twice): each kept under entry#hash
    first = event(con, "TST0007#" + incident_hash("2022-03-05", TITLE7, "", ""))
    assert (first["country"], first["geo_precision"], first["latitude"]) == ("UKR", None, None)
    assert first["summary"] == "05/03/2022 Synthetic damage, quoted — Good row"
    second = event(
        con, "TST0007#" + incident_hash("2022-03-06", "06/03/2022 Synthetic loss", "49.6", "36.6")
    )
    assert second["category"] == "ASSAULT"
    assert (
        con.execute("SELECT count(*) FROM events WHERE source_id LIKE 'TST0007%'").fetchone()[0]
        == 2
    )


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


HEADER = (
    "entry,date,event_group,title,brief description,lat,lon,country,province,district,"
    "town/city,arms/munition,violence level,link,geolocation"
)
INCIDENT = {
    "A": "E1,2022-03-05,Bombing or Explosion Feb - June,A strike,a,50.1,30.1,Ukraine,"
    "Kyiv Oblast,,X,,2,https://e.org/a,",
    "B": "E1,2022-03-10,Bombing or Explosion Feb - June,B strike,b,50.2,30.2,Ukraine,"
    "Kyiv Oblast,,Y,,2,https://e.org/b,",
    "C": "E1,2022-03-07,Bombing or Explosion Feb - June,C strike,c,50.3,30.3,Ukraine,"
    "Kyiv Oblast,,Z,,2,https://e.org/c,",
    # a copy of A with another link: the same incident
    "A2": "E1,2022-03-05,Bombing or Explosion Feb - June,A strike,a,50.1,30.1,Ukraine,"
    "Kyiv Oblast,,X,,2,https://e.org/a-copy,",
    "D": "E2,2022-03-08,Bombing or Explosion Feb - June,D strike,d,50.4,30.4,Ukraine,"
    "Kyiv Oblast,,W,,2,https://e.org/d,",
}


def _download(folder: Path, *keys: str) -> Path:
    folder.mkdir()
    path = folder / "events.csv"
    path.write_text("\n".join([HEADER, *(INCIDENT[k] for k in keys)]) + "\n", encoding="utf-8")
    return path


def test_reused_ids_are_stable_across_downloads(con, tmp_path):
    """A newly inserted incident under a reused entry must not shift the others' ids."""
    ids = {
        "A": "E1#" + incident_hash("2022-03-05", "A strike", "50.1", "30.1"),
        "B": "E1#" + incident_hash("2022-03-10", "B strike", "50.2", "30.2"),
        "C": "E1#" + incident_hash("2022-03-07", "C strike", "50.3", "30.3"),
    }
    v1 = ingest_file(con, ADAPTER, _download(tmp_path / "v1", "A", "B", "D"))
    assert (v1.rows_in, v1.loaded, v1.duplicates) == (3, 3, 0)
    assert v1.notes == (
        "1 entry ids reused for different incidents, each incident kept as "
        "<entry>#<md5(date|title|lat|lon)[:8]>: E1",
    )
    v2 = ingest_file(con, ADAPTER, _download(tmp_path / "v2", "A", "B", "C", "D", "A2"))
    assert (v2.rows_in, v2.loaded, v2.duplicates) == (5, 1, 4)
    got = con.execute("SELECT source_id, location FROM events ORDER BY 1").fetchall()
    assert got == sorted(
        [(ids["A"], "X"), (ids["B"], "Y"), (ids["C"], "Z"), ("E2", "W")]
    )  # A, B and C exactly once each; E2, used once, keeps its plain id
