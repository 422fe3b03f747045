"""UCDP GED adapter: the real Ukraine files, synthetic malformed files, and the GED API."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources.ucdp import ADAPTER, BASIS, COLUMNS, GED_BASIS, is_candidate
from vigil.store import connect

FIX = FIXTURES / "ucdp"
GED = "ucdp_ged_ukraine_2014_2022q1/UCDP-Ukraine.csv.gz"
CANDIDATE = (
    "ucdp_ged_ukraine_candidate_2022_2023/"
    "ucdp_ged_ukraine_2022-02_2023-02_from_peacerep_2023-05.csv.gz"
)


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The file's records, counted independently of DuckDB."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def snapshot(con) -> list[tuple]:
    return con.execute("SELECT * FROM events ORDER BY source, source_id").fetchall()


def event(con, source_id: str) -> dict:
    cur = con.execute("SELECT * FROM events WHERE source_id = ?", [source_id])
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


@pytest.mark.parametrize(("name", "expected"), [(GED, 3077), (CANDIDATE, 894)])
def test_real_file_loads_and_reconciles(con, shared_data, name, expected):
    path = shared_data / name
    rows = csv_rows(path)
    assert len(rows) == expected  # the README's count
    report = ingest_file(con, ADAPTER, path)
    assert (report.rows_in, report.loaded, report.rejected, report.duplicates) == (
        expected,
        expected,
        0,
        0,
    )
    # Both files are valid UTF-8 (the candidate README says it was re-encoded): no fallback.
    assert not any("cp1252" in n for n in report.notes)
    stored = con.execute(
        "SELECT count(*), count(DISTINCT source_id), sum(fatalities) "
        "FROM events WHERE source = 'ucdp'"
    ).fetchone()
    assert stored == (expected, expected, sum(int(r["best"]) for r in rows))
    assert (
        con.execute(
            "SELECT count(*) FROM events WHERE category IS NULL OR country IS NULL"
        ).fetchone()[0]
        == 0
    )
    # available_at, computed independently: the candidate file's rows all get date_end+31d;
    # in the GED(+candidate) file, years before its latest year are stable GED (June y+1)
    latest = max(int(r["year"]) for r in rows)
    expected_at = {}
    for r in rows:
        if name == GED and int(r["year"]) < latest:
            expected_at[r["id"]] = (dt.datetime(int(r["year"]) + 1, 6, 30), GED_BASIS)
        else:
            end = dt.date.fromisoformat(
                r["date_end_iso"] if name == CANDIDATE else r["date_end"][:10]
            )
            expected_at[r["id"]] = (
                dt.datetime.combine(end, dt.time()) + dt.timedelta(days=31),
                BASIS,
            )
    got_at = {
        sid: (at, basis)
        for sid, at, basis in con.execute(
            "SELECT source_id, available_at, available_basis FROM events"
        ).fetchall()
    }
    assert got_at == expected_at
    assert Counter(b for _, b in got_at.values()) == (
        {GED_BASIS: 3077 - 21, BASIS: 21} if name == GED else {BASIS: 894}
    )

    before = snapshot(con)
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.duplicates, again.rejected) == (0, expected, 0)
    assert snapshot(con) == before


def test_ged_spot_values(con, shared_data):
    ingest_file(con, ADAPTER, shared_data / GED)
    mh17 = event(con, "154679")  # MH17, 17 July 2014
    assert mh17["occurred_on"] == dt.date(2014, 7, 17)
    assert mh17["fatalities"] == 298 and mh17["mentions"] == 7
    assert (mh17["actor1"], mh17["actor1_country"], mh17["actor2"]) == (
        "Government of Ukraine",
        "UKR",
        "DPR",
    )
    assert (mh17["country"], mh17["admin1"], mh17["location"]) == (
        "UKR",
        "Donetsk oblast",
        "MH17 crash site",
    )
    assert (mh17["category"], mh17["mode"], mh17["source_code"]) == ("ASSAULT", "state-based", "1")
    assert mh17["geo_precision"] == "point" and mh17["url"] is None
    # stable GED row: public with the annual GED release, June of year+1
    assert (mh17["available_at"], mh17["available_basis"]) == (
        dt.datetime(2015, 6, 30),
        "annual GED release (June of year+1)",
    )
    # the file's latest year (2022) is its candidate part: date_end + 31 days
    late = event(con, "429380")
    assert (late["occurred_until"], late["available_at"], late["available_basis"]) == (
        dt.date(2022, 2, 20),
        dt.datetime(2022, 3, 23),
        "date_end+31d (UCDP Candidate monthly release, <1 month lag)",
    )
    # README: deaths (best) per year 2014 4893 … 2022 35
    per_year = dict(
        con.execute("SELECT year(occurred_on), sum(fatalities) FROM events GROUP BY 1").fetchall()
    )
    assert per_year[2014] == 4893 and per_year[2022] == 35
    # the one row placed in Russia ("Russia (Soviet Union)", GW 365)
    assert event(con, "154671")["country"] == "RUS"


def test_candidate_us_dates_and_merge(con, shared_data):
    ingest_file(con, ADAPTER, shared_data / GED)
    ingest_file(con, ADAPTER, shared_data / CANDIDATE)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 3077 + 894
    e = event(con, "446258")  # date_start '8/31/2022 12:00:00 AM', date_end '09/01/2022 00:00'
    assert (e["occurred_on"], e["occurred_until"]) == (dt.date(2022, 8, 31), dt.date(2022, 9, 1))
    assert e["available_at"] == dt.datetime(2022, 10, 2)
    e = event(con, "446152")
    assert (e["fatalities"], e["location"], e["actor1_country"], e["actor2_country"]) == (
        3,
        "Enerhodar village",
        "RUS",
        "UKR",
    )
    # dates agree with the mirror's own ISO columns on every row
    iso = {
        r["id"]: (r["date_start_iso"], r["date_end_iso"]) for r in csv_rows(shared_data / CANDIDATE)
    }
    got = {
        sid: (str(a), str(b))
        for sid, a, b in con.execute(
            "SELECT source_id, occurred_on, occurred_until FROM events WHERE source_id IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [list(iso)],
        ).fetchall()
    }
    assert got == iso
    months = Counter(k[:7] for k, _ in iso.values())
    assert months["2022-09"] == 508 and months["2023-02"] == 347


def test_us_and_iso_time_formats(con):
    report = ingest_file(con, ADAPTER, FIX / "ucdp_us_dates.csv")
    assert (report.loaded, report.rejected) == (4, 0)
    dates = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT source_id, occurred_on, occurred_until, geo_precision, category, mode "
            "FROM events"
        ).fetchall()
    }
    assert dates["900001"][:2] == (dt.date(2022, 9, 30), dt.date(2022, 9, 30))
    assert dates["900002"][:3] == (dt.date(2022, 8, 31), dt.date(2022, 9, 1), "near")
    assert dates["900003"][:3] == (dt.date(2014, 1, 22), dt.date(2014, 1, 23), "country")
    assert dates["900004"] == (
        dt.date(2023, 2, 1),
        dt.date(2023, 2, 3),
        "point",
        "ASSAULT",
        "one-sided",
    )


def test_headerless_candidate_file(con):
    report = ingest_file(con, ADAPTER, FIX / "GEDEvent_v24_0_1_headerless.csv")
    assert (report.rows_in, report.loaded) == (2, 2)
    assert "no header row: read with the 49 standard UCDP GED column names" in report.notes
    assert event(con, "900011")["summary"] == "Line one\nline two"  # multi-line field kept
    assert event(con, "900012")["fatalities"] == 3
    raw = json.loads(event(con, "900012")["raw"])
    assert list(raw) == list(COLUMNS)


def test_headerless_wrong_width_fails(con):
    with pytest.raises(
        InputError,
        match="no header and the first record has 40 fields; a "
        "headerless UCDP GED file must have the 49",
    ):
        ingest_file(con, ADAPTER, FIX / "ucdp_headerless_short.csv")


def test_cp1252_lines_are_decoded_and_noted(con):
    report = ingest_file(con, ADAPTER, FIX / "ucdp_cp1252.csv")
    assert report.loaded == 2
    assert "1 lines decoded as cp1252 (not valid UTF-8)" in report.notes
    assert con.execute("SELECT notes FROM batches").fetchone()[0] == (
        "1 lines decoded as cp1252 (not valid UTF-8)"
    )
    assert event(con, "900041")["summary"] == "Kyiv – café hit"
    assert event(con, "900042")["summary"] == "Kharkiv — UTF-8 line"


def test_malformed_rows_are_rejected_with_reasons(con):
    path = FIX / "ucdp_malformed.csv"
    with pytest.raises(
        InputError,
        match=r"7 of 8 rows rejected .* line 2: date_start "
        r"'2022-13-45' is not a date",
    ):
        ingest_file(con, ADAPTER, path)
    report = ingest_file(con, ADAPTER, path, max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (8, 1, 7)
    reasons = con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()
    assert reasons == [
        (2, "date_start '2022-13-45' is not a date"),
        (3, "date_end '2022-03-01' is before date_start '2022-03-02'"),
        (4, "type_of_violence '4' is not a UCDP type of violence (1-3)"),
        (5, "best 'many' is not an integer"),
        (6, "latitude/longitude 95.0,37.5 is outside the globe"),
        (7, "id empty is not an integer"),
        (8, "date_end empty is not a date"),
    ]


def test_wrong_file_for_adapter(con):
    with pytest.raises(
        InputError,
        match=r"not a UCDP GED CSV .* header lacks id, "
        r"type_of_violence",
    ):
        ingest_file(con, ADAPTER, FIX / "ucdp_wrong_header.csv")
    with pytest.raises(InputError, match="not a file the ucdp adapter reads"):
        ingest_file(con, ADAPTER, FIXTURES / "cir" / "events.csv")


# --- live: the UCDP API ---------------------------------------------------------------------

ROUTE = "/api/gedevents/25.1"


def api_event(i: int, date: str) -> dict:
    """One API result: the CSV columns as JSON values (numbers, booleans, nulls)."""
    e: dict = dict.fromkeys(COLUMNS)
    e.update(
        id=800000 + i,
        relid=f"TST-{i}",
        year=2022,
        active_year=True,
        code_status="Clear",
        type_of_violence=1,
        side_a="Government of Russia (Soviet Union)",
        side_b="Government of Ukraine",
        number_of_sources=1,
        where_prec=1,
        where_coordinates="Testville",
        adm_1="Testland oblast",
        latitude=48.5,
        longitude=37.25,
        country="Ukraine",
        country_id=369,
        date_start=date,
        date_end=date,
        best=i,
        source_headline=f"Synthetic API event {i}",
    )
    return e


def page(events: list[dict], next_url: str) -> str:
    return json.dumps(
        {
            "TotalCount": 3,
            "TotalPages": 2,
            "PreviousPageUrl": "",
            "NextPageUrl": next_url,
            "Result": events,
        }
    )


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("UCDP_TOKEN", "test-token-123")


def test_api_paginates_retries_400_and_loads(con, http_server, fetcher, token):
    next_url = f"{http_server.url}{ROUTE}?pagesize=1000&Country=369&page=1"
    http_server.route(
        ROUTE,
        Reply(400, "Too many requests"),
        Reply(
            200,
            page(
                [api_event(1, "2022-09-01T00:00:00"), api_event(2, "2022-09-02T00:00:00")], next_url
            ),
        ),
        Reply(200, page([api_event(3, "2022-09-03T00:00:00")], "")),
    )
    fetched = ADAPTER.fetch_live(
        fetcher, base_url=http_server.url, since="2022-09-01", until="2022-09-30"
    )
    paths = [r[1] for r in http_server.requests]
    assert paths == [
        f"{ROUTE}?pagesize=1000&Country=369&StartDate=2022-09-01&EndDate=2022-09-30"
    ] * 2 + [f"{ROUTE}?pagesize=1000&Country=369&page=1"]
    assert all(
        {k.lower(): v for k, v in r[2].items()}["x-ucdp-access-token"] == "test-token-123"
        for r in http_server.requests
    )
    assert fetcher.waits == [0.5]  # the 400 was retried once
    assert len(fetched) == 1
    path = fetched[0].path
    assert path.name == "ucdp_ged_25.1_369_2022-09-01_2022-09-30.csv"
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    report = ingest_file(con, ADAPTER, path, label=fetched[0].url)
    assert (report.rows_in, report.loaded, report.rejected) == (3, 3, 0)
    e = event(con, "800003")
    assert (e["occurred_on"], e["fatalities"], e["actor1_country"]) == (
        dt.date(2022, 9, 3),
        3,
        "RUS",
    )
    assert json.loads(e["raw"])["active_year"] == "True"


def test_api_429_then_success(http_server, fetcher, token):
    http_server.route(
        ROUTE,
        Reply(429, "slow down", {"Retry-After": "2"}),
        Reply(200, page([api_event(1, "2022-09-01")], "")),
    )
    fetched = ADAPTER.fetch_live(fetcher, base_url=http_server.url)
    assert fetcher.waits == [2.0]
    rows = list(csv.reader(io.StringIO(fetched[0].path.read_text())))
    assert len(rows) == 2 and rows[1][0] == "800001"


def test_api_500_persists(http_server, fetcher, token):
    http_server.route(ROUTE, Reply(500, "boom"))
    with pytest.raises(FetchError, match="failed after 4 attempts: HTTP 500"):
        ADAPTER.fetch_live(fetcher, base_url=http_server.url)
    assert len(http_server.requests) == 4


def test_api_401_is_not_retried(http_server, fetcher, token):
    http_server.route(ROUTE, Reply(401, "API token required"))
    with pytest.raises(FetchError, match=r"HTTP 401 \(API token required\).*credentials"):
        ADAPTER.fetch_live(fetcher, base_url=http_server.url)
    assert len(http_server.requests) == 1 and fetcher.waits == []


def test_api_needs_token(http_server, fetcher, monkeypatch):
    monkeypatch.delenv("UCDP_TOKEN", raising=False)
    with pytest.raises(FetchError, match="UCDP_TOKEN is not set"):
        ADAPTER.fetch_live(fetcher, base_url=http_server.url)
    assert http_server.requests == []


def test_api_reply_without_result(http_server, fetcher, token):
    http_server.route(ROUTE, Reply(200, json.dumps({"error": "nope"})))
    with pytest.raises(FetchError, match="the reply has no 'Result' list"):
        ADAPTER.fetch_live(fetcher, base_url=http_server.url)


def test_api_empty_window_is_an_error(http_server, fetcher, token):
    http_server.route(ROUTE, Reply(200, page([], "")))
    with pytest.raises(InputError, match="the UCDP API returned no events for"):
        ADAPTER.fetch_live(fetcher, base_url=http_server.url, version="25.1")


def test_available_at_by_release(con, tmp_path):
    """Mixed years: earlier years are stable GED; a candidate-named copy is all candidate."""
    report = ingest_file(con, ADAPTER, FIX / "ucdp_us_dates.csv")
    assert report.loaded == 4
    got = dict(con.execute("SELECT source_id, available_at FROM events ORDER BY 1").fetchall())
    assert got == {
        "900001": dt.datetime(2023, 6, 30),  # 2022 < 2023, the file's latest year
        "900002": dt.datetime(2023, 6, 30),
        "900003": dt.datetime(2015, 6, 30),
        "900004": dt.datetime(2023, 3, 6),  # 2023-02-03 + 31 days
    }
    folder = tmp_path / "ucdp_candidate_2022"
    folder.mkdir()
    copy = folder / "ucdp_events.csv"
    copy.write_bytes((FIX / "ucdp_us_dates.csv").read_bytes())
    other = connect(":memory:")  # a fresh store: the same rows would be duplicates here
    try:
        ingest_file(other, ADAPTER, copy)
        got = dict(
            other.execute(
                "SELECT source_id, available_at FROM events WHERE available_basis = ? ORDER BY 1",
                [BASIS],
            ).fetchall()
        )
    finally:
        other.close()
    assert got == {
        "900001": dt.datetime(2022, 10, 31),
        "900002": dt.datetime(2022, 10, 2),
        "900003": dt.datetime(2014, 2, 23),
        "900004": dt.datetime(2023, 3, 6),
    }
    assert [
        is_candidate(Path(n))
        for n in (
            "GEDEvent_v24_0_1.csv",
            "ucdp_ged_25.0.9_369_start_end.csv",
            "GEDEvent_v24_1.csv",
            "ucdp_ged_25.1_369_2022-09-01_2022-09-30.csv",
            "x/GedEvent_Candidate.csv",
        )
    ] == [True, True, False, False, True]


def test_optional_column_absent_reads_as_empty(con, tmp_path):
    with (FIX / "ucdp_us_dates.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    path = tmp_path / "ucdp_no_sources.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        names = [c for c in rows[0] if c not in ("number_of_sources", "source_headline")]
        writer = csv.DictWriter(fh, names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    report = ingest_file(con, ADAPTER, path)
    assert (report.rows_in, report.loaded, report.rejected) == (4, 4, 0)
    assert report.notes == ("columns absent, read as empty: number_of_sources, source_headline",)
    e = event(con, "900004")
    assert (e["mentions"], e["summary"], e["fatalities"]) == (None, None, 1)
    assert "number_of_sources" not in json.loads(e["raw"])


def test_api_next_page_on_another_host_is_refused(http_server, fetcher, token):
    evil = "http://localhost:1/api/gedevents/25.1?page=1"
    http_server.route(ROUTE, Reply(200, page([api_event(1, "2022-09-01")], evil)))
    with pytest.raises(FetchError) as err:
        ADAPTER.fetch_live(fetcher, base_url=http_server.url)
    assert err.value.message.startswith(
        f"UCDP API NextPageUrl {evil} is on another host than the API (http://127.0.0.1:"
    )
    assert err.value.message.endswith("not sending the token there")
    assert len(http_server.requests) == 1  # only the API itself was asked
    # the same origin spelt with its path only is followed
    http_server.route(
        ROUTE,
        Reply(200, page([api_event(1, "2022-09-01")], f"{ROUTE}?pagesize=1000&page=2")),
        Reply(200, page([api_event(2, "2022-09-02")], "")),
    )
    fetched = ADAPTER.fetch_live(fetcher, base_url=http_server.url)
    assert http_server.requests[-1][1] == f"{ROUTE}?pagesize=1000&page=2"
    assert len(list(csv.reader(io.StringIO(fetched[0].path.read_text())))) == 3


def test_api_options_are_url_encoded(http_server, fetcher, token):
    http_server.route(ROUTE, Reply(200, page([api_event(1, "2022-09-01")], "")))
    fetched = ADAPTER.fetch_live(
        fetcher, base_url=http_server.url, country="369&x=1 2", since="2022-09-01"
    )
    assert [r[1] for r in http_server.requests] == [
        f"{ROUTE}?pagesize=1000&Country=369%26x%3D1+2&StartDate=2022-09-01"
    ]
    assert fetched[0].url == (
        f"{http_server.url}{ROUTE}?pagesize=1000&Country=369%26x%3D1+2&StartDate=2022-09-01"
    )
