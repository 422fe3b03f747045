"""The command line: exit codes, one-line errors, JSON output, and a killed load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdelt_rows import row, rows, write
from vigil.cli import app
from vigil.store import connect

ROOT = Path(__file__).resolve().parents[1]
NAME = "20220220101500.export.CSV"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_ingest_then_status_json(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    path = write(tmp_path / NAME, rows(20))
    result = invoke("ingest", "gdelt", str(path), "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.output
    batch = json.loads(result.output)["batches"][0]
    assert (batch["rows_in"], batch["loaded"], batch["rejected"]) == (20, 20, 0)
    status = json.loads(invoke("status", "--db", str(db), "--format", "json").output)
    (gdelt,) = status["sources"]
    assert gdelt["source"] == "gdelt" and gdelt["records"] == 20 and gdelt["rejects"] == 0
    assert gdelt["kinds"]["events"]["first"] == "2022-02-20"
    assert gdelt["last_batch"]["input"] == str(path)
    assert status["totals"]["events"] == 20


def test_db_from_environment(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "env.duckdb"
    monkeypatch.setenv("VIGIL_DB", str(db))
    assert invoke("ingest", "gdelt", str(write(tmp_path / NAME, rows(3)))).exit_code == 0
    assert connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 3


def test_second_ingest_reports_skip(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    path = write(tmp_path / NAME, rows(5))
    invoke("ingest", "gdelt", str(path), "--db", str(db))
    result = invoke("ingest", "gdelt", str(path), "--db", str(db))
    assert "1 file(s) already loaded, skipped (--force re-merges)" in result.output


def test_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("ingest", "nosuch", "x.csv", "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 2
    assert "error: unknown source 'nosuch'" in result.output
    assert "hint: choose one of:" in result.output and "gdelt" in result.output


def test_bad_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    lines = rows(10)
    lines[2] = row(GLOBALEVENTID="x")
    path = write(tmp_path / NAME, lines)
    result = invoke("ingest", "gdelt", str(path), "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"error: {path}: 1 of 10 rows rejected (10.0% > 1.0% allowed); first, line 3: "
        "GLOBALEVENTID 'x' is not an integer"
    )
    assert "Traceback" not in result.output


def test_reject_share_option_and_rejects_listing(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    lines = rows(10)
    lines[2] = row(GLOBALEVENTID="x")
    path = write(tmp_path / NAME, lines)
    ok = invoke("ingest", "gdelt", str(path), "--db", str(db), "--max-reject-share", "0.2")
    assert ok.exit_code == 0
    listing = invoke("rejects", "--db", str(db))
    assert f"{NAME}:3: invalid: GLOBALEVENTID 'x' is not an integer" in listing.output


def test_debug_shows_traceback(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(b"")
    with pytest.raises(Exception, match="the file is empty"):
        runner.invoke(
            app,
            ["--debug", "ingest", "gdelt", str(path), "--db", str(tmp_path / "v.duckdb")],
            catch_exceptions=False,
        )


def test_ingest_without_arguments_is_usage_error(tmp_path: Path) -> None:
    result = invoke("ingest", "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 2
    assert "error: say what to load" in result.output


def test_sources_lists_every_adapter() -> None:
    got = json.loads(invoke("sources", "--format", "json").output)["sources"]
    names = {s["name"] for s in got}
    assert "gdelt" in names
    gdelt = next(s for s in got if s["name"] == "gdelt")
    assert gdelt["folders"] == ["gdelt_raw_samples"]


def test_demo_without_data_says_how_to_fetch_live(tmp_path: Path) -> None:
    result = invoke("demo", "--data", str(tmp_path / "none"), "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 2
    assert "vigil ingest gdelt --live" in result.output


def test_killed_load_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """SIGKILL in the middle of a batch: on reopen only committed batches exist."""
    db = tmp_path / "v.duckdb"
    first = write(tmp_path / "20220220100000.export.CSV", rows(7, start=1))
    assert invoke("ingest", "gdelt", str(first), "--db", str(db)).exit_code == 0
    marker = tmp_path / "inside"
    second = write(tmp_path / NAME, rows(500))
    script = f"""
import time, pathlib
import vigil.ingest as ingest
from vigil.cli import run
real = ingest._write_rejects
def slow(*a, **k):
    pathlib.Path({str(marker)!r}).write_text("x")   # the batch's rows are already inserted
    time.sleep(60)
ingest._write_rejects = slow
import sys; sys.argv = ["vigil", "ingest", "gdelt", {str(second)!r}, "--db", {str(db)!r}]
run()
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the load never reached the merge"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = connect(db)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 7
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 1


