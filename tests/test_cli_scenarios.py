"""`vigil assess`, `vigil simulate` and `vigil replay` on a store built from real data."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.store import connect

runner = CliRunner()
OUTCOMES = {
    "belarus_support_platform",
    "belarus_hybrid_diversion",
    "belarus_territory_offensive",
    "belarus_forces_in_ukraine",
    "belarus_nato_incident",
    "belarus_nato_armed_clash",
    "belarus_martial_law",
}


def run(*args: str, tmp_path: Path):
    env = {"VIGIL_CACHE": str(tmp_path / "cache")}
    result = runner.invoke(app, list(args), catch_exceptions=False, env=env)
    assert result.exit_code == 0, result.output
    return result


def assess_json(db: Path, data: Path, tmp_path: Path, *more: str) -> dict:
    args = ("assess", "--db", str(db), "--data", str(data), "--format", "json", *more)
    return json.loads(run(*args, tmp_path=tmp_path).output)


@pytest.mark.slow
def test_assess_json_is_complete_and_stored(real_store, shared_data, tmp_path) -> None:
    got = assess_json(real_store, shared_data, tmp_path, "--as-of", "2022-02-15")
    assert got["as_of"] == "2022-02-15" and got["horizon_days"] == 90
    sets = {s["id"]: s for s in got["scenario_sets"]}
    assert set(sets) == {"belarus_role", "nato_spillover", "martial_law"}
    assert [sc["id"] for sc in sets["belarus_role"]["scenarios"]] == [
        "status_quo",
        "support_platform",
        "hybrid_diversion",
        "territory_offensive",
        "forces_entry",
    ]
    for s in sets.values():
        assert sum(sc["probability"] for sc in s["scenarios"]) == pytest.approx(1, abs=1e-3)
        assert s["leading"] in {sc["id"] for sc in s["scenarios"]}
        assert s["ach"]["rows"] and set(s["ach"]["inconsistency"]) == {
            sc["id"] for sc in s["scenarios"]
        }
        for sc in s["scenarios"]:
            lo, hi = sc["interval"]
            assert 0 <= lo <= hi <= 1 and sc["resolution"]
            for c in sc["contributions"]:
                assert c["reading_date"] <= "2022-02-15"  # no look-ahead
                assert all(e["date"] <= "2022-02-15" for e in c["evidence"])
        _explains_the_posterior(s)
        # how much was seen: every indicator of the set is observed or blind, with why
        cov = s["coverage"]
        seen = len(cov["observed"]) + len(cov["earlier"])
        assert seen + len(cov["blind"]) == s["indicators"] and seen == s["readings_used"]
        assert cov["summary"].startswith(f"{len(cov['observed'])} of {s['indicators']} ")
        assert all(e["data_date"] < "2022-02-15" for e in cov["earlier"])
        assert all(b["reasons"] for b in cov["blind"])
        seen = {c["indicator"] for sc in s["scenarios"] for c in sc["contributions"]}
        assert not seen & {b["indicator"] for b in cov["blind"]}  # blind: no weight at all
        # a reading carried from data that ended earlier still shows the evidence behind it
        lagged = [c for c in s["scenarios"][0]["contributions"]
                  if c["source"] == "indicator" and c["observed"] < c["reading_date"]]  # fmt: skip
        assert all(c["evidence"] for c in lagged if c["indicator"] == "migration_pressure")
    assert {o["id"] for o in got["outcomes"]} >= OUTCOMES
    assert all(0 <= o["probability"] <= 1 and "observed" in o for o in got["outcomes"])
    with duckdb.connect(str(real_store), read_only=True) as con:
        stored = con.execute(
            "SELECT count(*) FROM assessments WHERE as_of = '2022-02-15' AND horizon_days = 90"
        ).fetchone()
    assert stored == (1,)


def _explains_the_posterior(s: dict) -> None:
    """log p = log prior + sum of the contributions + C, for every rung of the set."""
    logs = [
        math.log(sc["probability"] / sc["prior"]) - sum(c["llr"] for c in sc["contributions"])
        for sc in s["scenarios"]
        if sc["probability"] > 1e-3
    ]
    assert max(logs) - min(logs) == pytest.approx(0, abs=0.02)


@pytest.mark.slow
def test_longer_horizons_give_higher_probabilities(real_store, shared_data, tmp_path) -> None:
    short = assess_json(
        real_store, shared_data, tmp_path, "--as-of", "2021-09-01", "--horizon", "30"
    )
    long = assess_json(
        real_store, shared_data, tmp_path, "--as-of", "2021-09-01", "--horizon", "365"
    )
    p_short = {o["id"]: o["probability"] for o in short["outcomes"]}
    p_long = {o["id"]: o["probability"] for o in long["outcomes"]}
    assert all(p_long[o] > p_short[o] for o in OUTCOMES)


@pytest.mark.slow
def test_since_says_what_changed_and_why(real_store, shared_data, tmp_path) -> None:
    got = assess_json(
        real_store, shared_data, tmp_path, "--as-of", "2022-03-01", "--since", "2021-11-01"
    )
    changes = got["changes"]
    assert changes["from"] == "2021-11-01" and changes["to"] == "2022-03-01"
    assert changes["same_model"] is True
    drivers = [d for s in changes["sets"] for d in s["drivers"]]
    assert drivers, "four months apart, some reading must have changed"
    assert all(d["reading_after"] is None or d["reading_after"] <= "2022-03-01" for d in drivers)
    for s in changes["sets"]:
        assert sum(x["change"] for x in s["scenarios"]) == pytest.approx(0, abs=1e-3)
    # the drivers account for the change: same horizon, same prior, so the change in the
    # log-odds of two rungs is the sum of the drivers' changes in contribution
    role = next(s for s in changes["sets"] if s["id"] == "belarus_role")
    a, b = "status_quo", "support_platform"
    p = {x["id"]: x for x in role["scenarios"]}
    moved = math.log(p[a]["after"] / p[b]["after"]) - math.log(p[a]["before"] / p[b]["before"])
    explained = sum(d["llr_change"][a] - d["llr_change"][b] for d in role["drivers"])
    since = ("assess", "--db", str(real_store), "--data", str(shared_data), "--as-of",
             "2022-03-01", "--since", "2021-11-01")  # fmt: skip
    full = json.loads(run(*since, "--format", "json", tmp_path=tmp_path).output)["changes"]
    assert full == changes  # the earlier assessment was stored, and is read back the same
    assert moved == pytest.approx(explained, abs=0.05)
    text = run(*since, tmp_path=tmp_path).output
    assert "What changed since 2021-11-01" in text and "Outcomes within the horizon" in text
    bad = runner.invoke(
        app, ["assess", "--db", str(real_store), "--as-of", "2022-03-01", "--since", "2022-03-02"]
    )
    assert bad.exit_code == 2 and "not before" in bad.output


@pytest.mark.slow
def test_assessment_uses_nothing_available_later(real_store, shared_data, tmp_path) -> None:
    """The same assessment from a store that only holds what was available by the date."""
    day = dt.date(2022, 2, 10)
    cut = tmp_path / "cut.duckdb"
    shutil.copyfile(real_store, cut)
    with duckdb.connect(str(cut)) as con:
        limit = (day + dt.timedelta(days=1)).isoformat()
        for table in ("events", "observations", "documents", "text_matches"):
            con.execute(f"DELETE FROM {table} WHERE available_at >= ?", [limit])
        con.execute("DELETE FROM assessments")
    full = assess_json(real_store, shared_data, tmp_path, "--as-of", day.isoformat())
    past = assess_json(cut, shared_data, tmp_path, "--as-of", day.isoformat())

    def probabilities(result: dict) -> dict:
        return {
            (s["id"], sc["id"]): sc["probability"]
            for s in result["scenario_sets"]
            for sc in s["scenarios"]
        }

    assert probabilities(full) == probabilities(past)


@pytest.mark.slow
def test_simulate_is_seeded_and_complete(real_store, shared_data, tmp_path) -> None:
    args = (
        "simulate",
        "--db",
        str(real_store),
        "--data",
        str(shared_data),
        "--as-of",
        "2022-02-20",
        "--horizon",
        "60",
        "--paths",
        "5000",
        "--seed",
        "3",
        "--format",
        "json",
    )
    first = json.loads(run(*args, tmp_path=tmp_path).output)
    again = json.loads(run(*args, tmp_path=tmp_path).output)
    assert first == again
    assert {s["id"] for s in first["sets"]} == {"belarus_role", "nato_spillover", "martial_law"}
    for s in first["sets"]:
        for rung in s["rungs"]:
            curve = rung["reach_by_day"]
            assert len(curve) == 61 and curve == sorted(curve)  # reaching only accumulates
    assert {d["id"] for d in first["consequences"]} == {
        "military_tension",
        "transport_trade_energy",
        "migration",
        "political_cohesion",
    }
    other = json.loads(run(*args[:-4], "--seed", "4", "--format", "json", tmp_path=tmp_path).output)
    assert other["seed"] == 4 and other != first


@pytest.mark.slow
def test_replay_writes_history_and_charts(real_store, shared_data, tmp_path) -> None:
    args = (
        "replay",
        "--from",
        "2022-01-01",
        "--to",
        "2022-03-01",
        "--step",
        "14",
        "--out",
        str(tmp_path / "out"),
        "--db",
        str(real_store),
        "--data",
        str(shared_data),
    )
    got = json.loads(run(*args, "--format", "json", tmp_path=tmp_path).output)
    assert [r["as_of"] for r in got["rows"]] == [
        "2022-01-01",
        "2022-01-15",
        "2022-01-29",
        "2022-02-12",
        "2022-02-26",
    ]
    assert all(set(r) >= OUTCOMES for r in got["rows"])
    png, html = (Path(p) for p in got["charts"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html.read_text()  # inline SVG, no script: every outcome by name, its dates, a value
    assert "<svg" in page and "<script" not in page.lower()
    assert all(f'data-series="{o}"' in page for o in OUTCOMES)
    assert 'data-date="2022-02-26"' in page and "<td>2022-01-01</td>" in page
    first = got["rows"][0]["belarus_martial_law"]
    assert f"<td>{100 * first:.1f} %" in page  # its value in the table of the numbers
    text = run(*args, tmp_path=tmp_path).output
    assert "Outcome probabilities within 90 days" in text and "wrote" in text


@pytest.mark.slow
def test_replay_equals_direct_assessments_whatever_the_step(real_store, shared_data, tmp_path):
    """A replay reads many dates at once; each assessment must still use only its own grid."""
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(real_store, db)
    args = (
        "replay",
        "--from",
        "2022-02-01",
        "--to",
        "2022-02-10",
        "--step",
        "3",
        "--out",
        str(tmp_path / "out"),
        "--db",
        str(db),
        "--data",
        str(shared_data),
        "--format",
        "json",
    )
    rows = json.loads(run(*args, tmp_path=tmp_path).output)["rows"]
    with duckdb.connect(str(db), read_only=True) as con:
        stored = {
            str(d): json.loads(r)
            for d, r in con.execute("SELECT as_of, result FROM assessments").fetchall()
        }
    for row in rows:
        direct = assess_json(db, shared_data, tmp_path, "--as-of", row["as_of"])
        for o in direct["outcomes"]:
            assert row[o["id"]] == o["probability"], (row["as_of"], o["id"])
        # the replay stored the same assessment, evidence included
        assert stored[row["as_of"]]["scenario_sets"] == direct["scenario_sets"]


def test_scenario_errors_are_one_line_and_early(tmp_path) -> None:
    db = str(tmp_path / "v.duckdb")
    unknown = runner.invoke(app, ["assess", "--theatre", "nowhere", "--db", db])
    assert unknown.exit_code == 1 and "known theatres: belarus" in unknown.output
    folder = tmp_path / "t"
    shutil.copytree(Path(__file__).resolve().parents[1] / "theatres" / "belarus", folder)
    shutil.rmtree(folder / "scenarios")
    missing = runner.invoke(app, ["assess", "--theatre", str(folder), "--db", db])
    assert missing.exit_code == 1 and "no scenario sets" in missing.output
    assert "docs/SCENARIOS.md" in missing.output
    assert not (tmp_path / "v.duckdb").exists()  # refused before touching the store
    short = runner.invoke(app, ["simulate", "--horizon", "7", "--db", db])
    assert short.exit_code == 2 and "too short to simulate" in short.output


def test_backtest_on_a_store_without_its_sources_says_what_to_load(tmp_path, shared_data):
    db = tmp_path / "v.duckdb"
    connect(db).close()  # an empty store: only loading commands create one
    got = runner.invoke(app, ["backtest", "--model", "scenarios", "--db", str(db), "--data",
                              str(shared_data)])  # fmt: skip
    assert got.exit_code == 1, got.output
    assert "cover no month" in got.output and "vigil status" in got.output


def test_assess_on_an_empty_store_says_it_has_only_the_prior(tmp_path, shared_data) -> None:
    db = tmp_path / "v.duckdb"
    connect(db).close()  # an empty store: only loading commands create one
    args = ("assess", "--as-of", "2022-02-01", "--db", str(db), "--data", str(shared_data))
    got = json.loads(run(*args, "--format", "json", tmp_path=tmp_path).output)
    for s in got["scenario_sets"]:
        assert s["readings_used"] == 0 and s["indicators"] > 0
        for sc in s["scenarios"]:
            assert sc["probability"] == pytest.approx(sc["prior"], abs=1e-4)
    text = run(*args, tmp_path=tmp_path).output
    assert text.count("the prior alone") == 3
    assert "none moved its odds by 5 % or more" in text  # an empty column would look broken
    # without --as-of there is no latest evidence to date it by: say so, and what to do
    undated = runner.invoke(app, ["assess", "--db", str(db), "--data", str(shared_data)])
    assert undated.exit_code == 1
    assert "no events or documents" in undated.output and "--as-of" in undated.output


@pytest.mark.slow
def test_scenario_backtest_scores_what_the_data_resolves(real_store, shared_data, tmp_path):
    args = ("backtest", "--model", "scenarios", "--theatre", "belarus", "--from", "2022",
            "--to", "2023", "--step", "30", "--horizon-days", "60", "--db", str(real_store),
            "--data", str(shared_data))  # fmt: skip
    got = json.loads(run(*args, "--format", "json", tmp_path=tmp_path).output)
    by_id = {o["id"]: o for o in got["outcomes"]}
    # the offensive (CIR ground combat) and the text-settled outcomes are scored; entry is not
    assert {"belarus_territory_offensive", "belarus_nato_incident"} <= set(by_id)
    assert {u["id"] for u in got["unresolvable"]} == {"belarus_forces_in_ukraine"}
    for o in by_id.values():
        assert {"id", "windows", "positives", "brier", "brier_prior", "brier_climatology",
                "interval"} <= set(o)  # fmt: skip
        assert o["windows"] == len(o["rows"]) > 0
        assert o["positives"] == sum(r["resolved"] for r in o["rows"])
        p = np.array([r["probability"] for r in o["rows"]])
        y = np.array([r["resolved"] for r in o["rows"]])
        assert o["brier"] == pytest.approx(float(np.mean((p - y) ** 2)), abs=1e-3)
        assert o["brier_prior"] == pytest.approx(float(np.mean((o["prior"] - y) ** 2)), abs=1e-3)
        assert o["brier_climatology"] == pytest.approx(
            float(np.mean((y.mean() - y) ** 2)), abs=1e-3
        )
        # every score of the model, the prior and climatology has its bootstrap interval
        for name in ("brier", "brier_prior", "brier_climatology", "log_loss", "log_loss_prior",
                     "log_loss_climatology"):  # fmt: skip
            lo, hi = o["interval" if name == "brier" else f"{name}_interval"]
            assert lo - 1e-6 <= o[name] <= hi + 1e-6, name
        q = np.clip(p, 1e-6, 1 - 1e-6)
        expected = -np.mean(y * np.log(q) + (1 - y) * np.log1p(-q))
        assert o["log_loss"] == pytest.approx(float(expected), abs=1e-3)
        if o["bss_vs_prior"] is not None and o["brier_prior"] > 1e-3:  # else rounding rules
            expected = 1 - o["brier"] / o["brier_prior"]
            assert o["bss_vs_prior"] == pytest.approx(expected, abs=2e-3)
        under_way = sum(r["under_way"] for r in o["rows"])
        assert o["onsets"]["windows"] == o["windows"] - under_way
        w = o["warnings"]
        assert w["hits"] + w["misses"] == o["positives"]
        assert w["hits"] + w["misses"] + w["false_alarms"] + w["quiet"] == o["windows"]
    # the ladder: a window in which the offensive happened counts for the rungs below it
    offensive = {r["as_of"]: r["resolved"] for r in by_id["belarus_territory_offensive"]["rows"]}
    for lower in ("belarus_support_platform", "belarus_hybrid_diversion"):
        rows = {r["as_of"]: r["resolved"] for r in by_id.get(lower, {"rows": []})["rows"]}
        assert all(rows[d] == 1 for d, y in offensive.items() if y == 1 and d in rows)
    assert by_id["belarus_territory_offensive"]["positives"] > 0
    assert sum(b["n"] for b in got["reliability"]) == sum(o["windows"] for o in by_id.values())
    text = run(*args, tmp_path=tmp_path).output
    assert "Reliability, pooled" in text and "not scored: belarus_forces_in_ukraine" in text


@pytest.mark.slow
def test_an_outcome_under_way_is_observed_and_marked(real_store, shared_data, tmp_path):
    """Where the offensive's resolver fires on what was available by the date, the rung is
    observed: since when, on which evidence, its probability at least the stated floor, the
    rungs below implied; the replay marks it. The date is found by scanning, not named."""
    args = ("replay", "--from", "2022-01-05", "--to", "2022-06-29", "--step", "14", "--out",
            str(tmp_path / "out"), "--db", str(real_store), "--data", str(shared_data))  # fmt: skip
    rows = json.loads(run(*args, "--format", "json", tmp_path=tmp_path).output)["rows"]
    marked = [r for r in rows if "belarus_territory_offensive" in r["observed"]]
    assert marked and len(marked) < len(rows)  # seen on some dates, not on all
    day = marked[0]["as_of"]
    _dashboard_rings_the_observed_points(real_store, shared_data, tmp_path, marked)
    got = assess_json(real_store, shared_data, tmp_path, "--as-of", day)
    role = next(s for s in got["scenario_sets"] if s["id"] == "belarus_role")
    (obs,) = [o for o in role["observed"] if o["outcome"] == "belarus_territory_offensive"]
    assert obs["rung"] == "territory_offensive" and obs["since"] <= day
    assert obs["evidence"] and all(e["date"] <= day for e in obs["evidence"])
    p = {o["id"]: o for o in got["outcomes"]}
    offensive = p["belarus_territory_offensive"]
    assert offensive["observed"]["since"] == obs["since"]
    assert offensive["probability"] >= obs["probability"] - 1e-3
    assert p["belarus_support_platform"]["probability"] >= offensive["probability"] - 1e-3
    assert p["belarus_support_platform"]["observed"] is not None  # implied below
    _explains_the_posterior(role)
    text = run("assess", "--as-of", day, "--db", str(real_store), "--data", str(shared_data),
               tmp_path=tmp_path).output  # fmt: skip
    assert "under way since" in text
    # a fast recurrence over a long horizon stays a finite, strictly valid JSON number
    long = run("assess", "--as-of", day, "--horizon", "365", "--db", str(real_store), "--data",
               str(shared_data), "--format", "json", tmp_path=tmp_path).output  # fmt: skip
    strict = json.loads(long, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    role = next(s for s in strict["scenario_sets"] if s["id"] == "belarus_role")
    assert 0.99 <= next(o for o in strict["outcomes"] if o["id"] == obs["outcome"])[
        "probability"] < 1  # fmt: skip
    _explains_the_posterior(role)


def _dashboard_rings_the_observed_points(db, shared_data, tmp_path, marked) -> None:
    """The dashboard's scenario history rings the points of the dates the rung was
    observed under way (and marks them ● in its table), and only those."""
    import asyncio

    import httpx

    from vigil.web.app import create_app
    from vigil.web.data import Dashboard

    dash = Dashboard(db, data_dir=shared_data, briefings=tmp_path)
    try:
        offensive = next(
            sc for sc in dash.history("belarus_role")["scenarios"]
            if sc["id"] == "territory_offensive"
        )  # fmt: skip
        flagged = {p["as_of"] for p in offensive["points"] if p["observed"]}
        assert {r["as_of"] for r in marked} <= flagged
        transport = httpx.ASGITransport(app=create_app(dash))

        async def get() -> str:
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                return (await c.get("/scenarios")).text

        page = asyncio.run(get())
    finally:
        dash.close()
    ring = r'<circle class="marked [^"]*"[^>]*data-series="([^"]+)" data-date="([^"]+)"'
    rings = re.findall(ring, page)
    assert {d for name, d in rings if "offensive" in name.lower()} == flagged
    assert page.count(" ●</td>") == sum(1 for _ in rings)


@pytest.mark.slow
def test_blind_indicators_carry_no_weight_and_are_named(real_store, shared_data, tmp_path):
    """On a date whose feeds carried almost nothing on Belarus, its text-only indicator is
    blind: no contribution, listed as blind with the reason, and the text output says how
    much of the evidence was seen."""
    for day in ("2021-01-20", "2021-03-20", "2021-06-20", "2021-09-20", "2022-01-20"):
        got = assess_json(real_store, shared_data, tmp_path, "--as-of", day)
        role = next(s for s in got["scenario_sets"] if s["id"] == "belarus_role")
        blind = {b["indicator"]: b["reasons"] for b in role["coverage"]["blind"]}
        if "pmc_presence" in blind:
            break
    else:
        pytest.fail("no date of the sample has Belarus's feeds silent")
    assert any("documents on belarus" in why for why in blind["pmc_presence"])
    used = {c["indicator"] for sc in role["scenarios"] for c in sc["contributions"]}
    assert "pmc_presence" not in used
    text = run("assess", "--as-of", day, "--db", str(real_store), "--data", str(shared_data),
               tmp_path=tmp_path).output  # fmt: skip
    assert role["coverage"]["summary"] in text and "blind:" in text
