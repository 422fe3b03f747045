"""ACLED adapter: real aggregates, synthetic event exports, and the live API on a local server.

ACLED's terms forbid redistributing event rows, so every event fixture is synthetic
(invented actors and places) in the real export layout.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import Reply
from vigil.errors import FetchError, InputError, RejectThresholdError
from vigil.ingest import ingest_file
from vigil.sources.acled import ADAPTER
from vigil.sources.acled_api import EVENT_COLUMNS
from vigil.store import connect

FIX = Path(__file__).resolve().parent / "fixtures" / "acled"
AGG = "acled_aggregates"
PV_MONTH = "acled_political_violence_events_country_month_asof_2025-12-12.csv"
CTRY_MO = "acledr_ctryMo_2021-01_2024-09.csv"
CTRY_MO_EV = "acledr_ctryMoEv_2021-01_2024-09.csv"
ALIAS_HINT = "src/vigil/reference/country_aliases.csv"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _table(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY source_id").fetchall()


# ---------------------------------------------------------------- real aggregates


@pytest.fixture(scope="module")
def agg(shared_data):
    """A store holding all eight real aggregate files, with each file's report."""
    con = connect(":memory:")
    files = ADAPTER.files_in(shared_data / AGG)
    reports = {f.name: ingest_file(con, ADAPTER, f) for f in files}
    yield con, reports, shared_data / AGG
    con.close()


def test_files_in_picks_the_eight_csv_files(shared_data):
    names = [p.name for p in ADAPTER.files_in(shared_data / AGG)]
    assert len(names) == 8 and "README.md" not in names
    assert ADAPTER.folders == (AGG,)
    assert all(ADAPTER.reader_for(shared_data / AGG / n).kind == "observations" for n in names)


def test_counts_reconcile_with_an_independent_count(agg):
    con, reports, folder = agg
    for name, report in reports.items():
        rows = _csv_rows(folder / name)
        per_row = 2 if name.startswith("acledr_") else 1  # Events and Deaths
        assert report.rows_in == per_row * len(rows), name
        assert report.loaded + report.rejected == report.rows_in, name
        assert report.duplicates == report.deleted == 0, name
        # Every row loads: the UK bases on Cyprus have their own code (XAD), not GBR.
        assert report.rejected == 0, name
    stored = con.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert stored == sum(r.loaded for r in reports.values())
    assert con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0
    xad = con.execute("SELECT count(*) FROM observations WHERE geo = 'XAD'").fetchone()[0]
    assert xad > 0


def test_spot_values(agg):
    con, _, folder = agg

    def value(series: str, geo: str, period: str) -> float:
        row = con.execute(
            "SELECT value FROM observations WHERE source_id = ?", [f"{series}|{geo}|{period}"]
        ).fetchone()
        return row[0] if row else None

    # Independently from the file, then the known figure.
    ukr = [
        r
        for r in _csv_rows(folder / PV_MONTH)
        if (r["COUNTRY"], r["MONTH"], r["YEAR"]) == ("Ukraine", "February", "2022")
    ]
    assert value("acled.pv_events", "UKR", "2022-02") == float(ukr[0]["EVENTS"]) == 1453
    assert value("acled.pv_events", "POL", "2025-09") == 21  # README: Poland's 2025 peak
    assert value("acled.pv_events", "UKR", "2022") == 39810
    assert value("acled.fatalities", "UKR", "2022") == 40573
    assert value("acled.civilian_fatalities", "UKR", "2022") == 5924
    assert value("acled.demonstration_events", "RUS", "2022") == 1304
    assert value("acled.civilian_targeting_events", "UKR", "2022") == 4354
    assert value("acledr.events", "UKR", "2022-02") == 1502
    assert value("acledr.deaths", "UKR", "2022-02") == 575
    assert value("acledr.events.battles", "UKR", "2022-02") == 359
    assert value("acledr.deaths.explosions_remote_violence", "UKR", "2022-02") == 226
    # The per-type file adds up to the total file for every Ukraine month.
    assert (
        con.execute("""
        SELECT count(*) FROM (
            SELECT period_start, sum(value) AS v FROM observations
            WHERE geo = 'UKR' AND series LIKE 'acledr.events.%' GROUP BY 1) t
        JOIN observations o ON o.series = 'acledr.events' AND o.geo = 'UKR'
             AND o.period_start = t.period_start AND o.value <> t.v""").fetchone()[0]
        == 0
    )