def test_live_ingest_from_local_feed(tmp_path: Path, http_server, monkeypatch) -> None:
    import hashlib
    import io
    import zipfile

    from conftest import Reply

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(NAME, "".join(x + "\n" for x in rows(4)))
    body = buf.getvalue()
    url = f"{http_server.url}/g/{NAME}.zip"
    http_server.route(
        "/g/lastupdate.txt", Reply(body=f"{len(body)} {hashlib.md5(body).hexdigest()} {url}\n")
    )
    http_server.route(f"/g/{NAME}.zip", Reply(body=body))
    monkeypatch.setenv("VIGIL_CACHE", str(tmp_path / "cache"))
    db = tmp_path / "v.duckdb"
    args = ("ingest", "gdelt", "--live", "-o", f"base_url={http_server.url}/g/", "--db", str(db))
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    batch = json.loads(result.output)["batches"][0]
    assert (batch["loaded"], batch["input"]) == (4, url)
    assert (tmp_path / "cache" / "gdelt" / f"{NAME}.zip").exists()
    again = json.loads(invoke(*args, "--format", "json").output)["batches"][0]
    assert again["skipped"] is True


def test_bad_option_syntax(tmp_path: Path) -> None:
    result = invoke("ingest", "gdelt", "--live", "-o", "nokey", "--db", str(tmp_path / "v.db"))
    assert result.exit_code == 2
    assert "error: --option 'nokey' is not KEY=VALUE" in result.output


def test_error_text_with_brackets_is_printed_verbatim(tmp_path: Path) -> None:
    folder = tmp_path / "[bold]x[red]"
    folder.mkdir()
    path = folder / NAME
    path.write_bytes(b"")
    result = invoke("ingest", "gdelt", str(path), "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 1
    assert f"error: {path}: the file is empty (0 bytes)" in result.output


@pytest.mark.slow
def test_whole_data_folder_twice_changes_nothing(tmp_path: Path, shared_data: Path) -> None:
    """`ingest --data` on the real folder: every batch reconciles; a second run is a no-op."""
    db = tmp_path / "full.duckdb"
    first = invoke("ingest", "--data", str(shared_data), "--db", str(db), "--format", "json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["batches"] and not any(b["skipped"] for b in report["batches"])
    for b in report["batches"]:
        assert b["rows_in"] == b["loaded"] + b["duplicates"] + b["rejected"] + b["deleted"]
    con = connect(db)
    tables = ("events", "observations", "documents", "rejects", "batches")
    before = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]
    con.close()
    second = json.loads(
        invoke("ingest", "--data", str(shared_data), "--db", str(db), "--format", "json").output
    )
    assert all(b["skipped"] for b in second["batches"])
    con = connect(db)
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables] == before
    assert before[3] == sum(b["rejected"] for b in report["batches"])


def test_failing_file_does_not_stop_the_others(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    good = write(tmp_path / "20220220100000.export.CSV", rows(4, start=1))
    bad = tmp_path / NAME
    bad.write_bytes(b"")
    later = write(tmp_path / "20220220103000.export.CSV", rows(3, start=100))
    result = invoke("ingest", "gdelt", str(good), str(bad), str(later), "--db", str(db))
    assert result.exit_code == 1
    assert f"error: {bad}: the file is empty (0 bytes)" in result.output
    assert "1 file(s) failed and loaded nothing; the other batches above are committed" in (
        result.output
    )
    assert connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 7


def test_control_characters_from_data_are_made_visible(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    lines = rows(200)
    lines[3] = row(GLOBALEVENTID="\x1b]0;pwned\x07\x1b[31mRED")
    invoke("ingest", "gdelt", str(write(tmp_path / NAME, lines)), "--db", str(db))
    listing = invoke("rejects", "--db", str(db)).output
    assert "\x1b" not in listing and "\x07" not in listing
    assert "\\x1b]0;pwned\\x07\\x1b[31mRED" in listing


def test_bad_settings_are_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_MAX_REJECT_SHARE", "abc")
    path = write(tmp_path / NAME, rows(2))
    result = invoke("ingest", "gdelt", str(path), "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 1
    assert "VIGIL_MAX_REJECT_SHARE='abc' is not a share between 0 and 1" in result.output


def test_rejects_limit_must_be_positive(tmp_path: Path) -> None:
    result = invoke("rejects", "--limit", "-1", "--db", str(tmp_path / "v.duckdb"))
    assert result.exit_code == 2


def test_only_loading_commands_create_a_store(tmp_path: Path) -> None:
    """`ingest` builds a store where --db points (folders too); `status` there before it
    says "no store" and creates nothing (tests/test_hostile_ingest.py)."""
    db = tmp_path / "new" / "v.duckdb"
    assert invoke("status", "--db", str(db)).exit_code == 1 and not db.parent.exists()
    path = write(tmp_path / NAME, rows(2))
    assert invoke("ingest", "gdelt", str(path), "--db", str(db)).exit_code == 0
    status = json.loads(invoke("status", "--db", str(db), "--format", "json").output)
    assert status["totals"]["events"] == 2
