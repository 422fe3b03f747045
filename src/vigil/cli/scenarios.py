"""Commands over a theatre's scenarios: assess, simulate, replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil.api import MAX_REPLAY, check_simulation_horizon
from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    MAX_STEP,
    AsOfOption,
    DataOption,
    DbOption,
    ForecastOption,
    FormatOption,
    FromOption,
    HorizonOption,
    TheatreOption,
    ToOption,
    app,
    as_of_date,
    check_format,
    date_range,
    handle_errors,
    out,
    pct,
    safe,
    workspace,
)


@app.command("assess")
@handle_errors
def assess_cmd(
    theatre: TheatreOption = "belarus",
    as_of: AsOfOption = None,
    horizon: HorizonOption = 90,
    since: Annotated[
        str | None, typer.Option("--since", help="Say what changed since this date, and why.")
    ] = None,
    forecast: ForecastOption = False,
    no_notes: Annotated[
        bool,
        typer.Option("--no-notes", help="Leave out analysts' graded notes (not stored)."),
    ] = False,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Scenario probabilities with intervals, contributions, ACH and sensitivity; stored."""
    check_format(fmt)
    day, before = as_of_date(as_of), as_of_date(since, "--since")
    ws = workspace(db, theatre, data, write=True, quiet=fmt == "json")
    # the store keeps what the evidence, notes included, says: --no-notes stores nothing
    result = ws.assess(day, horizon, since=before, forecast=forecast, notes=not no_notes)
    if fmt == "json":
        out.print_json(json.dumps(result.to_dict()))
        return
    print_assessment(result.data)
    if result.changes:
        _print_changes(result.changes)


def print_assessment(result: dict) -> None:
    out.print(
        f"[bold]{escape(result['theatre'])}[/] — scenarios as of {result['as_of']}, "
        f"horizon {result['horizon_days']} days"
    )
    print_base(result.get("coverage"))
    for s in result["scenario_sets"]:
        if s["readings_used"] == 0:
            out.print(
                f"[yellow]warning:[/] {escape(s['id'])}: no indicator has an observed reading as "
                f"of {result['as_of']}: the prior alone (does the store cover that date?)"
            )
        table = Table(
            "scenario",
            "prior",
            "probability",
            "90% interval",
            "main contributions",
            title=f"{s['name']} (leading: {s['leading']})",
            title_justify="left",
        )
        for sc in s["scenarios"]:
            top = ", ".join(
                f"{c['indicator']} {c['state']}{_graded(c)} {c['llr']:+.2f}"
                for c in sc["contributions"][:3]
                if abs(c["llr"]) >= 0.05
            )
            lo, hi = sc["interval"]
            table.add_row(
                escape(sc["id"]),
                pct(sc["prior"]),
                f"[bold]{pct(sc['probability'])}[/]",
                f"{pct(lo)}–{pct(hi)}",
                escape(top) or "[dim]none moved its odds by 5 % or more[/]",
            )
        out.print(table)
        _print_coverage(s)
        flips = [x for x in s["sensitivity"] if x["changes_leading"]]
        if flips:
            out.print(
                "  would change the call: "
                + "; ".join(
                    f"{x['indicator']} {x['state_now'] or 'no reading'}→{x['state_if']} "
                    f"({x['leading_if']})"
                    for x in flips[:5]
                ),
                highlight=False,
            )
    table = Table(
        "outcome",
        "probability",
        "90% interval",
        title="Outcomes within the horizon",
        title_justify="left",
    )
    for o in result["outcomes"]:
        lo, hi = o["interval"]
        table.add_row(escape(o["id"]), pct(o["probability"]), f"{pct(lo)}–{pct(hi)}")
    out.print(table)


def print_base(base: dict | None) -> None:
    """What the numbers rest on, before any number: sources, indicators seen, the meaning."""
    if not base:
        return
    _say(f"Evidence base: {base['summary']}")
    _say(f"  {base['meaning']}")


def _graded(c: dict) -> str:
    """`` (note F3)`` when an analyst's graded note decided the reading."""
    return f" (note {c['note']['grade']})" if c.get("note") else ""


def _print_coverage(s: dict) -> None:
    """How much was seen, why the rest was blind (grouped by reason), what is under way."""
    cov = s.get("coverage")
    if cov:
        _say(f"  evidence seen: {cov['summary']}")
        why: dict[str, list[str]] = {}
        for b in cov["blind"]:
            why.setdefault(b["reasons"][-1], []).append(b["indicator"])
        for reason, ids in why.items():
            _say(f"    {', '.join(ids)}: {reason}")
    for o in s.get("observed", []):
        _say(
            f"  observed: {o['outcome']} under way since {o['since']} (reaches the horizon "
            f"with P ≥ {pct(o['probability'])}){_example(o['evidence'], 70, source=True)}"
        )


def _print_changes(changes: dict) -> None:
    out.print(f"[bold]What changed since {changes['from']}[/]")
    for s in changes["sets"]:
        moves = ", ".join(
            f"{sc['id']} {pct(sc['before'])}→{pct(sc['after'])}"
            for sc in s["scenarios"]
            if abs(sc["change"]) >= 0.005
        )
        out.print(f"  {s['id']}: {moves or 'no change of 0.5 points or more'}", highlight=False)
        for d in s["drivers"][:5]:
            _say(
                f"    {d['indicator']}: {d['state_before'] or 'no reading'} "
                f"({d['reading_before'] or '–'}) → {d['state_after'] or 'no reading'} "
                f"({d['reading_after'] or '–'}){_example(d['evidence'], 60)}"
            )