def test_flank_countries_totals_match_the_readme_and_are_not_zero_filled(agg):
    con, _, folder = agg
    got = dict(
        (geo, (n, total, first))
        for geo, n, total, first in con.execute("""
        SELECT geo, count(*), sum(value)::BIGINT, min(period_start) FROM observations
        WHERE series = 'acled.pv_events' AND freq = 'M' AND period_start >= DATE '2018-01-01'
        GROUP BY geo""").fetchall()
    )
    # README coverage table: rows and total events (sparse: months without events absent).
    assert got["UKR"][:2] == (96, 262085)
    assert got["RUS"][:2] == (96, 33249)
    assert got["BLR"][:2] == (85, 251)
    assert got["POL"][:2] == (62, 340)
    assert got["LVA"][:2] == (27, 5)
    assert got["LTU"][:2] == (28, 4)
    assert got["POL"][2] == date(2020, 1, 1)
    # Not zero-filled: Latvia has 27 stored months, exactly its rows in the file, out of 72.
    file_rows = Counter(r["COUNTRY"] for r in _csv_rows(folder / PV_MONTH))
    assert (
        con.execute(
            "SELECT count(*) FROM observations WHERE series = 'acled.pv_events' "
            "AND freq = 'M' AND geo = 'LVA'"
        ).fetchone()[0]
        == file_rows["Latvia"]
        == 27
    )


def test_available_at_and_attrs(agg):
    con, _, _ = agg
    rows = dict(
        (r[0], r[1:])
        for r in con.execute("""
        SELECT source_id, period_end, available_at, available_basis, attrs, unit
        FROM observations WHERE source_id IN ('acled.pv_events|UKR|2022-02',
            'acled.pv_events|UKR|2025-12', 'acled.fatalities|UKR|2025',
            'acledr.events.battles|UKR|2022-02')""").fetchall()
    )
    end, avail, basis, attrs, unit = rows["acled.pv_events|UKR|2022-02"]
    assert (end, avail, attrs, unit) == (date(2022, 2, 28), datetime(2022, 3, 15), None, "events")
    assert basis == "period end+14d (ACLED weekly release lag)"
    # Periods not past the lag on the file's as-of date are capped there and marked partial.
    for key in ("acled.pv_events|UKR|2025-12", "acled.fatalities|UKR|2025"):
        _, avail, basis, attrs, _ = rows[key]
        assert avail == datetime(2025, 12, 13)
        assert basis == "file as-of date 2025-12-12 (period not past the release lag)"
        assert json.loads(attrs) == {"partial": True, "as_of": "2025-12-12"}
    assert json.loads(rows["acledr.events.battles|UKR|2022-02"][3]) == {"event_type": "Battles"}


def test_reload_changes_nothing(agg):
    con, reports, folder = agg
    before = _table(con, "observations")
    for name in (PV_MONTH, CTRY_MO_EV, "acled_fatalities_country_year_asof_2025-12-12.csv"):
        skipped = ingest_file(con, ADAPTER, folder / name)
        assert skipped.skipped and skipped.rows_in == 0
        again = ingest_file(con, ADAPTER, folder / name, force=True)
        assert (again.loaded, again.updated) == (0, 0)
        assert again.duplicates == reports[name].loaded
        assert again.rejected == reports[name].rejected
    assert _table(con, "observations") == before


# ---------------------------------------------------------------- synthetic aggregates


CONFLICT = "key acled.pv_events|BLR|2022-01 appears on lines 11 and 12 with different content"


