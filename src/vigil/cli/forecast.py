"""Commands of the statistical forecaster: backtest, forecast."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from vigil.api import check_years
from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    MAX_STEP,
    DataOption,
    DbOption,
    FormatOption,
    app,
    as_of_date,
    check_format,
    handle_errors,
    out,
    workspace,
)
from vigil.forecast import MODEL_IDS
from vigil.service.country_forecast import check_model, check_task

HorizonsOption = Annotated[
    list[int] | None,
    typer.Option("--horizon", min=1, max=12, help="Months ahead (repeatable; default 1 and 3)."),
]


def pct(p: float | None) -> str:
    return "–" if p is None else f"{100 * p:.1f}%"


def num(x: float | None, fmt: str = "{:.4f}") -> str:
    return "–" if x is None else fmt.format(x)


@app.command()
@handle_errors
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
    check_format(fmt)
    check_years(first, last)
    if model and "scenarios" in model:
        _scenario_backtest(theatre, step, horizon_days, first, last, data, db, fmt)
        return
    check_task(task)
    # the forecaster reads the store and writes nothing to it
    ws = workspace(db, None, data, write=False, prepare=None)
    report = ws.backtest_forecaster(
        first, last, horizons=horizon or (), models=model or (), out=out_dir, task=task
    ).to_dict()
    if fmt == "json":
        out.print_json(json.dumps(report))
        return
    _print_report(report)


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
    ws = workspace(db, theatre, data, quiet=fmt == "json")
    report = ws.backtest(
        dt.date(first, 1, 1), dt.date(last, 12, 31), step=step, horizon=horizon_days
    ).to_dict()
    if fmt == "json":
        out.print_json(json.dumps(report))
        return
    _print_scenario_report(report, ws.theatre)


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
@handle_errors
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
    check_format(fmt)
    check_model(model)
    day = as_of_date(as_of) or dt.date.today()
    ws = workspace(db, None, data, write=False, prepare=None)  # the forecaster writes nothing
    result = ws.forecast(day, horizon, model=model, countries=country or ()).to_dict()
    rows = result["rows"]
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