def _say(text: str) -> None:
    """A line with text from the data in it: escaped, never read as markup."""
    out.print(safe(text), highlight=False, markup=False)


def _example(evidence: list[dict], width: int, *, source: bool = False) -> str:
    """`` — e.g. DATE [SOURCE:] TITLE`` from the first evidence item, or nothing."""
    if not evidence:
        return ""
    ev = evidence[0]
    who = f" {ev['source']}:" if source else ""
    return f" — e.g. {ev['date']}{who} {ev['title'][:width]}"


@app.command()
@handle_errors
def replay(
    start: FromOption,
    end: ToOption,
    step: Annotated[
        int, typer.Option("--step", min=1, max=MAX_STEP, help="Days between assessments.")
    ] = 14,
    theatre: TheatreOption = "belarus",
    horizon: HorizonOption = 90,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the charts.")] = Path("out"),
    forecast: ForecastOption = False,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Probability history over a range of dates: a table, a PNG and an HTML chart; stored."""
    check_format(fmt)
    first, last = date_range(start, end, step, most=MAX_REPLAY, each="assessment")
    ws = workspace(db, theatre, data, write=True, quiet=fmt == "json")
    replayed = ws.replay(first, last, step, horizon=horizon, forecast=forecast, charts=out_dir)
    if fmt == "json":
        out.print_json(json.dumps(replayed.to_dict()))
        return
    print_replay(replayed, ws.theatre)


def print_replay(replayed, theatre: str) -> None:
    """The replay as a table, one row per date, and the charts written."""
    results, rows, horizon = replayed.results, replayed.rows(), replayed.horizon_days
    outcome_ids = [o["id"] for o in results[0]["outcomes"]] if results else []
    lead = results[0]["scenario_sets"][0]["id"] if results else ""
    table = Table(
        "as of",
        f"leading {lead}",
        *[o.removeprefix(f"{theatre}_") for o in outcome_ids],
        title=f"Outcome probabilities within {horizon} days",
        title_justify="left",
    )
    for r in rows:
        table.add_row(
            r["as_of"],
            r.get(f"leading:{lead}", "–"),
            *[pct(r[o]) + (" ●" if o in r["observed"] else "") for o in outcome_ids],
        )
    out.print(table)
    out.print("● observed under way on that date", highlight=False, markup=False)
    out.print("\n".join(f"wrote {p}" for p in replayed.charts), highlight=False, markup=False)


@app.command("simulate")
@handle_errors
def simulate_cmd(
    theatre: TheatreOption = "belarus",
    as_of: AsOfOption = None,
    horizon: HorizonOption = 90,
    paths: Annotated[int, typer.Option("--paths", min=100, max=2_000_000)] = 100_000,
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed (same seed, same run)."),
    ] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write a chart of the reach curves here.")
    ] = None,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Monte Carlo escalation chains from the current assessment, with consequences."""
    check_format(fmt)
    check_simulation_horizon(horizon)
    day = as_of_date(as_of)
    ws = workspace(db, theatre, data, quiet=fmt == "json")
    sim = ws.simulate(day, horizon, paths=paths, seed=seed, chart=out_dir)
    if fmt == "json":
        chart = str(sim.chart) if sim.chart else None
        out.print_json(json.dumps({**sim.to_dict(), "chart": chart}))
        return
    _print_simulation(sim.to_dict())
    if sim.chart:
        out.print(f"wrote {sim.chart}", highlight=False, markup=False)


def _print_simulation(result: dict) -> None:
    out.print(
        f"[bold]{escape(result['theatre'])}[/] — {result['paths']:,} paths from {result['as_of']}"
        f" over {result['horizon_days']} days (seed {result['seed']})"
    )
    table = Table(
        "set",
        "rung",
        "assessed",
        "simulated",
        "days to reach (median, 10–90%)",
        title="Probability of reaching each rung within the horizon",
        title_justify="left",
    )
    for s in result["sets"]:
        for r in s["rungs"][1:]:
            t = r["time_to_event"]
            when = "–" if t["median"] is None else f"{t['median']} ({t['p10']}–{t['p90']})"
            table.add_row(
                escape(s["id"]), escape(r["id"]), pct(r["assessed"]), pct(r["simulated"]), when
            )
    out.print(table)
    fired = [c for c in result["couplings"] if c["active_share"] > 0]
    if fired:
        out.print(
            "  chains that fired: "
            + "; ".join(f"{c['id']} {pct(c['active_share'])} of paths" for c in fired),
            highlight=False,
        )
    table = Table(
        "consequence domain",
        "mean level",
        "90% interval",
        "P(high or severe)",
        "main driver",
        title="Consequences for Europe at the horizon (0 none – 4 severe)",
        title_justify="left",
    )
    for d in result["consequences"]:
        severe = sum(x["share"] for x in d["distribution"] if x["level"] >= 3)
        top = d["drivers"][0] if d["drivers"] else None
        driver = (
            "baseline"
            if top and top["when"] is None
            else (f"{top['when']['set']} ≥ {top['when']['at_least']}" if top else "–")
        )
        table.add_row(
            escape(d["name"]),
            f"{d['mean']:.2f}",
            f"{d['interval'][0]:.1f}–{d['interval'][1]:.1f}",
            pct(severe),
            escape(driver),
        )
    out.print(table)
