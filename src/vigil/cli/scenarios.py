"""Commands over a theatre's scenarios: assess, simulate, replay."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil import assess as A  # noqa: N812
from vigil import watch
from vigil.cli.common import (
    DEFAULT_DB,
    MAX_STEP,
    DbOption,
    FormatOption,
    _check_format,
    _handle_errors,
    app,
    date_range,
    out,
    safe,
)
from vigil.cli.indicators import AS_OF_HELP, DEFAULT_DATA, DataOption, TheatreOption, _prepared
from vigil.errors import UsageError
from vigil.scenarios import audit
from vigil.scenarios.plot import render_html, render_png, render_reach_png
from vigil.scenarios.resolve import load_resolvers
from vigil.scenarios.spec import load_scenarios
from vigil.specs import load_theatre

AsOfOption = Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)]
ForecastOption = Annotated[
    bool,
    typer.Option(
        "--forecast",
        help="Add the statistical forecaster as evidence (needs ACLED country-month data).",
    ),
]
HorizonOption = Annotated[
    int, typer.Option("--horizon", min=1, max=730, help="Days ahead the scenarios cover.")
]


def _setup(
    db, theatre: str, data, as_of: str | None, *, quiet: bool, dated: bool = True,
    stores: bool = True,
):  # fmt: skip
    """The theatre and its scenario library, loaded once and checked before any work on the
    store, then :func:`_prepared`: (connection, theatre, library, as-of date)."""
    spec = load_theatre(theatre)
    library = load_scenarios(spec)
    con, spec, day = _prepared(
        db, spec, data, as_of, quiet=quiet, rules=library.text_rules(), dated=dated,
        stores=stores,
    )  # fmt: skip
    return con, spec, library, day


def _forecast_evidence(con, data) -> list:
    """The statistical forecaster as extra evidence (imported here: it loads scikit-learn
    and LightGBM, which no other command needs)."""
    from vigil.forecast.predict import panel_builder
    from vigil.forecast_evidence import ForecastEvidence

    return [ForecastEvidence(panel_builder(con, data), con)]


def pct(p: float) -> str:
    return f"{100 * p:.1f}%" if p >= 0.001 else "<0.1%"


@app.command("assess")
@_handle_errors
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
    _check_format(fmt)
    before_day = watch.parse_date(since, "--since") if since else None
    con, spec, library, day = _setup(db, theatre, data, as_of, quiet=fmt == "json")
    if before_day is not None and before_day >= day:
        raise UsageError(
            f"--since {before_day} is not before --as-of {day}", "pick an earlier date"
        )
    extra = _forecast_evidence(con, data) if forecast else []
    reader = A.reader_for(con, spec, library, day, [horizon], notes=not no_notes)
    result = A.assessment_json(
        A.assess(con, spec, library, day, horizon, extra=extra, reader=reader)
    )
    if not no_notes:  # the store keeps what the evidence, notes included, says
        audit.save(con, result)
    changes = None
    if before_day is not None:
        before = A.stored_or_new(con, spec, library, before_day, horizon, extra=extra)
        changes = audit.diff(before, result)
    if fmt == "json":
        out.print_json(json.dumps({**result, "changes": changes} if changes else result))
        return
    _print_assessment(result)
    if changes:
        _print_changes(changes)


def _print_assessment(result: dict) -> None:
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


#: assessments in one replay, at most: about a second each, so 2,000 is half an hour of
#: work; more is a mistyped date (a daily replay of five years is 1,826)
MAX_REPLAY = 2000


@app.command()
@_handle_errors
def replay(
    start: Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD.")],
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
    _check_format(fmt)
    first, last = date_range(start, end, step, most=MAX_REPLAY, each="assessment")
    con, spec, library, _ = _setup(db, theatre, data, start, quiet=fmt == "json")
    extra = _forecast_evidence(con, data) if forecast else []
    results, png, html = replay_and_store(
        con, spec, library, (first, last, step), horizon, extra, out_dir
    )
    rows = [
        {
            "as_of": r["as_of"],
            **{o["id"]: o["probability"] for o in r["outcomes"]},
            **{f"leading:{s['id']}": s["leading"] for s in r["scenario_sets"]},
            # outcomes observed under way on the date (seen, not foreseen)
            "observed": [o["id"] for o in r["outcomes"] if o.get("observed")],
        }
        for r in results
    ]
    if fmt == "json":
        out.print_json(
            json.dumps({"horizon_days": horizon, "rows": rows, "charts": [str(png), str(html)]})
        )
        return
    outcome_ids = [o["id"] for o in results[0]["outcomes"]] if results else []
    lead = results[0]["scenario_sets"][0]["id"] if results else ""
    table = Table(
        "as of",
        f"leading {lead}",
        *[o.removeprefix(f"{spec.theatre.id}_") for o in outcome_ids],
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
    out.print(f"wrote {png}\nwrote {html}", highlight=False, markup=False)


def replay_and_store(con, spec, library, dates, horizon: int, extra, out_dir: Path):
    """Assess every ``step``-th day of ``(first, last, step)``, store each assessment, and
    chart them: (results, PNG path, HTML path)."""
    first, last, step = dates
    days = [first + dt.timedelta(days=i) for i in range(0, (last - first).days + 1, step)]
    results = [
        A.assessment_json(a) for a in A.replay(con, spec, library, days, horizon, extra=extra)
    ]
    for r in results:
        audit.save(con, r)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{spec.theatre.id}_scenarios_{first}_{last}_h{horizon}"
    png = render_png(results, out_dir / f"{stem}.png")
    html = render_html(results, out_dir / f"{stem}.html")
    return results, png, html


@app.command("simulate")
@_handle_errors
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
    _check_format(fmt)
    if horizon <= A.NOW_DAYS:
        raise UsageError(
            f"--horizon {horizon} is too short to simulate: paths start from the "
            f"{A.NOW_DAYS}-day assessment",
            f"use --horizon {A.NOW_DAYS + 1} or more (vigil assess covers short horizons)",
        )
    con, spec, library, day = _setup(db, theatre, data, as_of, quiet=fmt == "json", stores=False)
    # one load of the store for both horizons (the end's and the simulation's start)
    reads = {
        "reader": A.reader_for(con, spec, library, day, (horizon, A.NOW_DAYS)),
        "resolvers": load_resolvers(con, spec, library),
    }
    end = A.assess(con, spec, library, day, horizon, with_evidence=False, **reads)
    sim = A.simulate_from(
        con, spec, library, day, {s.set_id: s.probability for s in end.sets}, horizon,
        paths=paths, seed=seed, **reads,
    ).to_json()  # fmt: skip
    result = {"theatre": spec.theatre.id, "as_of": day.isoformat(), **sim}
    chart = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        chart = render_reach_png(
            sim,
            out_dir / f"{spec.theatre.id}_simulation_{day}_h{horizon}.png",
            title=f"{spec.theatre.name}: escalation paths from {day}, {paths:,} paths",
        )
    if fmt == "json":
        out.print_json(json.dumps({**result, "chart": str(chart) if chart else None}))
        return
    _print_simulation(result)
    if chart:
        out.print(f"wrote {chart}", highlight=False, markup=False)


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
