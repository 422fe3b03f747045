"""Hostile corpus: command-line inputs that forge output, mistake a file for a store, or ask
for hours of silent work. Part of the corpus that keeps issue 13's defects fixed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.errors import StoreError
from vigil.store import connect

runner = CliRunner()


def test_sqlite_file_as_db_is_named_without_touching_the_network(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (a)")
    con.close()
    got = runner.invoke(app, ["status", "--db", str(db)])
    assert got.exit_code == 1
    assert "is not a DuckDB store (a SQLite database)" in got.output
    assert "extension" not in got.output  # DuckDB would try to download sqlite_scanner
    with pytest.raises(StoreError, match="not a DuckDB store"):
        connect(db)  # a loading command must not write into it either


def test_text_file_as_db_is_named(tmp_path: Path) -> None:
    db = tmp_path / "notes.duckdb"
    db.write_text("these are my notes\n" * 10)
    got = runner.invoke(app, ["ingest", "gdelt", str(tmp_path / "x.CSV"), "--db", str(db)])
    assert got.exit_code == 1 and "not a DuckDB store (a file of another kind)" in got.output
    assert db.read_text() == "these are my notes\n" * 10


def test_newline_in_a_file_name_cannot_forge_an_output_line(tmp_path: Path) -> None:
    connect(tmp_path / "v.duckdb").close()
    name = tmp_path / "acled.csv\nerror: forged line"
    name.write_text("not,an,acled,file\n1,2,3,4\n")
    got = runner.invoke(app, ["ingest", "acled", str(name), "--db", str(tmp_path / "v.duckdb")])
    assert got.exit_code == 1
    assert not any(line.startswith("error: forged") for line in got.output.splitlines())
    assert "acled.csv\\nerror: forged line" in got.output


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["replay", "--from", "1900-01-01", "--to", "2200-12-31", "--step", "1"], "assessments"),
        (["plot", "--from", "1900-01-01", "--to", "2200-12-31"], "points"),
    ],
    ids=["replay_three_centuries_daily", "plot_three_centuries"],
)
def test_a_range_of_hours_of_work_is_a_usage_error(tmp_path: Path, command, what) -> None:
    connect(tmp_path / "v.duckdb").close()
    got = runner.invoke(app, [*command, "--db", str(tmp_path / "v.duckdb")])
    assert got.exit_code == 2, got.output
    assert f" {what}; at most" in got.output and "raise --step" in got.output
