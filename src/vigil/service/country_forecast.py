"""The statistical forecaster's two workflows: country-month escalation probabilities as
of a date (:func:`forecast`) and its rolling-origin backtest (:func:`backtest`).

Both import scikit-learn and LightGBM only when called: no other workflow needs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from vigil.errors import UsageError
from vigil.forecast import MODEL_IDS
from vigil.forecast import panel as P  # noqa: N812

#: the forecasting tasks a backtest can score
TASKS = ("acled-escalation",)


def check_task(task: str) -> None:
    if task not in TASKS:
        raise UsageError(f"unknown --task {task!r}", f"choose one of: {', '.join(TASKS)}")


def check_model(model: str) -> None:
    if model not in MODEL_IDS:
        raise UsageError(f"unknown --model {model!r}", f"choose one of: {', '.join(MODEL_IDS)}")


def forecast(
    con,
    data: Path,
    day: dt.date,
    horizon: int = 3,
    model: str = "ensemble",
    countries: Sequence[str] = (),
    top: int | None = 15,
) -> dict:
    """P(political violence reaches max(10, 2 × its 12-month mean)) within ``horizon``
    months, per country, as of ``day`` (features as known that day), most likely first:
    the named ``countries`` (ISO3), else the ``top`` ones (None: all)."""
    check_model(model)
    from vigil.forecast.predict import forecast_table, panel_builder

    table = forecast_table(panel_builder(con, data), con, day, horizon, model)
    table = table.rename(columns={"base_rate": "base"})
    wanted = [c.upper() for c in countries]
    if wanted:
        missing = set(wanted) - set(table["country"])
        if missing:
            raise UsageError(
                f"no forecast for {', '.join(sorted(missing))} as of {day}",
                "the country needs 12 months of ACLED coverage before the date",
            )
        table = table[table["country"].isin(wanted)]
    elif top is not None:
        table = table.head(top)
    rows = [
        {
            "country": r.country,
            "probability": round(float(r.p), 4),
            "base_rate": round(float(r.base), 4),
            "kind": r.kind,
            "threshold": round(float(r.threshold), 1),
            "last_month": str(r.last_month.date()),
            "last_month_events": float(r.last_events),
        }
        for r in table.itertuples()
    ]
    return {"as_of": day.isoformat(), "horizon_months": horizon, "model": model, "rows": rows}


def backtest(
    con,
    data: Path,
    first: int,
    last: int,
    *,
    horizons: Sequence[int] = (),
    models: Sequence[str] = (),
    out_dir: Path = Path("out"),
    task: str = "acled-escalation",
) -> dict:
    """Rolling-origin backtest of the forecaster over the test years ``first``…``last``,
    with proper scores against no-change and base-rate baselines and one reliability PNG
    per horizon in ``out_dir``."""
    check_task(task)
    for m in models:
        check_model(m)
    from vigil.forecast.backtest import BacktestConfig, run_backtest  # heavy: fit-time only
    from vigil.forecast.predict import panel_builder

    horizons = tuple(horizons or P.HORIZONS)
    models = tuple(models or MODEL_IDS)
    config = BacktestConfig(first, last, horizons=horizons, models=models)
    build = panel_builder(con, data)
    counts = P.load_counts(con)
    origins = P.monthly_origins(counts.months[0].date().replace(day=15), dt.date(last, 12, 15))
    panel = build(None, origins, True)
    panel = panel[panel["horizon"].isin(horizons)]
    result = run_backtest(panel, config, build)
    return _report(result, models, Path(out_dir), task)


def _report(result, models, out_dir: Path, task: str) -> dict:
    from vigil.forecast.scores import reliability_png, score_table

    pred = result.predictions
    entries, charts = [], []
    out_dir.mkdir(parents=True, exist_ok=True)
    for h in result.config.horizons:
        frame = pred[pred["horizon"] == h]
        if frame.empty:
            continue
        table = score_table(frame, list(models))
        for m in models:
            t = table[m]
            entries.append(
                {
                    "id": m,
                    "horizon": h,
                    **t["overall"],
                    "onset": t["onset"],
                    "escalation": t["escalation"],
                    "years": t["years"],
                }
            )
        path = out_dir / f"{task}_reliability_h{h}.png"
        charts.append(str(reliability_png(frame, list(models), path)))
    return {
        "task": task,
        "from": result.config.first_year,
        "to": result.config.last_year,
        "horizons": list(result.config.horizons),
        "gap_days": result.config.gap_days,
        "audited_origins": [d.isoformat() for d in result.audited],
        "folds": result.folds,
        "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
        "models": entries,
        "charts": charts,
    }
