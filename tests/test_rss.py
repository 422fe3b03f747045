"""RSS adapter: the real 2021-2023 snapshot and totals, synthetic malformed files, live feeds."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import FIXTURES, Reply
from vigil.errors import FetchError, InputError
from vigil.ingest import ingest_file
from vigil.sources import rss_feed
from vigil.sources.http import Fetched
from vigil.sources.rss import ADAPTER
from vigil.sources.rss_feed import html_to_text, outlet_key, parse_date, parse_feed

FIX = FIXTURES / "rss"
FOLDER = "news_rss_headlines_2021_2023"
PARQUET = "rss_headlines_region_filtered_2021_2023.parquet"
TOTALS = "rss_feed_daily_totals_unfiltered_2021_2023.csv.gz"
FETCH_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def table_state(con, table: str):
    """Row count and a digest of every stored key, content hash and batch."""
    return con.execute(
        f"SELECT count(*), md5(string_agg(source_id || record_hash || batch_id, ',' "
        f"ORDER BY source_id)) FROM {table}"
    ).fetchone()


def rejects(con) -> list[tuple]:
    return con.execute(
        "SELECT line, error_type, reason FROM rejects ORDER BY line NULLS LAST"
    ).fetchall()


# ------------------------------------------------------------------------ real data
def test_snapshot_loads_every_headline(con, shared_data):
    path = shared_data / FOLDER / PARQUET
    table = pq.read_table(path, columns=["feed", "source", "language"])
    assert table.num_rows == 133_430  # independent count (pyarrow, not DuckDB)
    report = ingest_file(con, ADAPTER, path)
    assert (report.kind, report.rows_in, report.loaded, report.rejected) == (
        "documents",
        133_430,
        133_430,
        0,
    )
    assert report.notes == ("146 rows have an empty feed (outlet left empty)",)
    n, ids = con.execute("SELECT count(*), count(DISTINCT source_id) FROM documents").fetchone()
    assert n == ids == 133_430

    # Languages: 'en-US', 'en-UK', 'pl-PL', 'en-gb'… → ISO 639-1, counted independently.
    expected = Counter(
        (v.split("-")[0].lower() if v else None) for v in table.column("language").to_pylist()
    )
    got = dict(con.execute("SELECT language, count(*) FROM documents GROUP BY 1").fetchall())
    assert got == dict(expected) == {"en": 82_526, "pl": 50_448, None: 454, "ja": 2}

    # Every real date_published is within its capture day, so none is capped.
    assert (
        con.execute(
            """SELECT count(*) FROM documents WHERE available_basis <> 'date_published'
           OR available_at <> published_at
           OR published_at < (raw::JSON->>'day')::DATE
           OR published_at > (raw::JSON->>'day')::DATE + INTERVAL 1 DAY"""
        ).fetchone()[0]
        == 0
    )

    row = con.execute(
        """SELECT published_at, available_at, language, outlet, body, url, source_id
           FROM documents WHERE title = 'Belarus migrants: Poland fears armed border escalation'"""
    ).fetchall()
    assert len(row) == 1
    published, available, lang, outlet, body, url, sid = row[0]
    assert published == available == datetime(2021, 11, 9, 10, 54, 36)
    assert (lang, outlet) == ("en", "http.feeds.bbci.co.uknewsrss.xml")
    assert body.startswith("The warning comes after hundreds of migrants")
    assert (
        sid
        == hashlib.md5(
            f"{url}\x1fBelarus migrants: Poland fears armed border escalation".encode()
        ).hexdigest()
    )
    # README: 75 Wagner + Belarus headlines 2023-06-24 .. 07-20.
    assert (
        con.execute(
            """SELECT count(*) FROM documents
               WHERE title ILIKE '%wagner%' AND title ILIKE '%belarus%'
           AND (raw::JSON->>'day') BETWEEN '2023-06-24' AND '2023-07-20'"""
        ).fetchone()[0]
        == 75
    )

    # Live fetch files key outlets the same way the snapshot sanitised feed URLs.
    pairs = {
        (f, s)
        for f, s in zip(
            table.column("feed").to_pylist(), table.column("source").to_pylist(), strict=True
        )
        if s
    }
    assert len(pairs) == 173 and all(outlet_key(s) == f for f, s in pairs)

    before = table_state(con, "documents")
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.duplicates, again.rejected) == (0, 133_430, 0)
    assert table_state(con, "documents") == before


def test_feed_totals(con, shared_data):
    path = shared_data / FOLDER / TOTALS
    with gzip.open(path, "rt", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 37_759
    report = ingest_file(con, ADAPTER, path)
    assert (report.kind, report.rows_in, report.loaded, report.rejected) == (
        "observations",
        37_759,
        37_759,
        0,
    )
    assert report.notes == ("11 rows have an empty feed (attrs feed null)",)
    total, series, units = con.execute(
        "SELECT sum(value), string_agg(DISTINCT series), string_agg(DISTINCT unit || freq || geo)"
        " FROM observations"
    ).fetchone()
    assert total == sum(int(r["n_items"]) for r in rows) == 1_109_221
    assert (series, units) == ("rss.feed_items_total", "itemsDWORLD")
    assert con.execute(
        """SELECT value, attrs, period_start, available_at FROM observations
           WHERE source_id = 'rss.feed_items_total|http.feeds.bbci.co.uknewsrss.xml|2021-01-01'"""
    ).fetchone() == (
        34.0,
        '{"feed":"http.feeds.bbci.co.uknewsrss.xml"}',
        datetime(2021, 1, 1).date(),
        datetime(2021, 1, 2),
    )
    before = table_state(con, "observations")
    again = ingest_file(con, ADAPTER, path, force=True)
    assert (again.loaded, again.duplicates) == (0, 37_759)
    assert table_state(con, "observations") == before


# ------------------------------------------------------------------ malformed files
PARQUET_ROWS = [
    # day, feed, title, link, date_published, language
    ("2022-01-05", "f.a", "Good", "https://e.test/1", "2022-01-05T10:00:00+02:00", "en-US"),
    ("yesterday", "f.a", "Bad day", "https://e.test/2", "2022-01-05 10:00:00+00:00", "en"),
    ("2022-01-05", "f.a", "Bad time", "https://e.test/3", "2022-13-45 10:00:00+00:00", "en"),
    ("2022-01-05", "f.a", "No offset", "https://e.test/4", "2022-01-05 10:00:00", "en"),
    ("2022-01-05", "f.a", "Undated", "https://e.test/5", "", "pl-PL"),
    ("2022-01-05", "", "Future", "https://e.test/6", "Sat, 08 Jan 2022 09:00:00 GMT", "pl_PL"),
    ("2022-01-05", "f.a", "", "", "2022-01-05 10:00:00+00:00", "en"),
]


def write_parquet(
    path: Path,
    rows,
    columns="day, feed, source, title, description, link, date_published, language",
) -> Path:
    tmp = duckdb.connect()
    names = [c.strip() for c in columns.split(",")]
    tmp.execute(f"CREATE TABLE t ({', '.join(n + ' VARCHAR' for n in names)})")
    for day, feed, title, link, published, lang in rows:
        values = {
            "day": day,
            "feed": feed,
            "source": "https://e.test/rss",
            "title": title,
            "description": "Synthetic.",
            "link": link,
            "date_published": published,
            "language": lang,
        }
        tmp.execute(
            f"INSERT INTO t VALUES ({', '.join('?' * len(names))})", [values[n] for n in names]
        )
    tmp.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    tmp.close()
    return path


def test_snapshot_rejects_and_fallbacks(con, tmp_path):
    path = write_parquet(tmp_path / "rss_headlines_synthetic.parquet", PARQUET_ROWS)
    report = ingest_file(con, ADAPTER, path, max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (7, 3, 4)
    assert report.notes == (
        "1 rows have an empty feed (outlet left empty)",
        "1 rows have no date_published (capture day used)",
        "1 rows dated after their capture day (available_at capped)",
    )
    assert rejects(con) == [
        (2, "invalid", "day 'yesterday' is not a YYYY-MM-DD date"),
        (
            3,
            "invalid",
            "date_published '2022-13-45 10:00:00+00:00' is not a time with a UTC offset",
        ),
        (4, "invalid", "date_published '2022-01-05 10:00:00' is not a time with a UTC offset"),
        (7, "invalid", "title and link are both empty"),
    ]
    got = con.execute(
        "SELECT title, published_at, available_at, available_basis, language, outlet"
        " FROM documents ORDER BY title"
    ).fetchall()
    assert got == [
        (
            "Future",
            datetime(2022, 1, 8, 9),
            datetime(2022, 1, 6),
            "capture_day_end (date_published after the capture day)",
            "pl",
            None,
        ),
        ("Good", datetime(2022, 1, 5, 8), datetime(2022, 1, 5, 8), "date_published", "en", "f.a"),
        (
            "Undated",
            datetime(2022, 1, 5),
            datetime(2022, 1, 6),
            "capture_day_end (no date_published)",
            "pl",
            "f.a",
        ),
    ]


def test_snapshot_wrong_files(con, tmp_path):
    missing = write_parquet(
        tmp_path / "rss_headlines_short.parquet",
        [],
        columns="day, feed, title, description, language",
    )
    with pytest.raises(InputError, match="header lacks link, date_published"):
        ingest_file(con, ADAPTER, missing)
    bogus = tmp_path / "rss_headlines_bogus.parquet"
    bogus.write_text("day,feed\n2022-01-01,x\n")
    with pytest.raises(InputError, match=r"rss_headlines_bogus\.parquet: not a readable Parquet"):
        ingest_file(con, ADAPTER, bogus)
    with pytest.raises(InputError, match="not a file the rss adapter reads"):
        ingest_file(con, ADAPTER, FIX / "world_rss2.xml")


def test_totals_malformed(con):
    report = ingest_file(con, ADAPTER, FIX / "rss_feed_daily_totals_bad.csv", max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (5, 2, 3)
    assert rejects(con) == [
        (3, "invalid", "day '2022-02-30' is not a YYYY-MM-DD date"),
        (4, "invalid", "n_items '-4' is not a non-negative integer"),
        (5, "invalid", "n_items empty is not a non-negative integer"),
    ]
    with pytest.raises(InputError, match=r"header lacks day, feed, n_items \(found: date"):
        ingest_file(con, ADAPTER, FIX / "rss_feed_daily_totals_wrong.csv")


def test_fetch_file_malformed(con):
    report = ingest_file(con, ADAPTER, FIX / "bad.rss.jsonl", max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (6, 1, 5)
    assert rejects(con) == [
        (3, "parse", "not JSON (Expecting value: line 1 column 1 (char 0))"),
        (4, "parse", "not a JSON object"),
        (5, "invalid", "title and link are both empty"),
        (6, "invalid", "published 'yesterday' is not an ISO 8601 time with offset"),
        (7, "invalid", "published '2024-03-01T10:00:00' is not an ISO 8601 time with offset"),
    ]
    assert con.execute(
        "SELECT source_id, language, outlet, available_basis FROM documents"
    ).fetchone() == (
        "http://example.test/feed.xml#g-1",
        "en",
        "http.example.testfeed.xml",
        "feed item date",
    )
    with pytest.raises(InputError, match="line 1 must be a JSON header with feed_url"):
        ingest_file(con, ADAPTER, FIX / "headerless.rss.jsonl")


# ----------------------------------------------------------------------- live feeds
@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(rss_feed, "_utcnow", lambda: FETCH_TIME)


def xml(name: str) -> bytes:
    return (FIX / name).read_bytes()


def test_live_rss2_and_atom(con, http_server, fetcher, clock):
    http_server.route("/pl.xml", Reply(200, xml("world_rss2.xml")))
    http_server.route("/en.xml", Reply(200, xml("world_atom.xml")))
    feeds = f"{http_server.url}/pl.xml,{http_server.url}/en.xml"
    got = ADAPTER.fetch_live(fetcher, feeds=feeds)
    assert [f.path.name.endswith("-20240301T120000.000000Z.rss.jsonl") for f in got] == [1, 1]
    for f in got:
        ingest_file(con, ADAPTER, f.path)
    docs = {
        r[0]: r[1:]
        for r in con.execute(
            """SELECT title, source_id, body, published_at, available_at, available_basis, language,
                  outlet FROM documents"""
        ).fetchall()
    }
    pl = f"{http_server.url}/pl.xml"
    assert docs["Białoruś: ćwiczenia wojsk przy granicy z Polską"] == (
        f"{pl}#art-1001",
        "Wojska Białorusi i Rosji rozpoczęły ćwiczenia „Zapad”.",
        datetime(2021, 11, 9, 9, 54, 36),
        datetime(2021, 11, 9, 9, 54, 36),
        "feed item date",
        "pl",
        outlet_key(pl),
    )
    assert docs['Москва: заявление МИД "о границе"'][:2] == (
        "https://example.test/ru/mid",
        "Заявление МИД России & комментарии",
    )
    undated = docs["Bez daty: komunikat"]
    assert undated[1:5] == (
        "Tekst „komunikatu”.",
        datetime(2024, 3, 1, 12),
        datetime(2024, 3, 1, 12),
        "fetched_at (item has no date)",
    )
    future = docs["Zapowiedź: jutrzejsza konferencja"]
    assert (
        future[0]
        == hashlib.md5(
            "https://example.test/zapowiedz\x1fZapowiedź: jutrzejsza konferencja".encode()
        ).hexdigest()
    )
    assert future[2:5] == (
        datetime(2030, 3, 1, 9),
        datetime(2024, 3, 1, 12),
        "fetched_at (item dated after the fetch)",
    )
    assert docs["Poland & Lithuania raise border alert"][:5] == (
        "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
        "Troops moved closer to the border.",
        datetime(2021, 11, 9, 9, 30),
        datetime(2021, 11, 9, 9, 30),
        "feed item date",
    )
    assert docs["Київ: нова заява"][1:2] + docs["Київ: нова заява"][5:6] == ("Текст заяви", "uk")
    assert docs["Poland & Lithuania raise border alert"][5] == "en"


def test_live_unchanged_items_are_duplicates(con, http_server, fetcher, monkeypatch):
    """A second full fetch of the same items (no validators sent back) changes nothing."""
    http_server.route("/pl.xml", Reply(200, xml("world_rss2.xml")))
    url = f"{http_server.url}/pl.xml"
    first_time = datetime(2024, 3, 1, 12, tzinfo=UTC)
    monkeypatch.setattr(rss_feed, "_utcnow", lambda: first_time)
    first = ADAPTER.fetch_live(fetcher, feeds=url)[0]
    assert ingest_file(con, ADAPTER, first.path).loaded == 4
    before = table_state(con, "documents")
    monkeypatch.setattr(rss_feed, "_utcnow", lambda: datetime(2024, 3, 1, 13, tzinfo=UTC))
    second = ADAPTER.fetch_live(fetcher, feeds=url)[0]
    assert second.path != first.path
    report = ingest_file(con, ADAPTER, second.path)
    assert (report.loaded, report.duplicates) == (0, 4)
    assert table_state(con, "documents") == before


def test_live_conditional_get(con, http_server, fetcher, clock):
    http_server.route(
        "/feed.xml",
        Reply(
            200,
            xml("world_atom.xml"),
            {"ETag": '"v1"', "Last-Modified": "Fri, 01 Mar 2024 11:00:00 GMT"},
        ),
        Reply(304, b""),
    )
    url = f"{http_server.url}/feed.xml"
    first = ADAPTER.fetch_live(fetcher, feeds=url)
    assert ingest_file(con, ADAPTER, first[0].path).loaded == 2
    second = ADAPTER.fetch_live(fetcher, feeds=url)
    headers = http_server.requests[-1][2]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Fri, 01 Mar 2024 11:00:00 GMT"
    assert "If-None-Match" not in http_server.requests[0][2]
    # 304: no new file; the last one is handed over again and the ingest skips it.
    assert second == first
    assert len(list((fetcher.cache_dir / "rss").glob("*.rss.jsonl"))) == 1
    assert ingest_file(con, ADAPTER, second[0].path).skipped
    state = json.loads((fetcher.cache_dir / "rss" / "feeds_state.json").read_text())
    assert state[url]["etag"] == '"v1"'


def test_live_bad_feed_named_others_kept(con, http_server, fetcher, clock):
    http_server.route("/bad.xml", Reply(200, xml("malformed.xml")))
    http_server.route("/good.xml", Reply(200, xml("world_rdf.xml")))
    bad, good = f"{http_server.url}/bad.xml", f"{http_server.url}/good.xml"
    got = ADAPTER.fetch_live(fetcher, feeds=f"{bad},{good}")
    assert fetcher.warnings == [
        f"rss feed skipped: {bad}: the feed is not well-formed XML "
        "(mismatched tag: line 2, column 48)"
    ]
    state = json.loads((fetcher.cache_dir / "rss" / "feeds_state.json").read_text())
    assert list(state) == [good]
    assert [f.path.name for f in got] == [state[good]["file"]]
    assert got[0].url == good
    items = (fetcher.cache_dir / "rss" / state[good]["file"]).read_text().splitlines()
    assert json.loads(items[0])["format"] == "rss1"
    assert json.loads(items[1])["published"] == "2023-07-11T03:00:00Z"
    assert ingest_file(con, ADAPTER, got[0].path).loaded == len(items) - 1


def test_live_failed_feed_and_orphaned_fetch_file(con, http_server, fetcher, monkeypatch):
    """Run 1: feed a succeeds, b fails; run 1's file is never ingested. Run 2 offers it."""
    http_server.route(
        "/a.xml", Reply(200, xml("world_rss2.xml")), Reply(200, xml("world_atom.xml"))
    )
    http_server.route("/b.xml", Reply(404, "gone"), Reply(200, xml("world_rdf.xml")))
    a, b = f"{http_server.url}/a.xml", f"{http_server.url}/b.xml"
    monkeypatch.setattr(rss_feed, "_utcnow", lambda: datetime(2024, 3, 1, 12, tzinfo=UTC))
    run1 = ADAPTER.fetch_live(fetcher, feeds=f"{a},{b}")
    assert [f.url for f in run1] == [a]
    assert fetcher.warnings == [f"rss feed skipped: GET {b} failed: HTTP 404 (gone)"]
    first_a = run1[0].path
    # run 1's file is not ingested (say the ingest failed); run 2 gets new content for a
    monkeypatch.setattr(rss_feed, "_utcnow", lambda: datetime(2024, 3, 1, 13, tzinfo=UTC))
    fetcher.warnings.clear()
    run2 = ADAPTER.fetch_live(fetcher, feeds=f"{a},{b}")
    assert fetcher.warnings == []
    assert [f.url for f in run2][:2] == [a, b]
    assert first_a not in [f.path for f in run2[:2]]
    assert [f.path for f in run2[2:]] == [first_a]  # the orphan, offered again
    assert first_a.name.endswith("-20240301T120000.000000Z.rss.jsonl")
    reports = [ingest_file(con, ADAPTER, f.path) for f in run2]
    assert [r.loaded for r in reports] == [2, 1, 4]  # atom 2, rdf 1, rss2 4 items
    # run 3: everything cached is offered again, and skipped as already loaded
    http_server.route("/a.xml", Reply(500, "down"))
    http_server.route("/b.xml", Reply(500, "down"))
    run3 = ADAPTER.fetch_live(fetcher, feeds=f"{a},{b}")
    assert len(fetcher.warnings) == 2
    assert fetcher.warnings[0] == f"rss feed skipped: GET {a} failed after 4 attempts: HTTP 500"
    assert sorted(f.path for f in run3) == sorted(f.path for f in run2)
    assert all(ingest_file(con, ADAPTER, f.path).skipped for f in run3)


