"""`vigil indicators`, `vigil evidence` and `vigil plot` on a store built from real data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app

runner = CliRunner()


def run(*args: str, env: dict | None = None):
    result = runner.invoke(app, list(args), catch_exceptions=False, env=env)
    return result


@pytest.mark.slow
def test_indicators_json_as_of_the_build_up(real_store: Path, shared_data: Path, tmp_path) -> None:
    env = {"VIGIL_CACHE": str(tmp_path / "cache")}
    args = (
        "indicators",
        "--as-of",
        "2022-02-15",
        "--db",
        str(real_store),
        "--data",
        str(shared_data),
    )
    result = run(*args, "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert got["theatre"] == "belarus" and got["as_of"] == "2022-02-15"
    by_id = {i["id"]: i for i in got["indicators"]}
    assert len(by_id) >= 17
    buildup = by_id["russian_buildup"]
    assert buildup["state"] in ("elevated", "high")
    assert set(buildup) >= {"id", "state", "score", "trend", "evidence"}
    assert buildup["evidence"] and all(e["date"] <= "2022-02-15" for e in buildup["evidence"])
    text = run(*args, env=env)
    assert "Belarus direction — indicators as of 2022-02-15" in text.output


@pytest.mark.slow
def test_evidence_lists_items_with_links(real_store: Path, shared_data: Path, tmp_path) -> None:
    env = {"VIGIL_CACHE": str(tmp_path / "cache")}
    base = ("--as-of", "2022-02-15", "--db", str(real_store), "--data", str(shared_data))
    result = run("evidence", "russian_buildup", *base, "--format", "json", env=env)
    items = json.loads(result.output)["evidence"]
    assert items and {"source", "source_id", "date", "title", "url"} <= set(items[0])
    assert any(i["source"] == "cir" for i in items)
    unknown = run("evidence", "no_such_indicator", *base, env=env)
    assert unknown.exit_code == 1
    assert "no indicator 'no_such_indicator' in theatre belarus" in unknown.output


@pytest.mark.slow
def test_plot_writes_png_and_offline_html(real_store: Path, shared_data: Path, tmp_path) -> None:
    env = {"VIGIL_CACHE": str(tmp_path / "cache")}
    result = run(
        "plot", "--from", "2021-10-01", "--to", "2022-03-01", "--step", "14",
        "--indicator", "russian_buildup", "--indicator", "migration_pressure",
        "--out", str(tmp_path / "out"), "--db", str(real_store), "--data", str(shared_data),
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    png = tmp_path / "out" / "belarus_indicators_2021-10-01_2022-03-01.png"
    html = png.with_suffix(".html")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html.read_text()
    # one self-contained page of inline SVG, no script: every indicator by name, its dates
    assert "<svg" in page and "<script" not in page.lower()
    assert not re.search(r"(?:src|href)=[\"']?https?:", page)  # nothing fetched: offline
    assert "Russian force build-up" in page and "Migration pressure" in page
    assert 'data-date="2022-02-18"' in page and "<td>2021-10-01</td>" in page


def test_bad_dates_are_usage_errors(tmp_path: Path) -> None:
    result = run("plot", "--from", "2022-03-01", "--to", "2022-01-01", "--db",
                 str(tmp_path / "v.duckdb"))  # fmt: skip
    assert result.exit_code == 2
    assert "--to is before --from" in result.output
    bad = run("indicators", "--as-of", "15/02/2022", "--db", str(tmp_path / "v.duckdb"))
    assert bad.exit_code == 2
    assert "error: --as-of '15/02/2022' is not a date\n  hint: use YYYY-MM-DD" in bad.output


@pytest.mark.slow
def test_every_raised_indicator_shows_its_evidence(real_store: Path, shared_data, tmp_path) -> None:
    """After the news corpus ends, a state carried from its last days still cites them."""
    env = {"VIGIL_CACHE": str(tmp_path / "cache")}
    for day in ("2022-02-15", "2024-02-28"):
        args = ("indicators", "--as-of", day, "--db", str(real_store), "--data", str(shared_data))
        got = json.loads(run(*args, "--format", "json", env=env).output)["indicators"]
        raised = [i for i in got if i["state"] in ("elevated", "high")]
        assert raised
        for ind in raised:
            assert ind["evidence"], f"{ind['id']} is {ind['state']} as of {day} with no evidence"
            assert all(e["date"] <= day for e in ind["evidence"])
