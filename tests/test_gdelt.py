"""GDELT 2.0 adapter: real exports, malformed input, idempotency, live feed."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from conftest import Reply
from gdelt_rows import row, rows, write
from vigil.errors import ChecksumError, FetchError, InputError, RejectThresholdError
from vigil.ingest import ingest_file
from vigil.reference import taxonomy
from vigil.sources.gdelt import ADAPTER, parse_index
from vigil.sources.http import Fetcher

NAME = "20220220101500.export.CSV"


def snapshot(con) -> tuple:
    """Everything the store holds, as one comparable value."""
    return tuple(
        con.execute(
            f"SELECT count(*), md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)) FROM {name} t"
        ).fetchone()
        for name in ("events", "observations", "documents", "rejects", "batches")
    )


@pytest.mark.parametrize("name", ["20180101000000.export.CSV.gz", "20191024143000.export.CSV.gz"])
def test_real_export_loads_every_line(con, shared_data: Path, name: str) -> None:
    path = shared_data / "gdelt_raw_samples" / name
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    report = ingest_file(con, ADAPTER, path)
    assert report.rows_in == len(lines)
    assert (report.loaded, report.rejected, report.duplicates) == (len(lines), 0, 0)
    ids = {line.split("\t")[0] for line in lines}
    stored = {r[0] for r in con.execute("SELECT source_id FROM events").fetchall()}
    assert stored == ids
    # Every event keeps its exact input line, and when GDELT first saw it.
    first = lines[0].split("\t")
    raw, available = con.execute(
        "SELECT raw, strftime(available_at, '%Y%m%d%H%M%S') FROM events WHERE source_id = ?",
        [first[0]],
    ).fetchone()
    assert raw == lines[0]
    assert available == first[59]


def test_real_export_maps_fips_and_cameo(con, shared_data: Path) -> None:
    path = shared_data / "gdelt_raw_samples" / "20191024143000.export.CSV.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = [x.split("\t") for x in fh.read().splitlines()]
    ingest_file(con, ADAPTER, path)
    expected_blr = sum(1 for f in lines if f[53] == "BO")
    got = con.execute("SELECT count(*) FROM events WHERE country = 'BLR'").fetchone()[0]
    assert got == expected_blr == 10
    # The SQL join and the Python lookup agree on every event's category.
    stored = dict(con.execute("SELECT source_id, category FROM events").fetchall())
    assert stored == {f[0]: taxonomy.category_for("cameo", f[26]) for f in lines}
    assert {stored[f[0]] for f in lines if f[26] in ("190", "193", "194", "195")} == {"ASSAULT"}


def test_centroid_precision_is_marked(con, tmp_path: Path) -> None:
    path = write(tmp_path / NAME, [row(ActionGeo_Type="1"), row(GLOBALEVENTID="2")])
    ingest_file(con, ADAPTER, path)
    got = dict(con.execute("SELECT source_id, geo_precision FROM events").fetchall())
    assert got == {"900000001": "country", "2": "point"}


def test_second_load_is_skipped_and_forced_reload_changes_nothing(con, tmp_path: Path) -> None:
    path = write(tmp_path / NAME, rows(50))
    first = ingest_file(con, ADAPTER, path)
    before = snapshot(con)
    again = ingest_file(con, ADAPTER, path)
    assert again.skipped and snapshot(con) == before
    forced = ingest_file(con, ADAPTER, path, force=True)
    assert (forced.loaded, forced.duplicates) == (0, 50)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == first.loaded == 50


def test_overlapping_batches_do_not_duplicate(con, tmp_path: Path) -> None:
    ingest_file(con, ADAPTER, write(tmp_path / NAME, rows(30)))
    second = write(tmp_path / "20220220103000.export.CSV", rows(30, start=900000021))
    report = ingest_file(con, ADAPTER, second)
    assert (report.loaded, report.duplicates) == (20, 10)
    assert con.execute("SELECT count(DISTINCT source_id), count(*) FROM events").fetchone() == (
        50,
        50,
    )


MALFORMED = [
    (
        "truncated",
        row(GLOBALEVENTID="1").rsplit("\t", 1)[0],
        "missing columns: Expected Number of Columns: 61 Found: 60",
    ),
    (
        "extra tab",
        row(GLOBALEVENTID="1", Actor1Name="RUS\tSIA"),
        "too many columns: Expected Number of Columns: 61 Found: 62",
    ),
    (
        "bad date",
        row(GLOBALEVENTID="1", SQLDATE="20221340"),
        "SQLDATE '20221340' is not a YYYYMMDD date",
    ),
    ("empty id", row(GLOBALEVENTID=""), "GLOBALEVENTID empty is not an integer"),
    (
        "bad dateadded",
        row(GLOBALEVENTID="1", DATEADDED="2022"),
        "DATEADDED '2022' is not a YYYYMMDDHHMMSS time",
    ),
    (
        "bad code",
        row(GLOBALEVENTID="1", EventCode="999", EventBaseCode="999", EventRootCode="99"),
        "EventCode '999' is not a CAMEO event code",
    ),
    (
        "bad lat",
        row(GLOBALEVENTID="1", ActionGeo_Lat="north"),
        "ActionGeo_Lat 'north' is not a number",
    ),
    (
        "off globe",
        row(GLOBALEVENTID="1", ActionGeo_Lat="95.0"),
        "ActionGeo_Lat/Long 95.0,28.6333 is outside the globe",
    ),
]


@pytest.mark.parametrize(("case", "bad", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_row_is_quarantined_with_line_and_reason(con, tmp_path, case, bad, reason):
    lines = rows(40)
    lines[16] = bad
    path = write(tmp_path / NAME, lines)
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.05)
    assert (report.rows_in, report.loaded, report.rejected) == (40, 39, 1)
    line, got_reason, raw = con.execute("SELECT line, reason, raw FROM rejects").fetchone()
    assert line == 17
    assert got_reason == reason
    assert raw == bad


def test_invalid_utf8_is_quarantined(con, tmp_path: Path) -> None:
    lines: list = rows(40)
    lines[5] = (
        row(GLOBALEVENTID="1", Actor1Name="X").replace("\tX\t", "\t\xff\xfeX\t").encode("latin-1")
    )
    path = write(tmp_path / NAME, lines)
    report = ingest_file(con, ADAPTER, path, max_reject_share=0.05)
    assert (report.loaded, report.rejected) == (39, 1)
    line, reason = con.execute("SELECT line, reason FROM rejects").fetchone()
    assert line == 6
    assert reason == (
        "invalid encoding: Invalid unicode (byte sequence mismatch) detected. "
        "This file is not utf-8 encoded."
    )


def test_unbalanced_quote_is_data_not_a_quote(con, tmp_path: Path) -> None:
    path = write(
        tmp_path / NAME, [row(GLOBALEVENTID="1", Actor1Name='"RUSSIA'), row(GLOBALEVENTID="2")]
    )
    report = ingest_file(con, ADAPTER, path)
    assert (report.loaded, report.rejected) == (2, 0)
    got = con.execute("SELECT actor1, url FROM events WHERE source_id = '1'").fetchone()
    assert got == ('"RUSSIA', "https://example.org/news/1")


def test_too_many_rejects_fail_the_batch_and_write_nothing(con, tmp_path: Path) -> None:
    ingest_file(con, ADAPTER, write(tmp_path / "20220220100000.export.CSV", rows(5, start=1)))
    before = snapshot(con)
    lines = rows(100)
    for i in (3, 50):
        lines[i] = row(GLOBALEVENTID=str(i), SQLDATE="notadate")
    path = write(tmp_path / NAME, lines)
    with pytest.raises(RejectThresholdError) as exc:
        ingest_file(con, ADAPTER, path)
    assert str(exc.value).startswith(
        f"{path}: 2 of 100 rows rejected (2.0% > 1.0% allowed); first, line 4: "
        "SQLDATE 'notadate' is not a YYYYMMDD date; nothing was loaded"
    )
    assert snapshot(con) == before


def test_empty_file(con, tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(b"")
    with pytest.raises(InputError) as exc:
        ingest_file(con, ADAPTER, path)
    assert str(exc.value) == (
        f"{path}: the file is empty (0 bytes); re-download it: an empty "
        "file is usually an interrupted download"
    )


def test_gdelt_1_file_is_refused_with_the_reason(con, tmp_path: Path) -> None:
    path = write(tmp_path / NAME, ["\t".join(["1"] * 58)])
    with pytest.raises(InputError, match=r"58 tab-separated columns: this is a GDELT 1.0 daily"):
        ingest_file(con, ADAPTER, path)


def test_wrong_adapter_csv_content(con, tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_text("event_id_cnty,event_date,year\nUKR1,2022-02-24,2022\n")
    with pytest.raises(InputError) as exc:
        ingest_file(con, ADAPTER, path)
    assert str(exc.value) == (
        f"{path}: line 1 has 1 tab-separated columns, not the 61 of a GDELT 2.0 event export "
        "(it looks comma-separated); check that the file was given to the right SOURCE "
        "(`vigil sources`)"
    )
    assert snapshot(con)[4][0] == 0


def test_wrong_file_name(con, tmp_path: Path) -> None:
    path = tmp_path / "acled_export.csv"
    path.write_text("x\n")
    with pytest.raises(InputError, match="not a file the gdelt adapter reads"):
        ingest_file(con, ADAPTER, path)


def test_zip_as_downloaded(con, tmp_path: Path) -> None:
    path = write(tmp_path / (NAME + ".zip"), rows(12))
    assert ingest_file(con, ADAPTER, path).loaded == 12


def test_interrupt_mid_batch_leaves_store_as_it_was(con, tmp_path: Path, monkeypatch) -> None:
    ingest_file(con, ADAPTER, write(tmp_path / "20220220100000.export.CSV", rows(5, start=1)))
    before = snapshot(con)
    import vigil.ingest as ingest_module

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_module, "_write_rejects", interrupt)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(con, ADAPTER, write(tmp_path / NAME, rows(30)))
    assert snapshot(con) == before


# --- live feed -------------------------------------------------------------------------


def _zipped(lines: list[str], name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, "".join(x + "\n" for x in lines))
    return buf.getvalue()


def _serve_export(server, name="20220220101500.export.CSV", md5=None, replies=()):
    body = _zipped(rows(25), name)
    digest = md5 or hashlib.md5(body).hexdigest()
    url = f"{server.url}/gdeltv2/{name}.zip"
    server.route(
        "/gdeltv2/lastupdate.txt",
        Reply(
            body=(
                f"{len(body)} {digest} {url}\n"
                f"99 0123456789abcdef0123456789abcdef {server.url}/gdeltv2/x.mentions.CSV.zip\n"
            )
        ),
    )
    server.route(f"/gdeltv2/{name}.zip", *replies, Reply(body=body))
    return body


def test_live_latest_export_is_verified_and_loaded(con, http_server, fetcher) -> None:
    _serve_export(http_server)
    fetched = ADAPTER.fetch_live(fetcher, base_url=f"{http_server.url}/gdeltv2/")
    assert len(fetched) == 1 and fetched[0].path.exists()
    report = ingest_file(
        con, ADAPTER, fetched[0].path, published_md5=fetched[0].md5, label=fetched[0].url
    )
    assert report.loaded == 25
    assert con.execute("SELECT published_md5, input FROM batches").fetchone() == (
        fetched[0].md5,
        fetched[0].url,
    )


def test_live_checksum_mismatch_keeps_nothing(http_server, fetcher) -> None:
    _serve_export(http_server, md5="0" * 32)
    with pytest.raises(ChecksumError, match="checksum mismatch: published MD5 0000"):
        ADAPTER.fetch_live(fetcher, base_url=f"{http_server.url}/gdeltv2/")
    assert not any(p.is_file() for p in fetcher.cache_dir.rglob("*"))


def test_live_429_is_retried_with_retry_after(http_server, fetcher) -> None:
    _serve_export(
        http_server, replies=[Reply(429, "slow down", {"Retry-After": "7"}), Reply(503, "busy")]
    )
    fetched = ADAPTER.fetch_live(fetcher, base_url=f"{http_server.url}/gdeltv2/")
    assert fetched[0].path.exists()
    assert fetcher.waits == [7.0, 1.0]  # Retry-After honoured, then exponential back-off


def test_live_persistent_server_error(http_server, fetcher) -> None:
    http_server.route("/gdeltv2/lastupdate.txt", Reply(500, "boom"))
    with pytest.raises(FetchError) as exc:
        ADAPTER.fetch_live(fetcher, base_url=f"{http_server.url}/gdeltv2/")
    assert str(exc.value) == (
        f"GET {http_server.url}/gdeltv2/lastupdate.txt failed after 4 attempts: HTTP 500; "
        "the server is unavailable or rate-limiting; try again later"
    )


def test_live_range_uses_masterfilelist(http_server, fetcher) -> None:
    body = _zipped(rows(3), NAME)
    md5 = hashlib.md5(body).hexdigest()
    listing = "".join(
        f"{len(body)} {md5} {http_server.url}/gdeltv2/{stamp}.export.CSV.zip\n"
        for stamp in ("20220219000000", "20220220101500", "20220222000000")
    )
    http_server.route("/gdeltv2/masterfilelist.txt", Reply(body=listing))
    http_server.route("/gdeltv2/20220220101500.export.CSV.zip", Reply(body=body))
    got = ADAPTER.fetch_live(
        fetcher, base_url=f"{http_server.url}/gdeltv2/", since="2022-02-20", until="2022-02-21"
    )
    assert [f.url.rsplit("/", 1)[-1] for f in got] == ["20220220101500.export.CSV.zip"]


def test_index_line_errors_name_the_line() -> None:
    with pytest.raises(InputError, match=r"lastupdate\.txt line 2: expected"):
        parse_index("1 0123456789abcdef0123456789abcdef http://x/a\nbroken\n", "lastupdate.txt")


def test_fetcher_404_is_not_retried(http_server, tmp_path) -> None:
    waits: list[float] = []
    f = Fetcher(tmp_path, sleep=waits.append)
    with pytest.raises(FetchError, match="HTTP 404"):
        f.get_text(f"{http_server.url}/missing")
    assert waits == []
