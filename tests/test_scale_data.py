"""The scale benchmark's generator (benchmarks/scale_data.py): deterministic, readable by
the real GDELT adapter without rejects, and shaped like the real samples."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import scale_data as sd  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "data" / "gdelt_raw_samples"

# statistic -> largest absolute difference of any share, real vs generated (20,000 rows)
TOLERANCE = {
    "EventRootCode": 0.012,
    "ActionGeo_Type": 0.015,
    "theatre country (ActionGeo)": 0.015,
    "Actor1CountryCode set": 0.04,
    "Actor2CountryCode set": 0.04,
    "DATEADDED - SQLDATE, days": 0.005,
    "IsRootEvent": 0.02,
    "AvgTone": 0.05,
    "NumMentions": 0.015,
}


def test_same_seed_same_bytes_and_split_independent(tmp_path):
    a, b, c = (tmp_path / f"{k}.export.CSV" for k in "abc")
    sd.write_rows(a, 3, 3000)
    sd.write_rows(b, 3, 3000, threads=1)
    assert a.read_bytes() == b.read_bytes()
    # the same rows cut into two files (as the benchmark cuts them into days)
    sd.write_rows(c, 3, 3000, 0, 1234)
    d = tmp_path / "d.export.CSV"
    sd.write_rows(d, 3, 3000, 1234, 3000)
    assert c.read_bytes() + d.read_bytes() == a.read_bytes()
    sd.write_rows(c, 4, 3000)
    assert c.read_bytes() != a.read_bytes()
    lines = a.read_text().splitlines()
    assert len(lines) == 3000 and all(line.count("\t") == 60 for line in lines)
    ids = [int(line.split("\t", 1)[0]) for line in lines]
    added = [line.split("\t")[59] for line in lines]
    assert ids == sorted(ids) and added == sorted(added)


def test_files_that_start_inside_a_chunk_lose_no_row(tmp_path, monkeypatch):
    """Every row of every file, when a file's rows straddle several generation chunks."""
    monkeypatch.setattr(sd, "CHUNK", 500)
    whole, parts = tmp_path / "whole.export.CSV", []
    sd.write_rows(whole, 5, 2600)
    for k, (i0, i1) in enumerate([(0, 777), (777, 1999), (1999, 2600)]):
        parts.append(tmp_path / f"{k}.export.CSV")
        assert sd.write_rows(parts[-1], 5, 2600, i0, i1) == i1 - i0
    joined = b"".join(p.read_bytes() for p in parts)
    assert joined == whole.read_bytes()
    ids = [int(line.split(b"\t", 1)[0]) for line in joined.splitlines()]
    assert ids == list(range(sd.FIRST_ID, sd.FIRST_ID + 2600))


def test_rows_load_through_the_adapter_without_rejects(tmp_path):
    from vigil.ingest import ingest_file
    from vigil.sources.gdelt import ADAPTER
    from vigil.store import connect

    con = connect(tmp_path / "s.duckdb")
    batch = sd.write_batch(tmp_path, 5, dt.datetime(2022, 11, 15, 12, 0), first_id=2_000_000_000)
    report = ingest_file(con, ADAPTER, batch)
    assert (report.rows_in, report.loaded, report.rejected) == (2400, 2400, 0)
    # one day of a 50,000-row set: the benchmark's file layout
    i0, i1, name = next(iter(sd.day_ranges(50_000, days=1)))
    sd.write_rows(tmp_path / name, 5, 50_000, i0, i1)
    report = ingest_file(con, ADAPTER, tmp_path / name)
    assert report.loaded == i1 - i0 and not report.rejected
    got = dict(con.execute("SELECT geo_precision, count(*) FROM events GROUP BY 1").fetchall())
    assert set(got) >= {"point", "country", "admin1"}
    assert con.execute("SELECT count(*) FROM events WHERE category IS NULL").fetchone()[0] == 0


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="no GDELT samples")
def test_shares_match_the_real_samples(tmp_path):
    path = tmp_path / "20231231234500.export.CSV"
    sd.write_rows(path, 11, 20_000)
    con = duckdb.connect()
    sd.read_exports(con, [path], "g")
    sd.read_exports(con, sorted(SAMPLES.glob("*.export.CSV.gz")), "r")
    real, gen = sd.fit_shares(con, "r"), sd.fit_shares(con, "g")
    for stat, tol in TOLERANCE.items():
        worst = max(abs(real[stat].get(v, 0) - gen[stat].get(v, 0))
                    for v in set(real[stat]) | set(gen[stat]))  # fmt: skip
        assert worst <= tol, (stat, real[stat], gen[stat])
    r, g = real["scalars"], gen["scalars"]
    assert g["median mentions"] == r["median mentions"]
    assert abs(g["mean tone"] - r["mean tone"]) < 0.2
    assert abs(g["sd tone"] - r["sd tone"]) < 0.3
    assert abs(g["row bytes"] / r["row bytes"] - 1) < 0.1
