"""Commands of the statistical forecaster: backtest, forecast."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from vigil import watch
from vigil.cli.common import (
    DEFAULT_DB,
    MAX_STEP,
    DbOption,
    FormatOption,
    _check_format,
    _handle_errors,
    app,
    open_store,
    out,
)
from vigil.cli.indicators import DEFAULT_DATA, DataOption
from vigil.cli.scenarios import _setup
from vigil.errors import UsageError
from vigil.forecast import MODEL_IDS
from vigil.forecast import panel as P  # noqa: N812

TASKS = ("acled-escalation",)
HorizonsOption = Annotated[
    list[int] | None,
    typer.Option("--horizon", min=1, max=12, help="Months ahead (repeatable; default 1 and 3)."),
]


def pct(p: float | None) -> str:
    return "–" if p is None else f"{100 * p:.1f}%"


def num(x: float | None, fmt: str = "{:.4f}") -> str:
    return "–" if x is None else fmt.format(x)


@app.command()
@_handle_errors
def backtest(
    task: Annotated[str, typer.Option("--task", help="Forecasting task.")] = "acled-escalation",
    first: Annotated[int, typer.Option("--from", help="First test year.")] = 2015,
    last: Annotated[int, typer.Option("--to", help="Last test year.")] = 2025,
    horizon: HorizonsOption = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help=f"Models (repeatable): {', '.join(MODEL_IDS)}; default all. `scenarios` backtests "
            "the scenario model of --theatre instead.",
        ),
    ] = None,
    theatre: Annotated[
        str, typer.Option("--theatre", help="With --model scenarios: the theatre.")
    ] = "belarus",
    step: Annotated[
        int,
        typer.Option(
            "--step", min=1, max=MAX_STEP, help="With --model scenarios: days between replays."
        ),
    ] = 14,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=8, max=730, help="With --model scenarios.")
    ] = 90,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the reliability plot.")] = Path(
        "out"
    ),
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Rolling-origin backtest with proper scores against no-change and base-rate baselines."""
    _check_format(fmt)
    _check_years(first, last)
    if model and "scenarios" in model:
        _scenario_backtest(theatre, step, horizon_days, first, last, data, db, fmt)
        return
    if task not in TASKS:
        raise UsageError(f"unknown --task {task!r}", f"choose one of: {', '.join(TASKS)}")
    from vigil.forecast.backtest import BacktestConfig, run_backtest  # heavy: fit-time only
    from vigil.forecast.predict import panel_builder

    horizons = tuple(horizon or P.HORIZONS)
    models = tuple(model or MODEL_IDS)
    config = BacktestConfig(first, last, horizons=horizons, models=models)
    con = open_store(db)  # the forecaster reads the store and writes nothing to it
    build = panel_builder(con, data)
    counts = P.load_counts(con)
    origins = P.monthly_origins(counts.months[0].date().replace(day=15), dt.date(last, 12, 15))
    panel = build(None, origins, True)
    panel = panel[panel["horizon"].isin(horizons)]
    result = run_backtest(panel, config, build)
    report = _report(result, models, out_dir, task)
    if fmt == "json":
        out.print_json(json.dumps(report))
        return
    _print_report(report)


def _check_years(first: int, last: int) -> None:
    """Years within the dates every command accepts (watch.EARLIEST to LATEST), in order."""
    lo, hi = watch.EARLIEST.year, watch.LATEST.year
    for option, year in (("--from", first), ("--to", last)):
        if not lo <= year <= hi:
            raise UsageError(f"{option} {year} is outside the years Vigil covers ({lo} to {hi})")
    if last < first:
        raise UsageError("--to is before --from", "swap the years")


def _print_years(report: dict, horizon: int) -> None:
    """Per test year: forecasts, base rate and each model's Brier skill over no-change."""
    entries = [e for e in report["models"] if e["horizon"] == horizon]
    if not entries:
        return
    table = Table(
        "year",
        "forecasts",
        "base rate",
        *[f"{e['id']} BSS/nc" for e in entries],
        title=f"{horizon}-month horizon by year",
        title_justify="left",
    )
    for i, row in enumerate(entries[0]["years"]):
        table.add_row(
            str(row["year"]),
            f"{row['n']:,}",
            num(row["base_rate"], "{:.3f}"),
            *[num(e["years"][i]["bss_vs_no_change"], "{:+.3f}") for e in entries],
        )
    out.print(table)


def _scenario_backtest(theatre, step, horizon_days, first, last, data, db, fmt) -> None:
    """``--model scenarios``: replay the theatre's assessment and score resolvable outcomes."""
    from vigil.scenario_backtest import backtest_scenarios

    con, spec, library, _ = _setup(
        db, theatre, data, None, quiet=fmt == "json", dated=False, stores=False
    )
    report = backtest_scenarios(
        con, spec, library, horizon_days, step, dt.date(first, 1, 1), dt.date(last, 12, 31)
    )
    if fmt == "json":
        out.print_json(json.dumps(report))
        return
    _print_scenario_report(report, spec.theatre.id)


def _interval(x: float | None, iv: list | None, fmt: str = "{:.3f}") -> str:
    if x is None:
        return "–"
    lo, hi = iv or (None, None)
    return f"{fmt.format(x)} [{num(lo, fmt)}, {num(hi, fmt)}]"