def test_malformed_aggregate_rows_get_reasons(con):
    path = FIX / "acled_political_violence_events_country_month_asof_2022-03-10.csv"
    report = ingest_file(con, ADAPTER, path, max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (13, 4, 9)
    got = con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()
    assert got == [
        (5, "MONTH/YEAR 'Febuary/2022' is not a month"),
        (6, f"COUNTRY 'Atlantis' matches no country: add an alias to {ALIAS_HINT}"),
        (7, f"COUNTRY 'Black Sea' is not a country (aliased to no ISO code in {ALIAS_HINT})"),
        (8, "EVENTS '-1' is negative"),
        (9, "EVENTS 'many' is not a number"),
        (10, "EVENTS is empty"),
        (11, CONFLICT),
        (12, CONFLICT),
        (
            14,
            "COUNTRY 'Russia' maps to RUS as 'Russian Federation' does in this file, so their "
            f"values would overwrite each other; map it to its own code or to none in "
            f"{ALIAS_HINT}",
        ),
    ]
    rows = con.execute(
        "SELECT source_id, available_at, attrs FROM observations ORDER BY source_id"
    ).fetchall()
    assert rows == [
        ("acled.pv_events|RUS|2022-01", datetime(2022, 2, 15), None),
        ("acled.pv_events|UKR|2022-01", datetime(2022, 2, 15), None),
        ("acled.pv_events|UKR|2022-02", datetime(2022, 3, 11), None),
        (
            "acled.pv_events|UKR|2022-03",
            datetime(2022, 3, 11),
            '{"partial": true, "as_of": "2022-03-10"}',
        ),
    ]


def test_too_many_aggregate_rejects_fail_the_batch(con):
    path = FIX / "acled_political_violence_events_country_month_asof_2022-03-10.csv"
    with pytest.raises(
        RejectThresholdError,
        match=r"acled_political_violence_events_country_"
        r"month_asof_2022-03-10\.csv: 9 of 13 rows rejected \(69\.2% > 1\.0% "
        r"allowed\); first, line \d+: ",
    ):
        ingest_file(con, ADAPTER, path)
    assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == 0


def test_acledr_event_types_are_checked(con):
    report = ingest_file(
        con, ADAPTER, FIX / "acledr_ctryMoEv_2022-01_2022-02.csv", max_reject_share=1.0
    )
    assert (report.rows_in, report.loaded, report.rejected) == (8, 4, 4)
    reasons = Counter(con.execute("SELECT line, reason FROM rejects").fetchall())
    assert reasons == {
        (4, "event_type 'Batles' is not an ACLED event type"): 2,
        (5, "event_month '2022-13-01' is not a month"): 2,
    }
    assert con.execute("SELECT series, value FROM observations ORDER BY 1").fetchall() == [
        ("acledr.deaths.battles", 20.0),
        ("acledr.deaths.protests", 0.0),
        ("acledr.events.battles", 10.0),
        ("acledr.events.protests", 0.0),
    ]


def test_wrong_header_and_wrong_file(con):
    path = FIX / "acled_fatalities_country_year_asof_2022-03-10.csv"
    with pytest.raises(InputError) as err:
        ingest_file(con, ADAPTER, path)
    assert str(err.value) == (
        f"{path}: not a CSV of ACLED aggregates (acled_<measure>_country_<month|year>_asof_"
        "<date>.csv, acledr_ctryMo[Ev]_*.csv): header lacks FATALITIES (found: COUNTRY, YEAR, "
        "EVENTS); check that the file was given to the right SOURCE (`vigil sources`)"
    )
    gdelt = FIX / "20220224000000.export.CSV"
    with pytest.raises(
        InputError,
        match=r"20220224000000\.export\.CSV: not a file the acled "
        r"adapter reads \(it reads: CSV of ACLED aggregates",
    ):
        ingest_file(con, ADAPTER, gdelt)


# ---------------------------------------------------------------- synthetic events


def test_event_export_with_bom_crlf_and_sea_events(con):
    path = FIX / "acled_export_synthetic.csv"
    report = ingest_file(con, ADAPTER, path)
    assert (report.rows_in, report.loaded, report.rejected) == (len(_csv_rows(path)), 7, 0)
    assert report.notes == (
        "2 events located at sea or in no state, country left empty (Black Sea ×1, Red Sea ×1)",
    )
    rows = {
        r[0]: r[1:]
        for r in con.execute("""
        SELECT source_id, occurred_on, category, mode, source_code, country, geo_precision,
               fatalities, available_at, available_basis, url, actor2 FROM events""").fetchall()
    }
    assert rows["UKR90001"] == (
        date(2022, 2, 24),
        "ASSAULT",
        "heavy-weapons",
        "Explosions/Remote violence|Shelling/artillery/missile attack",
        "UKR",
        "point",
        3,
        datetime(2022, 2, 25),
        "timestamp (ACLED last modification)",
        None,
        None,
    )
    assert rows["POL90003"][1] == "PROTEST" and rows["POL90003"][4:6] == ("POL", "point")
    assert rows["BLR90004"][4:6] == ("BLR", "admin1")
    assert rows["XKX90007"][4] == "XKX"  # iso 0: found through the country name
    assert rows["SEA90005"][4] is None and rows["SEA90006"][4] is None
    summary = con.execute("SELECT summary FROM events WHERE source_id = 'UKR90002'").fetchone()
    assert summary == ('Synthetic row, with a comma, "quotes"\nand a second line.',)
    raw = json.loads(
        con.execute("SELECT raw FROM events WHERE source_id = 'UKR90001'").fetchone()[0]
    )
    assert raw["event_id_cnty"] == "UKR90001" and raw["inter1"] == "8"
    before = _table(con, "events")
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.duplicates) == (0, 7)
    assert _table(con, "events") == before