def test_live_billion_laughs_refused(http_server, fetcher):
    http_server.route("/lol.xml", Reply(200, xml("billion_laughs.xml")))
    url = f"{http_server.url}/lol.xml"
    refused = re.escape(f"{url}: feed refused: the XML declares entities")
    with pytest.raises(FetchError, match=refused):
        ADAPTER.fetch_live(fetcher, feeds=url)
    assert not list((fetcher.cache_dir / "rss").glob("*.rss.jsonl"))


def test_live_retries_429_then_fails_on_persistent_500(http_server, fetcher, clock):
    http_server.route(
        "/slow.xml", Reply(429, "slow down", {"Retry-After": "7"}), Reply(200, xml("world_rdf.xml"))
    )
    http_server.route("/down.xml", Reply(500, "oops"))
    got = ADAPTER.fetch_live(fetcher, feeds=f"{http_server.url}/slow.xml")
    assert len(got) == 1 and fetcher.waits == [7.0]
    fetcher.waits.clear()
    url = f"{http_server.url}/down.xml"
    # the feed failed, but a fetch file is cached: it is returned, the failure a warning
    assert ADAPTER.fetch_live(fetcher, feeds=url) == [
        Fetched(got[0].path, got[0].path.resolve().as_uri())
    ]
    assert fetcher.warnings == [f"rss feed skipped: GET {url} failed after 4 attempts: HTTP 500"]
    assert fetcher.waits == [0.5, 1.0, 2.0]
    # every feed failed and nothing is cached: an error
    got[0].path.unlink()
    with pytest.raises(FetchError) as err:
        ADAPTER.fetch_live(fetcher, feeds=url)
    assert err.value.message == f"1 of 1 feeds failed: GET {url} failed after 4 attempts: HTTP 500"
    assert err.value.hint == (
        "nothing was fetched and no earlier fetch file is cached; check the URLs in "
        "--option feeds, or try again later"
    )


