"""The public Python API (vigil.open / Workspace) on the real data: one test per method,
the README's example, and errors from bad arguments. The CLI tests check the same numbers
through the shells."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import vigil
from vigil.errors import InputError, StoreError, UsageError
from vigil.service.brief import Briefing

README = Path(__file__).resolve().parents[1] / "README.md"
DAY = dt.date(2022, 2, 20)


@pytest.fixture(scope="module")
def ws(web_store, shared_data, tmp_path_factory):
    # the dashboard's store: real data, already matched, with stored assessments
    db = tmp_path_factory.mktemp("api") / "v.duckdb"
    shutil.copyfile(web_store["db"], db)
    with vigil.open(db, "belarus", data=shared_data) as workspace:
        yield workspace


def test_open_gives_a_workspace_and_prepares_once(ws) -> None:
    assert isinstance(ws, vigil.Workspace) and not ws.read_only and ws.theatre == "belarus"
    assert "belarus" in repr(ws)
    ws.prepare()
    ws.prepare()  # the second is free: matching happened once
    assert ws._prepared == {"scenarios"}


def test_indicators(ws) -> None:
    got = ws.indicators("2022-02-15", evidence=2)
    frame = got.to_frame()
    assert got.as_of == dt.date(2022, 2, 15)
    assert set(frame["indicator"]) == {i.id for i in ws.spec.indicators}
    row = frame.set_index("indicator").loc["russian_buildup"]
    assert row["state"] in ("elevated", "high") and row["observed"]
    as_json = got.to_dict()
    assert json.loads(json.dumps(as_json)) == as_json  # JSON-ready, as the CLI prints it
    assert [i["id"] for i in as_json["indicators"]] == list(frame["indicator"])


def test_evidence(ws) -> None:
    got = ws.evidence("russian_buildup", "2022-02-15", limit=3)
    assert 0 < len(got.items) <= 3 and all(e.date <= dt.date(2022, 2, 15) for e in got.items)
    assert list(got.to_frame()["title"]) == [e.title for e in got.items]
    with pytest.raises(InputError, match="no indicator 'nowhere'"):
        ws.evidence("nowhere", DAY)


def test_assess_matches_the_stored_json_and_says_what_changed(ws) -> None:
    got = ws.assess(DAY, 90, since="2022-01-01", store=False)
    frame = got.to_frame()
    data = got.to_dict()
    assert data["as_of"] == DAY.isoformat() and data["changes"]["from"] == "2022-01-01"
    for _, group in frame.groupby("set"):
        assert group["probability"].sum() == pytest.approx(1, abs=1e-3)
        assert (group["low"] <= group["probability"]).all()
        assert (group["probability"] <= group["high"]).all()
    outcomes = got.outcomes_frame()
    assert list(outcomes["outcome"]) == [o["id"] for o in data["outcomes"]]
    # the same numbers as the assessment record it wraps
    assert got.assessment.as_of == DAY and got.assessment.horizon_days == 90


def test_assess_stores_unless_told_not_to(ws) -> None:
    day = dt.date(2022, 2, 6)
    ws.assess(day, 90, store=False)
    assert not ws.stored(90, day, day)
    ws.assess(day, 90)
    assert [a["as_of"] for a in ws.stored(90, day, day)] == [day.isoformat()]


def test_replay(ws, tmp_path) -> None:
    got = ws.replay("2022-01-01", "2022-02-26", 28, charts=tmp_path, store=False)
    frame = got.to_frame()
    assert list(frame["as_of"]) == ["2022-01-01", "2022-01-29", "2022-02-26"]
    assert {p.suffix for p in got.charts} == {".png", ".html"}
    assert all(p.is_file() for p in got.charts)
    assert got.to_dict()["rows"][0]["as_of"] == "2022-01-01"


def test_simulate(ws, tmp_path) -> None:
    got = ws.simulate(DAY, 90, paths=1000, seed=3, chart=tmp_path)
    again = ws.simulate(DAY, 90, paths=1000, seed=3)
    assert got.to_dict()["sets"] == again.to_dict()["sets"]  # same seed, same run
    frame = got.to_frame()
    assert ((frame["simulated"] >= 0) & (frame["simulated"] <= 1)).all()
    assert got.chart is not None and got.chart.is_file()


def test_simulate_stored_starts_from_a_stored_assessment(ws) -> None:
    stored = ws.stored(90)
    assert stored
    sim = ws.simulate_stored(stored[-1], paths=1000)
    assert sim["as_of"] == stored[-1]["as_of"] and sim["sets"]


def test_brief(ws, tmp_path) -> None:
    got = ws.brief(DAY, tmp_path, pdf=False)
    assert isinstance(got, Briefing)
    names = {p.name for p in got.files}
    assert names == {"briefing.md", "briefing.html"}
    text = (got.folder / "briefing.md").read_text()
    assert "2022-02-20" in text and got.to_dict()["as_of"] == "2022-02-20"


def test_backtest(ws) -> None:
    got = ws.backtest("2021-10-01", "2022-06-01", step=56, horizon=90)
    frame = got.to_frame()
    assert not frame.empty and {"id", "windows", "brier"} <= set(frame.columns)
    assert got.to_dict()["step_days"] == 56


def test_timeline_and_capability(ws) -> None:
    frame = ws.timeline("russian_buildup", "2022-01-01", "2022-02-26", 7)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 9
    assert isinstance(ws.capability(DAY), list)


def test_forecast(forecast_store, shared_data) -> None:
    with vigil.open(forecast_store, data=shared_data, write=False) as ws:
        got = ws.forecast("2022-02-01", 3, countries=["blr", "UKR"])
        assert set(
            ws.forecast("2022-02-01", 3, model="logistic", countries="BLR").to_frame()["country"]
        ) == {"BLR"}
        with pytest.raises(UsageError, match="top"):
            ws.forecast("2022-02-01", top=-1)
        frame = got.to_frame()
        assert set(frame["country"]) == {"BLR", "UKR"}
        assert frame["probability"].between(0, 1).all()
        with pytest.raises(UsageError, match="unknown --model"):
            ws.forecast("2022-02-01", model="crystal-ball")


def test_bad_arguments_are_usage_errors(ws) -> None:
    with pytest.raises(UsageError, match="not a date"):
        ws.indicators("2022-13-01")
    with pytest.raises(UsageError, match="outside the dates"):
        ws.assess("1066-10-14", store=False)
    with pytest.raises(UsageError, match="horizon"):
        ws.assess(DAY, 0, store=False)
    with pytest.raises(UsageError, match="too short to simulate"):
        ws.simulate(DAY, 7)
    with pytest.raises(UsageError, match="before --from"):
        ws.replay("2022-03-01", "2022-01-01")
    with pytest.raises(UsageError, match="at most 2,000"):
        ws.replay("1900-01-01", "2200-01-01", 1)
    with pytest.raises(UsageError, match="not before"):
        ws.assess(DAY, since=DAY, store=False)
    with pytest.raises(UsageError, match="paths"):
        ws.simulate(DAY, paths=5)
    with pytest.raises(UsageError, match="outside the dates"):
        ws.indicators(dt.date(9999, 12, 31))  # a date object gets the same range check
    with pytest.raises(UsageError, match="must be a date"):
        ws.indicators(20220220)
    with pytest.raises(UsageError, match="step"):
        ws.backtest("2021-01-01", "2022-01-01", step=0)
    with pytest.raises(UsageError, match="ends before it starts"):
        ws.backtest("2022-03-01", "2022-01-01")
    with pytest.raises(UsageError, match="horizon"):
        ws.stored("90")
    with pytest.raises(UsageError, match="stored assessment"):
        ws.simulate_stored({})
    with pytest.raises(UsageError, match="must be a year"):
        ws.backtest_forecaster("2015", "2016")


def test_a_datetime_counts_as_its_day(ws) -> None:
    got = ws.indicators(dt.datetime(2022, 2, 15, 18, 30), evidence=0)
    assert got.as_of == dt.date(2022, 2, 15)


def test_assess_since_without_storing_stores_nothing(ws, real_store, shared_data) -> None:
    count = len(ws.stored(90))
    ws.assess(DAY, since="2021-12-05", store=False)
    assert len(ws.stored(90)) == count
    with vigil.open(real_store, data=shared_data, write=False) as ro:
        assert ro.assess(DAY, since="2021-12-05", store=False).changes  # no write, no crash


def test_a_workspace_without_a_theatre_serves_the_forecaster_only(forecast_store) -> None:
    with vigil.open(forecast_store, None, write=False) as ws:
        assert "no theatre" in repr(ws)
        with pytest.raises(UsageError, match="without a theatre"):
            ws.indicators(DAY)


def test_read_only_workspace_refuses_to_store(real_store, shared_data) -> None:
    with vigil.open(real_store, data=shared_data, write=False) as ro:
        assert ro.read_only
        with pytest.raises(StoreError, match="read-only"):
            ro.assess(DAY)
        assert ro.assess(DAY, store=False).to_dict()["as_of"] == DAY.isoformat()


def test_missing_store_is_a_store_error(tmp_path) -> None:
    with pytest.raises(StoreError, match="no store"):
        vigil.open(tmp_path / "none.duckdb")
    assert not (tmp_path / "none.duckdb").exists()


def test_the_readme_example_runs(web_store, shared_data, tmp_path, capsys) -> None:
    """The README's "Using Vigil from Python" example, on a copy of the real store."""
    section = README.read_text().split("## Using Vigil from Python", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'vigil.open("vigil.duckdb"' in code and '"../shared/data"' in code
    db = tmp_path / "vigil.duckdb"
    shutil.copyfile(web_store["db"], db)
    code = code.replace('"vigil.duckdb"', repr(str(db))).replace(
        '"../shared/data"', repr(str(shared_data))
    )
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "belarus_role" in printed and "territory_offensive" in printed
    assert "indicators observed" in printed  # the coverage summary


def test_the_cli_prints_the_apis_records(ws, shared_data) -> None:
    """`--format json` is the record's to_dict(): the shell only renders."""
    from typer.testing import CliRunner

    from vigil.cli import app

    args = ["--db", str(ws.db), "--data", str(shared_data), "--format", "json"]
    got = CliRunner().invoke(app, ["indicators", "--as-of", "2022-02-15", *args])
    assert got.exit_code == 0, got.output
    assert json.loads(got.output) == ws.indicators("2022-02-15").to_dict()
    got = CliRunner().invoke(app, ["assess", "--as-of", "2022-02-20", "--no-notes", *args])
    assert got.exit_code == 0, got.output
    assert json.loads(got.output) == ws.assess(DAY, notes=False, store=False).to_dict()


def test_load_loads_reports_and_is_idempotent(shared_data, tmp_path) -> None:
    from conftest import FILES

    db = tmp_path / "new.duckdb"
    with pytest.raises(UsageError, match="no files given"):
        vigil.load(db, "gpr")
    assert not db.exists()  # the request is checked before the store is made
    files = [shared_data / FILES["gpr"]]
    first = vigil.load(db, "gpr", files)
    again = vigil.load(db, "gpr", files)
    assert first.reports[0].loaded > 0 and not first.failures
    assert again.reports[0].skipped  # already loaded: nothing changes
    assert first.to_frame()["loaded"].iloc[0] == first.reports[0].loaded
    with vigil.open(db, None, write=False) as ws:
        status = ws.status()
        assert [s["source"] for s in status["sources"]] == ["gpr"]
        assert (
            ws.rejects("gpr").to_dict() == {"rejects": []}
            or ws.rejects("gpr").to_frame()["source"].eq("gpr").all()
        )


def test_hostile_arguments_are_named_errors(ws, tmp_path) -> None:
    for bad in ("20220220", "2022-W08-1", "2022-1-1", " 2022-01-01"):
        with pytest.raises(UsageError, match="not a date"):
            ws.indicators(bad)
    with pytest.raises(UsageError, match="store must be True or False"):
        ws.assess(DAY, store="no")
    with pytest.raises(UsageError, match="write must be True or False"):
        vigil.open(ws.db, write="no")
    with pytest.raises(UsageError, match="must be a path"):
        vigil.open(None)
    with pytest.raises(UsageError, match="theatre must be"):
        vigil.open(ws.db, theatre=5)
    with pytest.raises(UsageError, match="source must be"):
        ws.rejects(5)
    with pytest.raises(UsageError, match="step"):
        ws.export(DAY, DAY, step=True, out=tmp_path)
    with pytest.raises(UsageError, match="cannot write to"):
        ws.plot("2022-01-01", "2022-02-01", out=Path("/proc/no/such/folder"))
    # one string is one name, not its letters
    with pytest.raises(InputError, match="no indicator 'abc'"):
        ws.plot("2022-01-01", "2022-02-01", indicators="abc", out=tmp_path)


def test_a_fifo_is_refused_without_blocking(tmp_path) -> None:
    import os

    fifo = tmp_path / "store.duckdb"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match="not a regular file"):
        vigil.open(fifo)


def test_one_workspace_serves_several_threads_one_call_at_a_time(ws) -> None:
    from concurrent.futures import ThreadPoolExecutor

    calls = [
        lambda: ws.indicators("2022-02-15", evidence=1).to_dict(),
        lambda: ws.evidence("russian_buildup", "2022-02-15", limit=2).to_dict(),
    ] * 3
    with ThreadPoolExecutor(4) as pool:
        results = [f.result() for f in [pool.submit(c) for c in calls]]
    assert results[0] == results[2] == results[4] and results[1] == results[3]


def test_a_closed_workspace_says_so(real_store, shared_data) -> None:
    ws = vigil.open(real_store, data=shared_data, write=False)
    ws.close()
    ws.close()  # twice is harmless
    with pytest.raises(UsageError, match="closed"):
        ws.status()


def test_records_are_frozen_and_hand_out_copies(ws) -> None:
    got = ws.rejects(limit=1)
    got.to_dict()["rejects"] = "changed"
    assert got.to_dict()["rejects"] != "changed"
    empty = ws.evidence("nuclear_posture", "1995-01-01", limit=1)
    assert not empty.items and "title" in empty.to_frame().columns  # columns even when empty