def test_older_layout_is_recognised_by_its_header(con):
    path = FIX / "2022-baltics-old-layout.csv"
    assert ADAPTER.reader_for(path).label.startswith("CSV of ACLED events")
    report = ingest_file(con, ADAPTER, path)
    assert (report.loaded, report.rejected) == (2, 0)
    assert con.execute(
        "SELECT source_id, occurred_on, country, category FROM events ORDER BY 1"
    ).fetchall() == [
        ("LTU90008", date(2022, 3, 2), "LTU", "PROTEST"),
        ("LVA90009", date(2022, 3, 3), "LVA", "ASSAULT"),
    ]


def test_inter_codes_are_normalised_to_labels(con):
    from vigil.sources.acled import EventReader

    EventReader().stage(con, FIX / "2022-baltics-old-layout.csv", "_t")
    assert con.execute("SELECT actor1_type, actor2_type FROM _t ORDER BY source_id").fetchall() == [
        ("Protesters", "State forces"),
        ("Political militia", "Civilians"),
    ]


def test_malformed_event_rows(con):
    path = FIX / "acled_events_malformed.csv"
    with pytest.raises(RejectThresholdError, match="9 of 10 rows rejected"):
        ingest_file(con, ADAPTER, path)
    report = ingest_file(con, ADAPTER, path, max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (10, 1, 9)
    got = con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()
    assert got[:8] == [
        (
            3,
            "event_date '31 February 2022' is not a date (expected 2022-02-24 or 24 February 2022)",
        ),
        (
            4,
            "event_type|sub_event_type 'Explosions/Remote violence|Armed clashes' is not in "
            "the ACLED category map",
        ),
        (5, "timestamp 'yesterday' is not a Unix time in seconds"),
        (6, "latitude '95.1' is not a latitude"),
        (7, "geo_precision '4' is not 1, 2 or 3"),
        (8, "fatalities '-2' is not a count"),
        (9, "inter1 '12' is not an actor type (0-8 or a label)"),
        (10, "event_id_cnty is empty"),
    ]
    assert got[8][0] == 11 and got[8][1].startswith("missing columns: Expected Number of Col")
    with pytest.raises(
        InputError,
        match=r"acled_events_no_timestamp\.csv: not a CSV of ACLED "
        r"events .*header lacks timestamp",
    ):
        ingest_file(con, ADAPTER, FIX / "acled_events_no_timestamp.csv")


def test_malformed_deletions(con):
    report = ingest_file(con, ADAPTER, FIX / "acled_deleted_malformed.csv", max_reject_share=1.0)
    # Nothing stored to delete: the good tombstone is still kept (so a later load of the
    # event cannot bring it back) and counted as deleted; the bad one is a reject.
    assert (report.rows_in, report.duplicates, report.deleted, report.rejected) == (2, 0, 1, 1)
    assert con.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 1
    assert con.execute("SELECT line, reason FROM rejects").fetchall() == [
        (3, "deleted_timestamp 'soon' is not a Unix time in seconds")
    ]


# ---------------------------------------------------------------- live API

TOKEN = "tok-123"
SINCE, UNTIL = "2022-02-01", "2022-02-28"


def api_row(n: int, **kw) -> dict:
    """A synthetic event as the API returns it: ISO date, text actor types, numbers."""
    row = dict.fromkeys(EVENT_COLUMNS, "")
    row.update(
        event_id_cnty=f"UKR8{n:04d}",
        event_date="2022-02-24",
        year=2022,
        event_type="Battles",
        sub_event_type="Armed clash",
        actor1="Synthetic Army B",
        inter1="State forces",
        actor2="Synthetic Army A",
        inter2="External/Other forces",
        iso=804,
        country="Ukraine",
        admin1="Kyiv",
        location=f"Test Town {n}",
        latitude="50.4",
        longitude="30.5",
        geo_precision=1,
        notes="Synthetic API row.",
        fatalities=0,
        timestamp=1645747200 + n,
    )
    row.update(kw)
    return row


def _ok(data: list) -> Reply:
    # Since May 2026 the API no longer sends count/total_count.
    return Reply(200, json.dumps({"status": 200, "success": True, "data": data}))


def _serve(server, *pages: Reply, deleted: list | None = None) -> None:
    server.route(
        "/oauth/token",
        Reply(
            200, json.dumps({"token_type": "Bearer", "expires_in": 86400, "access_token": TOKEN})
        ),
    )
    server.route("/api/acled/read", *pages)
    server.route("/api/deleted/read", _ok(deleted or []))


def _fetch(fetcher, server, **options):
    opts = {"base_url": server.url, "countries": "Ukraine", "since": SINCE, "until": UNTIL}
    return ADAPTER.fetch_live(fetcher, **{**opts, **options})


def _queries(server, path: str) -> list[dict]:
    return [
        {k: v[0] for k, v in parse_qs(urlsplit(p).query).items()}
        for _, p, _, _ in server.requests
        if p.startswith(path)
    ]


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("ACLED_USERNAME", "analyst@example.org")
    monkeypatch.setenv("ACLED_PASSWORD", "s3cret")


def test_live_token_bearer_and_pagination(con, http_server, fetcher, creds):
    rows = [api_row(i) for i in range(5)]
    _serve(http_server, _ok(rows[:2]), _ok(rows[2:4]), _ok(rows[4:]))
    fetched = _fetch(fetcher, http_server, limit="2")
    assert [f.path.name for f in fetched] == ["acled_events_ukraine_2022-02-01_2022-02-28.csv"]
    method, _, _, body = http_server.requests[0]
    assert method == "POST" and parse_qs(body.decode()) == {
        "username": ["analyst@example.org"],
        "password": ["s3cret"],
        "grant_type": ["password"],
        "client_id": ["acled"],
        "scope": ["authenticated"],
    }
    reads = [
        (p, {k.lower(): v for k, v in h.items()})
        for _, p, h, _ in http_server.requests
        if p.startswith("/api/acled/read")
    ]
    assert [h["authorization"] for _, h in reads] == [f"Bearer {TOKEN}"] * 3
    assert _queries(http_server, "/api/acled/read") == [
        {
            "_format": "json",
            "country": "Ukraine",
            "event_date": f"{SINCE}|{UNTIL}",
            "event_date_where": "BETWEEN",
            "limit": "2",
            "page": str(p),
        }
        for p in (1, 2, 3)
    ]
    # First run: deletions since the start of the window.
    assert _queries(http_server, "/api/deleted/read")[0]["deleted_timestamp"] == "1643673600"
    report = ingest_file(con, ADAPTER, fetched[0].path)
    assert (report.rows_in, report.loaded) == (5, 5)
    assert (
        con.execute(
            "SELECT count(*) FROM events WHERE country = 'UKR' AND occurred_on = "
            "DATE '2022-02-24' AND category = 'ASSAULT'"
        ).fetchone()[0]
        == 5
    )


def test_live_deletions_remove_loaded_events(con, http_server, fetcher, creds):
    rows = [api_row(1), api_row(2)]
    _serve(http_server, _ok(rows))
    first = _fetch(fetcher, http_server)
    assert ingest_file(con, ADAPTER, first[0].path).loaded == 2
    mark = int((fetcher.cache_dir / "acled" / "deleted_watermark.txt").read_text())
    gone = {"event_id_cnty": "UKR80001", "deleted_timestamp": str(1645747200 + 3600)}
    _serve(http_server, _ok(rows), deleted=[gone])
    second = _fetch(fetcher, http_server)
    assert _queries(http_server, "/api/deleted/read")[-1]["deleted_timestamp"] == str(mark - 86400)
    assert [f.path.name for f in second] == [
        "acled_events_ukraine_2022-02-01_2022-02-28.csv",
        f"acled_deleted_since_{mark - 86400}.csv",
    ]
    reports = [ingest_file(con, ADAPTER, f.path) for f in second]
    assert reports[0].skipped  # the same events file again
    assert (reports[1].rows_in, reports[1].deleted) == (1, 1)
    assert con.execute("SELECT source_id FROM events").fetchall() == [("UKR80002",)]


def test_cache_folder_lists_deletions_last(tmp_path):
    names = [
        "acled_deleted_since_1.csv",
        "acled_events_ukraine_2022-02-01_2022-02-28.csv",
        "acled_events_poland_2022-02-01_2022-02-28.csv",
        "notes.txt",
    ]
    for name in names:
        (tmp_path / name).write_text("event_id_cnty\n", encoding="utf-8")
    assert [p.name for p in ADAPTER.files_in(tmp_path)] == [names[2], names[1], names[0]]


def test_live_zero_rows_after_earlier_rows_is_an_error(http_server, fetcher, creds):
    _serve(http_server, _ok([api_row(1)]))
    _fetch(fetcher, http_server)
    _serve(http_server, _ok([]))
    with pytest.raises(
        FetchError,
        match=r"ACLED returned 0 events for Ukraine "
        r"2022-02-01\.\.2022-02-28, but an earlier fetch returned 1",
    ):
        _fetch(fetcher, http_server)


def test_live_windows_split_by_country_and_month(http_server, fetcher, creds):
    _serve(http_server, _ok([]))
    assert (
        _fetch(
            fetcher,
            http_server,
            countries="Ukraine, Poland",
            since="2022-01-15",
            until="2022-03-10",
        )
        == []
    )
    got = [(q["country"], q["event_date"]) for q in _queries(http_server, "/api/acled/read")]
    months = ["2022-01-15|2022-01-31", "2022-02-01|2022-02-28", "2022-03-01|2022-03-10"]
    assert got == [(c, m) for c in ("Ukraine", "Poland") for m in months]


def test_live_credentials(monkeypatch, http_server, fetcher, creds):
    monkeypatch.delenv("ACLED_PASSWORD")
    with pytest.raises(FetchError) as err:
        _fetch(fetcher, http_server)
    assert str(err.value).startswith("ACLED live fetch needs ACLED_PASSWORD set; export")
    assert http_server.requests == []
    monkeypatch.setenv("ACLED_PASSWORD", "wrong")
    http_server.route("/oauth/token", Reply(401, '{"error": "invalid_grant"}'))
    with pytest.raises(FetchError) as err:
        _fetch(fetcher, http_server)
    assert "/oauth/token failed: HTTP 401" in str(err.value)
    assert err.value.hint.startswith("check ACLED_USERNAME and ACLED_PASSWORD")


def test_live_refusal_in_a_200_reply(http_server, fetcher, creds):
    _serve(http_server, Reply(200, '{"success": false, "error": "Access denied"}'))
    with pytest.raises(
        FetchError, match="ACLED refused the request: Access denied; check ACLED_USERNAME"
    ):
        _fetch(fetcher, http_server)


def test_live_retries_429_then_succeeds(http_server, fetcher, creds):
    _serve(http_server, Reply(429, "slow down", {"Retry-After": "3"}), _ok([api_row(1)]))
    fetched = _fetch(fetcher, http_server)
    assert fetcher.waits == [3.0] and len(fetched) == 1


def test_live_persistent_500_fails(http_server, fetcher, creds):
    _serve(http_server, Reply(500, "boom"))
    with pytest.raises(FetchError, match=r"failed after 4 attempts: HTTP 500"):
        _fetch(fetcher, http_server)
    assert fetcher.waits == [0.5, 1.0, 2.0]
    assert not (fetcher.cache_dir / "acled" / "deleted_watermark.txt").exists()


def test_live_page_ignored_by_server_is_caught(http_server, fetcher, creds):
    _serve(http_server, _ok([api_row(1), api_row(2)]))
    with pytest.raises(FetchError, match="page 2 repeats page 1"):
        _fetch(fetcher, http_server, limit="2")


def test_live_orphaned_deletions_file_is_returned_again(con, http_server, fetcher, creds):
    rows = [api_row(1), api_row(2)]
    _serve(http_server, _ok(rows))
    first = _fetch(fetcher, http_server)
    assert ingest_file(con, ADAPTER, first[0].path).loaded == 2
    mark = int((fetcher.cache_dir / "acled" / "deleted_watermark.txt").read_text())
    gone = {"event_id_cnty": "UKR80001", "deleted_timestamp": str(1645747200 + 3600)}
    # Run 1 fetches a deletion, but its files are never ingested (the ingest failed).
    _serve(http_server, _ok(rows), deleted=[gone])
    run1 = _fetch(fetcher, http_server)
    mark1 = int((fetcher.cache_dir / "acled" / "deleted_watermark.txt").read_text())
    orphan = f"acled_deleted_since_{mark - 86400}.csv"
    assert [f.path.name for f in run1] == [
        "acled_events_ukraine_2022-02-01_2022-02-28.csv",
        orphan,
    ]
    # Run 2: the watermark moved on, so the API lists no deletion any more; the cached
    # deletions file is offered again, last.
    _serve(http_server, _ok(rows), deleted=[])
    run2 = _fetch(fetcher, http_server)
    mark1 = int((fetcher.cache_dir / "acled" / "deleted_watermark.txt").read_text())
    assert (
        _queries(http_server, "/api/deleted/read")[-1]["deleted_timestamp"] == str(mark1 - 86400)
        or mark1 == mark
    )
    assert [f.path.name for f in run2] == [
        "acled_events_ukraine_2022-02-01_2022-02-28.csv",
        orphan,
    ]
    assert run2[1].url.startswith("file://")
    reports = [ingest_file(con, ADAPTER, f.path) for f in run2]
    assert [r.skipped for r in reports] == [True, False]
    assert (reports[1].rows_in, reports[1].deleted) == (1, 1)
    assert con.execute("SELECT source_id FROM events").fetchall() == [("UKR80002",)]
    # Run 3: everything is offered again and the ingest skips it all (idempotent).
    run3 = _fetch(fetcher, http_server)
    assert [ingest_file(con, ADAPTER, f.path).skipped for f in run3] == [True, True]


def test_live_cached_window_files_are_returned_with_deletions_last(http_server, fetcher, creds):
    cache = fetcher.cache_dir / "acled"
    cache.mkdir(parents=True)
    for name in ("acled_deleted_since_20.csv", "acled_deleted_since_100.csv"):
        (cache / name).write_text("event_id_cnty,deleted_timestamp\n", encoding="utf-8")
    _serve(http_server, _ok([api_row(1)]))
    _fetch(fetcher, http_server, since="2022-01-01", until="2022-01-31")
    got = _fetch(fetcher, http_server, deleted_since="50")  # Feb; Jan's file is cached
    assert [f.path.name for f in got] == [
        "acled_events_ukraine_2022-02-01_2022-02-28.csv",
        "acled_events_ukraine_2022-01-01_2022-01-31.csv",
        "acled_deleted_since_20.csv",
        "acled_deleted_since_100.csv",
    ]


def test_live_limit_above_page_cap_is_clamped(http_server, fetcher, creds):
    rows = [api_row(i) for i in range(12000)]
    # The server caps every page at 5000 rows, whatever `limit` asks for.
    _serve(http_server, _ok(rows[:5000]), _ok(rows[5000:10000]), _ok(rows[10000:]))
    fetched = _fetch(fetcher, http_server, limit="10000")
    assert [q["limit"] for q in _queries(http_server, "/api/acled/read")] == ["5000"] * 3
    with fetched[0].path.open(encoding="utf-8", newline="") as fh:
        got = [r["event_id_cnty"] for r in csv.DictReader(fh)]
    assert len(got) == 12000 and len(set(got)) == 12000
    assert got[0] == "UKR80000" and got[-1] == "UKR811999"
    assert "at most 5000" in ADAPTER.live_help
