"""The hostile input corpus: damaged files, hostile options and stores that keep the
issue-13 defects fixed.

Every case is named after what it attacks. Together they pin the guarantees: a damaged file
ends as a named per-file failure (never a traceback, never "store error", never an aborted
run), a bad option is a usage error (exit 2, one line), a mistyped ``--db`` creates nothing,
the readers open the store read-only, the checksum and size of a batch describe the same
bytes, and NUL bytes never reach the store.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from gdelt_rows import row, rows, write
from vigil import sources
from vigil.cli import app
from vigil.errors import InputError
from vigil.ingest import ingest_file
from vigil.store import connect

ROOT = Path(__file__).resolve().parents[1]
GDELT = "20220220101500.export.CSV"
DAMAGED = "the file looks truncated or corrupt: re-download it"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _truncated(shared_data: Path, tmp_path: Path, rel: str, keep: float = 0.5) -> Path:
    """The first ``keep`` share of a real file's bytes, under the real file's name."""
    real = shared_data / rel
    data = real.read_bytes()
    path = tmp_path / real.name
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _random_bytes(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"<F" + bytes(range(256)) * 16)  # no gzip magic, no text
    return path


UCDP = "ucdp_ged_ukraine_2014_2022q1/UCDP-Ukraine.csv.gz"
NATURAL_EARTH = "natural_earth_admin0/ne_110m_admin_0_countries.geojson.gz"
CIR = "cir_russia_ukraine_monitor_2022/events.csv.gz"
GDELT_GZ = "gdelt_raw_samples/20180101000000.export.CSV.gz"

#: (source, how to build the damaged file); each read by a different path through the code:
#: Python's gzip (BadGzipFile, EOFError), Python's json over gzip, DuckDB's gzip reader
DAMAGE = {
    "random-bytes-named-gdelt-gz": (
        "gdelt",
        lambda d, t: _random_bytes(t, "20180101000000.export.CSV.gz"),
    ),
    "truncated-gdelt-gz-read-by-duckdb": ("gdelt", lambda d, t: _truncated(d, t, GDELT_GZ)),
    "truncated-ucdp-gz-eof": ("ucdp", lambda d, t: _truncated(d, t, UCDP)),
    "random-bytes-named-ucdp-gz": ("ucdp", lambda d, t: _random_bytes(t, "UCDP-Ukraine.csv.gz")),
    "truncated-naturalearth-gz-eof": (
        "naturalearth",
        lambda d, t: _truncated(d, t, NATURAL_EARTH),
    ),
    "truncated-cir-gz-read-by-duckdb": ("cir", lambda d, t: _truncated(d, t, CIR)),
}


# ------------------------------------------------------------------------ damaged files
@pytest.mark.parametrize("case", list(DAMAGE), ids=list(DAMAGE))
def test_damaged_file_is_a_named_input_error(case, con, tmp_path, shared_data) -> None:
    source, build = DAMAGE[case]
    path = build(shared_data, tmp_path)
    with pytest.raises(InputError) as exc:
        ingest_file(con, sources.get(source), path)
    assert str(path) in exc.value.message
    assert exc.value.hint == DAMAGED
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


@pytest.mark.parametrize("case", list(DAMAGE), ids=list(DAMAGE))
def test_damaged_file_on_the_command_line_is_not_a_store_error(case, tmp_path, shared_data) -> None:
    source, build = DAMAGE[case]
    path = build(shared_data, tmp_path)
    result = invoke("ingest", source, str(path), "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 1
    assert f"error: {path}" in result.output
    assert f"hint: {DAMAGED}" in result.output
    assert "store error" not in result.output and "Traceback" not in result.output
    assert "Aborted" not in result.output


def _data_folder(tmp_path: Path, shared_data: Path) -> Path:
    """A data folder: a good GDELT file, a GDELT file of random bytes, a truncated UCDP
    file and a truncated Natural Earth file."""
    data = tmp_path / "data"
    gdelt = data / "gdelt_raw_samples"
    gdelt.mkdir(parents=True)
    write(gdelt / GDELT, rows(5))
    _random_bytes(gdelt, "20180101000000.export.CSV.gz")
    for rel in (UCDP, NATURAL_EARTH):
        folder = data / Path(rel).parent
        folder.mkdir()
        _truncated(shared_data, folder, rel)
    return data


def test_damaged_files_do_not_abort_a_data_folder_run(tmp_path, shared_data) -> None:
    data = _data_folder(tmp_path, shared_data)
    db = tmp_path / "v.duckdb"
    result = invoke("ingest", "--data", str(data), "--db", str(db))
    assert result.exit_code == 1
    out = result.output
    assert "1 batch(es) loaded: 5 records written" in out  # the summary is printed
    for name in (
        "20180101000000.export.CSV.gz",
        "UCDP-Ukraine.csv.gz",
        "ne_110m_admin_0_countries.geojson.gz",
    ):
        assert f"{name}:" in out and name in out
    assert out.count(f"hint: {DAMAGED}") == 3
    assert "3 file(s) failed and loaded nothing" in out
    assert "Traceback" not in out and "Aborted" not in out
    assert connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 5


def test_damaged_files_in_json_mode_are_listed_as_failed(tmp_path, shared_data) -> None:
    data = _data_folder(tmp_path, shared_data)
    result = invoke("ingest", "--data", str(data), "--db", str(tmp_path / "v.duckdb"),
                    "--format", "json")  # fmt: skip
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert len(report["batches"]) == 1
    assert {Path(f["input"]).name for f in report["failed"]} == {
        "20180101000000.export.CSV.gz",
        "UCDP-Ukraine.csv.gz",
        "ne_110m_admin_0_countries.geojson.gz",
    }
    assert all(f["hint"] == DAMAGED for f in report["failed"])


def _cir_with_huge_field(tmp_path: Path, shared_data: Path) -> Path:
    with gzip.open(shared_data / CIR, "rt", encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(40)]
    fields = lines[5].rstrip("\n").split(",")
    fields[4] = '"' + "x" * 200_000 + '"'  # the brief description, one quoted 200 KB field
    fields[1] = "2022-13-45"  # and a bad date: the row is rejected, so its line is looked up
    lines[5] = ",".join(fields) + "\n"
    path = tmp_path / "events.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_field_over_the_csv_limit_is_loaded_or_a_named_failure(tmp_path, shared_data) -> None:
    """Python's csv stops at 128 KB a field; whatever the reader does with it, the file ends
    loaded, rejected with a reason or failed with its name, and a later file still loads."""
    huge = _cir_with_huge_field(tmp_path, shared_data)
    later = write(tmp_path / GDELT, rows(3))
    db = tmp_path / "v.duckdb"
    first = invoke("ingest", "cir", str(huge), "--db", str(db), "--max-reject-share", "0.5")
    assert first.exit_code in (0, 1), first.output
    assert "Traceback" not in first.output and "store error" not in first.output
    if first.exit_code == 1:
        assert f"error: {huge}" in first.output
    assert invoke("ingest", "gdelt", str(later), "--db", str(db)).exit_code == 0


#: what a reader may raise on a damaged file (a translated cause) ...
DAMAGE_RAISED = {
    "gzip-without-magic": lambda: gzip.BadGzipFile("Not a gzipped file (b'<F')"),
    "gzip-ended-early": lambda: EOFError("Compressed file ended before the end-of-stream"),
    "corrupt-deflate": lambda: zlib.error("Error -3 while decompressing data"),
    "csv-field-over-128k": lambda: csv.Error("field larger than field limit (131072)"),
    "bad-utf8": lambda: b"\xff".decode("utf-8"),
    "bad-json": lambda: json.loads('{"type": "Feat'),
    "vanished-mid-read": lambda: FileNotFoundError(2, "No such file or directory"),
    "duckdb-gzip-ended-early": lambda: duckdb.IOException("IO Error: Unexpected end of GZIP"),
    "duckdb-csv-error": lambda: duckdb.InvalidInputException("CSV Error on Line: 7"),
}
#: ... and what is a bug, or the store's trouble, and must surface as it is
NOT_DAMAGE = {
    "type-error": lambda: TypeError("unsupported operand"),
    "key-error": lambda: KeyError("col"),
    "duckdb-disk-full": lambda: duckdb.IOException("IO Error: No space left on device"),
    "duckdb-constraint": lambda: duckdb.ConstraintException("Duplicate key"),
}


def _made(make) -> Exception:
    """The exception ``make`` returns, or raises (decoding errors are made by decoding)."""
    try:
        return make()
    except Exception as exc:
        return exc


@pytest.mark.parametrize("case", list(DAMAGE_RAISED), ids=list(DAMAGE_RAISED))
def test_damage_raised_by_a_reader_is_translated(case, con, tmp_path, monkeypatch) -> None:
    path = write(tmp_path / GDELT, rows(2))
    raised = _made(DAMAGE_RAISED[case])
    _explode(monkeypatch, path.name, raised)
    with pytest.raises(InputError) as info:
        ingest_file(con, sources.get("gdelt"), path)
    assert info.value.message.startswith(f"{path}: cannot be read ({type(raised).__name__}: ")
    assert info.value.hint == DAMAGED and info.value.__cause__ is raised


@pytest.mark.parametrize("case", list(NOT_DAMAGE), ids=list(NOT_DAMAGE))
def test_a_bug_is_not_disguised_as_damage(case, con, tmp_path, monkeypatch) -> None:
    path = write(tmp_path / GDELT, rows(2))
    raised = NOT_DAMAGE[case]()
    _explode(monkeypatch, path.name, raised)
    with pytest.raises(type(raised)):
        ingest_file(con, sources.get("gdelt"), path)
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


class _Exploding:
    """A reader whose stage raises ``exc`` (a bug, an interrupt) for one file name."""

    def __init__(self, real, name: str, exc: BaseException) -> None:
        self.real, self.name, self.exc = real, name, exc

    def __getattr__(self, attr):
        return getattr(self.real, attr)

    def stage(self, con, path, table):
        if path.name == self.name:
            raise self.exc
        return self.real.stage(con, path, table)


def _explode(monkeypatch, name: str, exc: BaseException) -> None:
    adapter = sources.get("gdelt")
    real = adapter.reader_for

    def reader_for(path):
        return _Exploding(real(path), name, exc)

    monkeypatch.setattr(type(adapter), "reader_for", lambda self, path: reader_for(path))


def test_a_bug_in_one_file_is_a_named_failure_and_the_run_goes_on(tmp_path, monkeypatch):
    bad = write(tmp_path / "20220220100000.export.CSV", rows(2, start=1))
    good = write(tmp_path / GDELT, rows(3))
    _explode(monkeypatch, bad.name, TypeError("unsupported operand"))
    db = tmp_path / "v.duckdb"
    result = invoke("ingest", "gdelt", str(bad), str(good), "--db", str(db))
    assert result.exit_code == 1
    assert f"error: {bad}: TypeError: unsupported operand" in result.output
    assert "--debug" in result.output and "report it" in result.output
    assert connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 3


def test_an_interrupt_still_stops_the_run(tmp_path, monkeypatch) -> None:
    first = write(tmp_path / "20220220100000.export.CSV", rows(2, start=1))
    second = write(tmp_path / GDELT, rows(3))
    _explode(monkeypatch, first.name, KeyboardInterrupt())
    db = tmp_path / "v.duckdb"
    result = invoke("ingest", "gdelt", str(first), str(second), "--db", str(db))
    assert result.exit_code == 130
    assert connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 0


# -------------------------------------------------------------------- the batch's bytes
def test_file_changed_mid_load_fails_the_batch(con, tmp_path, monkeypatch) -> None:
    """The checksum and size recorded for a batch must describe the bytes loaded."""
    path = write(tmp_path / GDELT, rows(10))
    adapter = sources.get("gdelt")
    real = adapter.reader_for(path)

    class Truncating(_Exploding):
        def stage(self, con, p, table):
            staged = self.real.stage(con, p, table)
            p.write_bytes(p.read_bytes()[:100])  # someone rewrites the file meanwhile
            return staged

    monkeypatch.setattr(type(adapter), "reader_for", lambda self, p: Truncating(real, "", None))
    with pytest.raises(InputError, match="changed while it was being loaded") as exc:
        ingest_file(con, adapter, path)
    assert exc.value.hint == "load it again once it is complete"
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_batch_records_the_size_of_the_bytes_hashed(con, tmp_path) -> None:
    import hashlib

    path = write(tmp_path / GDELT, rows(4))
    ingest_file(con, sources.get("gdelt"), path)
    sha, size = con.execute("SELECT sha256, bytes FROM batches").fetchone()
    data = path.read_bytes()
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_nul_bytes_are_stripped_and_noted(con, tmp_path) -> None:
    lines = rows(5)
    lines[1] = row(GLOBALEVENTID="900000002", ActionGeo_FullName="Mins\x00k, Belarus")
    lines[3] = row(GLOBALEVENTID="900000004", SOURCEURL="https://example.org/\x00x")
    path = write(tmp_path / GDELT, lines)
    report = ingest_file(con, sources.get("gdelt"), path)
    assert report.loaded == 5
    nul = con.execute(
        "SELECT count(*) FROM events WHERE contains(location, chr(0)) OR contains(url, chr(0)) "
        "OR contains(raw, chr(0))"
    ).fetchone()[0]
    assert nul == 0
    assert con.execute("SELECT count(*) FROM events WHERE location = 'Minsk, Belarus'").fetchone()
    (note,) = [n for n in report.notes if "NUL" in n]
    assert note.startswith("stripped NUL bytes from 2 rows (")
    assert "raw" in note
    stored = con.execute("SELECT notes FROM batches").fetchone()[0]
    assert note in stored


# ----------------------------------------------------------------------- option values
def test_huge_limit_is_a_usage_error(tmp_path) -> None:
    db = tmp_path / "v.duckdb"
    invoke("ingest", "gdelt", str(write(tmp_path / GDELT, rows(2))), "--db", str(db))
    for args in (
        ["rejects", "--limit", "99999999999999999999"],
        ["evidence", "russian_buildup", "--limit", "99999999999999999999"],
        ["indicators", "--evidence", "99999999999999999999"],
        ["plot", "--from", "2022-01-01", "--to", "2022-02-01", "--step", "99999999999999999999"],
        ["replay", "--from", "2022-01-01", "--to", "2022-02-01", "--step", "99999999999999999999"],
        ["simulate", "--seed", "99999999999999999999"],
        ["backtest", "--model", "scenarios", "--step", "99999999999999999999"],
    ):
        result = invoke(*args, "--db", str(db))
        assert result.exit_code == 2, (args, result.output)
        assert "store error" not in result.output and "Traceback" not in result.output


FAR = ("9999-12-31", "0001-01-01")
#: every date option of every command (the other options each needs, then the option)
DATE_OPTIONS = {
    "indicators --as-of": (["indicators"], "--as-of"),
    "evidence --as-of": (["evidence", "russian_buildup"], "--as-of"),
    "plot --from": (["plot", "--to", "2022-02-01"], "--from"),
    "plot --to": (["plot", "--from", "2022-01-01"], "--to"),
    "assess --as-of": (["assess"], "--as-of"),
    "assess --since": (["assess", "--as-of", "2022-02-01"], "--since"),
    "simulate --as-of": (["simulate"], "--as-of"),
    "replay --from": (["replay", "--to", "2022-02-01"], "--from"),
    "replay --to": (["replay", "--from", "2022-01-01"], "--to"),
    "brief --as-of": (["brief", "--no-pdf"], "--as-of"),
    "brief --since": (["brief", "--no-pdf", "--as-of", "2022-02-01"], "--since"),
    "forecast --as-of": (["forecast"], "--as-of"),
    "note add --observed": (
        ["note", "add", "russian_buildup", "--grade", "B2", "--summary", "x", "--state", "high"],
        "--observed",
    ),
    "note withdraw --on": (["note", "withdraw", "n1", "--why", "x"], "--on"),
}


@pytest.mark.parametrize("day", FAR)
@pytest.mark.parametrize("case", list(DATE_OPTIONS), ids=list(DATE_OPTIONS))
def test_far_date_is_one_line_usage_error(case, day, tmp_path) -> None:
    args, option = DATE_OPTIONS[case]
    extra = ["--file", str(tmp_path / "notes.yaml")] if args[0] == "note" else []
    db = tmp_path / "none.duckdb"
    result = invoke(*args, option, day, *extra, "--db", str(db))
    assert result.exit_code == 2, result.output
    assert result.output.strip().count("\n") == 0, result.output
    assert result.output.startswith(f"error: {option} {day} is outside")
    assert "1900-01-01" in result.output and "2200-12-31" in result.output


@pytest.mark.parametrize("year", ["9999", "1"])
@pytest.mark.parametrize("option", ["--from", "--to"])
def test_far_backtest_year_is_one_line_usage_error(option, year, tmp_path) -> None:
    result = invoke("backtest", option, year, "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 2, result.output
    assert result.output.strip().count("\n") == 0, result.output
    assert result.output.startswith(f"error: {option} {year} is outside")


# ---------------------------------------------------------------------------- --db
def test_directory_as_db_says_so(tmp_path) -> None:
    result = invoke("status", "--db", str(tmp_path))
    assert result.exit_code == 1
    assert "is a directory: pass a .duckdb file" in result.output
    assert "another vigil process" not in result.output


def test_file_that_is_not_a_store_says_so(tmp_path) -> None:
    fake = tmp_path / "notes.duckdb"
    fake.write_text("hello, not a database\n" * 100)
    for args in (["status"], ["ingest", "gdelt", str(write(tmp_path / GDELT, rows(2)))]):
        result = invoke(*args, "--db", str(fake))
        assert result.exit_code == 1
        assert "not a DuckDB store" in result.output, result.output
        assert "another vigil process" not in result.output


READERS = {
    "status": ["status"],
    "rejects": ["rejects"],
    "notes": ["notes"],
    "documents": ["documents"],
    "evidence": ["evidence", "russian_buildup"],
    "indicators": ["indicators"],
    "assess": ["assess"],
    "forecast": ["forecast"],
    "plot": ["plot", "--from", "2022-01-01", "--to", "2022-02-01"],
}


@pytest.mark.parametrize("case", list(READERS), ids=list(READERS))
def test_mistyped_db_creates_nothing(case, tmp_path) -> None:
    db = tmp_path / "typo" / "typo.duckdb"
    result = invoke(*READERS[case], "--db", str(db))
    assert result.exit_code == 1, result.output
    assert f"error: no store at {db}" in result.output
    assert not db.exists() and not db.parent.exists()


def _hold(db: Path, read_only: bool):
    """Another process holding the store open until its stdin closes."""
    code = textwrap.dedent(f"""
        import sys, duckdb
        con = duckdb.connect({str(db)!r}, read_only={read_only})
        print("held", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def _release(proc) -> None:
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()


def test_readers_work_while_serve_holds_the_store(tmp_path, shared_data) -> None:
    """`vigil serve` opens the store read-only; the read-only commands must still run, and
    `evidence` (which writes only text matches) reads the matches as they stand."""
    db = tmp_path / "v.duckdb"
    invoke("ingest", "gdelt", str(write(tmp_path / GDELT, rows(3))), "--db", str(db))
    proc = _hold(db, read_only=True)
    try:
        status = invoke("status", "--db", str(db), "--format", "json")
        assert status.exit_code == 0, status.output
        assert json.loads(status.output)["totals"]["events"] == 3
        for args in (["rejects"], ["notes"], ["documents"]):
            assert invoke(*args, "--db", str(db)).exit_code == 0, args
        evidence = invoke("evidence", "russian_buildup", "--as-of", "2022-02-21", "--db",
                          str(db), "--data", str(shared_data))  # fmt: skip
        assert evidence.exit_code == 0, evidence.output
        assert "held by another process" in evidence.output
    finally:
        _release(proc)


def test_store_held_for_writing_gives_the_lock_hint(tmp_path) -> None:
    db = tmp_path / "v.duckdb"
    invoke("ingest", "gdelt", str(write(tmp_path / GDELT, rows(3))), "--db", str(db))
    proc = _hold(db, read_only=False)
    try:
        result = invoke("status", "--db", str(db))
    finally:
        _release(proc)
    assert result.exit_code == 1
    assert "another vigil process may hold it" in result.output


def test_status_run_as_a_process_names_a_missing_store(tmp_path) -> None:
    db = tmp_path / "typo.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "status", "--db", str(db)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"error: no store at {db}" in proc.stderr
    assert not db.exists()


# ------------------------------------------------------- gzip CRC (DuckDB checks none)
REAL_GDELT = "gdelt_raw_samples/20191024143000.export.CSV.gz"


def _flipped(shared_data: Path, tmp_path: Path, offset: int = 60000) -> Path:
    """The real GDELT export with one bit flipped inside its deflate data, renamed to
    another interval: it still inflates, but its CRC-32 no longer matches."""
    data = bytearray((shared_data / REAL_GDELT).read_bytes())
    data[offset] ^= 1
    path = tmp_path / "20191024120000.export.CSV.gz"
    path.write_bytes(bytes(data))
    return path


def test_gzip_with_a_flipped_bit_changes_no_stored_row(tmp_path, shared_data) -> None:
    db = tmp_path / "v.duckdb"
    assert invoke("ingest", "gdelt", str(shared_data / REAL_GDELT), "--db", str(db)).exit_code == 0
    before = connect(db).execute("SELECT * FROM events ORDER BY ALL").fetchall()
    bad = _flipped(shared_data, tmp_path)
    result = invoke("ingest", "gdelt", str(bad), "--db", str(db))
    assert result.exit_code == 1
    assert f"error: {bad}: cannot be read" in result.output
    assert f"hint: {DAMAGED}" in result.output
    con = connect(db)
    assert con.execute("SELECT * FROM events ORDER BY ALL").fetchall() == before
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 1


@pytest.mark.parametrize(
    "case",
    ["flipped-bit", "flipped-length", "trailing-garbage", "garbage-after-padding"],
)
def test_gzip_that_fails_its_checks_is_damage(case, con, tmp_path, shared_data) -> None:
    data = (shared_data / REAL_GDELT).read_bytes()
    path = tmp_path / "20191024120000.export.CSV.gz"
    path.write_bytes(
        {
            "flipped-bit": lambda: _flipped(shared_data, tmp_path).read_bytes(),
            "flipped-length": lambda: data[:-1] + bytes([data[-1] ^ 1]),
            "trailing-garbage": lambda: data + b"junk",
            "garbage-after-padding": lambda: data + b"\0" * 8 + b"junk",
        }[case]()
    )
    with pytest.raises(InputError) as exc:
        ingest_file(con, sources.get("gdelt"), path)
    assert exc.value.hint == DAMAGED
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


def test_multi_member_gzip_still_loads(con, tmp_path) -> None:
    """Concatenated gzip members are valid gzip: the CRC check walks every member."""
    lines = [f"{line}\n" for line in rows(4)]
    path = tmp_path / f"{GDELT}.gz"
    members = ("".join(lines[:2]), "".join(lines[2:]))
    path.write_bytes(b"".join(gzip.compress(m.encode()) for m in members))
    report = ingest_file(con, sources.get("gdelt"), path)
    assert report.rows_in == report.loaded == 4


# --------------------------------------------------- entries that are not regular files
def _odd_folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    gdelt = data / "gdelt_raw_samples"
    gdelt.mkdir(parents=True)
    write(gdelt / GDELT, rows(3))
    (gdelt / "20200303000000.export.CSV.gz").mkdir()
    os.mkfifo(gdelt / "20200303001500.export.CSV")
    (gdelt / "loop.export.CSV").symlink_to(gdelt / "loop.export.CSV")
    (gdelt / "20200303003000.export.CSV").symlink_to(tmp_path / "gone")
    return data


ODD = {
    "20200303000000.export.CSV.gz": "a directory named like a data file",
    "20200303001500.export.CSV": "not a regular file (FIFO)",
    "loop.export.CSV": "a symlink loop",
    "20200303003000.export.CSV": "a broken symlink",
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_entries_that_are_not_regular_files_are_listed_not_loaded(tmp_path) -> None:
    data = _odd_folder(tmp_path)
    result = invoke("ingest", "--data", str(data), "--db", str(tmp_path / "v.duckdb"))
    out = result.output
    assert "1 batch(es) loaded: 3 records written" in out
    for name, reason in ODD.items():
        assert f"not loaded: {data / 'gdelt_raw_samples' / name}: {reason}" in out, name


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name", list(ODD), ids=list(ODD))
def test_an_irregular_file_given_directly_says_what_it_is(name, tmp_path) -> None:
    path = _odd_folder(tmp_path) / "gdelt_raw_samples" / name
    result = invoke("ingest", "gdelt", str(path), "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 1
    expected = "not a file (a directory)" if name.endswith(".gz") else ODD[name]
    assert f"error: {path}: {expected}" in result.output
    assert "no such file" not in result.output


# ---------------------------------------------------------- unbounded first lines, NULs
def test_gzip_whose_first_line_is_huge_fails_without_reading_it_whole(con, tmp_path) -> None:
    path = tmp_path / f"{GDELT}.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        for _ in range(64):  # 1 GiB of tabs in ~1 MB
            out.write(packer.compress(b"\t" * (1 << 24)))
        out.write(packer.compress(b"\n") + packer.flush())
    with pytest.raises(InputError) as exc:
        ingest_file(con, sources.get("gdelt"), path)
    assert "line 1 is longer than 1 MiB" in exc.value.message
    assert "re-download" in exc.value.hint


@pytest.mark.parametrize("source,name", [("gdelt", GDELT), ("ucdp", "UCDP-Ukraine.csv")])
def test_sparse_file_of_nul_bytes_fails_fast(source, name, con, tmp_path) -> None:
    path = tmp_path / name
    with path.open("wb") as fh:
        fh.truncate(2 << 30)  # 2 GiB, sparse: no disk, all NUL
    with pytest.raises(InputError) as exc:
        ingest_file(con, sources.get(source), path)
    assert "NUL bytes" in exc.value.message
    assert exc.value.hint == DAMAGED


@pytest.mark.parametrize("source,name", [("ucdp", "UCDP-Ukraine.csv"), ("cir", "events.csv")])
def test_csv_whose_first_line_is_huge_is_a_named_failure(source, name, con, tmp_path) -> None:
    path = tmp_path / name
    path.write_bytes(b"a" * (3 << 20) + b"\n")
    with pytest.raises(InputError) as exc:
        ingest_file(con, sources.get(source), path)
    assert "line 1 is longer than 1 MiB" in exc.value.message


# ------------------------------------------------------------------ deep JSON nesting
def test_json_nested_too_deeply_is_damage_not_a_bug(con, tmp_path) -> None:
    path = tmp_path / "petroivaniuk_russia_losses_personnel.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError) as exc:
        ingest_file(con, sources.get("losses"), path)
    assert "nested too deeply" in exc.value.message
    assert exc.value.hint == DAMAGED
    result = invoke("ingest", "losses", str(path), "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 1
    assert "nested too deeply" in result.output and "bug in vigil" not in result.output