def _print_scenario_report(report: dict, theatre: str) -> None:
    out.print(
        f"[bold]scenarios[/] ({escape(theatre)}) — replayed every {report.get('step_days')} days "
        f"from {report.get('from')} to {report.get('to')}, {report.get('horizon_days')}-day "
        "horizon, scored where the data settles the outcome; [90 % block-bootstrap intervals]"
    )
    table = Table(
        Column("outcome", overflow="fold", min_width=19),  # wrapped if need be, never cut
        "windows (true)", "Brier: model", "prior", "climatology",
        "skill vs prior", "onsets: skill vs prior", "≥ 25 %: hit/miss/false",
        title_justify="left",
    )  # fmt: skip
    for o in report["outcomes"]:
        on, w = o.get("onsets", {}), o.get("warnings", {})
        table.add_row(
            escape(o["id"].removeprefix(f"{theatre}_")), f"{o['windows']} ({o['positives']})",
            _interval(o.get("brier"), o.get("interval")), num(o.get("brier_prior"), "{:.3f}"),
            num(o.get("brier_climatology"), "{:.3f}"),
            _interval(o.get("bss_vs_prior"), o.get("bss_vs_prior_interval"), "{:+.2f}"),
            f"{_interval(on.get('bss_vs_prior'), on.get('bss_vs_prior_interval'), '{:+.2f}')} "
            f"({on.get('windows', 0)}, {on.get('positives', 0)} true)",
            f"{w.get('hits', 0)}/{w.get('misses', 0)}/{w.get('false_alarms', 0)}",
        )  # fmt: skip
    out.print(table)
    out.print(
        "skill = 1 − Brier(model) / Brier(prior); onsets: windows whose outcome was not already "
        "observed under way; an outcome with no true window can only show the model staying "
        "below its prior, not warning skill",
        highlight=False,
        markup=False,
    )
    rel = Table("forecast", "scored", "mean forecast", "observed", title="Reliability, pooled",
                title_justify="left")  # fmt: skip
    for b in report.get("reliability", []):
        rel.add_row(
            f"{100 * b['bin'][0]:.0f}–{100 * b['bin'][1]:.0f} %", str(b["n"]),
            pct(b["mean_forecast"]), pct(b["observed"]),
        )  # fmt: skip
    if report.get("reliability"):
        out.print(rel)
    for u in report["unresolvable"]:
        out.print(f"  not scored: {u['id']} — {u['why']}", highlight=False, markup=False)


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


def _print_report(report: dict) -> None:
    out.print(
        f"[bold]{report['task']}[/] — rolling-origin backtest {report['from']}–{report['to']}, "
        f"yearly folds, gap {report['gap_days']} days; look-ahead audit passed on "
        f"{len(report['audited_origins'])} origins"
    )
    for h in report["horizons"]:
        table = Table(
            "model",
            "Brier",
            "log loss",
            "AUC-PR (base)",
            "BSS vs no-change",
            "BSS vs base rate",
            "onset BSS/nc",
            "escalation BSS/nc",
            title=f"{h}-month horizon",
            title_justify="left",
        )
        for m in (e for e in report["models"] if e["horizon"] == h):
            table.add_row(
                escape(m["id"]),
                num(m["brier"]),
                num(m["log_loss"]),
                f"{num(m['auc_pr'], '{:.3f}')} ({num(m['base_rate'], '{:.3f}')})",
                num(m["bss_vs_no_change"], "{:+.3f}"),
                num(m["bss_vs_base_rate"], "{:+.3f}"),
                num(m["onset"]["bss_vs_no_change"], "{:+.3f}"),
                num(m["escalation"]["bss_vs_no_change"], "{:+.3f}"),
            )
        out.print(table)
        _print_years(report, h)
    secs = report["seconds"]
    out.print(
        f"audit {secs.get('audit', 0):.1f} s, fit and predict {secs.get('fit_predict', 0):.1f} s; "
        + " ".join(f"wrote {c}" for c in report["charts"]),
        highlight=False,
        markup=False,
    )


@app.command()
@_handle_errors
def forecast(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: latest data).")
    ] = None,
    country: Annotated[
        list[str] | None, typer.Option("--country", help="ISO3 (repeatable; default: top 15).")
    ] = None,
    horizon: Annotated[int, typer.Option("--horizon", min=1, max=12)] = 3,
    model: Annotated[str, typer.Option("--model", help="One of the models.")] = "ensemble",
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """P(political violence reaches max(10, 2 × its 12-month mean)) in the next months."""
    _check_format(fmt)
    if model not in MODEL_IDS:
        raise UsageError(f"unknown --model {model!r}", f"choose one of: {', '.join(MODEL_IDS)}")
    day = watch.parse_date(as_of) if as_of else dt.date.today()
    con = open_store(db)  # read-only: the forecaster writes nothing
    from vigil.forecast.predict import forecast_table, panel_builder

    table = forecast_table(panel_builder(con, data), con, day, horizon, model)
    table = table.rename(columns={"base_rate": "base"})
    wanted = [c.upper() for c in country or []]
    if wanted:
        missing = set(wanted) - set(table["country"])
        if missing:
            raise UsageError(
                f"no forecast for {', '.join(sorted(missing))} as of {day}",
                "the country needs 12 months of ACLED coverage before the date",
            )
        table = table[table["country"].isin(wanted)]
    else:
        table = table.head(15)
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
    result = {"as_of": day.isoformat(), "horizon_months": horizon, "model": model, "rows": rows}
    if fmt == "json":
        out.print_json(json.dumps(result))
        return
    t = Table(
        "country",
        "P(escalation)",
        "kind",
        "threshold",
        "last month",
        "events",
        title=f"{model}: P(events reach the threshold within {horizon} months), as of {day}",
        title_justify="left",
    )
    for r in rows:
        t.add_row(
            r["country"],
            pct(r["probability"]),
            r["kind"],
            f"{r['threshold']:.0f}",
            r["last_month"],
            f"{r['last_month_events']:.0f}",
        )
    out.print(t)
