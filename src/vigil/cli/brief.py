"""`vigil brief`: the analyst's briefing as Markdown, self-contained HTML and PDF."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from vigil import assess as A  # noqa: N812
from vigil import watch
from vigil.briefing.document import Inputs, build
from vigil.briefing.render import to_html, to_markdown, to_pdf
from vigil.capability import capability_notes
from vigil.cli.common import DEFAULT_DB, DbOption, _handle_errors, app, out
from vigil.cli.indicators import DEFAULT_DATA, DataOption, TheatreOption
from vigil.cli.scenarios import AsOfOption, HorizonOption, _setup
from vigil.errors import UsageError
from vigil.scenarios import audit
from vigil.scenarios.plot import render_reach_png
from vigil.scenarios.resolve import load_resolvers
from vigil.store.status import store_status


@app.command()
@_handle_errors
def brief(
    theatre: TheatreOption = "belarus",
    as_of: AsOfOption = None,
    horizon: HorizonOption = 90,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the briefing.")] = Path(
        "briefings"
    ),
    since: Annotated[
        str | None,
        typer.Option("--since", help="Compare with this date (default: the previous stored)."),
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print a PDF.")] = True,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Write briefing.md, a self-contained briefing.html and briefing.pdf for a date."""
    if horizon <= A.NOW_DAYS:
        raise UsageError(f"--horizon {horizon} is too short", f"use {A.NOW_DAYS + 1} or more")
    before_day = watch.parse_date(since, "--since") if since else None
    con, spec, library, day = _setup(db, theatre, data, as_of, quiet=False)
    # one load of the store: both horizons (the assessment's and the simulation's start),
    # and every indicator of the theatre for the indicators table
    every = [i.id for i in spec.indicators]
    reader = A.reader_for(con, spec, library, day, (horizon, A.NOW_DAYS), every)
    resolvers = load_resolvers(con, spec, library)
    assessed = A.assess(con, spec, library, day, horizon, reader=reader, resolvers=resolvers)
    result = A.assessment_json(assessed)
    previous = _previous(con, spec, library, result, day, horizon, before_day)
    audit.save(con, result)
    end = {s.set_id: s.probability for s in assessed.sets}  # unrounded, unlike the JSON's
    sim = A.simulate_from(
        con, spec, library, day, end, horizon, reader=reader, resolvers=resolvers
    ).to_json()
    folder = out_dir / f"{spec.theatre.id}_{day}"
    folder.mkdir(parents=True, exist_ok=True)
    reach = render_reach_png(sim, folder / "reach.png", title=f"Escalation paths from {day}")
    inputs = Inputs(
        theatre=spec.theatre.id,
        theatre_name=spec.theatre.name,
        as_of=day.isoformat(),
        assessment=result,
        indicators=[
            watch.indicator_json(v, r)
            for v, r in watch.indicators_as_of(con, spec, day, 3, reader=reader)
        ],
        simulation=sim,
        changes=audit.diff(previous, result) if previous else None,
        thresholds={i.id: (i.thresholds.elevated, i.thresholds.high) for i in spec.indicators},
        charts={"reach": str(reach)},
        sources=_sources(con),
        capability=capability_notes(con, spec, day),
        recommendations=[
            {"outcome": o.id, **r.model_dump()} for _, o in library.outcomes() for r in o.recommend
        ],
    )
    blocks = build(inputs)
    md = folder / "briefing.md"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    page = folder / "briefing.html"
    page.write_text(to_html(blocks, f"{spec.theatre.name}: briefing as of {day}"), encoding="utf-8")
    written = [md, page] + ([to_pdf(page, folder / "briefing.pdf")] if pdf else [])
    out.print("\n".join(f"wrote {p}" for p in written), highlight=False, markup=False)


def _previous(con, spec, library, result, day, horizon, before_day) -> dict | None:
    """The assessment to compare with: ``--since``'s (stored or made now), else the latest
    stored one of this model and horizon before ``day``."""
    if before_day is not None:
        if before_day >= day:
            raise UsageError(f"--since {before_day} is not before {day}", "pick an earlier date")
        return A.stored_or_new(con, spec, library, before_day, horizon)
    older = audit.history(
        con, spec.theatre.id, horizon, result["model_hash"], dt.date.min, day - dt.timedelta(days=1)
    )
    return older[-1] if older else None


def _sources(con) -> list[dict]:
    rows = []
    for s in store_status(con)["sources"]:
        firsts = [k["first"] for k in s["kinds"].values() if k["first"]]
        lasts = [k["last"] for k in s["kinds"].values() if k["last"]]
        if firsts:
            rows.append({"source": s["source"], "first": min(firsts), "last": max(lasts)})
    return rows
