"""The rolling-origin backtest, its look-ahead audit, and `vigil backtest` / `vigil forecast`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.forecast import panel as P  # noqa: N812
from vigil.forecast.backtest import BacktestConfig, LookAheadError, run_backtest
from vigil.forecast.predict import panel_builder
from vigil.store import connect

runner = CliRunner()


@pytest.fixture(scope="module")
def built(forecast_store: Path, shared_data: Path, tmp_path_factory):
    con = connect(forecast_store)
    with pytest.MonkeyPatch.context() as mp:  # the adjacency cache goes to a temp folder
        mp.setenv("VIGIL_CACHE", str(tmp_path_factory.mktemp("cache")))
        build = panel_builder(con, shared_data)
    origins = P.monthly_origins(dt.date(2012, 1, 15), dt.date(2020, 12, 15))
    yield con, build, build(None, origins, True)
    con.close()


def test_folds_only_train_on_labels_known_before_the_gap(built) -> None:
    _, build, panel = built
    config = BacktestConfig(
        2019, 2020, horizons=(1, 3), models=("base_rate", "no_change", "logistic")
    )
    result = run_backtest(panel, config, build)
    assert [(f["year"], f["horizon"]) for f in result.folds] == [
        (2019, 1),
        (2020, 1),
        (2019, 3),
        (2020, 3),
    ]
    for f in result.folds:
        assert f["train_until"] <= f["cut_off"]
        assert f["cut_off"] == str(dt.date(f["year"], 1, 15) - dt.timedelta(days=31))
    pred = result.predictions
    assert set(pred["year"]) == {2019, 2020}
    assert {"p_base_rate", "p_no_change", "p_logistic"} <= set(pred.columns)
    assert pred.filter(like="p_").apply(lambda c: c.between(0, 1).all()).all()
    assert len(result.audited) == config.audit_origins
    # forward only: no test origin precedes its fold's cut-off
    assert (pd.to_datetime(pred["origin"]).dt.year == pred["year"]).all()


def test_a_leaky_feature_is_caught_before_any_score(built) -> None:
    """A model fed a feature that peeks at the month after the origin must fail the backtest."""
    con, build, panel = built

    def leaky(as_of, origins, labels=True):
        frame = build(as_of, origins, labels)
        view = P.load_counts(con, as_of=as_of)  # the store as the builder was given it...
        row = {c: i for i, c in enumerate(view.countries)}
        col = {m: j for j, m in enumerate(view.months)}

        def peek(country, last_month):  # ...but read one month past the origin's last
            j = col.get(last_month + pd.DateOffset(months=1))
            return np.nan if j is None or country not in row else view.matrix[row[country], j]

        nxt = [peek(c, m) for c, m in zip(frame["country"], frame["last_month"], strict=True)]
        return frame.assign(f_peek=np.log1p(nxt))

    leaked = leaky(None, sorted(set(panel["origin"])), True)
    config = BacktestConfig(2019, 2020, horizons=(1,), models=("logistic",))
    with pytest.raises(LookAheadError, match="f_peek"):
        run_backtest(leaked, config, leaky)
    # the honest builder passes the same audit
    assert run_backtest(panel, config, build).audited


def test_backtest_cli_json(forecast_store, shared_data, tmp_path) -> None:
    args = [
        "backtest",
        "--task",
        "acled-escalation",
        "--from",
        "2019",
        "--to",
        "2020",
        "--horizon",
        "3",
        "--model",
        "base_rate",
        "--model",
        "no_change",
        "--model",
        "logistic",
        "--out",
        str(tmp_path / "out"),
        "--db",
        str(forecast_store),
        "--data",
        str(shared_data),
        "--format",
        "json",
    ]
    result = runner.invoke(app, args, env={"VIGIL_CACHE": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    ids = [m["id"] for m in got["models"]]
    assert ids == ["base_rate", "no_change", "logistic"]
    for m in got["models"]:
        assert set(m) >= {
            "id",
            "horizon",
            "brier",
            "log_loss",
            "auc_pr",
            "bss_vs_no_change",
            "bss_vs_base_rate",
            "years",
            "onset",
            "escalation",
        }
        assert [y["year"] for y in m["years"]] == [2019, 2020]
    base = next(m for m in got["models"] if m["id"] == "base_rate")
    assert base["bss_vs_base_rate"] == pytest.approx(0, abs=1e-9)
    assert Path(got["charts"][0]).read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["backtest", "--task", "nope", "--db", str(forecast_store)])
    assert bad.exit_code == 2 and "unknown --task" in bad.output


def test_forecast_cli_uses_only_the_past(forecast_store, shared_data, tmp_path) -> None:
    args = [
        "forecast",
        "--as-of",
        "2022-02-15",
        "--country",
        "BLR",
        "--country",
        "UKR",
        "--model",
        "logistic",
        "--db",
        str(forecast_store),
        "--data",
        str(shared_data),
        "--format",
        "json",
    ]
    result = runner.invoke(app, args, env={"VIGIL_CACHE": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert {r["country"] for r in got["rows"]} == {"BLR", "UKR"}
    assert all(r["last_month"] <= "2022-01-01" for r in got["rows"])  # January is the last known
    assert all(0 < r["probability"] < 1 for r in got["rows"])


def test_forecaster_enters_the_scenarios_through_the_seam(built) -> None:
    from vigil.scenarios.spec import load_scenarios
    from vigil.service.forecast_evidence import ForecastEvidence
    from vigil.theatre import load_theatre

    con, build, _ = built
    library = load_scenarios(load_theatre("belarus"))
    role = library.set("belarus_role")
    assert role.forecast is not None and set(role.forecast.countries) == {"BLR", "UKR"}
    evidence = ForecastEvidence(build, con, model="logistic")
    day = dt.date(2020, 6, 20)
    (c,) = evidence.contributions(role, day, 90)
    assert c.source == "forecaster" and c.indicator == "forecaster:BLR+UKR"
    assert sum(c.llr) == pytest.approx(0, abs=1e-12)  # centred like an indicator
    assert c.weight == role.forecast.weight
    # every escalatory rung moves together, the bottom the other way
    assert len(set(round(x, 12) for x in c.llr[1:])) == 1 and c.llr[0] * c.llr[1] <= 0
    table = evidence.table(day, 3)
    rows = table[table["country"].isin(["BLR", "UKR"])]
    d = np.mean(
        np.log(rows["p"] / (1 - rows["p"])) - np.log(rows["base_rate"] / (1 - rows["base_rate"]))
    )
    assert c.llr[1] - c.llr[0] == pytest.approx(role.forecast.weight * d)
    assert (pd.to_datetime(table["last_month"]) < pd.Timestamp(day)).all()  # known by then
    evidence.contributions(role, dt.date(2020, 9, 1), 90)
    assert list(evidence._fitted) == [(dt.date(2020, 1, 15), 3)]  # one fit per year