def test_parser_details():
    latin2 = (
        '<?xml version="1.0" encoding="ISO-8859-2"?><rss version="2.0"><channel>'
        "<title>Łódź</title><item><title>Żołnierze na granicy</title>"
        "<link>https://e.test/z</link></item></channel></rss>"
    ).encode("iso-8859-2")
    feed = parse_feed(latin2, "https://e.test/latin2")
    assert (feed.title, feed.items[0]["title"]) == ("Łódź", "Żołnierze na granicy")
    with pytest.raises(FetchError, match=r"https://e.test/x: not an RSS or Atom feed \(root"):
        parse_feed(b"<html><body>Error</body></html>", "https://e.test/x")
    assert (
        html_to_text("<div>a<br/>b</div><style>p{}</style> &amp;amp; &lt;ok&gt;")
        == "a b &amp; <ok>"
    )
    assert parse_date("Tue, 09 Nov 2021 10:54:36 -0500") == datetime(
        2021, 11, 9, 15, 54, 36, tzinfo=UTC
    )
    assert parse_date("2021-11-09T10:54:36") == datetime(2021, 11, 9, 10, 54, 36, tzinfo=UTC)
    assert parse_date("someday") is None


def test_snapshot_column_names_with_quotes(con, tmp_path):
    """Parquet column names are data: quotes in them must not break (or inject into) SQL."""
    path = tmp_path / "rss_headlines_quotes.parquet"
    table = pa.table(
        {
            "day": ["2022-01-05", "not a day"],
            "feed": ["f.a", "f.a"],
            "title": ["Quoted", "Bad"],
            "description": ["Synthetic.", "Synthetic."],
            "link": ["https://e.test/q", "https://e.test/b"],
            "date_published": ["2022-01-05 08:00:00+00:00", ""],
            "language": ["en", "en"],
            'x"': ['a "b"', "c"],
            "it's": ["d'e", "f"],
        }
    )
    pq.write_table(table, path)
    report = ingest_file(con, ADAPTER, path, max_reject_share=1.0)
    assert (report.rows_in, report.loaded, report.rejected) == (2, 1, 1)
    assert rejects(con) == [(2, "invalid", "day 'not a day' is not a YYYY-MM-DD date")]
    raw = json.loads(con.execute("SELECT raw FROM documents").fetchone()[0])
    assert (raw['x"'], raw["it's"], raw["title"]) == ('a "b"', "d'e", "Quoted")
